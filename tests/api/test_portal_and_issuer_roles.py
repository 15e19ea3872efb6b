"""A member with ``HOLDER_PORTAL`` beside ``ISSUER`` lists access records as an issuer, as a member with a department's
role beside the portal's reads a receipt as that department (``Member.portal_only``): the uses of its own licenses,
with or without ``holder_code``, its listing on its own log. It had listed as a portal, any holder's records of every
issuer, its listing on no log of its own, and was refused its own licenses' records without a ``holder_code`` (a
reviewer, R3)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import grpc
import pytest

from protos.zzgw.v1 import audit_pb2, verification_pb2
from tests.api.test_audit import audit_stub
from tests.api.test_sharing import QYKZ, id_card
from tests.api.test_verification import verifier
from tests.commands import ROOT
from tests.conftest import POLICE, PORTAL, RunningGateway, error_details, start_gateway

MEMBERS = ROOT / "gateway" / "bootstrap" / "members.json"
CIVIL = "113701009937010548"
"""济南市民政局, an issuer, given ``HOLDER_PORTAL`` beside ``ISSUER`` here."""


@pytest.fixture(scope="module")
def both(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway of the demo's members, but for 济南市民政局 (CIVIL), an issuer and a holder portal."""
    directory = tmp_path_factory.mktemp("portal-and-issuer")
    members = json.loads(MEMBERS.read_text(encoding="utf-8"))
    (civil,) = [member for member in members["members"] if member["code"] == CIVIL]
    civil["roles"] = ["ISSUER", "HOLDER_PORTAL"]
    path = directory / "members.json"
    path.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    running = start_gateway(directory / "var", database_url, members=str(path))
    try:
        yield running
    finally:
        running.stop()


def _uses(records: Iterable[audit_pb2.AccessRecord]) -> list[str]:
    """The records' actions, listings left out."""
    return [r.action for r in records if r.action != "LIST_ACCESS_RECORDS"]


def test_an_issuer_that_is_a_portal_too_lists_as_an_issuer(both: RunningGateway) -> None:
    card = id_card(both).license  # the police's license
    request = verification_pb2.VerifyLicenseRequest(use=QYKZ, license_id=card.license_id)
    verifier(both, POLICE).VerifyLicense(request)  # the police's check, under their own matter: on the holder's log
    person = card.holder.code
    # the portal alone lists the person's log, every issuer's licenses
    portal = audit_stub(both, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=person))
    assert _uses(portal.records) == ["VERIFY_LICENSE"], portal.records
    civil = audit_stub(both, CIVIL)
    # the issuer that is a portal too: its own licenses' uses only (it issued none of the person's)
    listed = civil.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=person, limit=500))
    assert _uses(listed.records) == [], listed.records
    # without a holder code, its own log, where its listing is (it had been REQUIRED, and on no log of its own)
    own = civil.ListAccessRecords(audit_pb2.ListAccessRecordsRequest(limit=500)).records
    listings = [(r.caller, r.reason) for r in own if r.action == "LIST_ACCESS_RECORDS"]
    assert listings == [(CIVIL, "records=0")], own
    # and on the person's log, as every listing is
    again = audit_stub(both, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest(holder_code=person))
    assert (CIVIL, "LIST_ACCESS_RECORDS") in {(r.caller, r.action) for r in again.records}


def test_the_portal_alone_still_names_the_holder(both: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as missing:
        audit_stub(both, PORTAL).ListAccessRecords(audit_pb2.ListAccessRecordsRequest())
    assert ("holder_code", "REQUIRED") in error_details(missing.value)[1]
