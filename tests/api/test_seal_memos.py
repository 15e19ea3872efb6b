"""Licenses carry the gateway's memo of their record seal: a check with empty caches trusts a good memo instead of
verifying the signature again, and a memo never makes a changed license pass (over gRPC, SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

import signing.checks
from gateway import cli
from gateway.store.database import MIGRATIONS, Database
from protos.zzgw.v1 import verification_pb2
from signing.errors import InvalidSignature
from tests.api.test_documents import document_of
from tests.api.test_verification import FAILED, MARKET, PASSED, USE, batch_issue, verifier, verify
from tests.commands import run_python
from tests.conftest import PASSPHRASE, RunningGateway, backend_params, fresh_database, start_gateway


def _stored_memo(running: RunningGateway, license_id: str) -> bytes:
    with running.gateway.db.engine.connect() as connection:
        memo = connection.execute(
            text("SELECT seal_memo FROM licenses WHERE license_id = :id"), {"id": license_id}
        ).scalar_one()
    return bytes(memo)


def _set(running: RunningGateway, license_id: str, column: str, value: bytes) -> None:
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            text(f"UPDATE licenses SET {column} = :value WHERE license_id = :id"), {"value": value, "id": license_id}
        )


@pytest.fixture
def no_signature_checks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any record seal signature verification fails: what passes now passed on its memo."""

    def refuse(*_: object) -> None:
        raise InvalidSignature("verify_signature was called")

    monkeypatch.setattr(signing.checks, "verify_signature", refuse)


def test_an_issued_license_is_stored_with_the_gateways_memo_of_its_seal(running: RunningGateway) -> None:
    license_id = batch_issue(running, 31)
    stored = running.gateway.issuance._get_stored(license_id)
    memos = running.gateway.verification._memos  # type: ignore[union-attr]
    assert memos is not None and len(stored.seal_memo) == 32
    assert _stored_memo(running, license_id) == stored.seal_memo == memos.memo(stored.seal)


@pytest.mark.usefixtures("no_signature_checks")
def test_a_license_with_its_memo_passes_without_its_signature_verified(running: RunningGateway) -> None:
    license_id = batch_issue(running, 32)
    report = verify(running, license_id=license_id)  # the first check: nothing about it in the caches
    assert report.verdict == PASSED and report.integrity.result == PASSED


@pytest.mark.usefixtures("no_signature_checks")
@pytest.mark.parametrize("memo", [b"", b"forged memo".ljust(32, b"!")], ids=["none", "forged"])
def test_without_a_good_memo_the_signature_is_verified(running: RunningGateway, memo: bytes) -> None:
    license_id = batch_issue(running, 33)
    _set(running, license_id, "seal_memo", memo)
    report = verify(running, license_id=license_id)
    assert (report.verdict, report.reason) == (FAILED, "SIGNATURE_INVALID")  # the refusing check ran


def test_a_forged_memo_on_a_genuine_seal_only_costs_the_verification(running: RunningGateway) -> None:
    license_id = batch_issue(running, 34)
    _set(running, license_id, "seal_memo", os.urandom(32))
    assert verify(running, license_id=license_id).verdict == PASSED


def test_a_seal_changed_behind_the_gateways_back_fails_though_its_memo_was_kept(running: RunningGateway) -> None:
    license_id = batch_issue(running, 35)
    other = running.gateway.issuance._get_stored(batch_issue(running, 36))
    _set(running, license_id, "seal_signature", other.seal.signature)  # a genuine signature, of another record
    report = verify(running, license_id=license_id)
    assert (report.verdict, report.reason) == (FAILED, "SIGNATURE_INVALID")
    assert report.integrity.result == FAILED


