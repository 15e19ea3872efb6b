"""A seal revoked through one gateway process while another seals with it (two gateways on one store, as replicas
are: one data directory, one database, each with its own seal-maker CA in memory).

A concurrency tester's IssueLicense through one replica was answered OK with a record sealed by the seal RevokeSeal
through another had just revoked: stored ACTIVE, it failed every verification as CERT_REVOKED, "revoked before it
sealed". The revocation took its time before its transaction, and nothing at the issue's commit looked at the seal
again. Now the revocation locks the seal's row and takes its time after, and a transaction storing what a seal
sealed holds that row (PostgreSQL: FOR SHARE; SQLite: the one writer) and refuses it revoked: the call is answered
SEAL_REVOKED with nothing stored, and its retry is sealed with the issuer's current seal.

Each test makes both interleavings happen, by hooks in the sealing gateway between its choice of seal and its
writing transaction: the revocation under way (its time taken, its commit held) when the call begins, or committed
before the call's transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import pytest
from cryptography import x509

from adapters.records import issue_request
from gateway.bootstrap import samples
from protos.zzgw.v1 import issuance_pb2, seal_pb2, verification_pb2
from tests.api.test_documents import document_of
from tests.api.test_issuance import unique
from tests.api.test_seals import license_pdf, register, revoked_with_its_commit_failing, seals
from tests.api.test_sm2_seals import register_sm2_seal
from tests.api.test_verification import PASSED, USE, batch_issue, issue, verifier, verify
from tests.conftest import (
    MARKET,
    RunningGateway,
    backend_params,
    error_details,
    two_replicas,
)


@pytest.fixture(scope="module", params=backend_params())
def replicas(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningGateway, RunningGateway]]:
    """Two gateways on one store and one data directory."""
    with two_replicas(request.param, tmp_path_factory.mktemp("replicas")) as pair:
        yield pair


def between_choice_and_write(
    monkeypatch: pytest.MonkeyPatch, running: RunningGateway, action: Callable[[], Any]
) -> None:
    """Run ``action`` once in ``running``, in the first call that chooses a seal, as that call's thread begins its
    writing transaction (after it sealed, before it stored anything)."""
    service, db = running.gateway.seals, running.gateway.db
    assert service is not None
    current, unit_of_work = service.current, db.unit_of_work
    chose: set[int] = set()
    done = threading.Event()

    def choosing(issuer_code: str, *, for_pdf: bool = False) -> Any:
        chose.add(threading.get_ident())
        return current(issuer_code, for_pdf=for_pdf)

    @contextlib.contextmanager
    def writing(*, write: bool = False) -> Iterator[Any]:
        if write and threading.get_ident() in chose and not done.is_set():
            done.set()
            action()
        with unit_of_work(write=write) as uow:
            yield uow

    monkeypatch.setattr(service, "current", choosing)
    monkeypatch.setattr(db, "unit_of_work", writing)


def revocations_held(
    monkeypatch: pytest.MonkeyPatch, running: RunningGateway
) -> tuple[threading.Event, threading.Event]:
    """(timed, release): a revocation through ``running`` sets ``timed`` once it has locked its seal's row and taken
    its time, and goes on to store and commit it only when ``release`` is set."""
    service = running.gateway.seals
    assert service is not None
    revocation_from_now = service._revocation_from_now
    timed, release = threading.Event(), threading.Event()

    def held(*args: Any) -> Any:
        revocation = revocation_from_now(*args)
        timed.set()
        assert release.wait(60), "the revocation was never let go on"
        return revocation

    monkeypatch.setattr(service, "_revocation_from_now", held)
    return timed, release


def revoking_held(
    monkeypatch: pytest.MonkeyPatch, running: RunningGateway, seal_id: str
) -> tuple[dict[str, Any], threading.Thread, threading.Event]:
    """(answers, revoking, release): a RevokeSeal (换章) of ``seal_id`` through ``running`` on a thread of its own, held
    (``revocations_held``) once it has taken its time, its answer put in ``answers["revoked"]`` once released."""
    timed, release = revocations_held(monkeypatch, running)
    answers: dict[str, Any] = {}
    revoking = threading.Thread(
        target=lambda: answers.update(
            revoked=seals(running, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal_id, reason="换章"))
        )
    )
    revoking.start()
    assert timed.wait(30)
    return answers, revoking, release


def made_meanwhile(
    monkeypatch: pytest.MonkeyPatch, revoking: threading.Thread, release: threading.Event, call: Callable[[], Any]
) -> Any:
    """What ``call`` answered, made on a thread of its own while the revocation ``revoking`` (``revoking_held``) is
    held: given 5 s to get as far as it goes before the revocation commits, then the revocation let go on."""
    answered: list[Any] = []
    caller = threading.Thread(target=lambda: answered.append(call()))
    caller.start()
    caller.join(5)  # done by now, but for the wait on the revocation's commit
    release.set()
    for thread in (revoking, caller):
        thread.join(60)
    monkeypatch.undo()
    assert answered, "the call never ended"
    return answered[0]


def refusal(call: Callable[[], bytes]) -> tuple[str, str, bytes]:
    """(reason, message, b"") of a call refused, ("", "", what it made) of one answered."""
    try:
        return "", "", call()
    except grpc.RpcError as error:
        return error_details(error)[0].reason, error.details() or "", b""


def outcome(call: Callable[[], Any]) -> tuple[str, str, str]:
    """(reason, message, key id of the record seal) of a call: the reason and message of its refusal, or of its only
    batch item's error; the key id of the license it answered, else ""."""
    try:
        answer = call()
    except grpc.RpcError as error:
        return error_details(error)[0].reason, error.details() or "", ""
    if isinstance(answer, issuance_pb2.GetLicenseDocumentResponse):
        return "", "", answer.seal_id
    if isinstance(answer, list):
        (response,) = answer
        (result,) = response.results
        if result.HasField("error"):
            return result.error.reason, result.error.message, ""
        answer = result
    return "", "", answer.license.record_seal.key_id


