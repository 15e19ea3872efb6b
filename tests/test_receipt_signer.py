"""The receipt certificate (核验回执专用章) is in the name of the gateway's operator, never of a partner gateway the
members file also makes an administrator (review partner, "Unverified": confirmed and fixed)."""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from adapters.receipt_file import TrustMaterial, check_receipt_file
from gateway.authorities import RECEIPT_CERT, SM2_MAKER_CERT, SM2_MAKER_CERTIFICATES, load_seal_ca
from gateway.config import Settings
from gateway.domain.seals import SM2_MAKER_NAME
from gateway.server import initialise
from signing.receipts import RECEIPT_SEAL_NAME
from signing.results import CheckResult
from signing.seal_ca import SealMakerCA
from signing.sm2_x509 import public_key_der
from tests.api.test_verification import batch_issue, verify
from tests.conftest import PASSPHRASE, _serve, backend_params, fresh_database, http_side

DEMO_MEMBERS = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "members.json"
OPERATOR = "11370100993701134U"  # 济南市大数据局: ADMIN
PARTNER = "11440100994401010G"  # 广州市政务服务和数据管理局: PARTNER of 440100


def test_a_partner_made_an_administrator_and_listed_first_does_not_name_the_receipt_certificate(
    store: str, tmp_path: Path
) -> None:
    """A members file may give a partner gateway ADMIN beside PARTNER (it is valid, and `zzgw init` takes it), and
    may list it first. The receipt certificate had been named after the first member with ADMIN, so this gateway's
    receipts were sealed in the partner province's name (广州市政务服务和数据管理局 核验回执专用章). It is the first
    administrator that is no partner gateway: the gateway's own operator."""
    raw = json.loads(DEMO_MEMBERS.read_text(encoding="utf-8"))
    (partner,) = (m for m in raw["members"] if m["code"] == PARTNER)
    partner["roles"] = ["PARTNER", "ADMIN"]
    raw["members"] = [partner, *(m for m in raw["members"] if m["code"] != PARTNER)]
    members = tmp_path / "members.json"
    members.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "var", database_url=store, key_passphrase=PASSPHRASE, members=str(members))
    initialise(settings)
    certificate = x509.load_pem_x509_certificate((settings.seal_ca_dir / RECEIPT_CERT).read_bytes())
    (named,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    (organisation,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    assert (named.value, organisation.value) == (OPERATOR, "济南市大数据局")


def _in_the_partners_name(path: Path, ca: SealMakerCA, seal_name: str) -> x509.Certificate:
    """Replace the certificate at ``path`` with one on the same key in the partner's name, as the code before d6966f8
    issued it for a members file listing the partner, given ADMIN, first."""
    before = x509.load_pem_x509_certificate(path.read_bytes())
    now = dt.datetime.now(dt.UTC)
    made = ca.issue_seal_certificate(
        issuer_name="广州市政务服务和数据管理局",
        issuer_uscc=PARTNER,
        seal_name=seal_name,
        public_key=public_key_der(before),  # an SM2 key too, which cryptography cannot load
        not_before=now - dt.timedelta(minutes=5),
        not_after=before.not_valid_after_utc,
    )
    path.write_bytes(made.public_bytes(serialization.Encoding.PEM))
    return made


def _named(certificate: x509.Certificate) -> str:
    (named,) = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    return str(named.value)


@pytest.mark.parametrize("backend", backend_params())
def test_an_upgrade_renames_a_receipt_certificate_issued_in_a_partners_name_and_old_receipts_still_check(
    backend: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A gateway the code before d6966f8 initialised with the partner (ADMIN too) listed first had its receipt
    certificate, and its SM2 seal maker's, in the partner province's name; the upgrade's `zzgw init` said nothing and
    kept both, the receipts sealed in 广州's name for up to five years (review fixrev2, R1). It renews each on the same
    key in the operator's name, saying so, and a receipt signed before checks valid offline with the trust after."""
    data = tmp_path / "var"
    with fresh_database(backend, tmp_path) as url:
        settings = Settings(data_dir=data, database_url=url, key_passphrase=PASSPHRASE, threads=8, max_watchers=4)  # type: ignore[arg-type]
        initialise(settings)
        ca = load_seal_ca(settings)
        assert ca is not None
        receipt_path = settings.seal_ca_dir / RECEIPT_CERT
        was = _in_the_partners_name(receipt_path, ca, RECEIPT_SEAL_NAME)
        maker_path = settings.sm2_seal_ca_dir / SM2_MAKER_CERT
        sm2 = maker_path.exists()  # none where the system OpenSSL has no SM2
        if sm2:
            sm2_ca = SealMakerCA.load(settings.sm2_seal_ca_dir, settings.passphrase())
            maker_was = _in_the_partners_name(maker_path, sm2_ca, SM2_MAKER_NAME)
        running = _serve(settings, None)
        try:
            before = verify(running, license_id=batch_issue(running, 43)).receipt
            assert x509.load_der_x509_certificate(before.certificate) == was  # sealed in 广州's name
        finally:
            running.stop()

        with caplog.at_level(logging.WARNING, logger="gateway"):
            initialise(settings)  # the upgrade's init
        renamed = x509.load_pem_x509_certificate(receipt_path.read_bytes())
        assert _named(renamed) == OPERATOR and _named(was) == PARTNER
        assert public_key_der(renamed) == public_key_der(was)  # the same key: replicas sharing keys/ sign on
        said = caplog.text
        assert f"renewed the receipt certificate ({receipt_path}) on the same key in the name of the gateway's " in said
        assert f"济南市大数据局 ({OPERATOR}): it was in {PARTNER}'s name" in said
        if sm2:
            maker = x509.load_pem_x509_certificate(maker_path.read_bytes())
            assert _named(maker) == OPERATOR and public_key_der(maker) == public_key_der(maker_was)
            assert f"renewed the SM2 seal maker's certificate ({maker_path}) on the same key" in said
            kept = x509.load_pem_x509_certificates((settings.sm2_seal_ca_dir / SM2_MAKER_CERTIFICATES).read_bytes())
            assert maker_was in kept and maker in kept

        running = _serve(settings, None)
        try:
            after = verify(running, license_id=batch_issue(running, 44)).receipt
            assert x509.load_der_x509_certificate(after.certificate) == renamed
            trust = {}
            with http_side(running) as base:
                for name in ("certificates/seal-maker-root.pem", "certificates/seal-maker-intermediate.pem",
                             "certificates/receipt-certificates.pem", "crl/seal-maker.crl"):  # fmt: skip
                    trust[name] = tmp_path / name.rsplit("/", 1)[1]
                    with urllib.request.urlopen(f"{base}/{name}", timeout=10) as response:
                        trust[name].write_bytes(response.read())
        finally:
            running.stop()
    material = TrustMaterial.read(
        roots=[trust["certificates/seal-maker-root.pem"]],
        intermediates=[trust["certificates/seal-maker-intermediate.pem"]],
        crls=[trust["crl/seal-maker.crl"]],
        pinned=[trust["certificates/receipt-certificates.pem"]],
    )
    for receipt in (before, after):  # offline, with the trust published after the renewal
        checked = check_receipt_file(receipt, material)
        assert checked.result is CheckResult.PASSED, checked