def test_licenses_stored_without_a_memo_are_given_theirs_unless_their_seal_fails(running: RunningGateway) -> None:
    """``zzgw memos`` (``store_missing_memos``): after an upgrade, older licenses get their memo once their seal is
    verified; one whose seal does not verify gets none and is reported, every time."""
    service = running.gateway.verification
    assert service is not None and service._memos is not None
    good, broken = batch_issue(running, 37), batch_issue(running, 38)
    for license_id in (good, broken):
        _set(running, license_id, "seal_memo", b"")
    with running.gateway.db.engine.begin() as connection:
        connection.execute(text("UPDATE licenses SET holder_name = '冒名公司' WHERE license_id = :id"), {"id": broken})
    seen: list[int] = []
    report = service.store_missing_memos(batch=1, progress=seen.append)
    assert broken in report.failed and report.stored >= 1 and sum(seen) == report.stored + len(report.failed)
    stored = running.gateway.issuance._get_stored(good)
    assert _stored_memo(running, good) == service._memos.memo(stored.seal)
    assert _stored_memo(running, broken) == b""
    again = service.store_missing_memos()
    assert again.stored == 0 and broken in again.failed
    assert verify(running, license_id=broken).reason == "RECORD_ALTERED"


@pytest.mark.parametrize("kind", backend_params())
def test_a_store_upgraded_from_before_proofs_and_memos_reads_checks_and_backfills(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real upgrade path, not columns cleared by hand: licenses and a receipt stored at schema 0008 (before
    receipts kept proofs and licenses memos), the store upgraded by ``zzgw init`` (each column added with its
    default; it says how many licenses lack a memo, once), then read, checked and given their memos."""
    with fresh_database(kind, tmp_path) as url:
        before = start_gateway(tmp_path / "var", url)
        try:
            issued = [batch_issue(before, n) for n in (41, 42, 43)]
            old_receipt = verify(before, license_id=issued[0]).receipt
            old_document = document_of(before, issued[1]).pdf
        finally:
            before.stop()
        _migrate(url, "0008")  # the store as schema 0008 left it: no proof column, no memo column
        (tmp_path / "var" / "schema-reached").unlink()  # a version then recorded no schema beside its keys
        monkeypatch.setenv("ZZGW_DATA_DIR", str(tmp_path / "var"))
        monkeypatch.setenv("ZZGW_DATABASE_URL", url)
        monkeypatch.setenv("ZZGW_KEY_PASSPHRASE", PASSPHRASE)
        capsys.readouterr()
        with monkeypatch.context() as terminal:  # the bar is shown on a terminal only (review clirev, R4)
            terminal.setattr(sys.stderr, "isatty", lambda: True)
            assert cli.main(["init"]) == 0  # upgrades it
        captured = capsys.readouterr()
        said = captured.out
        assert "recording each license's status memo" in captured.err  # the long step has a progress bar
        assert "3 licenses were stored before schema 0012" in said and "zzgw memos" in said
        assert "3 licenses' statuses recorded with the gateway's memo (schema 0014)" in said
        assert "1 license document recorded with the gateway's memo (schema 0021)" in said
        assert cli.main(["init"]) == 0  # already at the newest schema: nothing more to say
        assert "schema 0012" not in capsys.readouterr().out
        after = start_gateway(tmp_path / "var", url)
        try:
            service = after.gateway.verification
            assert service is not None and service._memos is not None
            stored = verifier(after, MARKET).GetReceipt(
                verification_pb2.GetReceiptRequest(receipt_id=old_receipt.receipt_id)
            )
            assert (stored.receipt.statement, stored.receipt.proof) == (old_receipt.statement, b"")
            with after.gateway.db.unit_of_work() as uow:
                assert uow.licenses.count_without_memo() == len(issued)
            for license_id in issued:
                assert verify(after, license_id=license_id).verdict == PASSED
            document = verifier(after).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=old_document))
            assert (document.report.verdict, document.report.license.license_id) == (PASSED, issued[1])
            report = service.store_missing_memos()
            assert (report.stored, report.failed) == (len(issued), ())
            for license_id in issued:
                license = after.gateway.issuance._get_stored(license_id)
                assert _stored_memo(after, license_id) == license.seal_memo == service._memos.memo(license.seal)
            with after.gateway.db.unit_of_work() as uow:
                assert uow.licenses.count_without_memo() == 0
        finally:
            after.stop()


KILLED_MAKING_DOCUMENT_MEMOS = """
import os, signal
from gateway import cli, server
def killed(*_args, **_kwargs):  # kill -9 in the upgrade's last step, its migrations made
    os.kill(os.getpid(), signal.SIGKILL)
server._vouch_documents = killed
cli.main(["init"])
"""
"""`zzgw init` killed (SIGKILL) as it starts giving the documents their memos, after every migration has run."""


@pytest.mark.parametrize("kind", backend_params())
def test_an_upgrade_killed_before_its_document_memos_is_made_whole_by_the_next_init(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An upgrade across schema 0021 killed after its migrations, as it gave the documents their memos: the schema
    had been committed first, so the store was left at the new revision with every document memo-less, the next
    init found it upgraded and added nothing, and every PDF issued before the upgrade verified REGISTRY_ALTERED for
    good (an upgrade tester, D3). The memos are made in the migrations' transaction: killed, the store is still at
    the old revision, and the next init upgrades it whole. A memo emptied after the upgrade is not one never made:
    no init makes it again."""
    with fresh_database(kind, tmp_path) as url:
        before = start_gateway(tmp_path / "var", url)
        try:
            issued = batch_issue(before, 44)
            assert verify(before, license_id=issued).verdict == PASSED  # a record in the audit chain (0022's row)
            old_document = document_of(before, issued).pdf
        finally:
            before.stop()
        _migrate(url, "0020")  # before document memos (and the audit chain's head row)
        (tmp_path / "var" / "schema-reached").unlink()  # a version then recorded no schema beside its keys
        env = {"ZZGW_DATA_DIR": str(tmp_path / "var"), "ZZGW_DATABASE_URL": url, "ZZGW_KEY_PASSPHRASE": PASSPHRASE}
        killed = run_python(KILLED_MAKING_DOCUMENT_MEMOS, env={**os.environ, **env}, timeout=180)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert _revision(url) == "0020"  # nothing of the upgrade committed

        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        assert cli.main(["init"]) == 0
        assert "1 license document recorded with the gateway's memo (schema 0021)" in capsys.readouterr().out
        assert cli.main(["audit", "verify"]) == 0  # the chain's head row vouched for with the rest
        after = start_gateway(tmp_path / "var", url)
        try:
            document = verifier(after).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=old_document))
            assert (document.report.verdict, document.report.license.license_id) == (PASSED, issued)
        finally:
            after.stop()

        db = Database.connect(url)
        try:
            with db.engine.begin() as connection:  # a database-only attacker empties the memo
                connection.execute(
                    text("UPDATE license_documents SET memo = :empty WHERE license_id = :id"),
                    {"empty": b"", "id": issued},
                )
        finally:
            db.dispose()
        assert cli.main(["init"]) == 0
        assert "license documents recorded" not in capsys.readouterr().out
        after = start_gateway(tmp_path / "var", url)
        try:
            document = verifier(after).VerifyDocument(verification_pb2.VerifyDocumentRequest(use=USE, pdf=old_document))
            assert (document.report.verdict, document.report.reason) == (FAILED, "REGISTRY_ALTERED")
        finally:
            after.stop()