CALLS = ("IssueLicense", "AmendLicense", "BatchIssueLicenses", "GetLicenseDocument")


def make_call(running: RunningGateway, call: str, target: str) -> Callable[[], Any]:
    """The call, the same each time it is made (its request id too): a retry of it is the same request."""
    stub = running.issuance(MARKET)
    request_id = f"race-{uuid.uuid4().hex}"
    if call == "IssueLicense":
        record = {**unique(samples.food_permit(61)), "request_id": request_id}
        return lambda: stub.IssueLicense(issue_request(record))
    if call == "BatchIssueLicenses":
        record = {**unique(samples.food_permit(62)), "request_id": request_id}
        batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record)])
        return lambda: list(stub.BatchIssueLicenses(iter([batch])))
    if call == "AmendLicense":
        amendment = issuance_pb2.AmendLicenseRequest(
            request_id=request_id, license_id=target, fields={"food_category": "糕点"}, reason="变更生产类别"
        )
        return lambda: stub.AmendLicense(amendment)
    return lambda: document_of(running, target)


@pytest.mark.parametrize("when", ["revoking", "revoked"])
@pytest.mark.parametrize("call", CALLS)
def test_what_a_seal_revoked_through_another_process_sealed_meanwhile_is_not_stored(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch, call: str, when: str
) -> None:
    """A record sealed through the first gateway by a seal the second revokes meanwhile is not stored sealed by it: a
    license issued (alone or in a batch) is sealed once more with the issuer's current seal, as a document made when
    first asked for is made again with it; an amendment is refused SEAL_REVOKED with nothing stored, and its retry is
    sealed with the current seal. Without the re-check, the tester's interleaving ("revoking") stored a license sealed
    after its seal's revocation time: answered OK, it failed every verification as CERT_REVOKED."""
    first, second = replicas
    target = batch_issue(first, 60) if call in ("AmendLicense", "GetLicenseDocument") else ""  # no document yet
    seal = register(first)  # the issuer's newest seal: what it issues next is sealed with it, through either gateway
    revocation = seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="印章更换")
    made = make_call(first, call, target)
    answers: dict[str, Any] = {}

    def revoke() -> None:
        answers["revoked"] = seals(second, MARKET).RevokeSeal(revocation).seal

    def sealing() -> None:
        answers["sealing"] = outcome(made)

    if when == "revoking":  # the revocation's time taken, its commit held; the call begins after that time
        timed, release = revocations_held(monkeypatch, second)
        writes = threading.Event()
        between_choice_and_write(monkeypatch, first, writes.set)
        revoking = threading.Thread(target=revoke)
        revoking.start()
        assert timed.wait(30)
        caller = threading.Thread(target=sealing)
        caller.start()
        assert writes.wait(30)  # the call sealed and begins to store it: let the revocation commit meanwhile
        time.sleep(0.3)
        release.set()
        for thread in (revoking, caller):
            thread.join(60)
    else:  # revoked and committed after the call chose the seal and sealed, before its transaction
        between_choice_and_write(monkeypatch, first, revoke)
        sealing()
    monkeypatch.undo()
    assert answers["revoked"].status == seal_pb2.SEAL_STATUS_REVOKED

    reason, message, key_id = answers["sealing"]
    if call == "GetLicenseDocument":  # nothing stored for the call to refuse: the document is made again, now
        assert reason == "" and key_id != seal.seal_id, answers["sealing"]
        document = document_of(second, target)
        assert document.seal_id == key_id  # the one stored
        report = (
            verifier(second).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=document.pdf)).report
        )
        assert (report.verdict, report.issuer_identity.reason) == (PASSED, "")
        return
    if call != "AmendLicense":  # sealed once more, with the issuer's current seal (a reviewer, R4)
        assert reason == "" and key_id not in ("", seal.key_id), answers["sealing"]
        for running in (first, second):
            report = verify(running, license_id=_answered(made))
            assert (report.verdict, report.issuer_identity.reason) == (PASSED, ""), report
        return
    assert reason == "SEAL_REVOKED", answers["sealing"]
    assert message.startswith(
        f"印章 {seal.seal_id}（电子证照专用章）在本次请求办理期间被吊销，本次请求未写入任何内容："
    )
    assert f"seal {seal.seal_id} was revoked while this call was being made" in message
    # nothing was stored: the retry makes it, sealed with the issuer's current seal, and it verifies through both
    reason, _, key_id = outcome(made)
    assert reason == "" and key_id not in ("", seal.key_id)
    created = first.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=_answered(made)))
    for running in (first, second):
        report = verify(running, license_id=created.license.license_id)
        assert (report.verdict, report.issuer_identity.reason) == (PASSED, ""), report


