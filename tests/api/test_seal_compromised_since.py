"""RevokeSeal of a leaked seal key from when the leak began (``compromised_since``): what the key sealed from then
on, a thief's forgery timestamped at the gateway's open ``/tsa`` and the issuer's own seals and records alike, fails
CERT_REVOKED; what it sealed before stays PASSED. Revoked from the call's time, a forgery made in the window kept a
PASSED issuer identity for good, and only an undocumented hand entry in ``revocations.json`` dated it back (review
seals, R2). The gateway here has a clock of its own, which its time-stamping authority reads too: the window is
minutes long without waiting for them."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import grpc
import pytest
from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.domain.model import today
from protos.zzgw.v1 import issuance_pb2, seal_pb2, verification_pb2
from tests.api import test_sharing
from tests.api.test_identity_reasons import sealer_of
from tests.api.test_seal_use_records import CLERK, checked, register, seals, uses_of
from tests.api.test_seals import license_pdf
from tests.api.test_verification import FAILED, PASSED, USE, issue, printout, verifier, verify
from tests.conftest import MARKET, RunningGateway, error_details

clocked = test_sharing.clocked  # the fixture: a gateway with a clock of its own, on SQLite and on PostgreSQL


def _at(moment: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _revoke(running: RunningGateway, seal_id: str, crl_reason: str, since: dt.datetime) -> seal_pb2.Seal:
    request = seal_pb2.RevokeSealRequest(
        seal_id=seal_id, reason="私钥泄露", crl_reason=crl_reason, compromised_since=_at(since)
    )
    return seals(running).RevokeSeal(request, metadata=CLERK).seal


def _identity(running: RunningGateway, pdf: bytes) -> tuple[int, str]:
    report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=pdf)).report
    return report.issuer_identity.result, report.issuer_identity.reason


def _sealed(running: RunningGateway, seal_id: str, pdf: bytes) -> bytes:
    request = seal_pb2.SealDocumentRequest(seal_id=seal_id, pdf=pdf)
    return seals(running).SealDocument(request, metadata=CLERK).sealed_pdf


def test_a_seal_revoked_from_its_keys_leak_fails_what_it_sealed_since_and_passes_what_it_sealed_before(
    clocked: test_sharing.Clocked,
) -> None:
    running, clock = clocked.running, clocked.clock
    seal = register(running)  # MARKET's newest: it seals the records MARKET issues next too
    plain = license_pdf(running)
    before = _sealed(running, seal.seal_id, plain)
    clock.advance(dt.timedelta(minutes=10))
    leak = clock.now().replace(microsecond=654321)  # said to the microsecond: revoked from its whole second
    clock.advance(dt.timedelta(minutes=5))
    inside = _sealed(running, seal.seal_id, plain)  # the issuer's own, in the window
    issued = issue(running, 71).license  # a record (and its document) sealed in the window
    forged = asyncio.run(  # the thief's, with a genuine timestamp of the gateway's TSA
        sealer_of(running, seal).seal(
            printout(issued.license_id, "FOOD PERMIT  holder: somebody else"), field_name="in-the-window"
        )
    )
    clock.advance(dt.timedelta(minutes=5))
    assert _identity(running, forged) == (PASSED, "")  # before the revocation: the seal is genuine

    revoked = _revoke(running, seal.seal_id, "key_compromise", leak)
    whole = leak.replace(microsecond=0)
    assert revoked.status == seal_pb2.SEAL_STATUS_REVOKED
    assert revoked.revoked_at.ToDatetime(dt.UTC) == whole

    assert _identity(running, before) == (PASSED, "")
    assert _identity(running, inside) == (FAILED, "CERT_REVOKED")
    assert _identity(running, forged) == (FAILED, "CERT_REVOKED")
    record = verify(running, license_id=issued.license_id)
    assert (record.issuer_identity.result, record.issuer_identity.reason) == (FAILED, "CERT_REVOKED")

    # the issuer issues the license again, sealed with its new seal (an amendment dated the next day, which changes
    # nothing else): the new version passes
    register(running)
    clock.advance(dt.timedelta(days=1))
    amended = running.issuance(MARKET).AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="am-" + uuid.uuid4().hex,
            license_id=issued.license_id,
            reason="印章密钥泄露，重新盖章",
            issue_date=today(clock).isoformat(),
        )
    )
    assert verify(running, license_id=amended.license.license_id).verdict == PASSED

    # the CRL dates the entry from the leak, as keyCompromise
    service = running.gateway.seals
    assert service is not None
    entry = x509.load_der_x509_crl(service.crl()).get_revoked_certificate_by_serial_number(
        x509.load_der_x509_certificate(seal.certificate_der).serial_number
    )
    assert entry is not None and entry.revocation_date_utc == whole
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise

    # the revocation's record names the time it is dated from; a retry is a repeat
    again = _revoke(running, seal.seal_id, "key_compromise", leak)
    assert again.revoked_at.ToDatetime(dt.UTC) == whole
    records = [(r.action, r.decision, r.reason) for r in uses_of(running, seal.seal_id)]
    assert records[-2:] == [
        ("REVOKE_SEAL", "REVOKED", f"key_compromise since={whole:%Y-%m-%dT%H:%M:%SZ}"),
        ("REVOKE_SEAL", "REPEATED", ""),
    ]
    assert checked(running).ok


@pytest.mark.parametrize(
    ("crl_reason", "offset", "said"),
    [
        ("superseded", dt.timedelta(minutes=-1), "key_compromise only"),
        ("", dt.timedelta(minutes=-1), "key_compromise only"),  # the default, cessation_of_operation
        ("key_compromise", dt.timedelta(minutes=2), "in the future"),
        ("key_compromise", dt.timedelta(days=-1), "before the seal's certificate began"),
    ],
)
def test_a_leak_dated_for_another_reason_in_the_future_or_before_the_certificate_is_refused(
    clocked: test_sharing.Clocked, crl_reason: str, offset: dt.timedelta, said: str
) -> None:
    running = clocked.running
    seal = register(running)
    with pytest.raises(grpc.RpcError) as caught:
        _revoke(running, seal.seal_id, crl_reason, clocked.clock.now() + offset)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info, violations = error_details(caught.value)
    assert (info.reason, violations) == ("BAD_COMPROMISED_SINCE", [("compromised_since", "BAD_COMPROMISED_SINCE")])
    assert said in (caught.value.details() or "")
    got = seals(running).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
    assert got.status == seal_pb2.SEAL_STATUS_ACTIVE  # nothing revoked
    assert [(r.action, r.decision, r.reason, r.reason_words) for r in uses_of(running, seal.seal_id)][-1] == (
        "REVOKE_SEAL",
        "REFUSED",
        "BAD_COMPROMISED_SINCE",
        "泄露起始时间有误，印章未吊销",  # had no words (review s55fix, R4)
    )


def test_a_seal_revoked_already_is_not_dated_back_by_revoke_seal(clocked: test_sharing.Clocked) -> None:
    """Retired in a 换章 (superseded) and found leaked earlier: RevokeSeal says it cannot move the revocation
    earlier (the leak procedure's hand entry does), rather than answer a repeat that leaves the window valid."""
    running, clock = clocked.running, clocked.clock
    seal = register(running)
    clock.advance(dt.timedelta(minutes=10))
    leak = clock.now() - dt.timedelta(minutes=5)
    seals(running).RevokeSeal(
        seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="换章", crl_reason="superseded"), metadata=CLERK
    )
    with pytest.raises(grpc.RpcError) as caught:
        _revoke(running, seal.seal_id, "key_compromise", leak)
    assert caught.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert error_details(caught.value)[0].reason == "SEAL_REVOKED"
    assert "docs/operations.md" in (caught.value.details() or "")
    # the issuer's log says what was refused, not 证照文件无法生成 of a document nobody asked for (review s55fix, R4)
    refused = uses_of(running, seal.seal_id)[-1]
    assert (refused.action, refused.reason) == ("REVOKE_SEAL", "SEAL_REVOKED")
    assert refused.reason_words == "印章已吊销，吊销时间不能再提前"
    # a leak from after the revocation it has is covered by it: a repeat
    later = seals(running).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal.revoked_at.ToDatetime(dt.UTC)
    assert _revoke(running, seal.seal_id, "key_compromise", later).revoked_at.ToDatetime(dt.UTC) == later