def _revision(url: str) -> str | None:
    db = Database.connect(url)
    try:
        return db.schema_revision()
    finally:
        db.dispose()


def _migrate(url: str, revision: str) -> None:
    """Move the store at ``url`` to schema ``revision`` (down, keeping the rows), as ``Database.migrate`` goes up."""
    db = Database.connect(url)
    try:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with db.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        db.dispose()


def test_init_does_not_make_a_new_memo_secret_for_a_store_that_holds_memos(tmp_path: Path) -> None:
    """A key store copied without its memo secret (a replica, a restore) must not get a new one: every stored
    status would then read as altered."""
    from gateway.config import ConfigError, Settings
    from gateway.server import initialise

    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'var' / 'zzgw.db'}")
    try:
        license_id = batch_issue(running, 51)
        assert verify(running, license_id=license_id).verdict == PASSED
    finally:
        running.stop()
    secret = tmp_path / "var" / "keys" / "sealmemo.key.pem"
    secret.rename(tmp_path / "kept.pem")
    settings = Settings(data_dir=tmp_path / "var", key_passphrase=PASSPHRASE)
    with pytest.raises(ConfigError, match="memos under a secret that is not in"):
        initialise(settings)
    assert not secret.exists()
    (tmp_path / "kept.pem").rename(secret)
    initialise(settings)  # with it back, nothing to say