def _answered(call: Callable[[], Any]) -> str:
    """The license a call (made before) answers, made again: a repeated request answers what it stored."""
    answer = call()
    if isinstance(answer, list):
        return answer[0].results[0].license.license_id
    return answer.license.license_id


def test_a_call_through_the_process_revoking_its_seal_is_told_what_happened(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call through the process revoking the seal, which chose the seal while the revocation was under way, is
    told its seal was revoked while it was being made. It had been told that the store was restored from a copy
    taken before the revocation, or changed behind the gateway's back (the words for a seal set ACTIVE again in the
    store): a concurrency tester's issuer looked for a restore nobody made."""
    first, _ = replicas
    target = batch_issue(first, 60)  # amended: an issue would be sealed once more, with the current seal
    seal = register(first)
    timed, release = revocations_held(monkeypatch, first)
    answers: dict[str, Any] = {}
    revoking = threading.Thread(
        target=lambda: answers.update(
            revoked=seals(first, MARKET)
            .RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="印章更换"))
            .seal
        )
    )
    revoking.start()
    assert timed.wait(30)
    service = first.gateway.seals
    assert service is not None
    current, chosen = service.current, threading.Event()

    def choosing(issuer_code: str, *, for_pdf: bool = False) -> Any:
        try:
            return current(issuer_code, for_pdf=for_pdf)
        finally:
            chosen.set()

    monkeypatch.setattr(service, "current", choosing)
    made = make_call(first, "AmendLicense", target)
    caller = threading.Thread(target=lambda: answers.update(sealing=outcome(made)))
    caller.start()
    assert chosen.wait(30)  # its transaction waits for the revocation's, which holds the seal's row (SQLite: writer)
    release.set()
    for thread in (caller, revoking):
        thread.join(30)
    monkeypatch.undo()
    reason, message, _ = answers["sealing"]
    assert reason == "SEAL_REVOKED", answers["sealing"]
    assert message.startswith(
        f"印章 {seal.seal_id}（电子证照专用章）在本次请求办理期间被吊销，本次请求未写入任何内容："
    )
    assert "restored" not in message and "备份" not in message
    assert answers["revoked"].status == seal_pb2.SEAL_STATUS_REVOKED
    reason, _, key_id = outcome(made)  # and the retry is sealed with the issuer's current seal
    assert reason == "" and key_id not in ("", seal.key_id)


