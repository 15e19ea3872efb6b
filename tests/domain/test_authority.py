"""``authority_finding`` (一数一源) against the bootstrap catalog and one a license type was taken out of."""

from __future__ import annotations

import dataclasses
import datetime as dt

from gateway.bootstrap import samples
from gateway.domain.catalog import Catalog
from gateway.domain.model import License, LicenseStatus, RecordSeal
from gateway.domain.verification import authority_finding
from gateway.services.members import load_bootstrap_catalog
from signing.results import PASSED, CheckResult

MARKET = "11370100993701011T"  # 济南市市场监督管理局, the 营业执照's issuer
POLICE = "1137010099370102XJ"  # 济南市公安局, which issues none


def business_license(issuer: str) -> License:
    at = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)
    seal = RecordSeal(algorithm="ES256", key_id="k", signature=b"s", record_digest=b"d", encoding="e")
    content = samples.license_content(samples.business_license(3), issuer)
    return License(
        content=content, status=LicenseStatus.ACTIVE, status_reason="", status_changed_at=at, created_at=at, seal=seal
    )


def test_the_authoritative_issuer_passes_and_another_fails() -> None:
    catalog = load_bootstrap_catalog()
    assert authority_finding(business_license(MARKET), catalog) is PASSED
    refused = authority_finding(business_license(POLICE), catalog)
    assert (refused.result, refused.reason) == (CheckResult.FAILED, "NOT_AUTHORITATIVE_ISSUER")


def test_a_type_taken_out_of_the_catalog_leaves_the_issuer_unknown_not_unauthorised() -> None:
    """A genuine license of a type an operator removed from ZZGW_CATALOG read FAILED / NOT_AUTHORITATIVE_ISSUER at
    the window, as a forged or unauthorised one does (found by an operations tester)."""
    catalog = load_bootstrap_catalog()
    types = {code: t for code, t in catalog.license_types.items() if code != samples.BUSINESS_LICENSE}
    matters = {code: m for code, m in catalog.matters.items() if all(x.type_code in types for x in m.materials)}
    bundles = {
        code: dataclasses.replace(b, matter_codes=tuple(m for m in b.matter_codes if m in matters))
        for code, b in catalog.bundles.items()
    }
    without = Catalog(license_types=types, matters=matters, bundles=bundles)
    finding = authority_finding(business_license(MARKET), without)
    assert (finding.result, finding.reason) == (CheckResult.INDETERMINATE, "LICENSE_TYPE_NOT_IN_CATALOG")