@pytest.mark.parametrize("then", ["retry", "crl"])
def test_a_revocation_whose_commit_failed_invalidates_nothing_issued_meanwhile(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch, then: str
) -> None:
    """A RevokeSeal whose commit failed revokes nothing, anywhere: the seal-maker CA had recorded it first, so the
    process that made the call refused the issuer's calls (as if its store had been restored from a backup) while
    the other processes, going by the store, issued and sealed on with the seal, answered OK; then the clerk's retry,
    or that process's next CRL, stored the CA's earlier time, and all they had issued meanwhile failed every
    verification as CERT_REVOKED for good (a reviewer, R1). The retry now revokes from its own time."""
    first, second = replicas
    seal = register(first)  # the issuer's newest seal: what it issues next is sealed with it, through either gateway
    serial = x509.load_der_x509_certificate(seal.certificate_der).serial_number
    with monkeypatch.context() as patched:
        revoked_with_its_commit_failing(second, patched, seal)
    time.sleep(1.1)  # past the time the failed call had taken
    issued = [issue(running, 901 + n).license for n, running in enumerate((first, second))]
    assert [each.record_seal.key_id for each in issued] == [seal.key_id] * 2
    sealed = (
        seals(first, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=license_pdf(first)))
    ).sealed_pdf
    time.sleep(1.1)  # sealed at least a second before what follows
    if then == "retry":
        asked = dt.datetime.now(dt.UTC)
        revoked = seals(first, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=seal.seal_id, reason="密钥泄露"))
        assert revoked.seal.revoked_at.ToDatetime(tzinfo=dt.UTC) >= asked
    else:  # the process that made the call makes a CRL: the seal is on none, and stays ACTIVE everywhere
        for running in (second, first):
            crl = x509.load_der_x509_crl(running.gateway.seals.crl())  # type: ignore[union-attr]
            assert crl.get_revoked_certificate_by_serial_number(serial) is None
            shown = seals(running, MARKET).GetSeal(seal_pb2.GetSealRequest(seal_id=seal.seal_id)).seal
            assert shown.status == seal_pb2.SEAL_STATUS_ACTIVE
    for running in (first, second):
        for each in issued:
            report = verify(running, license_id=each.license_id)
            assert (report.verdict, report.issuer_identity.reason) == (PASSED, ""), report
        report = verifier(running).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=sealed)).report
        assert (report.issuer_identity.result, report.issuer_identity.reason) == (PASSED, ""), report


def test_a_pdf_sealed_through_another_process_while_its_seal_is_revoked_is_not_handed_out(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SealDocument's check after sealing waits for a revocation under way through another process, as a transaction
    storing what a seal sealed does (``SealRepository.held``), and refuses the PDF SEAL_REVOKED once it is committed.
    It had read the store without waiting: a PDF sealed after the revocation's time, before its commit, was answered
    OK, and every verification of it failed CERT_REVOKED (a reviewer, R2)."""
    first, second = replicas
    seal = register(first)
    pdf = license_pdf(first)
    answers, revoking, release = revoking_held(monkeypatch, second, seal.seal_id)
    time.sleep(1.1)  # past the revocation's time, taken (rounded up to the second) before ``timed``

    def sealing() -> bytes:
        return seals(first, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf)).sealed_pdf

    reason, message, sealed = made_meanwhile(monkeypatch, revoking, release, lambda: refusal(sealing))
    assert answers["revoked"].seal.status == seal_pb2.SEAL_STATUS_REVOKED
    assert (reason, len(sealed)) == ("SEAL_REVOKED", 0), message
    assert f"seal {seal.seal_id} was revoked while this call was being made" in message
    # the call named its seal: its retry names it again and is refused again, so it is told to choose another; it
    # had been told a retry would be sealed with the issuer's current seal (a reviewer of races, R2)
    assert message.startswith(
        f"印章 {seal.seal_id}（电子证照专用章）在本次请求办理期间被吊销，本次请求未写入任何内容：该印章已不能再用，"
        "请改用本部门其他有效印章（ListSeals），或登记新印章（RegisterSeal）"
    ), message
    assert "choose another active seal of the issuer (ListSeals)" in message and "请重试" not in message
    with pytest.raises(grpc.RpcError) as again:
        seals(first, MARKET).SealDocument(seal_pb2.SealDocumentRequest(seal_id=seal.seal_id, pdf=pdf))
    assert error_details(again.value)[0].reason == "SEAL_REVOKED"


def test_a_stamp_made_through_another_process_while_its_seal_is_revoked_says_to_choose_another_seal(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """StampDocument, like SealDocument, names its seal: refused SEAL_REVOKED because the seal was revoked while the
    stamp was being made, it is told to choose another active seal (ListSeals) or register one. It had been told that
    a retry would be sealed with the issuer's current seal; the retry named the same seal and was refused again (a
    reviewer of races, R2)."""
    first, second = replicas
    seal = register_sm2_seal(first)
    answers, revoking, release = revoking_held(monkeypatch, second, seal.seal_id)
    time.sleep(1.1)  # past the revocation's time, taken (rounded up to the second) before ``timed``

    def stamping() -> bytes:
        stub = seals(first, MARKET)
        return stub.StampDocument(seal_pb2.StampDocumentRequest(seal_id=seal.seal_id, document=b"doc")).stamp

    reason, message, made = made_meanwhile(monkeypatch, revoking, release, lambda: refusal(stamping))
    assert answers["revoked"].seal.status == seal_pb2.SEAL_STATUS_REVOKED
    assert (reason, len(made)) == ("SEAL_REVOKED", 0), message
    assert message.startswith(
        f"印章 {seal.seal_id}（电子证照专用章）在本次请求办理期间被吊销，本次请求未写入任何内容：该印章已不能再用，"
        "请改用本部门其他有效印章（ListSeals），或登记新印章（RegisterSeal）"
    ), message
    assert "请重试" not in message and "current seal" not in message


def test_a_revocation_under_way_through_another_process_is_not_taken_for_a_restore(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An AmendLicense through one process while another's RevokeSeal of the issuer's newest seal is under way is
    told its seal was revoked while it was being made (an IssueLicense is sealed once more, with the current seal). A
    process that had read ``revocations.json`` meanwhile (at an anonymous CRL fetch) found the revocation recorded
    there before the store committed it, and told the issuer its database had been restored from a backup or changed
    behind the gateway's back (a reviewer, R3)."""
    first, second = replicas
    target = batch_issue(first, 60)
    earlier = register(first)  # revoked through the other process: new to this one's CA, its next CRL reads the file
    seals(second, MARKET).RevokeSeal(seal_pb2.RevokeSealRequest(seal_id=earlier.seal_id, reason="停用"))
    seal = register(first)  # the issuer's newest seal: what it issues next is sealed with it
    answers, revoking, release = revoking_held(monkeypatch, second, seal.seal_id)
    made = make_call(first, "AmendLicense", target)

    def issuing() -> tuple[str, str, str]:
        first.gateway.seals.crl()  # type: ignore[union-attr]  # an anonymous CRL fetch, answered by this process
        return outcome(made)  # it waits for the revocation's commit (SQLite: the CRL's too, for the writer)

    reason, message, key_id = made_meanwhile(monkeypatch, revoking, release, issuing)
    assert answers["revoked"].seal.status == seal_pb2.SEAL_STATUS_REVOKED
    assert reason == "SEAL_REVOKED", (reason, message, key_id)
    assert f"seal {seal.seal_id} was revoked while this call was being made" in message
    assert "restored" not in message and "备份" not in message


@pytest.mark.parametrize("call", ["IssueLicense", "BatchIssueLicenses"])
def test_a_license_sealed_during_a_seal_rotation_is_sealed_with_the_new_seal(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    """A planned rotation through one process (RegisterSeal, then RevokeSeal of the old seal) while another issues:
    a license sealed with the old seal before the rotation and stored after it is sealed once more, with the new seal,
    and answered OK. It had been refused SEAL_REVOKED, for the department to send again (a reviewer, R4)."""
    first, second = replicas
    old = register(first)  # the issuer's newest seal: what it issues next is sealed with it
    rotated: dict[str, seal_pb2.Seal] = {}

    def rotate() -> None:
        rotated["new"] = register(second)
        seals(second, MARKET).RevokeSeal(
            seal_pb2.RevokeSealRequest(seal_id=old.seal_id, reason="换章", crl_reason="superseded")
        )

    made = make_call(first, call, "")
    between_choice_and_write(monkeypatch, first, rotate)
    reason, message, key_id = outcome(made)
    monkeypatch.undo()
    assert (reason, key_id) == ("", rotated["new"].key_id), message
    license_id = _answered(made)
    for running in (first, second):
        report = verify(running, license_id=license_id)
        assert (report.verdict, report.issuer_identity.reason) == (PASSED, ""), report
    assert document_of(second, license_id).seal_id == rotated["new"].seal_id


def test_a_request_repeated_in_a_batch_sealed_during_a_rotation_is_answered_as_its_first(
    replicas: tuple[RunningGateway, RunningGateway], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A batch holding one request twice, during a seal rotation: its first item was sealed once more and OK, but its
    repeat kept the first attempt's SEAL_REVOKED, saying nothing had been written (a reviewer, rfA R4). The repeat
    answers as its first does, as in any batch."""
    first, second = replicas
    old = register(first)

    def rotate() -> None:
        register(second)
        seals(second, MARKET).RevokeSeal(
            seal_pb2.RevokeSealRequest(seal_id=old.seal_id, reason="换章", crl_reason="superseded")
        )

    record = {**unique(samples.food_permit(63)), "request_id": f"race-{uuid.uuid4().hex}"}
    batch = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(record), issue_request(record)])
    between_choice_and_write(monkeypatch, first, rotate)
    (response,) = list(first.issuance(MARKET).BatchIssueLicenses(iter([batch])))
    monkeypatch.undo()
    assert [r.WhichOneof("result") for r in response.results] == ["license", "license"], response.results
    assert response.results[0].license == response.results[1].license
    assert [r.created for r in response.results] == [True, False]
