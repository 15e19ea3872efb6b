"""The command line end to end, as an operator runs it: init, serve, demo, import, and a graceful stop."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import reportlab
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from benchmarks.common import free_port, wait_serving
from gateway.bootstrap import samples
from gateway.cli import INIT_INTERRUPTED
from gateway.domain.model import beijing_day
from signing.pki import CertificateAuthority, Issued
from tests.commands import DEMO_FILES, command_env, zzgw
from tests.conftest import ADMIN, backend_params, fresh_database, today, zzgw_command

ROOT = Path(__file__).resolve().parent.parent
MARKET = "11370100993701011T"
TAX = "11370100993701097M"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return command_env(tmp_path / "var", ZZGW_KEY_PASSPHRASE="cli-test-passphrase")


@pytest.mark.slow
def _serve(env: dict[str, str]) -> subprocess.Popen[str]:
    """``zzgw serve`` in a process of its own under ``env``, its output and errors kept as text."""
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_restored_dev_tokens_file_readable_by_others_is_written_again_readable_by_the_gateway_alone(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A private file the gateway writes again over one that already existed kept that file's mode (O_CREAT's 0600
    applies only to a file it makes): a dev-tokens.json restored from a copy readable by everyone stayed so after
    `zzgw init` wrote the tokens into it again (a reviewer of the members, unverified; checked here)."""
    assert zzgw(env, "init").returncode == 0
    tokens = tmp_path / "var" / "dev-tokens.json"
    tokens.chmod(0o644)  # as a restore from an archive that did not keep modes leaves it
    again = zzgw(env, "init", "--rotate-tokens")  # writes the file again (an entry lost no longer does: R1 of upgrades)
    assert again.returncode == 0, again.stderr
    assert len(json.loads(tokens.read_text(encoding="utf-8"))["tokens"]) == 14
    assert oct(tokens.stat().st_mode & 0o777) == "0o600"


def test_init_serve_demo_import_and_graceful_stop(env: dict[str, str], tmp_path: Path) -> None:
    first = zzgw(env, "init")
    assert first.returncode == 0, first.stderr
    assert "14 members" in first.stdout and "DEV MODE bearer tokens" in first.stdout
    tokens = json.loads((tmp_path / "var" / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    memo_secret = tmp_path / "var" / "keys" / "sealmemo.key.pem"
    made = memo_secret.read_bytes()  # the seal memos' secret exists before any worker starts
    again = zzgw(env, "init")  # idempotent: same keys, same tokens
    assert again.returncode == 0 and "DEV MODE bearer tokens" not in again.stdout
    assert memo_secret.read_bytes() == made
    assert json.loads((tmp_path / "var" / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"] == tokens
    assert oct((tmp_path / "var" / "dev-tokens.json").stat().st_mode & 0o777) == "0o600"
    stores = [
        tmp_path / "var" / name
        for name in ("zzgw.db", "zzgw.db-wal", "zzgw.db-shm")
        if (tmp_path / "var" / name).exists()
    ]
    assert stores and {oct(path.stat().st_mode & 0o777) for path in stores} == {"0o600"}  # holders' data: owner only

    server = _serve(env)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        http = f"http://{env['ZZGW_HTTP_ADDR']}"
        with urllib.request.urlopen(f"{http}/healthz", timeout=10) as response:
            assert response.read() == b"ok\n"
        with urllib.request.urlopen(f"{http}/crl/seal-maker.crl", timeout=10) as response:
            crl = x509.load_der_x509_crl(response.read())
        root = x509.load_pem_x509_certificate((tmp_path / "var" / "seal-ca" / "intermediate.pem").read_bytes())
        assert crl.issuer == root.subject and crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
        second = zzgw(env, "serve", timeout=60)  # the port is taken: a second gateway must not share it
        assert second.returncode == 2 and f"cannot listen on {env['ZZGW_GRPC_ADDR']}" in second.stderr, second.stderr
        demo = zzgw(env, "demo")
        assert demo.returncode == 0, demo.stderr
        assert "营业执照" in demo.stdout and "now 已变更（不再现行）" in demo.stdout
        assert "：已吊销或撤销（" in demo.stdout
        # its matters use the 营业执照 only; watched from the first event, not "from now" after a fixed wait
        assert "2 change events delivered to the tax bureau" in demo.stdout
        assert "a PDF edited after sealing: 核验未通过：签章已被篡改" in demo.stdout
        assert f"a 结婚证 cancelled since: 核验未通过：证照已注销（{today().isoformat()} 起）" in demo.stdout
        closing = demo.stdout.rstrip("\n").splitlines()[-1]
        console = f"http://{env['ZZGW_HTTP_ADDR']}/console/"
        assert closing.startswith(
            f"办事窗口控制台可做同样的核验（the same checks in the clerk's console）：{console}，"
        )
        assert (
            f"以济南市不动产登记中心的令牌登录（{tmp_path / 'var' / 'dev-tokens.json'}）" in closing
        )  # where it is, not var/
        # --target another gateway than the settings': its console is not the settings' (it had named theirs, another
        # gateway's on a shared machine, where this store's token is refused; a reviewer, R6)
        elsewhere = {**env, "ZZGW_GRPC_ADDR": "127.0.0.1:1", "ZZGW_HTTP_ADDR": "127.0.0.1:2"}
        targeted = zzgw(elsewhere, "demo", "--target", env["ZZGW_GRPC_ADDR"])
        assert targeted.returncode == 0, targeted.stderr
        closing = targeted.stdout.rstrip("\n").splitlines()[-1]
        assert "127.0.0.1:2" not in closing and "zzgw demo --target 不知道" in closing, closing
        # the holder's view: checked by number and by the printed PDF (the edited PDF names no license: what a
        # document that is not intact says is not looked at)
        assert demo.stdout.count("济南市不动产登记中心（不动产登记中心 3号窗口）") == 2

        lines = [json.dumps(samples.food_permit(i), ensure_ascii=False) for i in range(40)]
        lines[5] = "{broken"
        bad = samples.food_permit(40)
        bad["holder"]["code"] = "91370100MA3C4K7L6N"
        lines.append(json.dumps(bad, ensure_ascii=False))
        source = tmp_path / "permits.jsonl"
        source.write_text("\n".join(lines) + "\n", encoding="utf-8")
        imported = zzgw(env, "import", str(source), "--issuer", MARKET)
        assert imported.returncode == 1  # some lines failed
        assert "41 lines: 39 issued, 0 already present, 2 failed" in imported.stdout
        assert "第 6 行 - BAD_JSON：" in imported.stdout
        assert "第 41 行 holder.code BAD_CHECK_CHARACTER：" in imported.stdout
        repeated = zzgw(env, "import", str(source), "--issuer", MARKET)
        assert "0 issued, 39 already present, 2 failed" in repeated.stdout
        assert "--format csv" not in repeated.stderr  # some lines were JSON
        spreadsheet = tmp_path / "permits.txt"  # CSV under a name that says nothing
        spreadsheet.write_text("type_code,license_number\nx,1\n", encoding="utf-8")
        misread = zzgw(env, "import", str(spreadsheet), "--issuer", MARKET)
        assert misread.returncode == 1 and "if it is CSV, add --format csv" in misread.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"listening on {env['ZZGW_GRPC_ADDR']}" in out and "database: sqlite:///" in out
    assert f"HTTP (TSA, CRL) on http://{env['ZZGW_HTTP_ADDR']}" in out
    assert "DEV MODE" in out
    assert "stopping" in err

    # licenses stored before schema 0012 have no memo of their seal: `zzgw memos` checks their seals and adds it
    with sqlite3.connect(tmp_path / "var" / "zzgw.db") as db:
        cleared = db.execute("UPDATE licenses SET seal_memo = x'' WHERE rowid % 2 = 0").rowcount
        broken = db.execute("SELECT license_id FROM licenses WHERE rowid % 2 = 0 LIMIT 1").fetchone()[0]
        db.execute("UPDATE licenses SET holder_name = '冒名公司' WHERE license_id = ?", (broken,))
    assert cleared > 10
    memos = zzgw(env, "memos")
    assert memos.returncode == 1, memos.stderr  # one seal does not verify
    assert f"{cleared - 1} licenses given the memo of their seal" in memos.stdout
    assert f"1 license whose seal does not verify (no memo; they fail every check): {broken}" in memos.stdout
    again = zzgw(env, "memos")
    assert "0 licenses given the memo" in again.stdout and again.returncode == 1
    with sqlite3.connect(tmp_path / "var" / "zzgw.db") as db:
        assert db.execute("SELECT count(*) FROM licenses WHERE seal_memo = x''").fetchone()[0] == 1


@pytest.mark.slow
def test_a_receipt_fetched_as_a_file_and_checked_offline(env: dict[str, str], tmp_path: Path) -> None:
    """A department keeps a verification's receipt (`zzgw receipt get`) and anyone checks it later with only the
    trust material the gateway publishes over HTTP (`zzgw receipt check`)."""
    from adapters.client import MemberCredentials, connect
    from adapters.records import issue_request
    from protos.zzgw.v1 import issuance_pb2, issuance_pb2_grpc, verification_pb2, verification_pb2_grpc
    from tests.api.test_issuance import unique

    assert zzgw(env, "init").returncode == 0
    server = subprocess.Popen([sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        data_dir, address = tmp_path / "var", env["ZZGW_GRPC_ADDR"]
        with connect(address, MemberCredentials.dev(data_dir, MARKET)) as channel:
            request = issuance_pb2.BatchIssueLicensesRequest(
                licenses=[issue_request(unique(samples.business_license(1)))]
            )
            (issued,) = issuance_pb2_grpc.IssuanceServiceStub(channel).BatchIssueLicenses(iter([request]))
        license_id = issued.results[0].license.license_id
        with connect(address, MemberCredentials.dev(data_dir, TAX)) as channel:
            report = (
                verification_pb2_grpc.VerificationServiceStub(channel)
                .VerifyLicense(
                    verification_pb2.VerifyLicenseRequest(
                        use=verification_pb2.UseContext(matter_code="370100-FPSL-001", purpose="企业开办：发票申领"),
                        license_id=license_id,
                    )
                )
                .report
            )
        receipt_id = report.receipt.receipt_id

        kept = tmp_path / "receipt.json"
        got = zzgw(env, "receipt", "get", receipt_id, "--member", TAX, "-o", str(kept))
        assert got.returncode == 0, got.stderr
        trust = {}
        for name in ("certificates/seal-maker-root.pem", "certificates/seal-maker-intermediate.pem",
                     "certificates/receipts.pem", "certificates/receipt-certificates.pem",
                     "crl/seal-maker.crl"):  # fmt: skip
            trust[name] = tmp_path / name.rsplit("/", 1)[1]
            with urllib.request.urlopen(f"http://{env['ZZGW_HTTP_ADDR']}/{name}", timeout=10) as response:
                trust[name].write_bytes(response.read())
        unknown = zzgw(env, "receipt", "get", "no-such-receipt", "--member", TAX)
        assert unknown.returncode == 4 and "NOT_FOUND" in unknown.stderr  # refused: not receipt check's 1
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)

    # offline: the gateway is stopped
    anchors = ["--root", str(trust["certificates/seal-maker-root.pem"]),
               "--intermediate", str(trust["certificates/seal-maker-intermediate.pem"])]  # fmt: skip
    full = [
        *anchors,
        "--crl",
        str(trust["crl/seal-maker.crl"]),
        "--certificate",
        str(trust["certificates/receipt-certificates.pem"]),
    ]
    checked = zzgw(env, "receipt", "check", str(kept), *full)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert f"回执 receipt {receipt_id}：回执有效 valid" in checked.stdout
    assert "核验结论 verdict：核验通过 PASSED" in checked.stdout and license_id in checked.stdout
    assert "用证事由 purpose：企业开办：发票申领" in checked.stdout and "核验回执专用章" in checked.stdout
    as_json = json.loads(zzgw(env, "receipt", "check", str(kept), *full, "--json").stdout)
    assert (as_json["result"], as_json["statement"]["receipt_id"]) == ("PASSED", receipt_id)

    no_crl = zzgw(env, "receipt", "check", str(kept), *anchors)
    assert no_crl.returncode == 3 and "无法确认 INDETERMINATE（CRL_MISSING）" in no_crl.stdout
    no_intermediate = zzgw(env, "receipt", "check", str(kept), "--root", str(trust["certificates/seal-maker-root.pem"]))
    assert no_intermediate.returncode == 3 and "无法确认 INDETERMINATE（CHAIN_INCOMPLETE）" in no_intermediate.stdout
    assert "with --intermediate" in no_intermediate.stdout  # a genuine receipt is not called forged for want of it

    receipt = json.loads(kept.read_text(encoding="utf-8"))
    statement = base64.b64decode(receipt["statement"]).replace(b'"verdict":"PASSED"', b'"verdict":"FAILED"')
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps({**receipt, "statement": base64.b64encode(statement).decode()}), encoding="utf-8")
    rejected = zzgw(env, "receipt", "check", str(forged), *full)
    assert rejected.returncode == 1 and "回执无效 INVALID（SIGNATURE_INVALID）" in rejected.stdout
    assert "not to be relied on" in rejected.stdout and "核验结论" not in rejected.stdout  # a forgery's claims unshown

    wrong_crl = zzgw(env, "receipt", "check", str(kept), *anchors, "--crl", str(trust["certificates/receipts.pem"]))
    assert wrong_crl.returncode == 2 and "receipts.pem: not a CRL" in wrong_crl.stderr
    leaf_root = zzgw(env, "receipt", "check", str(kept), "--root", str(trust["certificates/receipts.pem"]))
    assert leaf_root.returncode == 2 and "is not a CA certificate" in leaf_root.stderr  # it would skip the CRL
    missing = zzgw(env, "receipt", "check", str(tmp_path / "nothing.json"), *full)
    assert missing.returncode == 2 and f"cannot open {tmp_path / 'nothing.json'}" in missing.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{}", encoding="utf-8")
    refused = zzgw(env, "receipt", "check", str(garbage), *full)
    assert refused.returncode == 2 and "the receipt has no receipt_id" in refused.stderr


def test_serve_without_init_says_what_to_do(env: dict[str, str]) -> None:
    result = zzgw(env, "serve", timeout=60)
    assert result.returncode == 2
    assert "run `zzgw init`" in result.stderr


def test_console_tokens_are_for_production_members(env: dict[str, str]) -> None:
    dev = zzgw(env, "console-token", "11370100993701097M")
    assert dev.returncode == 2 and "dev bearer token" in dev.stderr
    dev_store = {**env, "ZZGW_DATA_DIR": str(Path(env["ZZGW_DATA_DIR"]).parent / "dev")}  # production stays so
    assert zzgw(dev_store, "init").returncode == 0
    clerk = zzgw(dev_store, "console-token", "113701009937010548", "--clerk", "窗口01")  # nor a clerk's own, in dev
    assert clerk.returncode == 2 and not clerk.stdout and "本部门在事项目录中没有办理事项" in clerk.stderr
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    made = zzgw(production, "init")
    assert made.returncode == 0 and "fewer than 16 characters" not in made.stderr
    issued = zzgw(production, "console-token", "11370100993701097m")
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("zzgw-console-") and len(issued.stdout.split()) == 1
    assert "/console/" in issued.stderr
    unknown = zzgw(production, "console-token", "91370100MA3C00000X")
    assert unknown.returncode == 2 and "no member '91370100MA3C00000X'" in unknown.stderr
    civil = zzgw(production, "console-token", "113701009937010548")  # 济南市民政局: issues, handles no matter
    assert civil.returncode == 2 and not civil.stdout
    assert "handles no matter of the catalog" in civil.stderr and "本部门在事项目录中没有办理事项" in civil.stderr
    missing = {**production, "ZZGW_HTTP_TLS_CERT": "/nonexistent/web.pem", "ZZGW_HTTP_TLS_KEY": "/nonexistent/web.key"}
    refused = zzgw(missing, "serve", timeout=60)  # the console's HTTPS cannot start: said, no traceback
    assert refused.returncode == 2 and "cannot read /nonexistent/web.pem (HTTP TLS)" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_production_store_is_never_served_or_initialised_in_dev_mode(env: dict[str, str]) -> None:
    """A production store whose settings file was left behind in a restore had been served in dev mode, over plain
    gRPC with bearer tokens, and `zzgw init` had written a token for every member (a disaster-recovery tester)."""
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    assert zzgw(production, "init").returncode == 0
    tokens = Path(env["ZZGW_DATA_DIR"]) / "dev-tokens.json"
    tokens.unlink(missing_ok=True)
    for command in ("init", "serve"):
        refused = zzgw(env, command, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert "is served in production mode (mTLS), and these settings say dev" in refused.stderr
        assert "Traceback" not in refused.stderr
    assert not tokens.exists()  # no bearer token written for anyone
    assert zzgw(production, "init").returncode == 0  # production goes on as before
    # a dev store may still go to production (`zzgw init --switch-to-production`), and then stays there
    dev_store = {**env, "ZZGW_DATA_DIR": str(Path(env["ZZGW_DATA_DIR"]).parent / "begun-in-dev")}
    assert zzgw(dev_store, "init").returncode == 0
    # a command that only reads the store, run with production settings, marks nothing (a reviewer)
    assert zzgw({**dev_store, "ZZGW_MODE": "production", **DEMO_FILES}, "members").returncode == 0
    assert zzgw(dev_store, "init").returncode == 0
    assert (
        zzgw({**dev_store, "ZZGW_MODE": "production", **DEMO_FILES}, "init", "--switch-to-production").returncode == 0
    )
    assert zzgw(dev_store, "init").returncode == 2


def test_production_init_and_serve_refuse_to_run_on_the_demo_members_and_catalog(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Production `zzgw init` without ZZGW_MEMBERS had registered the 14 made-up demo departments (a client
    certificate each, first seals under the seal-maker CA, the receipt certificate in a made-up name) and adopted the
    demo catalog, exit 0 and nothing said; so had ZZGW_MEMBER, one letter off (a reviewer of operations, R1). Init
    refuses, naming the settings, before anything is made; serve, without the catalog; the demo files named are
    taken as any other."""
    production = {**env, "ZZGW_MODE": "production"}
    data = Path(env["ZZGW_DATA_DIR"])
    refused = zzgw(production, "init")
    assert refused.returncode == 2, refused.stderr
    assert "生产模式须设置 ZZGW_MEMBERS（本部署的成员文件）、ZZGW_CATALOG（本部署的目录文件）" in refused.stderr
    assert "production mode needs members (ZZGW_MEMBERS) and catalog (ZZGW_CATALOG)" in refused.stderr
    assert not data.exists()  # nothing registered, not even the directory made
    members = ROOT / "gateway" / "bootstrap" / "members.json"
    catalog = ROOT / "gateway" / "bootstrap" / "catalog.json"
    slip = zzgw({**production, "ZZGW_MEMBER": str(members), "ZZGW_CATALOG": str(catalog)}, "init")
    assert slip.returncode == 2 and "ZZGW_MEMBER: did you mean ZZGW_MEMBERS?" in slip.stderr
    without_catalog = zzgw({**production, "ZZGW_MEMBERS": str(members)}, "init")
    assert without_catalog.returncode == 2, without_catalog.stderr
    assert "生产模式须设置 ZZGW_CATALOG（本部署的目录文件）：" in without_catalog.stderr
    assert "needs catalog (ZZGW_CATALOG), the deployment's own: without it the demo catalog" in without_catalog.stderr
    assert not data.exists()
    named = {**production, "ZZGW_MEMBERS": str(members), "ZZGW_CATALOG": str(catalog)}
    done = zzgw(named, "init")
    assert done.returncode == 0, done.stderr
    served = zzgw({**production, "ZZGW_MEMBERS": str(members)}, "serve")
    assert served.returncode == 2 and "production mode needs catalog (ZZGW_CATALOG)" in served.stderr


def test_a_dev_store_goes_to_production_only_by_init_switch_to_production(env: dict[str, str]) -> None:
    """A replica started with ZZGW_MODE=production on a dev fleet's store had switched the store for good without a
    word: the dev replicas went on taking bearer tokens on it, and each was refused at its next restart (a
    multi-replica tester, D1). `zzgw serve` and `zzgw init` with production settings refuse a dev store, naming the
    switch, and leave it dev; `zzgw init --switch-to-production` switches it. A store begun in production needs no
    flag."""
    assert zzgw(env, "init").returncode == 0
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    for command in ("serve", "init"):
        refused = zzgw(production, command, timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert "is served in dev mode (its members have bearer tokens), and these settings say production" in (
            refused.stderr
        )
        assert 'set mode = "dev" (ZZGW_MODE)' in refused.stderr
        assert "stop every gateway of the store, run `zzgw init --switch-to-production` with these settings" in (
            refused.stderr
        )
        assert "Traceback" not in refused.stderr
    assert zzgw(env, "init").returncode == 0  # still a dev store: nothing was switched
    dev_settings = zzgw(env, "init", "--switch-to-production")
    assert dev_settings.returncode == 2 and "these settings say dev" in dev_settings.stderr
    switched = zzgw(production, "init", "--switch-to-production")
    assert switched.returncode == 0, switched.stderr
    assert "switched to production mode: the store's gateways serve mTLS only from now on" in switched.stderr
    again = zzgw(production, "init")  # a production store's routine init: no flag, nothing switched
    assert again.returncode == 0 and "switched to production" not in again.stderr
    assert zzgw(env, "init").returncode == 2
    fresh = {**production, "ZZGW_DATA_DIR": str(Path(env["ZZGW_DATA_DIR"]).parent / "begun-in-production")}
    made = zzgw(fresh, "init")
    assert made.returncode == 0 and "switched to production" not in made.stderr


def test_a_department_console_token_is_refused_on_a_dev_store(env: dict[str, str]) -> None:
    """`zzgw console-token CODE` run with production settings on a dev fleet's store (a replica's data directory)
    had replaced the member's dev bearer token, and every dev gateway refused the member within 30 s, with nothing
    logged (a reviewer, R1). It is refused, as `zzgw serve` and `zzgw init` refuse such settings, naming both ways
    out, and the dev token stays the member's; once the store is switched, the token is issued."""
    assert zzgw(env, "init").returncode == 0
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}

    def credential() -> str:
        listed = zzgw(production, "members", timeout=60)  # told apart from a console token by dev-tokens.json
        assert listed.returncode == 0, listed.stderr
        return {line.split("\t")[0]: line.split("\t")[3] for line in listed.stdout.splitlines()}[TAX]

    refused = zzgw(production, "console-token", TAX)
    assert refused.returncode == 2, refused.stderr
    assert not refused.stdout  # no token
    assert refused.stderr.startswith("zzgw console-token: the database ")
    assert "is served in dev mode (its members have bearer tokens), and these settings say production" in (
        refused.stderr
    )
    assert f"a console token of {TAX} would replace its dev bearer token" in refused.stderr
    assert 'set mode = "dev" (ZZGW_MODE)' in refused.stderr
    assert "stop every gateway of the store, run `zzgw init --switch-to-production` with these settings" in (
        refused.stderr
    )
    assert "Traceback" not in refused.stderr
    assert credential() == "certificate+unused-dev-token"  # the dev token is still the member's
    assert zzgw(env, "init").returncode == 0  # and the store still dev
    clerk = zzgw(production, "console-token", TAX, "--clerk", "窗口01")  # a clerk's own replaces nothing
    assert clerk.returncode == 0 and clerk.stdout.startswith("zzgw-clerk-"), clerk.stderr
    assert zzgw(production, "init", "--switch-to-production").returncode == 0
    issued = zzgw(production, "console-token", TAX)
    assert issued.returncode == 0 and issued.stdout.startswith("zzgw-console-"), issued.stderr
    assert credential() == "certificate+console-token"


def test_a_dev_process_whose_store_is_switched_to_production_takes_no_bearer_token(env: dict[str, str]) -> None:
    """A dev gateway still serving when its store is switched to production (no other gateway process is seen on
    SQLite, nor one of a version before schema 0029 on PostgreSQL) notices on its fact check: not ready
    (MODE_CHANGED), logged, and every bearer-token call refused, gRPC and console alike (a multi-replica tester, D1:
    dev replicas had gone on taking bearer tokens on a production store)."""
    import grpc

    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc

    assert zzgw(env, "init").returncode == 0
    listed = json.loads((Path(env["ZZGW_DATA_DIR"]) / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    token = listed[ADMIN]["token"]
    server = _serve(env)
    http = f"http://{env['ZZGW_HTTP_ADDR']}"

    def readiness() -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(f"{http}/readyz", timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], process=server)
        with grpc.insecure_channel(env["ZZGW_GRPC_ADDR"]) as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)

            def list_types() -> catalog_pb2.ListLicenseTypesResponse:
                return catalog.ListLicenseTypes(
                    catalog_pb2.ListLicenseTypesRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
                )

            assert list_types().license_types
            switched = zzgw({**env, "ZZGW_MODE": "production", **DEMO_FILES}, "init", "--switch-to-production")
            assert switched.returncode == 0, switched.stderr
            deadline = time.monotonic() + 30  # the store's facts are read every 5 s
            while (answer := readiness())[0] == 200:
                assert time.monotonic() < deadline, "the dev process stayed ready on a production store"
                time.sleep(0.2)
            status, body = answer
            assert status == 503 and body["reason"] == "MODE_CHANGED", body
            assert "start it with production settings" in str(body["message"])
            with pytest.raises(grpc.RpcError) as refused:
                list_types()
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert refused.value.details().startswith("证照网关的数据库已转为生产模式")
            assert "this dev-mode gateway process takes no bearer token" in refused.value.details()
        request = urllib.request.Request(f"{http}/console/api/session", headers={"Authorization": f"Bearer {token}"})
        with pytest.raises(urllib.error.HTTPError) as console:
            urllib.request.urlopen(request, timeout=10)
        assert console.value.code == 401
        assert json.loads(console.value.read())["error"]["reason"] == "UNKNOWN_CREDENTIAL"
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert "not ready (MODE_CHANGED): the store is served in production mode now" in err
    restarted = zzgw(env, "serve", timeout=60)  # and, as before, it does not start in dev mode again
    assert restarted.returncode == 2 and "is served in production mode (mTLS)" in restarted.stderr


def test_a_replicas_start_up_names_what_applies_to_it(env: dict[str, str]) -> None:
    """A replica's copied data directory, without dev-tokens.json (README: deployment beyond one machine, step 3): its
    banner had named that file as where its bearer tokens come from; and without secrets/key-passphrase `zzgw serve`
    had said to run `zzgw init`, which then refused and said to copy the first gateway's (a multi-replica tester,
    D6). Serve says what init says."""
    replica = {name: value for name, value in env.items() if name != "ZZGW_KEY_PASSPHRASE"}
    made = zzgw(replica, "init")
    assert made.returncode == 0, made.stderr
    data_dir = Path(env["ZZGW_DATA_DIR"])
    (data_dir / "dev-tokens.json").unlink()  # as the README's copy leaves it
    server = _serve(replica)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], process=server)
    finally:
        server.send_signal(signal.SIGTERM)
        banner, _ = server.communicate(timeout=30)
    assert (
        "DEV MODE: bearer tokens registered in the store (the dev-tokens.json of the gateway that made them; none at "
        in banner
    )
    assert "bearer tokens from" not in banner
    (data_dir / "secrets" / "key-passphrase").unlink()
    refused = zzgw(replica, "serve", timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert (
        "is encrypted but there is no key passphrase: copy secrets/key-passphrase from the gateway these keys come "
        in refused.stderr
    )
    assert "run `zzgw init`" not in refused.stderr and "Traceback" not in refused.stderr


def test_serve_refuses_a_data_directory_that_lost_the_receipt_key(env: dict[str, str]) -> None:
    """With the receipt key and its certificate both gone, `zzgw serve` had said it was ready, and every verification
    then failed UNAVAILABLE / NO_SEAL_CA (a disaster-recovery tester)."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    (data / "keys" / "receipts.key.pem").unlink()
    (data / "seal-ca" / "receipt.pem").unlink()
    refused = zzgw(env, "serve", timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert "the receipt key and its certificate" in refused.stderr and "restore them" in refused.stderr
    assert zzgw(env, "init").returncode == 0  # a new one, as docs/receipts.md renews it
    assert (data / "seal-ca" / "receipt.pem").exists()
    (data / "keys" / "tsa.key.pem").unlink()  # and without a TSA, serving is said to seal without timestamps
    (data / "seal-ca" / "tsa.pem").unlink()
    (data / "pki" / "ca.key").chmod(0o644)  # a restore that lost file modes: said too
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
    finally:
        server.terminate()
        _, said = server.communicate(timeout=60)
    assert "no time-stamping authority" in said and "documents sealed now carry no timestamp" in said
    assert "that others than its owner may read" in said and f"{data / 'pki' / 'ca.key'} (0o644)" in said
    assert "zzgw.db (" not in said  # the store, made 0600, is not


def test_a_key_of_another_pair_or_another_gateways_seal_maker_is_refused_by_init_and_serve(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A receipt key that is not receipt.pem's (keys/ restored from before a renewal, or another gateway's) had been
    taken by init and serve, and every receipt then checked SIGNATURE_INVALID offline; another gateway's seal-ca/ had
    been said to be a wrong time-stamping key (a keys tester)."""
    assert zzgw(env, "init").returncode == 0
    ours = Path(env["ZZGW_DATA_DIR"])
    other = {**env, "ZZGW_DATA_DIR": str(tmp_path / "other")}
    assert zzgw(other, "init").returncode == 0
    theirs = Path(other["ZZGW_DATA_DIR"])
    receipt_key = ours / "keys" / "receipts.key.pem"
    kept = receipt_key.read_bytes()
    shutil.copy(theirs / "keys" / "receipts.key.pem", receipt_key)
    for command in ("init", "serve"):
        refused = zzgw(env, command, timeout=60)
        assert refused.returncode == 2, (command, refused.stderr)
        assert (
            f"the receipt key ({receipt_key}) does not belong to the receipt certificate "
            f"({ours / 'seal-ca' / 'receipt.pem'})" in refused.stderr
        )
        assert "Traceback" not in refused.stderr
    receipt_key.write_bytes(kept)

    shutil.move(ours / "seal-ca", tmp_path / "our-seal-ca")
    shutil.copytree(theirs / "seal-ca", ours / "seal-ca")
    for command in ("init", "serve"):
        refused = zzgw(env, command, timeout=60)
        assert refused.returncode == 2, (command, refused.stderr)
        assert "seal-maker CA (seal-ca/root.pem) is not the one the database was made with" in refused.stderr
        assert "time-stamping key" not in refused.stderr and "Traceback" not in refused.stderr
    shutil.rmtree(ours / "seal-ca")
    shutil.move(tmp_path / "our-seal-ca", ours / "seal-ca")
    assert zzgw(env, "init").returncode == 0


def _end_on(path: Path, data: Path, not_after: dt.datetime) -> x509.Certificate:
    """Certify again the key of the gateway's certificate at ``path`` (receipt, TSA or server) by its own authority,
    to end at ``not_after``: a certificate made years ago, as the gateway made it."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    from signing.seal_ca import SealMakerCA

    old = x509.load_pem_x509_certificate(path.read_bytes())
    not_before = min(not_after - dt.timedelta(days=1), dt.datetime.now(dt.UTC) - dt.timedelta(days=1))
    if path.name == "server.pem":
        ca_key = serialization.load_pem_private_key((data / "pki" / "ca.key").read_bytes(), password=None)
        builder = x509.CertificateBuilder().subject_name(old.subject).issuer_name(old.issuer)
        builder = builder.public_key(old.public_key()).serial_number(x509.random_serial_number())
        builder = builder.not_valid_before(not_before).not_valid_after(not_after)
        for extension in old.extensions:
            builder = builder.add_extension(extension.value, critical=extension.critical)
        certificate = builder.sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    else:
        ca = SealMakerCA.load(data / "seal-ca", b"cli-test-passphrase")
        name = old.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
        if path.name == "tsa.pem":
            certificate = ca.issue_tsa_certificate(
                name=str(name),
                public_key=old.public_key(),
                not_before=not_before,
                not_after=not_after,  # type: ignore[arg-type]
            )
        else:
            certificate = ca.issue_seal_certificate(
                issuer_name=str(old.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value),
                issuer_uscc=str(old.subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)[0].value),
                seal_name=str(name),
                public_key=old.public_key(),  # type: ignore[arg-type]
                not_before=not_before,
                not_after=not_after,
            )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate


class _FixedClock:
    def __init__(self, moment: dt.datetime):
        self.moment = moment

    def now(self) -> dt.datetime:
        return self.moment


@pytest.mark.parametrize("cut", ["before the key is in place", "before the certificate is in place"])
def test_a_tsa_renewal_cut_short_is_finished_by_the_next_init(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    """A TSA renewal makes a new key. Put in place before its certificate was written, an init cut short between the
    two had left the new key with the old certificate, the old key nowhere, and init and serve refusing the pair for
    good (a reviewer): the pair is staged beside the old one and put in place, key then certificate, by the next
    init or serve, wherever the first stopped."""

    from gateway import server
    from gateway.config import Settings
    from gateway.server import Gateway, initialise
    from signing.keys import KeyStore

    data = Path(env["ZZGW_DATA_DIR"])
    settings = Settings(data_dir=data, key_passphrase="cli-test-passphrase")  # type: ignore[arg-type]
    now = dt.datetime.now(dt.UTC)
    initialise(settings, clock=_FixedClock(now - dt.timedelta(days=1800)))  # its TSA certificate ends soon
    tsa = data / "seal-ca" / "tsa.pem"
    before = x509.load_pem_x509_certificate(tsa.read_bytes())
    renames = {"before the key is in place": 0, "before the certificate is in place": 1}[cut]
    real_replace = os.replace

    def crash_after(source: object, target: object) -> None:
        nonlocal renames
        if renames == 0:
            raise OSError(28, "No space left on device")
        renames -= 1
        real_replace(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(server.os, "replace", crash_after)
    with pytest.raises(OSError, match="No space left"):
        initialise(settings)
    monkeypatch.setattr(server.os, "replace", real_replace)
    assert x509.load_pem_x509_certificate(tsa.read_bytes()) == before  # the pair in use is the old one, whole
    staged_key = (settings.keys_dir / "tsanext.key.pem").exists()
    assert ((data / "seal-ca" / "tsa.pem.next").exists(), staged_key) == (True, cut == "before the key is in place")

    initialise(settings)  # finishes the renewal it finds staged
    renewed = x509.load_pem_x509_certificate(tsa.read_bytes())
    assert renewed != before and renewed.not_valid_after_utc > now + dt.timedelta(days=800)
    key = KeyStore(settings.keys_dir, settings.passphrase()).load("tsa")
    assert (
        renewed.public_key().public_bytes(  # the key in use is the certificate's
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == key.public_key_der
    )
    assert not (data / "seal-ca" / "tsa.pem.next").exists() and not (settings.keys_dir / "tsanext.key.pem").exists()
    Gateway.open(settings).close()  # and a gateway opens on it


def test_init_renews_the_gateways_certificates_near_their_end_and_serve_refuses_one_that_ended(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Five years after init the gateway had signed every receipt under a receipt certificate that had ended (each
    INVALID offline for good), stamped with an ended TSA certificate and served TLS every client refused, without a
    word, and init renewed none of them (a keys tester)."""
    import hashlib

    from gateway.config import ConfigError, Settings
    from gateway.server import _check_own_certificates, initialise
    from signing.keys import KeyStore

    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    data = Path(env["ZZGW_DATA_DIR"])
    settings = Settings(  # type: ignore[arg-type]
        data_dir=data,
        mode="production",
        key_passphrase="cli-test-passphrase",
        grpc_addr=env["ZZGW_GRPC_ADDR"],
        http_addr=env["ZZGW_HTTP_ADDR"],
        members=DEMO_FILES["ZZGW_MEMBERS"],
        catalog=DEMO_FILES["ZZGW_CATALOG"],
    )
    now = dt.datetime.now(dt.UTC)
    initialise(settings, clock=_FixedClock(now - dt.timedelta(days=1800)))  # its 1825-day certificates end soon
    own = {
        "the receipt certificate": data / "seal-ca" / "receipt.pem",
        "the time-stamping certificate": data / "seal-ca" / "tsa.pem",
        "the server certificate": data / "pki" / "server.pem",
    }
    _end_on(own["the server certificate"], data, now + dt.timedelta(days=25))
    made = {what: x509.load_pem_x509_certificate(path.read_bytes()) for what, path in own.items()}
    with caplog.at_level("WARNING", logger="zzgw"):
        _check_own_certificates(settings, now)
    for what, path in own.items():
        assert f"{what} ({path}) ends on {beijing_day(made[what].not_valid_after_utc)} (Beijing time), in " in (
            caplog.text
        )
    assert caplog.text.count("run `zzgw init` to renew it before then") == 3
    with pytest.raises(ConfigError, match=r"the receipt certificate .* ended on .* run `zzgw init` to renew it"):
        _check_own_certificates(settings, now + dt.timedelta(days=26))

    ended = _end_on(own["the receipt certificate"], data, now - dt.timedelta(days=1))
    refused = zzgw(production, "serve", timeout=60)
    assert refused.returncode == 2, refused.stderr
    assert f"the receipt certificate ({own['the receipt certificate']}) ended on" in refused.stderr
    assert "INVALID (CERT_EXPIRED)" in refused.stderr and "run `zzgw init` to renew it" in refused.stderr

    renewal = zzgw(production, "init")
    assert renewal.returncode == 0, renewal.stderr
    for what, path in own.items():
        assert f"renewed {what}" in renewal.stderr
        renewed = x509.load_pem_x509_certificate(path.read_bytes())
        assert renewed.not_valid_after_utc > now + dt.timedelta(days=800)
        if what == "the receipt certificate":  # the receipt key is kept; the TSA and the server get a new pair
            assert renewed.public_key() == made[what].public_key()
        else:
            assert renewed.public_key() != made[what].public_key()
    # each TSA key has one certificate: revoking tsa.pem leaves no other one its key could back-date a timestamp under
    tsa = x509.load_pem_x509_certificate(own["the time-stamping certificate"].read_bytes()).public_key()
    spki = tsa.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert KeyStore(data / "keys", b"cli-test-passphrase").load("tsa").public_key_der == spki
    assert sorted(path.name for path in (data / "keys").glob("tsa*")) == ["tsa.key.pem"]
    assert f"with a new key ({data / 'keys' / 'tsa.key.pem'})" in renewal.stderr
    # a replica sharing keys/ whose seal-ca/ still holds the certificate before: its init takes no second new key
    renewed_tsa = own["the time-stamping certificate"].read_bytes()
    own["the time-stamping certificate"].write_bytes(
        made["the time-stamping certificate"].public_bytes(serialization.Encoding.PEM)
    )
    replica = zzgw(production, "init")
    assert replica.returncode == 2, replica.stderr  # it starts the gateway's TSA first, which refuses the pair
    assert "the time-stamping key does not belong to the time-stamping certificate" in replica.stderr
    assert KeyStore(data / "keys", b"cli-test-passphrase").load("tsa").public_key_der == spki
    own["the time-stamping certificate"].write_bytes(renewed_tsa)
    database = sqlite3.connect(data / "zzgw.db")
    recorded = {row[0] for row in database.execute("SELECT fingerprint FROM receipt_certificates")}
    renewed = x509.load_pem_x509_certificate(own["the receipt certificate"].read_bytes())
    fingerprints = {
        name: hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
        for name, certificate in (("made", made["the receipt certificate"]), ("ended", ended), ("renewed", renewed))
    }
    assert fingerprints["made"] in recorded  # still published, for the receipts it signed
    # a renewed certificate is recorded when a process first starts signing with it, not by the init that made it:
    # the processes still running sign on with the one before (a receipt-keys reviewer, R1); the ended one put in
    # place here, which serve refused, signed nothing
    assert fingerprints["renewed"] not in recorded and fingerprints["ended"] not in recorded
    caplog.clear()
    with caplog.at_level("WARNING", logger="zzgw"):
        _check_own_certificates(settings, now)
    assert caplog.text == ""
    again = zzgw(production, "init")
    assert again.returncode == 0 and "renewed" not in again.stderr


def test_a_revocations_file_edited_wrong_stops_serve_in_one_line(env: dict[str, str]) -> None:
    """RevokeSeal's spelling of a reason written into seal-ca/revocations.json by hand (the way to revoke the receipt
    or TSA certificate) had stopped `zzgw serve` with a traceback (a keys tester)."""
    assert zzgw(env, "init").returncode == 0
    state = Path(env["ZZGW_DATA_DIR"]) / "seal-ca" / "revocations.json"
    entry = {"serial": "477a8e", "reason": "key_compromise", "revoked_at": "2031-12-10T08:00:00+00:00"}
    state.write_text(json.dumps({"revocations": [entry], "crl_number": 0}))
    refused = zzgw(env, "serve", timeout=60)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert f"zzgw serve: {state} is damaged: revocation 1 (" in refused.stderr
    assert (
        "'key_compromise' is not a valid ReasonFlags" in refused.stderr
        and "<keyCompromise, superseded" in refused.stderr
    )


def test_init_warns_of_a_readable_member_ca_key_and_passphrase_file(env: dict[str, str], tmp_path: Path) -> None:
    """`zzgw init`, the one command that uses the member CA's unencrypted key, said nothing of it readable by all,
    nor did any command of a passphrase file readable by all, which opens every key (a keys tester)."""
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("cli-test-passphrase\n")
    passphrase.chmod(0o600)
    with_file = {k: v for k, v in env.items() if k != "ZZGW_KEY_PASSPHRASE"} | {
        "ZZGW_KEY_PASSPHRASE_FILE": str(passphrase)
    }
    first = zzgw(with_file, "init")
    assert first.returncode == 0 and "others than its owner may read" not in first.stderr
    ca_key = Path(env["ZZGW_DATA_DIR"]) / "pki" / "ca.key"
    ca_key.chmod(0o644)
    passphrase.chmod(0o644)
    again = zzgw(with_file, "init")
    assert again.returncode == 0, again.stderr
    assert "others than its owner may read" in again.stderr
    assert f"{passphrase} (0o644)" in again.stderr and f"{ca_key} (0o644)" in again.stderr


def test_under_a_umask_of_000_init_makes_nothing_others_may_write_and_warns_of_what_they_may(
    env: dict[str, str],
) -> None:
    """Under ``umask 000`` `zzgw init` left the data directory, keys/, pki/, secrets/ and seal-ca/ world-writable and
    every certificate 0666 (the keys 0600): any local user could rename server.key or replace seal-ca/root.pem, and
    no command said so (a reviewer, security R3). Its directories are 0700 and its certificates 0644 whatever the
    umask, and init warns of a directory or file under the data directory that others may write."""
    data = Path(env["ZZGW_DATA_DIR"])
    made = subprocess.run(
        ["sh", "-c", f"umask 000 && exec {sys.executable} -m gateway.cli init"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert made.returncode == 0, made.stderr
    assert "may write" not in made.stderr and "may read" not in made.stderr
    directories = [data, *(p for p in data.rglob("*") if p.is_dir())]
    assert {p.relative_to(data).as_posix() for p in directories} >= {".", "keys", "pki", "pki/members", "seal-ca"}
    assert {oct(p.stat().st_mode & 0o777) for p in directories} == {"0o700"}
    certificates = [p for p in data.rglob("*.pem") if not p.name.endswith(".key.pem") and "keys" not in p.parts]
    assert {"ca.pem", "server.pem", "root.pem", "intermediate.pem"} <= {p.name for p in certificates}
    assert {oct(p.stat().st_mode & 0o777) for p in certificates} == {"0o644"}
    assert [p for p in data.rglob("*") if p.stat().st_mode & 0o022] == []

    (data / "pki").chmod(0o777)  # as init had made them under umask 000
    (data / "seal-ca" / "root.pem").chmod(0o666)
    again = zzgw(env, "init")
    assert again.returncode == 0, again.stderr
    (said,) = [line for line in again.stderr.splitlines() if "that others than its owner may write" in line]
    assert f"{data / 'pki'} (0o777)" in said and f"{data / 'seal-ca' / 'root.pem'} (0o666)" in said
    assert str(data / "keys") not in said


def test_a_passphrase_file_that_is_the_generated_one_is_named_once(tmp_path: Path) -> None:
    """ZZGW_KEY_PASSPHRASE_FILE naming the passphrase file init generates, readable by others, was listed twice in
    the warning (a reviewer, security R3)."""
    from gateway.config import Settings
    from gateway.server import _exposed_secrets

    settings = Settings(data_dir=tmp_path / "var")
    passphrase = settings.generated_passphrase_path
    passphrase.parent.mkdir(parents=True)
    passphrase.write_text("secret\n")
    passphrase.chmod(0o644)
    named = Settings(data_dir=tmp_path / "var", key_passphrase_file=str(passphrase))
    assert _exposed_secrets(named) == [f"{passphrase} (0o644)"]


def test_init_needs_no_departments_key_and_never_replaces_a_registered_certificate(env: dict[str, str]) -> None:
    """departments.md hands a department its key and has the copy deleted: init had then stopped, unable to open it.
    With the certificate gone too (a data directory restored without it), init had issued a new pair and replaced
    the registration, and the department's own certificate was refused from then on (a disaster-recovery tester)."""
    assert zzgw(env, "init").returncode == 0
    members = Path(env["ZZGW_DATA_DIR"]) / "pki" / "members"
    certificate = (members / f"{TAX}.pem").read_bytes()
    (members / f"{TAX}.key").unlink()
    assert zzgw(env, "init").returncode == 0, "the department's key is not the gateway's to need"
    (members / f"{TAX}.pem").unlink()
    refused = zzgw(env, "init")
    assert refused.returncode == 2
    assert f"the client certificate of {TAX} ({members / f'{TAX}.pem'}) is not" in refused.stderr  # not CODE.pem
    assert "or back from the data directory's backup" in refused.stderr
    assert f"`zzgw members --renew {TAX}`" in refused.stderr
    assert not (members / f"{TAX}.pem").exists()
    (members / f"{TAX}.pem").write_bytes(certificate)  # copied back from the backup: init goes on, nothing replaced
    assert zzgw(env, "init").returncode == 0
    assert (members / f"{TAX}.pem").read_bytes() == certificate
    assert zzgw(env, "members", "--revoke", TAX).returncode == 0  # a new pair on purpose, as departments.md renews
    assert zzgw(env, "members", "--restore", TAX).returncode == 0
    # a replica's pki/ still holding the revoked pair, its init run before the renewal: not registered again
    (members / f"{TAX}.pem").write_bytes(certificate)
    replica = zzgw(env, "init")
    assert replica.returncode == 2 and "is one `zzgw members --retire` or `--revoke` took" in replica.stderr
    assert f"the client certificate {members / f'{TAX}.pem'} ({TAX})" in replica.stderr
    (members / f"{TAX}.pem").unlink()
    assert zzgw(env, "init").returncode == 0
    renewed = (members / f"{TAX}.pem").read_bytes()
    assert renewed != certificate
    # an older copy of pki/ put back: the revoked certificate is not registered again (a reviewer)
    (members / f"{TAX}.pem").write_bytes(certificate)
    stale = zzgw(env, "init")
    assert stale.returncode == 2 and f"the client certificate {members / f'{TAX}.pem'} ({TAX})" in stale.stderr
    assert "is one `zzgw members --retire` or `--revoke` took" in stale.stderr  # revoked, said before being stale
    (members / f"{TAX}.pem").write_bytes((members / "1137010099370102XJ.pem").read_bytes())  # another, unrevoked
    other = zzgw(env, "init")
    assert other.returncode == 2 and "is not the one the store has registered" in other.stderr
    (members / f"{TAX}.pem").write_bytes(renewed)
    assert zzgw(env, "init").returncode == 0


def test_a_renewal_keeps_the_previous_certificate_accepted_until_it_is_retired(env: dict[str, str]) -> None:
    """`zzgw members --renew CODE` issues and registers a new pair while the one before stays accepted, so a partner
    province changes over without a gap; renewing had meant `--revoke` first, the partner locked out until the new
    key reached it (a partner-province tester). `--retire CODE` ends the previous one, never trusted again."""
    assert zzgw(env, "init").returncode == 0
    members = Path(env["ZZGW_DATA_DIR"]) / "pki" / "members"
    old = Issued.read(members, TAX)
    end = x509.load_pem_x509_certificate(old.cert_pem).not_valid_after_utc
    renewed = zzgw(env, "members", "--renew", TAX.lower())
    assert renewed.returncode == 0, renewed.stderr
    new = Issued.read(members, TAX)
    assert new.cert_pem != old.cert_pem and new.key_pem != old.key_pem
    assert Issued.read(members, f"{TAX}.previous") == old
    assert f"the previous one ({members / f'{TAX}.previous.pem'}, until {beijing_day(end)}) stays accepted" in (
        renewed.stderr
    )
    assert f"then delete {members / f'{TAX}.key'} here" in renewed.stderr
    assert not list(members.glob("*.next.*"))
    listed = {line.split("\t")[0]: line.split("\t") for line in zzgw(env, "members").stdout.splitlines()}
    assert listed[TAX][3] == "token+certificate"
    assert listed[TAX][6].endswith(
        f"；换发前的旧证书仍可用，至 {beijing_day(end)} 或 --retire（the previous certificate is accepted too until "
        f"{beijing_day(end)}, or `zzgw members --retire {TAX}`）"
    )
    assert "旧证书" not in listed[MARKET][6]
    assert zzgw(env, "init").returncode == 0  # the new pair is the registered one: nothing issued or refused
    assert Issued.read(members, TAX) == new

    again = zzgw(env, "members", "--renew", TAX)  # one overlap at a time
    assert again.returncode == 2 and f"`zzgw members --retire {TAX}`, then renew again" in again.stderr
    assert Issued.read(members, TAX) == new

    retired = zzgw(env, "members", "--retire", TAX)
    assert retired.returncode == 0, retired.stderr
    (aside,) = members.glob(f"{TAX}.revoked-*.previous.pem")
    assert aside.read_bytes() == old.cert_pem and f"kept aside as {aside.with_suffix('')}.*" in retired.stderr
    assert not (members / f"{TAX}.previous.pem").exists()
    assert "旧证书" not in zzgw(env, "members").stdout
    none = zzgw(env, "members", "--retire", TAX)
    assert none.returncode == 2 and f"member {TAX} has no previous client certificate accepted" in none.stderr
    (members / f"{TAX}.previous.pem").write_bytes(old.cert_pem)  # an older copy of pki/ put back: not registered
    assert zzgw(env, "init").returncode == 0
    assert "旧证书" not in zzgw(env, "members").stdout

    # a member revoked during an overlap loses both certificates
    assert zzgw(env, "members", "--renew", MARKET).returncode == 0
    revoked = zzgw(env, "members", "--revoke", MARKET)
    assert revoked.returncode == 0 and f"{MARKET}: revoked, 3 credentials taken" in revoked.stderr
    assert not (members / f"{MARKET}.previous.pem").exists() and list(members.glob(f"{MARKET}.revoked-*.previous.pem"))
    assert "旧证书" not in zzgw(env, "members").stdout  # no previous one left accepted (tests/api/test_mtls.py calls)
    refused = zzgw(env, "members", "--renew", MARKET)
    assert refused.returncode == 2 and f"member {MARKET} is revoked" in refused.stderr


def test_a_previous_certificate_retired_after_the_databases_copy_is_not_trusted_again(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A database restored from a copy taken during a renewal's overlap accepts again the previous certificate
    `--retire` took since: init and serve refuse, saying to retire it again, as they do for one `--revoke` took."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    assert zzgw(env, "members", "--renew", TAX).returncode == 0
    copy = tmp_path / "copy.db"
    with sqlite3.connect(data / "zzgw.db") as live, sqlite3.connect(copy) as into:
        live.backup(into)
    assert zzgw(env, "members", "--retire", TAX).returncode == 0
    for stale in ("zzgw.db-wal", "zzgw.db-shm"):  # the restore, from the copy taken before the retirement
        (data / stale).unlink(missing_ok=True)
    shutil.copyfile(copy, data / "zzgw.db")
    for command in ("init", "serve"):
        refused = zzgw(env, command)
        assert refused.returncode == 2, refused.stderr
        assert f"the previous client certificate the store accepts for {TAX} beside its renewal" in refused.stderr
        assert f"retire it again, `zzgw members --retire {TAX}`, then run `zzgw init`" in refused.stderr
    assert zzgw(env, "members", "--retire", TAX).returncode == 0
    assert zzgw(env, "init").returncode == 0


def test_a_certificate_taken_while_not_here_is_recorded_by_its_digest_against_a_restore(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`--renew` works with `CODE.pem` missing here; `--retire` then left no `.previous.pem` aside (only a key), and
    init had no record to hold a restored database against: the retired certificate was trusted again (a reviewer).
    Nor did `--revoke` of a member whose `CODE.pem` was missing. Each records the digest the store had instead
    (`CODE.revoked-<time>[.previous].sha256`), read as a certificate put aside is."""
    import hashlib

    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    members = data / "pki" / "members"

    def copy_of_the_database(name: str) -> Path:
        copy = tmp_path / name
        live, into = sqlite3.connect(data / "zzgw.db"), sqlite3.connect(copy)
        try:
            live.backup(into)
        finally:  # closed before the restore replaces the file under them
            live.close()
            into.close()
        return copy

    def restore(copy: Path) -> None:
        for stale in ("zzgw.db-wal", "zzgw.db-shm"):
            (data / stale).unlink(missing_ok=True)
        shutil.copyfile(copy, data / "zzgw.db")

    def digest(pem: bytes) -> str:
        return hashlib.sha256(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)).hexdigest()

    old = (members / f"{TAX}.pem").read_bytes()
    (members / f"{TAX}.pem").unlink()  # lost here; the store knows it by its digest
    assert zzgw(env, "members", "--renew", TAX).returncode == 0
    during = copy_of_the_database("during.db")
    retired = zzgw(env, "members", "--retire", TAX)
    assert retired.returncode == 0, retired.stderr
    (record,) = members.glob(f"{TAX}.revoked-*.previous.sha256")
    assert record.read_text() == digest(old) + "\n"
    assert f"it was not in this data directory: its SHA-256 is recorded as {record}" in retired.stderr
    restore(during)  # database and data directory as in the usual backup, the directory's copy the newer
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert f"the previous client certificate the store accepts for {TAX} beside its renewal" in refused.stderr
    assert str(record) in refused.stderr and f"`zzgw members --retire {TAX}`" in refused.stderr
    assert zzgw(env, "members", "--retire", TAX).returncode == 0
    assert zzgw(env, "init").returncode == 0

    current = (members / f"{MARKET}.pem").read_bytes()
    before = copy_of_the_database("before.db")
    (members / f"{MARKET}.pem").unlink()
    revoked = zzgw(env, "members", "--revoke", MARKET)
    assert revoked.returncode == 0, revoked.stderr
    (record,) = members.glob(f"{MARKET}.revoked-*.sha256")
    assert record.read_text() == digest(current) + "\n"
    assert f"its client certificate was not here: its SHA-256 is recorded as {record}" in revoked.stderr
    restore(before)
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert f"the client certificate the store has registered for {MARKET} is in this data directory only" in (
        refused.stderr
    )
    assert str(record) in refused.stderr and f"`zzgw members --revoke {MARKET}`" in refused.stderr


def _initialised_and_copied(env: dict[str, str], tmp_path: Path) -> tuple[Path, Path, Path]:
    """A store made by `zzgw init` with ``env``, and a copy of its database taken then, as a backup is: the data
    directory, its pki/members and the copy."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    before = tmp_path / "before.db"
    with sqlite3.connect(data / "zzgw.db") as live, sqlite3.connect(before) as into:
        live.backup(into)
    return data, data / "pki" / "members", before


def test_a_renewal_and_retirement_undone_by_a_restore_is_said_retired_and_its_pair_registered_again(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Found in review (s55fix, R3): a database copy from before `zzgw members --renew` and `--retire`, restored, had
    init call the retired certificate "revoked after the database's copy was taken" and say to revoke it again. It is
    said retired, the renewal undone, with the cost of each way on; the first, followed, registers again the pair the
    department holds."""
    data, members, before = _initialised_and_copied(env, tmp_path)
    assert zzgw(env, "members", "--renew", TAX).returncode == 0
    assert zzgw(env, "members", "--retire", TAX).returncode == 0
    held = (members / f"{TAX}.pem").read_bytes()
    for stale in ("zzgw.db-wal", "zzgw.db-shm"):
        (data / stale).unlink(missing_ok=True)
    shutil.copyfile(before, data / "zzgw.db")
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert "it was retired, not revoked, after a renewal (`zzgw members --renew`)" in refused.stderr
    assert "revoke it again" not in refused.stderr
    assert f"ends the console tokens of {TAX} and its clerks" in refused.stderr
    for step in (("members", "--revoke", TAX), ("members", "--restore", TAX), ("init",)):
        done = zzgw(env, *step)
        assert done.returncode == 0, (step, done.stderr)
    assert (members / f"{TAX}.pem").read_bytes() == held  # the department's pair, registered again


def test_inits_refusal_of_a_certificate_not_the_registered_one_offers_what_works(
    env: dict[str, str], tmp_path: Path
) -> None:
    """`CODE.pem` here is not the registered certificate (a database restored from before a renewal): init offered
    `zzgw members --renew CODE`, which refuses in that very state (a reviewer). It says to move the pair aside
    first, and then --renew works; and a `CODE.next.pem` that is the registered certificate, left by a renewal that
    stopped before its renames, is named as what to put in place."""
    data, members, before = _initialised_and_copied(env, tmp_path)
    old = Issued.read(members, TAX)
    assert zzgw(env, "members", "--renew", TAX).returncode == 0
    for stale in ("zzgw.db-wal", "zzgw.db-shm"):
        (data / stale).unlink(missing_ok=True)
    shutil.copyfile(before, data / "zzgw.db")  # the database from before the renewal, pki/ from after it
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert f"the client certificate of {TAX} in {members} is not the one the store has registered" in refused.stderr
    # the renewal undone by the restore is said as such, and both ways on with their costs, the department's own
    # pair kept first (review s55fix, R3)
    assert f"that one is {members / f'{TAX}.previous.pem'}, the previous certificate of a renewal" in refused.stderr
    assert f"`zzgw members --revoke {TAX}` (it takes the registered certificate and leaves {TAX}.pem" in refused.stderr
    assert f"ends the console tokens of {TAX} and its clerks" in refused.stderr
    assert f"move {TAX}.pem and {TAX}.key aside, run `zzgw members --renew {TAX}`" in refused.stderr
    assert "copy the current pki/members/" not in refused.stderr
    assert ".next.pem" not in refused.stderr
    # a member registered earlier and left out of the members file is held to its registration all the same: init
    # had passed it, and its department's renewed certificate was refused as unknown (a reviewer of operations, R2)
    bootstrap = json.loads((ROOT / "gateway" / "bootstrap" / "members.json").read_text(encoding="utf-8"))
    bootstrap["members"] = [m for m in bootstrap["members"] if m["code"] != TAX]
    (tmp_path / "members.json").write_text(json.dumps(bootstrap, ensure_ascii=False), encoding="utf-8")
    outside = zzgw({**env, "ZZGW_MEMBERS": str(tmp_path / "members.json")}, "init")
    assert outside.returncode == 2, outside.stderr
    assert f"the client certificate of {TAX} in {members} is not the one the store has registered" in outside.stderr
    aside = tmp_path / "aside"
    aside.mkdir()
    for suffix in (".pem", ".key"):
        (members / f"{TAX}{suffix}").rename(aside / f"{TAX}{suffix}")
    renewed = zzgw(env, "members", "--renew", TAX)  # as said
    assert renewed.returncode == 0, renewed.stderr
    assert Issued.read(members, f"{TAX}.previous") == old  # the registered one, kept as the previous one's record
    assert f"the previous one ({members / f'{TAX}.previous.pem'}, until " in renewed.stderr
    assert zzgw(env, "init").returncode == 0
    assert zzgw(env, "members", "--retire", TAX).returncode == 0

    # a renewal stopped between the store's commit and its renames: CODE.next.* is the registered pair
    assert zzgw(env, "members", "--renew", TAX).returncode == 0
    for name, to in (("", ".next"), (".previous", "")):
        for suffix in (".pem", ".key"):
            (members / f"{TAX}{name}{suffix}").rename(members / f"{TAX}{to}{suffix}")
    unfinished = zzgw(env, "init")
    assert unfinished.returncode == 2, unfinished.stderr
    assert (
        f"{members / f'{TAX}.next.pem'} is the registered one, left by a renewal that stopped before putting it in "
        f"place: finish it, moving {TAX}.pem and {TAX}.key, those here, to {TAX}.previous.pem and {TAX}.previous.key, "
        f"then {TAX}.next.pem and {TAX}.next.key, those here, to {TAX}.pem and {TAX}.key"
    ) in unfinished.stderr
    for name, to in (("", ".previous"), (".next", "")):  # as said
        for suffix in (".pem", ".key"):
            (members / f"{TAX}{name}{suffix}").rename(members / f"{TAX}{to}{suffix}")
    assert zzgw(env, "init").returncode == 0


def test_a_renewal_on_the_departments_own_key(env: dict[str, str], tmp_path: Path) -> None:
    """`zzgw members --renew CODE --csr FILE` certifies a key the department made, which never leaves it: the
    gateway had made every member's key, and kept it (a partner-province tester). Only the key is taken, once the
    request's signature shows the department holds it (a request whose signature does not verify, and one for the key
    registered now, are refused: untested, they had been free to break; a reviewer), and the gateway names the member
    and sets the extensions itself, whatever the request asks."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

    assert zzgw(env, "init").returncode == 0
    members = Path(env["ZZGW_DATA_DIR"]) / "pki" / "members"
    old = Issued.read(members, TAX)

    def request(
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str, *, der: bool = False, hostile: bool = False
    ) -> Path:
        builder = x509.CertificateSigningRequestBuilder().subject_name(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "anything the department says")])
        )
        if hostile:  # another member's name, and a CA's and a server's powers
            builder = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(
                    x509.Name([
                        x509.NameAttribute(NameOID.COMMON_NAME, MARKET),
                        x509.NameAttribute(NameOID.SERIAL_NUMBER, MARKET),
                        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "济南市市场监督管理局"),
                    ])
                )
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
                .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
                .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            )  # fmt: skip
        csr = builder.sign(key, hashes.SHA256())
        path = tmp_path / name
        path.write_bytes(csr.public_bytes(serialization.Encoding.DER if der else serialization.Encoding.PEM))
        return path

    weak = zzgw(env, "members", "--renew", TAX, "--csr", str(request(rsa.generate_private_key(65537, 1024), "w")))
    assert weak.returncode == 2 and "the request's key is RSA of 1024 bits" in weak.stderr
    (tmp_path / "junk.csr").write_bytes(b"-----BEGIN CERTIFICATE REQUEST-----\nnot one\n")
    junk = zzgw(env, "members", "--renew", TAX, "--csr", str(tmp_path / "junk.csr"))
    assert junk.returncode == 2 and "not a certificate signing request" in junk.stderr
    alone = zzgw(env, "members", "--csr", str(tmp_path / "junk.csr"))
    assert alone.returncode == 2 and "--csr goes with --renew CODE" in alone.stderr
    forged = request(ec.generate_private_key(ec.SECP256R1()), "forged.csr", der=True)
    signed = bytearray(forged.read_bytes())
    signed[-5] ^= 1  # a byte of the signature's s: a key its sender need not hold
    forged.write_bytes(bytes(signed))
    unproven = zzgw(env, "members", "--renew", TAX, "--csr", str(forged))
    assert unproven.returncode == 2, unproven.stderr
    assert "the request's signature does not verify: it was not signed with the key it carries" in unproven.stderr
    current_key = serialization.load_pem_private_key(old.key_pem, None)
    assert isinstance(current_key, ec.EllipticCurvePrivateKey)
    same = zzgw(env, "members", "--renew", TAX, "--csr", str(request(current_key, "same.csr")))
    assert same.returncode == 2, same.stderr
    assert "the certificate signing request is for the key of the certificate registered now" in same.stderr
    assert Issued.read(members, TAX) == old and not list(members.glob("*.next.*"))  # nothing done
    assert "旧证书" not in zzgw(env, "members").stdout  # nor registered

    own = ec.generate_private_key(ec.SECP256R1())
    renewed = zzgw(env, "members", "--renew", TAX, "--csr", str(request(own, "tax.csr", der=True, hostile=True)))
    assert renewed.returncode == 0, renewed.stderr
    certificate = x509.load_pem_x509_certificate((members / f"{TAX}.pem").read_bytes())
    assert certificate.public_key() == own.public_key()
    assert [(a.oid, a.value) for a in certificate.subject] == [
        (NameOID.COMMON_NAME, TAX),
        (NameOID.ORGANIZATION_NAME, "国家税务总局济南市税务局"),
        (NameOID.SERIAL_NUMBER, TAX),
    ]  # named here, not as the request says
    extensions = {extension.oid: extension.value for extension in certificate.extensions}
    assert ExtensionOID.SUBJECT_ALTERNATIVE_NAME not in extensions
    assert extensions[ExtensionOID.BASIC_CONSTRAINTS] == x509.BasicConstraints(ca=False, path_length=None)
    assert extensions[ExtensionOID.EXTENDED_KEY_USAGE] == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH])
    usage = extensions[ExtensionOID.KEY_USAGE]
    assert isinstance(usage, x509.KeyUsage) and usage.digital_signature and not usage.key_cert_sign
    assert not (members / f"{TAX}.key").exists() and (members / f"{TAX}.previous.key").read_bytes() == old.key_pem
    assert "a certificate, no secret" in renewed.stderr
    assert zzgw(env, "init").returncode == 0  # the key is the department's: init needs none


def test_the_trust_anchors_to_hand_over_are_said_with_their_fingerprints(env: dict[str, str]) -> None:
    """A partner had no authenticated way to the seal-maker root it trusts for receipts and sealed PDFs: served over
    plain HTTP only, and no fingerprint to compare (a partner-province tester). `zzgw init` and `zzgw certificates`
    say each root to hand over with its SHA-256, as `openssl x509 -noout -fingerprint -sha256` prints it."""
    import hashlib

    refused = zzgw(env, "certificates")
    assert refused.returncode == 2 and "run `zzgw init` first" in refused.stderr
    initialised = zzgw(env, "init")
    assert initialised.returncode == 0, initialised.stderr
    data = Path(env["ZZGW_DATA_DIR"])
    roots = {
        "member-ca": data / "pki" / "ca.pem",
        "seal-maker-root": data / "seal-ca" / "root.pem",
        "seal-maker-sm2-root": data / "seal-ca-sm2" / "root.pem",
    }
    certificates = {name: x509.load_pem_x509_certificate(path.read_bytes()) for name, path in roots.items()}
    digests = {
        name: hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
        for name, certificate in certificates.items()
    }
    openssl = {name: ":".join(digest[i : i + 2] for i in range(0, 64, 2)) for name, digest in digests.items()}
    for name, path in roots.items():
        assert f"  {name}  {path}  SHA-256 {openssl[name]}\n" in initialised.stdout
    listed = zzgw(env, "certificates")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    own = {row[0]: row for row in rows[len(roots) :]}
    rows = rows[: len(roots)]
    assert [row[:3] for row in rows] == [[name, str(path), f"SHA-256 {openssl[name]}"] for name, path in roots.items()]
    # then the gateway's own, whose ends only openssl had told (a renewal tester, D5): dev mode serves no TLS
    assert sorted(own) == ["receipt", "tsa"]
    for name, path in (("receipt", data / "seal-ca" / "receipt.pem"), ("tsa", data / "seal-ca" / "tsa.pem")):
        end = beijing_day(x509.load_pem_x509_certificate(path.read_bytes()).not_valid_after_utc)
        assert own[name][1:2] == [str(path)] and own[name][3] == f"有效期至 {end}（北京时间；ends {end} Beijing time）"
        assert own[name][4].startswith("网关自身证书，不交付")
    ca_end = beijing_day(certificates["member-ca"].not_valid_after_utc)
    assert rows[0][3] == f"有效期至 {ca_end}（北京时间；ends {ca_end} Beijing time）"
    assert "核验回执、电子印章与签章 PDF" in rows[1][4]
    # the receipt certificate chains to the seal-maker root: the one anchor a receipt checker needs
    receipt = x509.load_pem_x509_certificate((data / "seal-ca" / "receipt.pem").read_bytes())
    intermediate = x509.load_pem_x509_certificate((data / "seal-ca" / "intermediate.pem").read_bytes())
    receipt.verify_directly_issued_by(intermediate)
    intermediate.verify_directly_issued_by(certificates["seal-maker-root"])


def test_a_replicas_init_passes_over_a_member_revoked_for_good(env: dict[str, str], tmp_path: Path) -> None:
    """A replica's pki/, copied before a member was revoked (never restored), still holds its pair: the refusal of
    a revoked certificate had stopped that replica's init, though nobody registers a revoked member's (a reviewer)."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    replica_pki = tmp_path / "replica-pki"
    shutil.copytree(data / "pki", replica_pki)
    assert zzgw(env, "members", "--revoke", TAX).returncode == 0
    assert zzgw(env, "init").returncode == 0
    shutil.rmtree(data / "pki")
    shutil.copytree(replica_pki, data / "pki")
    (data / "pki" / "ca.key").unlink()  # kept offline, as a replica should
    replica = zzgw(env, "init")
    assert replica.returncode == 0, replica.stderr


def test_init_registers_for_a_member_only_a_certificate_the_member_ca_issued_to_it(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A member is known by its certificate's digest alone: `zzgw members --revoke` had left another department's
    certificate in place as CODE.pem, and the `--restore` and `zzgw init` it recommended registered it as CODE's (its
    key B's, B then calling as CODE), or stopped with a traceback on the store's unique digest when the store had it
    registered for B (a reviewer). `--revoke` moves such a file aside, and init refuses one, naming the file, what it
    is and what to do."""
    assert zzgw(env, "init").returncode == 0
    pki = Path(env["ZZGW_DATA_DIR"]) / "pki"
    members = pki / "members"
    other = "1137010099370102XJ"  # registered for another department

    def copy_in(stem: Path) -> None:
        for suffix in (".pem", ".key"):
            (members / f"{TAX}{suffix}").write_bytes(stem.with_suffix(suffix).read_bytes())

    copy_in(members / f"{other}.pem")  # by mistake, over TAX's own
    revoked = zzgw(env, "members", "--revoke", TAX)
    assert revoked.returncode == 0, revoked.stderr
    assert revoked.stderr.splitlines()[-1].endswith(
        f"; {members / f'{TAX}.pem'} was the client certificate of member {other}, not one of {TAX}'s: it and its key "
        f"are moved aside as {next(members.glob(f'{TAX}.revoked-*.pem')).with_suffix('')}.*, and `zzgw init` after "
        f"`--restore` issues {TAX} a new pair"
    )
    assert not (members / f"{TAX}.pem").exists() and (members / f"{other}.pem").exists()
    assert zzgw(env, "members", "--restore", TAX).returncode == 0

    copy_in(members / f"{other}.pem")  # again, after the restore: the store has it registered for the other
    clash = zzgw(env, "init")
    assert (clash.returncode, clash.stderr.splitlines()[-1]) == (
        2,
        f"zzgw: configuration error: {members / f'{TAX}.pem'} is the client certificate the store has registered for "
        f"member {other}, and cannot be {TAX}'s too: move it and {TAX}.key aside (or copy {TAX}'s own back from the "
        f"data directory's backup), then run `zzgw init`, which issues {TAX} a new pair",
    )
    assert "Traceback" not in clash.stderr

    ca = CertificateAuthority.from_issued(Issued.read(pki, "ca"))
    ca.issue_client(code=other, name="济南市公安局").write(tmp_path, "unregistered")  # the other's, registered by none
    CertificateAuthority.create("another province's member CA").issue_client(code=TAX, name="税务").write(
        tmp_path, "foreign"
    )
    for stem, what in (
        ("unregistered", f"the client certificate of member {other}"),
        (
            "foreign",
            "a certificate of another CA (CN=another province's member CA,O=zzgw), not of the member CA "
            f"{pki / 'ca.pem'}",
        ),
    ):
        copy_in(tmp_path / f"{stem}.pem")
        refused = zzgw(env, "init")
        assert (refused.returncode, refused.stderr.splitlines()[-1]) == (
            2,
            f"zzgw: configuration error: {members / f'{TAX}.pem'} is {what}, not one of member {TAX}'s, which would "
            f"let whoever holds its key call as {TAX}: copy {TAX}'s own back from the data directory's backup, or "
            f"move it and {TAX}.key aside, then run `zzgw init` to issue {TAX} a new pair",
        ), stem
    listed = {line.split("\t")[0]: line.split("\t")[3] for line in zzgw(env, "members").stdout.splitlines()}
    assert listed[TAX] == "none"  # no certificate registered, and --revoke took its token

    for suffix in (".pem", ".key"):
        (members / f"{TAX}{suffix}").unlink()
    done = zzgw(env, "init")  # the remedy: a new pair, issued to TAX
    assert done.returncode == 0, done.stderr
    issued = x509.load_pem_x509_certificate((members / f"{TAX}.pem").read_bytes())
    assert issued.subject.get_attributes_for_oid(x509.NameOID.SERIAL_NUMBER)[0].value == TAX
    listed = {line.split("\t")[0]: line.split("\t")[3] for line in zzgw(env, "members").stdout.splitlines()}
    assert listed[TAX] == "token+certificate"
    again = zzgw(env, "members", "--revoke", TAX)  # its own pair, registered: moved aside as revoked
    assert again.returncode == 0 and "never trusted again" in again.stderr


def test_members_lists_the_credentials_the_mode_takes(env: dict[str, str]) -> None:
    assert zzgw(env, "init").returncode == 0  # dev mode: a bearer token and a client certificate each

    def credential(mode: str) -> str:
        listed = zzgw({**env, "ZZGW_MODE": mode}, "members", timeout=60)
        assert listed.returncode == 0, listed.stderr
        return {line.split("\t")[0]: line.split("\t")[3] for line in listed.stdout.splitlines()}[TAX]

    assert credential("dev") == "token+certificate"
    assert credential("production") == "certificate+unused-dev-token"  # production takes no bearer token
    # a console token is said as one, not as a dev token left over (a newcomer tester), on a store begun in dev
    # mode (once switched: a dev store's would replace a dev token) as on one begun in production
    assert zzgw({**env, "ZZGW_MODE": "production", **DEMO_FILES}, "init", "--switch-to-production").returncode == 0
    assert zzgw({**env, "ZZGW_MODE": "production", **DEMO_FILES}, "console-token", TAX).returncode == 0
    assert credential("production") == "certificate+console-token"
    (Path(env["ZZGW_DATA_DIR"]) / "dev-tokens.json").write_text("{not json", encoding="utf-8")
    damaged = zzgw({**env, "ZZGW_MODE": "production", **DEMO_FILES}, "members")
    assert damaged.returncode == 0 and "dev-tokens.json cannot be read (JSONDecodeError)" in damaged.stderr
    assert "Traceback" not in damaged.stderr
    fresh = {
        **env,
        "ZZGW_MODE": "production",
        **DEMO_FILES,
        "ZZGW_DATA_DIR": str(Path(env["ZZGW_DATA_DIR"]).parent / "fresh"),
    }
    assert zzgw(fresh, "init").returncode == 0
    listed = zzgw(fresh, "members").stdout
    assert {line.split("\t")[0]: line.split("\t")[3] for line in listed.splitlines()}[TAX] == "certificate"
    assert zzgw(fresh, "console-token", TAX).returncode == 0
    listed = zzgw(fresh, "members").stdout
    assert {line.split("\t")[0]: line.split("\t")[3] for line in listed.splitlines()}[
        TAX
    ] == "certificate+console-token"


def test_a_short_production_passphrase_is_warned_of(env: dict[str, str], tmp_path: Path) -> None:
    short = {
        **env,
        "ZZGW_MODE": "production",
        **DEMO_FILES,
        "ZZGW_KEY_PASSPHRASE": "short",
        "ZZGW_DATA_DIR": str(tmp_path / "p"),
    }
    made = zzgw(short, "init")
    assert made.returncode == 0, made.stderr
    assert "warning: the key passphrase (ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE) has fewer than 16" in (
        made.stderr
    )


def test_a_clerk_gets_a_console_token_of_their_own(env: dict[str, str]) -> None:
    assert zzgw(env, "init").returncode == 0
    issued = zzgw(env, "console-token", TAX, "--clerk", "窗口01 李娜")  # in dev mode too: it replaces nothing
    assert issued.returncode == 0, issued.stderr
    assert issued.stdout.startswith("zzgw-clerk-") and "give it to that clerk alone" in issued.stderr
    listed = zzgw(env, "console-token", TAX, "--list")
    found = re.fullmatch(r"窗口01 李娜\t签发于 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)（北京时间 UTC\+8）\n", listed.stdout)
    assert listed.returncode == 0 and found, listed.stdout  # Beijing time, said so
    beijing = dt.datetime.fromisoformat(found[1]).replace(tzinfo=dt.timezone(dt.timedelta(hours=8)))
    assert abs(beijing - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=5)
    assert issued.stdout.strip() not in listed.stdout
    ended = zzgw(env, "console-token", TAX, "--clerk", "窗口01 李娜", "--end")
    assert ended.returncode == 0 and ended.stderr.startswith(
        f"窗口01 李娜（{TAX}）的控制台令牌已停用，至多 30 秒后失效（"
    )
    assert "is ended (at most 30 s more)" in ended.stderr
    none = zzgw(env, "console-token", TAX, "--list")
    assert (none.returncode, none.stdout) == (0, "")
    assert none.stderr.startswith(f"zzgw console-token: {TAX} 没有窗口人员持有有效的控制台令牌（no clerk of {TAX}")
    again = zzgw(env, "console-token", TAX, "--clerk", "窗口01 李娜", "--end")
    assert again.returncode == 2 and "has no console token in force" in again.stderr
    blank = zzgw(env, "console-token", TAX, "--clerk", " ")
    assert blank.returncode == 2 and "1-64 printable characters" in blank.stderr
    alone = zzgw(env, "console-token", TAX, "--end")
    assert alone.returncode == 2 and "--end 须与 --clerk 姓名 同用（--end needs --clerk NAME）" in alone.stderr
    portal = zzgw(env, "console-token", "12370100993701126X", "--clerk", "窗口01")  # a holder portal: no verifying
    assert portal.returncode == 2 and "may not verify licenses" in portal.stderr and not portal.stdout


def test_a_store_moved_to_production_honours_none_of_its_dev_tokens(env: dict[str, str]) -> None:
    """A dev store switched to production mode (ZZGW_MODE=production, `zzgw init --switch-to-production`, `zzgw
    serve`) keeps its members'
    dev tokens in the store, but neither the console nor gRPC takes them, the administrator's included; init and
    serve say so, naming the file to delete. The tokens `zzgw console-token` issues, a department's and a clerk's own,
    sign in."""
    import grpc

    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc

    assert zzgw(env, "init").returncode == 0
    data_dir = Path(env["ZZGW_DATA_DIR"])
    listed = json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    dev_tokens = {code: entry["token"] for code, entry in listed.items()}
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    said = f"the dev bearer tokens in {data_dir / 'dev-tokens.json'} are not honoured"
    init = zzgw(production, "init", "--switch-to-production")
    assert init.returncode == 0, init.stderr
    assert said in init.stderr and "delete the file" in init.stderr
    assert (data_dir / "dev-tokens.json").exists()  # the operator's to delete: it opens nothing in production mode
    department = zzgw(production, "console-token", TAX).stdout.strip()
    clerk = zzgw(production, "console-token", TAX, "--clerk", "窗口01 李娜").stdout.strip()
    assert department.startswith("zzgw-console-") and clerk.startswith("zzgw-clerk-")

    server = _serve(production)
    http = f"http://{env['ZZGW_HTTP_ADDR']}"

    def session(token: str) -> tuple[int, dict[str, object]]:
        request = urllib.request.Request(f"{http}/console/api/session", headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"{http}/healthz", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, "the gateway did not serve HTTP within 60 s"
                time.sleep(0.2)
        for code in (ADMIN, TAX, MARKET):
            status, answer = session(dev_tokens[code])
            assert status == 401, (code, answer)
            error = answer["error"]
            assert isinstance(error, dict) and error["reason"] == "UNKNOWN_CREDENTIAL"  # the page signs out on it
            assert error["message"].startswith("生产模式下不接受开发令牌")  # Chinese first, as every refusal
            assert "not accepted in production mode" in error["message"]
        status, answer = session(department)
        assert status == 200 and answer["member"] == {"code": TAX, "name": "国家税务总局济南市税务局"}
        status, answer = session(clerk)
        assert status == 200 and answer["clerk"] == "窗口01 李娜"
        # gRPC takes client certificates only: a dev token without one does not get past the TLS handshake
        ca = (data_dir / "pki" / "ca.pem").read_bytes()
        with grpc.secure_channel(env["ZZGW_GRPC_ADDR"], grpc.ssl_channel_credentials(ca)) as channel:
            with pytest.raises(grpc.RpcError) as refused:
                catalog_pb2_grpc.CatalogServiceStub(channel).ListLicenseTypes(
                    catalog_pb2.ListLicenseTypesRequest(),
                    metadata=[("authorization", f"Bearer {dev_tokens[ADMIN]}")],
                    timeout=10,
                )
            assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        server.send_signal(signal.SIGTERM)
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert said in err


def test_import_of_a_missing_file(env: dict[str, str]) -> None:
    result = zzgw(env, "import", "/nonexistent/file.jsonl", "--issuer", MARKET, timeout=60)
    # Chinese first, as the import's other messages (it had been English only)
    assert result.returncode == 2
    assert result.stderr == "zzgw import: 找不到文件 /nonexistent/file.jsonl（no such file /nonexistent/file.jsonl）\n"


@pytest.mark.parametrize(
    ("mode", "said"),
    [
        ("dev", "zzgw import: 没有开发令牌文件 "),
        ("production", "zzgw import: 没有成员 91XXXXXXXXXXXXXXXX 的客户端证书：缺少 "),
    ],
)
def test_import_for_a_member_without_credentials(env: dict[str, str], tmp_path: Path, mode: str, said: str) -> None:
    records = tmp_path / "permits.jsonl"
    records.write_text("{}\n", encoding="utf-8")
    result = zzgw({**env, "ZZGW_MODE": mode}, "import", str(records), "--issuer", "91XXXXXXXXXXXXXXXX", timeout=60)
    assert result.returncode == 2 and result.stderr.startswith(said), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("kind", backend_params())
def test_two_inits_at_once_on_an_empty_store_run_one_after_the_other(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    """Two replicas' first ``zzgw init`` at once (their init containers): on PostgreSQL one had failed in the
    migrations' CREATE TABLE with a unique violation and a traceback."""
    with fresh_database(kind, tmp_path) as url:
        both = {**env, "ZZGW_DATABASE_URL": url}
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "gateway.cli", "init"], env=both, cwd=ROOT, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True,
            )
            for _ in range(2)
        ]  # fmt: skip
        results = [process.communicate(timeout=180) for process in started]
        for process, (_, err) in zip(started, results, strict=True):
            assert process.returncode == 0 and "Traceback" not in err, err
        listed = zzgw(both, "members", timeout=60)
        assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 14


def test_init_warns_of_licenses_whose_type_the_catalog_has_not(env: dict[str, str], tmp_path: Path) -> None:
    """A catalog file that dropped or misspelt a type leaves its licenses unverifiable: init says which, and how
    many, by one index seek per type."""
    from adapters.records import issue_request
    from tests.api.test_issuance import unique
    from tests.conftest import PASSPHRASE, start_gateway

    url = f"sqlite:///{tmp_path / 'var' / 'zzgw.db'}"
    running = start_gateway(tmp_path / "var", url)
    try:
        for n in (1, 2):
            running.issuance(MARKET).IssueLicense(issue_request(unique(samples.food_permit(n))))
    finally:
        running.stop()
    gone = "111000009910000354999"
    with sqlite3.connect(tmp_path / "var" / "zzgw.db") as connection:  # as if the catalog no longer had the type
        connection.execute("UPDATE licenses SET type_code = ? WHERE type_code = ?", (gone, samples.FOOD_PERMIT))
    again = zzgw({**env, "ZZGW_DATABASE_URL": url, "ZZGW_KEY_PASSPHRASE": PASSPHRASE}, "init", timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"the catalog has no type for 1 license type of current licenses ({gone} (2 licenses))" in again.stderr


def test_a_gateway_that_does_not_answer_is_not_said_to_have_answered(env: dict[str, str]) -> None:
    assert zzgw(env, "init").returncode == 0
    nobody = zzgw({**env, "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}"}, "demo", timeout=120)
    assert nobody.returncode == 1 and "无法连接证照网关 127.0.0.1:" in nobody.stderr
    assert "answered UNAVAILABLE" not in nobody.stderr


def test_bad_configuration_is_reported(env: dict[str, str]) -> None:
    result = zzgw({**env, "ZZGW_MODE": "staging"}, "init", timeout=60)
    assert result.returncode == 2 and "mode (ZZGW_MODE) must be dev or production" in result.stderr


def test_what_cannot_be_opened_is_said_without_a_traceback(env: dict[str, str], tmp_path: Path) -> None:
    assert zzgw(env, "init").returncode == 0
    wrong = zzgw({**env, "ZZGW_KEY_PASSPHRASE": "not-the-passphrase"}, "audit", "verify", timeout=60)
    assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1
    intermediate_key = Path(env["ZZGW_DATA_DIR"]) / "seal-ca" / "intermediate.key.pem"
    assert wrong.stderr.startswith(f"zzgw audit: cannot decrypt {intermediate_key}: wrong passphrase or damaged file (")
    assert "ZZGW_KEY_PASSPHRASE" in wrong.stderr and "a replica needs the first gateway's" in wrong.stderr
    root = Path(env["ZZGW_DATA_DIR"]) / "seal-ca" / "root.pem"
    kept = root.read_bytes()
    root.write_bytes(b"")  # a copy gone wrong
    damaged = zzgw(env, "audit", "verify", timeout=60)
    assert damaged.returncode == 2 and "Traceback" not in damaged.stderr
    assert f"{root} is not a PEM certificate: restore the directory" in damaged.stderr
    root.write_bytes(kept)
    unreachable = zzgw(
        {**env, "ZZGW_DATABASE_URL": f"postgresql+psycopg://zzgw:secret@127.0.0.1:{free_port()}/zzgw"}, "serve"
    )
    assert unreachable.returncode == 75 and "Traceback" not in unreachable.stderr  # EX_TEMPFAIL: not a setting
    assert "zzgw serve: cannot use postgresql+psycopg://zzgw:***@127.0.0.1:" in unreachable.stderr  # no password
    secret = Path(env["ZZGW_DATA_DIR"]) / "keys" / "sealmemo.key.pem"
    secret.rename(tmp_path / "sealmemo.key.pem")  # a replica whose key store lacks it must not make its own
    missing = zzgw(env, "serve", timeout=60)
    assert missing.returncode == 2 and not secret.exists()
    assert "made with a memo secret that is not in this data directory (keys/sealmemo.key.pem)" in missing.stderr
    (tmp_path / "sealmemo.key.pem").rename(secret)
    not_a_store = tmp_path / "garbage.db"
    not_a_store.write_bytes(b"this is not a database at all" * 100)
    for command in (("init",), ("serve",), ("audit", "verify")):
        garbage = zzgw({**env, "ZZGW_DATABASE_URL": f"sqlite:///{not_a_store}"}, *command, timeout=60)
        assert garbage.returncode == 2 and "Traceback" not in garbage.stderr, garbage.stderr
        assert garbage.stderr.endswith(f"cannot use sqlite:///{not_a_store}: file is not a database\n")
    nowhere = zzgw({**env, "ZZGW_DATA_DIR": str(tmp_path / "nowhere")}, "serve", timeout=60)
    assert nowhere.returncode == 2 and "no database at" in nowhere.stderr
    assert not (tmp_path / "nowhere").exists()  # and nothing left behind
    directory = zzgw(env, "import", str(tmp_path), "--issuer", MARKET, timeout=60)
    assert (directory.returncode, directory.stderr.strip()) == (
        2,
        f"zzgw import: cannot open {tmp_path}: Is a directory",
    )
    no_ca = zzgw(
        env, "import-ca", "--root", str(tmp_path / "r.pem"), "--intermediate", str(tmp_path / "i.pem"), "--key", "k.pem"
    )
    assert (no_ca.returncode, no_ca.stderr.strip()) == (
        2,
        f"zzgw import-ca: cannot open {tmp_path / 'r.pem'}: No such file or directory",
    )
    gbk = tmp_path / "excel.csv"
    gbk.write_bytes("type_code,license_number\nx,济南\n".encode("gbk"))
    refused = zzgw(env, "import", str(gbk), "--issuer", MARKET, timeout=60)
    assert refused.returncode == 2 and "line 2 of" in refused.stderr and "--encoding gb18030" in refused.stderr


def test_init_on_a_replica_without_the_authorities_refuses_and_the_member_ca_key_may_stay_offline(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A replica's data directory copied without pki/ (or seal-ca/) must not get authorities of its own on the
    shared database; and `zzgw init` (a schema upgrade) runs with the member CA's key offline."""
    import shutil

    assert zzgw(env, "init").returncode == 0
    first = Path(env["ZZGW_DATA_DIR"])
    shared = {**env, "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}"}
    database = sqlite3.connect(first / "zzgw.db")
    registered = database.execute("SELECT code, cert_sha256 FROM members ORDER BY code").fetchall()
    replica = tmp_path / "replica"
    shutil.copytree(first / "keys", replica / "keys")
    refused = zzgw({**shared, "ZZGW_DATA_DIR": str(replica)}, "init")
    assert refused.returncode == 2 and "a new member CA would make every member's certificate unknown" in refused.stderr
    shutil.copytree(first / "pki", replica / "pki")
    refused = zzgw({**shared, "ZZGW_DATA_DIR": str(replica)}, "init")
    assert refused.returncode == 2 and "seals made under a seal-maker CA that is not in" in refused.stderr
    assert database.execute("SELECT code, cert_sha256 FROM members ORDER BY code").fetchall() == registered

    (first / "pki" / "ca.key").rename(tmp_path / "ca.key")  # kept offline
    assert zzgw(env, "init").returncode == 0
    (first / "pki" / "server.pem").unlink()  # now something needs the key
    offline = zzgw(env, "init")
    assert offline.returncode == 2 and "ca.key is needed to issue" in offline.stderr
    (tmp_path / "ca.key").rename(first / "pki" / "ca.key")
    assert zzgw(env, "init").returncode == 0 and (first / "pki" / "server.pem").exists()
    assert database.execute("SELECT code, cert_sha256 FROM members ORDER BY code").fetchall() == registered

    # an empty directory (dev mode, no passphrase given): refused, and no passphrase of its own left behind, which
    # would open none of the keys copied in next
    empty = {k: v for k, v in shared.items() if k != "ZZGW_KEY_PASSPHRASE"}
    refused = zzgw({**empty, "ZZGW_DATA_DIR": str(tmp_path / "empty")}, "init")
    assert refused.returncode == 2 and not (tmp_path / "empty" / "secrets" / "key-passphrase").exists()


def test_a_replica_with_a_memo_secret_of_its_own_is_refused_by_init_and_serve(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Before any license is issued the store holds no memo, so nothing showed that a replica copied without
    keys/sealmemo.key.pem made a secret of its own: the two then reported each other's licenses STATUS_ALTERED, for
    good. The store keeps the secret's fingerprint (never the secret) and init and serve compare theirs with it."""
    import shutil

    assert zzgw(env, "init").returncode == 0
    first = Path(env["ZZGW_DATA_DIR"])
    shared = {**env, "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}"}
    replica = tmp_path / "replica"
    shutil.copytree(first, replica, ignore=shutil.ignore_patterns("zzgw.db*", "sealmemo.key.pem"))
    on_replica = {**shared, "ZZGW_DATA_DIR": str(replica)}
    refused = zzgw(on_replica, "init")
    assert refused.returncode == 2, refused.stderr
    assert "made with a memo secret that is not in this data directory (keys/sealmemo.key.pem)" in refused.stderr
    assert not (replica / "keys" / "sealmemo.key.pem").exists()  # refused before making one
    # and the commands that open the store say what helps: they had said "or run `zzgw init`", which refuses
    for command in (("members",), ("serve",), ("audit", "verify")):
        missing = zzgw(on_replica, *command, timeout=60)
        assert missing.returncode == 2 and "Traceback" not in missing.stderr, (command, missing.stderr)
        assert missing.stderr.count("\n") == 1, (command, missing.stderr)
        assert (
            "the database was made with a memo secret that is not in this data directory (keys/sealmemo.key.pem): "
            "restore the data directory taken with the database (docs/operations.md, Restoring), or, for a replica, "
            "copy the first gateway's data directory (README: deployment beyond one machine)"
        ) in missing.stderr, (command, missing.stderr)
        assert "zzgw init" not in missing.stderr, (command, missing.stderr)
    assert not (replica / "keys" / "sealmemo.key.pem").exists()

    other = tmp_path / "other"  # a gateway of its own: its secret is not the store's
    assert zzgw({**env, "ZZGW_DATA_DIR": str(other)}, "init").returncode == 0
    shutil.copy(other / "keys" / "sealmemo.key.pem", replica / "keys" / "sealmemo.key.pem")
    for command in ("init", "serve"):
        wrong = zzgw(on_replica, command, timeout=60)
        assert wrong.returncode == 2, (command, wrong.stderr)
        assert (
            "memo secret (keys/sealmemo.key.pem) is not the one the database was made with: another gateway made its "
            "own; copy the first gateway's instead (README: deployment beyond one machine), or, after a restore, the "
            "data directory taken with the database (docs/operations.md, Restoring)"
        ) in wrong.stderr, (command, wrong.stderr)  # a restore's case too, not replicas' alone (a DR drill, D2)
        assert "Traceback" not in wrong.stderr

    shutil.copy(first / "keys" / "sealmemo.key.pem", replica / "keys" / "sealmemo.key.pem")
    assert zzgw(on_replica, "init").returncode == 0  # the first gateway's: accepted


def test_import_an_existing_seal_maker_ca_then_init(env: dict[str, str], tmp_path: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import serialization

    from signing.seal_ca import SealMakerCA

    external = SealMakerCA.create("某省电子印章制章中心", dt.datetime.now(dt.UTC))
    external.save(tmp_path / "external", b"their-passphrase")
    source = tmp_path / "external"
    key_args = ["--intermediate", str(source / "intermediate.pem"), "--key", str(source / "intermediate.key.pem")]
    unopened = zzgw(env, "import-ca", "--root", str(source / "root.pem"), *key_args)  # its passphrase not given
    assert unopened.returncode == 2 and "ZZGW_SEAL_CA_KEY_PASSPHRASE" in unopened.stderr
    # without its key the gateway could make neither seals nor its receipt certificate: it could verify nothing
    keyless = zzgw(env, "import-ca", "--root", str(source / "root.pem"), *key_args[:2])
    assert keyless.returncode == 2 and "--key" in keyless.stderr and "required" in keyless.stderr
    imported = zzgw(
        {**env, "ZZGW_SEAL_CA_KEY_PASSPHRASE": "their-passphrase"},
        "import-ca",
        "--root",
        str(source / "root.pem"),
        "--intermediate",
        str(source / "intermediate.pem"),
        "--key",
        str(source / "intermediate.key.pem"),
    )
    assert imported.returncode == 0, imported.stderr
    assert f"seal-maker CA imported into {tmp_path / 'var' / 'seal-ca'}" in imported.stdout
    again = zzgw(
        {**env, "ZZGW_SEAL_CA_KEY_PASSPHRASE": "their-passphrase"},
        "import-ca",
        "--root",
        str(source / "root.pem"),
        *key_args,
    )
    assert again.returncode == 2 and "exists already" in again.stderr
    assert zzgw(env, "init").returncode == 0
    seal_ca = tmp_path / "var" / "seal-ca"
    assert (seal_ca / "root.pem").read_bytes() == (source / "root.pem").read_bytes()
    tsa = x509.load_pem_x509_certificate((seal_ca / "tsa.pem").read_bytes())
    assert tsa.issuer == external.intermediate.subject  # the gateway's TSA is certified by the imported CA
    assert external.intermediate.public_bytes(serialization.Encoding.PEM) == (seal_ca / "intermediate.pem").read_bytes()


def test_import_ca_refuses_the_root_as_its_own_intermediate(env: dict[str, str], tmp_path: Path) -> None:
    """`--intermediate R --key R.key` made the root's key certify seals online; nothing is imported."""
    import datetime as dt

    from signing.seal_ca import SealMakerCA

    SealMakerCA.create("制章中心", dt.datetime.now(dt.UTC)).save(tmp_path / "external", b"theirs")
    source = tmp_path / "external"
    result = zzgw(
        {**env, "ZZGW_SEAL_CA_KEY_PASSPHRASE": "theirs"},
        "import-ca",
        "--root",
        str(source / "root.pem"),
        "--intermediate",
        str(source / "root.pem"),
        "--key",
        str(source / "root.key.pem"),
    )
    assert (result.returncode, result.stderr.strip()) == (
        2,
        "zzgw import-ca: the intermediate certificate is the root certificate itself: give the issuing CA's "
        "certificate, which the root signed for a key of its own; the root's key stays offline",
    )
    assert not (tmp_path / "var" / "seal-ca" / "root.pem").exists()


def test_import_ca_with_a_wrong_key_passphrase(env: dict[str, str], tmp_path: Path) -> None:
    import datetime as dt

    from signing.seal_ca import SealMakerCA

    SealMakerCA.create("制章中心", dt.datetime.now(dt.UTC)).save(tmp_path / "external", b"right")
    source = tmp_path / "external"
    result = zzgw(
        {**env, "ZZGW_SEAL_CA_KEY_PASSPHRASE": "wrong"},
        "import-ca",
        "--root",
        str(source / "root.pem"),
        "--intermediate",
        str(source / "intermediate.pem"),
        "--key",
        str(source / "intermediate.key.pem"),
    )
    assert result.returncode == 2 and "passphrase" in result.stderr.lower(), result.stderr


def test_free_ports_come_from_the_workers_own_block_below_client_ports_and_skip_one_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port taken with bind(0) came from the range the kernel gives client connections, one of which could take it
    before the server did ("Address already in use"); and a gRPC and an HTTP port taken one after the other once came
    out the same (benchmarks.ingest)."""
    import benchmarks.common

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    monkeypatch.setattr(benchmarks.common, "_turn", [0])
    block = range(20_000 + 3 * 1_500, 20_000 + 4 * 1_500)
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", block.start + 1))
        taken.listen()
        ports = [free_port() for _ in range(3)]
    assert block.start + 1 not in ports
    assert len(set(ports)) == 3
    assert all(p in block and not low <= p <= high for p in ports), (ports, low, high)
    monkeypatch.setattr(benchmarks.common, "_turn", [0])  # round the block: each port once before any comes again
    assert len({free_port() for _ in range(1_500)}) >= 1_400


def test_waiting_for_a_server_that_exited_fails_at_once() -> None:
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    process.wait(30)
    began = time.monotonic()
    with pytest.raises(RuntimeError, match="exited with code 3 before serving"):
        wait_serving(f"127.0.0.1:{free_port()}", timeout=30, process=process)
    assert time.monotonic() - began < 5


def test_a_new_receipt_key_retires_the_certificates_of_the_key_before(env: dict[str, str], tmp_path: Path) -> None:
    """A new receipt key made as docs/receipts.md says (the key and its certificate moved aside, `zzgw init`) had left
    the old certificate unrevoked: whoever kept the old key (a backup, the file moved aside) signed receipts that
    every checker took as genuine for the rest of its five years (a receipts tester). init revokes it, superseded,
    from then on, and says so; a renewal on the same key, and an init with nothing to do, retire nothing."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    old = x509.load_pem_x509_certificate((data / "seal-ca" / "receipt.pem").read_bytes())
    aside = tmp_path / "aside"
    aside.mkdir()
    for moved in (data / "seal-ca" / "receipt.pem", data / "keys" / "receipts.key.pem"):
        moved.rename(aside / moved.name)
    rotated = zzgw(env, "init")
    assert rotated.returncode == 0, rotated.stderr
    assert (
        f"new receipt key: the receipt certificates of the key before it (serial {old.serial_number:x}) are revoked "
        "as superseded from now, on the seal-maker CRL" in rotated.stdout
    )
    # the revocation refuses what the old key signs dated later, not what it dates before: destroy it (a receipts
    # reviewer, R1; docs/receipts.md had said the retired key signed nothing a checker takes "whatever time it states")
    assert "Then destroy the old key you moved aside, and its copies in earlier backups" in rotated.stdout
    assert "can still sign receipts dated before now, which check valid offline" in rotated.stdout
    revocations = json.loads((data / "seal-ca" / "revocations.json").read_text())["revocations"]
    assert [(r["serial"], r["reason"]) for r in revocations] == [(f"{old.serial_number:x}", "superseded")]
    new = x509.load_pem_x509_certificate((data / "seal-ca" / "receipt.pem").read_bytes())
    assert new.public_key() != old.public_key()
    (data / "seal-ca" / "receipt.pem").unlink()  # renewed on the same key: nothing retired
    for again in (zzgw(env, "init"), zzgw(env, "init")):
        assert again.returncode == 0 and "new receipt key" not in again.stdout
    assert json.loads((data / "seal-ca" / "revocations.json").read_text())["revocations"] == revocations


def test_init_with_a_key_missing_beside_its_certificate_says_to_copy_it(env: dict[str, str]) -> None:
    """init makes a key with its certificate; with the certificate there and the key gone it cannot make it again,
    and its error said "run `zzgw init`" — to zzgw init."""
    assert zzgw(env, "init").returncode == 0
    (Path(env["ZZGW_DATA_DIR"]) / "keys" / "receipts.key.pem").unlink()
    again = zzgw(env, "init")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "no key for receipts" in again.stderr and "copy it from the data directory" in again.stderr
    assert "run `zzgw init`" not in again.stderr


def test_init_warns_of_seals_in_force_whose_keys_are_not_here(env: dict[str, str]) -> None:
    first = zzgw(env, "init")
    assert first.returncode == 0 and "issuers got their first seal (电子证照专用章): " in first.stdout
    keys = Path(env["ZZGW_DATA_DIR"]) / "keys"
    gone = sorted(keys.glob("seal0*.key.pem"))[0]  # an issuer's seal, as if registered through another replica
    gone.unlink()
    again = zzgw(env, "init")
    assert again.returncode == 0, again.stderr
    seal_id = gone.name.removeprefix("seal").removesuffix(".key.pem")
    assert f"warning: 1 seal in force has no key in {keys} ({seal_id})" in again.stderr
    assert "first seal" not in again.stdout


def test_init_on_a_replica_keeps_the_dev_tokens_of_the_first_gateway(env: dict[str, str], tmp_path: Path) -> None:
    """A replica copied as the README says (keys/, seal-ca/, seal-ca-sm2/, pki/) has no dev-tokens.json: its init
    made new tokens and so ended the first gateway's for every member."""
    import shutil

    assert zzgw(env, "init").returncode == 0
    first = Path(env["ZZGW_DATA_DIR"])
    database = sqlite3.connect(first / "zzgw.db")
    before = database.execute("SELECT code, token_sha256 FROM members ORDER BY code").fetchall()
    replica = tmp_path / "replica"
    for name in ("keys", "seal-ca", "seal-ca-sm2", "pki"):
        if (first / name).exists():
            shutil.copytree(first / name, replica / name)
    on_replica = {**env, "ZZGW_DATA_DIR": str(replica), "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}"}
    result = zzgw(on_replica, "init")
    assert result.returncode == 0, result.stderr
    assert "made by another gateway: kept" in result.stdout and not (replica / "dev-tokens.json").exists()
    assert database.execute("SELECT code, token_sha256 FROM members ORDER BY code").fetchall() == before


@pytest.mark.parametrize("kind", backend_params())
def test_a_replicas_init_keeps_the_token_of_a_member_added_through_another_gateway(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    """A member added through gateway A (members file changed, A's init) has its dev bearer token in A's
    dev-tokens.json only; the replica B, whose copy of the file lacks it, counted it a newcomer at its own init and
    gave it a new token, which replaced the store's: the token A had handed the department was refused everywhere
    (a reviewer of upgrades, R1). B's init keeps it and says where the token is."""
    from gateway.config import Settings
    from gateway.server import Gateway

    members = json.loads((ROOT / "gateway" / "bootstrap" / "members.json").read_text(encoding="utf-8"))
    members_file = tmp_path / "members.json"
    members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    with fresh_database(kind, tmp_path) as url:
        on_a = {**env, "ZZGW_DATABASE_URL": url, "ZZGW_MEMBERS": str(members_file)}
        assert zzgw(on_a, "init", timeout=120).returncode == 0
        first = Path(on_a["ZZGW_DATA_DIR"])
        replica = tmp_path / "replica"
        shutil.copytree(first, replica, ignore=shutil.ignore_patterns("*.db", "*.db-*"))
        on_b = {**on_a, "ZZGW_DATA_DIR": str(replica)}

        added = {
            "code": samples.uscc(7003, "370100"),
            "name": "济南市新设服务局",
            "region": "370100",
            "roles": ["CONSUMER"],
        }
        members["members"].append(added)
        members_file.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
        through_a = zzgw(on_a, "init", timeout=120)
        assert through_a.returncode == 0, through_a.stderr
        assert "1 new member got a dev bearer token" in through_a.stdout
        handed = json.loads((first / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"][added["code"]]["token"]
        certificate = Path("pki") / "members" / f"{added['code']}.pem"
        shutil.copy(first / certificate, replica / certificate)

        on_replica = zzgw(on_b, "init", timeout=120)
        assert on_replica.returncode == 0, on_replica.stderr
        assert "new member got a dev bearer token" not in on_replica.stdout
        said = (
            f"1 member has a dev bearer token in the store that {replica / 'dev-tokens.json'} has not "
            f"({added['code']}): kept, not replaced (a member added through another gateway: copy its entry from that "
            "gateway's dev-tokens.json;"
        )
        assert said in on_replica.stdout
        assert added["code"] not in json.loads((replica / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
        gateway = Gateway.open(Settings.load(env=on_b))
        try:
            assert gateway.authenticator.by_token(handed).code == added["code"]
        finally:
            gateway.close()


def test_a_deployment_registers_its_own_members_under_its_own_catalog(env: dict[str, str], tmp_path: Path) -> None:
    """ZZGW_MEMBERS and ZZGW_CATALOG replace the demo members and catalog: init registers the file's members (a
    client certificate and, in dev mode, a bearer token each; members added later get theirs on the next init, the
    others' kept), warns of a matter no member may name, and the gateway serves the file's catalog."""
    from gateway.config import Settings
    from gateway.domain.errors import UnauthenticatedError
    from gateway.server import Gateway

    bootstrap = ROOT / "gateway" / "bootstrap"
    members = json.loads((bootstrap / "members.json").read_text(encoding="utf-8"))
    catalog = json.loads((bootstrap / "catalog.json").read_text(encoding="utf-8"))
    lixia = {
        "code": samples.uscc(7001, "370102"),
        "name": "济南市历下区行政审批服务局",
        "region": "370102",
        "roles": ["CONSUMER"],
    }
    members["members"].append(lixia)
    matter = {**catalog["matters"][1], "code": "370102-FPSL-001", "department": lixia["name"]}
    misspelt = {**catalog["matters"][1], "code": "370100-FPSL-002", "department": "济南市税务局"}
    catalog["matters"] += [matter, misspelt]
    (tmp_path / "members.json").write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    (tmp_path / "catalog.json").write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    env = {**env, "ZZGW_MEMBERS": str(tmp_path / "members.json"), "ZZGW_CATALOG": str(tmp_path / "catalog.json")}

    done = zzgw(env, "init")
    assert done.returncode == 0, done.stderr
    assert "15 members" in done.stdout
    assert "no registered member may name 1 matter of the catalog (370100-FPSL-002)" in done.stderr
    listed = {line.split("\t")[0]: line.split("\t") for line in zzgw(env, "members").stdout.splitlines()}
    assert listed[lixia["code"]][1:6] == ["CONSUMER", "370102", "token+certificate", lixia["name"], "370102-FPSL-001"]
    ending = listed[lixia["code"]][6]  # a certificate made now lasts 825 days
    said = re.fullmatch(
        r"证书有效期至 (\d{4}-\d\d-\d\d)（北京时间；certificate ends (\d{4}-\d\d-\d\d) Beijing time）", ending
    )
    assert said and said[1] == said[2], ending
    assert listed[TAX][5] == "370100-FPSL-001"  # not the matter that misspells its name
    assert listed["113701009937010548"][5] == "无办理事项（no matter）"  # 济南市民政局 issues 结婚证, handles none
    assert listed[ADMIN][5] == "全部事项（any matter）"  # an administrator acts under any matter
    data_dir = Path(env["ZZGW_DATA_DIR"])
    tokens = json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert len(tokens) == 15 and tokens[lixia["code"]]["name"] == lixia["name"]
    assert (data_dir / "pki" / "members" / f"{lixia['code']}.pem").exists()
    settings = Settings.load(env=env)
    gateway = Gateway.open(settings)
    try:
        assert gateway.catalog.matter("370102-FPSL-001").department == lixia["name"]
        assert gateway.authenticator.by_token(tokens[lixia["code"]]["token"]).name == lixia["name"]
    finally:
        gateway.close()

    # a member added later: a token of its own on the next init; the others' tokens stay as they were
    shizhong = {**lixia, "code": samples.uscc(7002, "370103"), "name": "济南市市中区行政审批服务局", "region": "370103"}
    members["members"].append(shizhong)
    (tmp_path / "members.json").write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    again = zzgw(env, "init")
    assert again.returncode == 0, again.stderr
    assert "1 new member got a dev bearer token" in again.stdout
    after = json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert {code: entry for code, entry in after.items() if code != shizhong["code"]} == tokens
    assert after[shizhong["code"]]["token"].startswith("zzgw-dev-")

    # a member that left the file: init says it keeps its credentials; `zzgw members --revoke` takes them
    members["members"].remove(lixia)
    (tmp_path / "members.json").write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    left = zzgw(env, "init")
    assert left.returncode == 0, left.stderr
    assert f"1 registered member with credentials in force is not in the members file ({lixia['code']})" in (
        left.stderr
    )
    certificate = data_dir / "pki" / "members" / f"{lixia['code']}.pem"
    revoked_pem = certificate.read_bytes()
    revoked = zzgw(env, "members", "--revoke", lixia["code"].lower())
    assert revoked.returncode == 0 and f"{lixia['code']}: revoked, 2 credentials taken" in revoked.stderr
    # its certificate and key are put aside, so that a restored member gets a new pair, not the one revoked
    assert not certificate.exists() and "kept aside" in revoked.stderr
    (aside,) = certificate.parent.glob(f"{lixia['code']}.revoked-*.pem")
    assert aside.read_bytes() == revoked_pem and aside.with_suffix(".key").exists()
    listed = {line.split("\t")[0]: line.split("\t") for line in zzgw(env, "members").stdout.splitlines()}
    assert listed[lixia["code"]][3] == "revoked"
    assert lixia["code"] not in json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert "not in the members file" not in zzgw(env, "init").stderr
    revoked_der = x509.load_pem_x509_certificate(revoked_pem).public_bytes(serialization.Encoding.DER)
    gateway = Gateway.open(settings)
    try:
        with pytest.raises(UnauthenticatedError):
            gateway.authenticator.by_token(tokens[lixia["code"]]["token"])
        # its certificate is refused as revoked, not as unknown (which sent a partner after a wrong file)
        with pytest.raises(UnauthenticatedError) as refused:
            gateway.authenticator.by_certificate(revoked_der)
        assert refused.value.message.startswith(f"成员 {lixia['code']} 的凭证已被撤销")
    finally:
        gateway.close()

    # back in the file, it stays revoked (init says so, and gives it nothing, rotating tokens or not) until restored
    members["members"].append(lixia)
    (tmp_path / "members.json").write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    for args in (("init",), ("init", "--rotate-tokens")):
        kept = zzgw(env, *args)
        assert kept.returncode == 0, kept.stderr
        assert f"1 member of the file is revoked and was given no credential ({lixia['code']})" in kept.stderr
        # nor a pair of files: an unregistered one had been written, looking like the department's own, and was the
        # one --restore registered, its days counted from the revocation (a disaster-recovery tester)
        assert not certificate.exists() and not certificate.with_suffix(".key").exists()
        assert zzgw(env, "members").stdout.count("\trevoked\t") == 1
        assert lixia["code"] not in json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"]
    assert zzgw(env, "members", "--restore", lixia["code"]).returncode == 0
    restored = zzgw(env, "init")
    assert restored.returncode == 0 and "1 new member got a dev bearer token" in restored.stdout
    assert certificate.exists() and certificate.read_bytes() != revoked_pem  # a new client certificate
    token = json.loads((data_dir / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"][lixia["code"]]["token"]
    assert token != tokens[lixia["code"]]["token"]
    gateway = Gateway.open(settings)
    try:
        assert gateway.authenticator.by_token(token).code == lixia["code"]
        # the pair revoked stays refused, said as revoked: it had been said replaced by a renewal (a renewal tester)
        with pytest.raises(UnauthenticatedError) as refused:
            gateway.authenticator.by_certificate(revoked_der)
        assert refused.value.reason == "CREDENTIAL_REVOKED"
        revoked_said = f"成员 {lixia['code']} 的这张客户端证书已被撤销（zzgw members --revoke）"
        assert refused.value.message.startswith(revoked_said)
        with pytest.raises(UnauthenticatedError) as refused:
            gateway.authenticator.by_certificate(b"not a certificate")
        assert refused.value.message == "客户端证书不属于任何成员（unknown client certificate）"
    finally:
        gateway.close()
    again = zzgw(env, "members", "--restore", lixia["code"])
    assert again.returncode == 2 and f"member {lixia['code']} is not revoked" in again.stderr

    # a new code under the name of a member in force that left the file: refused, matters name departments by name
    members["members"] = [m for m in members["members"] if m != lixia] + [
        {**lixia, "code": samples.uscc(7003, "370102")}
    ]
    (tmp_path / "members.json").write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    clash = zzgw(env, "init")
    assert clash.returncode == 2 and f"the name is registered to member {lixia['code']}" in clash.stderr
    unknown = zzgw(env, "members", "--revoke", "913701000000000033")
    assert unknown.returncode == 2 and "no member '913701000000000033'" in unknown.stderr


@pytest.mark.parametrize(
    ("setting", "content", "said"),
    [
        ("ZZGW_MEMBERS", None, "members (ZZGW_MEMBERS): cannot read"),
        ("ZZGW_MEMBERS", "{", "members (ZZGW_MEMBERS): {file}: not UTF-8 JSON"),
        ("ZZGW_MEMBERS", {"members": []}, 'members (ZZGW_MEMBERS): {file}: expected {"members"'),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": "x", "name": "甲", "region": "370100", "roles": ["CONSUMER"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1 (甲):",
        ),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": samples.uscc(1), "name": "甲", "region": "370100", "roles": ["BOSS"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1: 'BOSS' is not a valid Role",
        ),
        (
            "ZZGW_MEMBERS",
            {"members": 2 * [{"code": samples.uscc(1), "name": "甲", "region": "370100", "roles": ["CONSUMER"]}]},
            "members (ZZGW_MEMBERS): {file}: the same code for several members: " + samples.uscc(1),
        ),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": samples.uscc(1), "name": "济南 市场", "region": "370100", "roles": ["ISSUER"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1 (济南 市场): seal text must not contain spaces",
        ),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": samples.uscc(1), "name": "局" * 31, "region": "370100", "roles": ["ISSUER"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1 ("
            + "局" * 31
            + "): issuer name (发证机关名称) must be 2–30 characters, got 31",
        ),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": samples.uscc(1), "name": "甲\u200b乙", "region": "370100", "roles": ["CONSUMER"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1 (甲\u200b乙): the name must be 1-200 printable characters",
        ),
        (
            "ZZGW_MEMBERS",
            {"members": [{"code": samples.uscc(1), "name": "甲", "region": 370100, "roles": ["CONSUMER"]}]},
            "members (ZZGW_MEMBERS): {file}: member 1: code and region are strings",
        ),
        (  # the only ADMIN a partner gateway: no operator to name the receipt certificate after (review fixrev2, R2)
            "ZZGW_MEMBERS",
            {
                "members": [
                    {"code": samples.uscc(1), "name": "甲", "region": "370100", "roles": ["CONSUMER"]},
                    {
                        "code": samples.uscc(2, "440100"),
                        "name": "乙",
                        "region": "440100",
                        "roles": ["PARTNER", "ADMIN"],
                    },
                ]
            },
            "members (ZZGW_MEMBERS): {file}: 成员文件中没有本网关的运维管理员（ADMIN）："
            + "有 ADMIN 角色的只有合作网关 乙（"
            + samples.uscc(2, "440100")
            + "），合作网关的 ADMIN 不算",
        ),
        (
            "ZZGW_CATALOG",
            {"license_types": [{"code": "111"}]},
            "catalog (ZZGW_CATALOG): {file}: not a catalog: 证"
            "照类型 111 缺少键 'name'：请按 docs/catalog.md 写上（missing "
            "'name' in license type 111）",
        ),
        (
            "ZZGW_CATALOG",
            {"matters": []},
            "catalog (ZZGW_CATALOG): {file}: not a catalog: "
            "证照目录文件缺少键 'license_types'：请按 docs/catalog.md 写上"
            "（missing 'license_types' in catalog）",
        ),
    ],
)
def test_a_bad_members_or_catalog_file_is_said_before_anything_is_made(
    env: dict[str, str], tmp_path: Path, setting: str, content: object, said: str
) -> None:
    file = tmp_path / "given.json"
    if content is not None:
        file.write_text(content if isinstance(content, str) else json.dumps(content, ensure_ascii=False), "utf-8")
    done = zzgw({**env, setting: str(file)}, "init")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "zzgw: configuration error: " + said.replace("{file}", str(file)) in done.stderr, done.stderr


def test_audit_refusals_lists_uses_of_another_departments_matter(env: dict[str, str]) -> None:
    """A department naming a matter it does not handle, or a license its matter does not use, is refused on the
    audit trail; `zzgw audit refusals` shows those records, newest first, with the caller's name, the action, the
    reason, the matter, the purpose and the operator."""
    from gateway.config import Settings
    from gateway.domain.audit import AuditAction
    from gateway.domain.verification import MatterNotHandledError, check_use
    from gateway.server import Gateway

    assert zzgw(env, "init").returncode == 0
    gateway = Gateway.open(Settings.load(env=env))
    try:
        (tax,) = [m for m in gateway.members.list() if m.code == TAX]
        assert gateway.audit is not None
        for purpose in ("刻章备案", "出生登记"):
            matter = "370100-QYKZ-001" if purpose == "刻章备案" else "370100-CSDJ-001"
            with pytest.raises(MatterNotHandledError) as refused:
                check_use(matter, purpose, gateway.catalog, caller=tax, operator="税务窗口 07")
            gateway.audit.refuse_use(tax, refused.value, AuditAction.VERIFY_LICENSE)
        invoices = check_use("370100-FPSL-001", "发票申领", gateway.catalog, caller=tax, operator="税务窗口 08")
        gateway.audit.refuse(tax, invoices, "NOT_USED_BY_MATTER", AuditAction.GET_LICENSE_DATA)
        gateway.audit.refuse(tax, invoices, "NEEDS_AUTHORIZATION", AuditAction.GET_LICENSE_DATA)  # not a use refusal
    finally:
        gateway.close()
    listed = zzgw(env, "audit", "refusals", "--limit", "5")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    tax_bureau = [TAX, "国家税务总局济南市税务局"]
    assert [row[2:] for row in rows] == [
        [*tax_bureau, "GET_LICENSE_DATA", "NOT_USED_BY_MATTER", "370100-FPSL-001", "发票申领", "税务窗口 08"],
        [*tax_bureau, "VERIFY_LICENSE", "NOT_MATTER_DEPARTMENT", "370100-CSDJ-001", "出生登记", "税务窗口 07"],
        [*tax_bureau, "VERIFY_LICENSE", "NOT_MATTER_DEPARTMENT", "370100-QYKZ-001", "刻章备案", "税务窗口 07"],
    ]
    assert int(rows[0][0]) > int(rows[1][0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+08:00", rows[0][1])  # China time, said so
    assert zzgw(env, "audit", "refusals", "--limit", "0").returncode == 2


VERA = Path(reportlab.__file__).parent / "fonts" / "Vera.ttf"
"""A TrueType font without Chinese glyphs (reportlab's), on every machine the tests run on."""


@pytest.mark.parametrize(("command", "setting", "value", "said"), [
    ("init", "ZZGW_CJK_FONT", "/nonexistent/cjk.ttf",
     "ZZGW_CJK_FONT=/nonexistent/cjk.ttf is not a font file: seals and printed licenses are drawn with it; point it "
     "at a TrueType font with Chinese glyphs, or unset it and install Debian's fonts-droid-fallback"),
    ("serve", "ZZGW_CJK_FONT", "/nonexistent/cjk.ttf", "ZZGW_CJK_FONT=/nonexistent/cjk.ttf is not a font file"),
    ("init", "ZZGW_CJK_FONT", str(VERA), f"ZZGW_CJK_FONT={VERA} has no Chinese glyphs"),
    ("init", "ZZGW_CJK_FONT", __file__, f"ZZGW_CJK_FONT={__file__} is not a TrueType font the gateway can use (Not a "
     "recognized TrueType font"),
    ("serve", "ZZGW_CJK_FALLBACK_FONTS", "/nonexistent/rare.ttf",
     "ZZGW_CJK_FALLBACK_FONTS names /nonexistent/rare.ttf, which is not a font file"),
    ("init", "ZZGW_CJK_FALLBACK_FONTS", f"{VERA}:/nonexistent/rare.ttf",
     "ZZGW_CJK_FALLBACK_FONTS names /nonexistent/rare.ttf, which is not a font file"),
    ("serve", "ZZGW_CJK_FALLBACK_FONTS", f"{VERA}:{__file__}",
     f"ZZGW_CJK_FALLBACK_FONTS names {__file__}, which is not a TrueType font the gateway can use"),
    ("serve", "ZZGW_TSA_URL", "notaurl",
     "tsa_url (ZZGW_TSA_URL) must be an http:// or https:// URL with a host (e.g. https://tsa.example.cn/tsr), "
     "not 'notaurl'"),
    ("init", "ZZGW_TSA_URL", "ftp://tsa.example.cn/tsr", "must be an http:// or https:// URL with a host"),
    ("serve", "ZZGW_MAX_WATCHERS", "-1", "max_watchers (ZZGW_MAX_WATCHERS) must be 1-1024, not -1"),
    ("serve", "ZZGW_MAX_WATCHERS", "0", "max_watchers (ZZGW_MAX_WATCHERS) must be 1-1024, not 0"),
    ("init", "ZZGW_MAX_WATCHERS", "1025", "max_watchers (ZZGW_MAX_WATCHERS) must be 1-1024, not 1025"),
])  # fmt: skip
def test_a_bad_start_setting_is_said_before_anything_is_made(
    env: dict[str, str], command: str, setting: str, value: str, said: str
) -> None:
    """What `zzgw init` and `zzgw serve` need is checked at start, not at the first call: one line, exit 2."""
    done = zzgw({**env, setting: value}, command, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("zzgw: configuration error: ") and said in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not Path(env["ZZGW_DATA_DIR"]).exists()


def test_no_cjk_font_on_the_machine_says_how_to_get_one(env: dict[str, str]) -> None:
    """As on a machine without Debian's fonts-droid-fallback: the known font paths are made to miss."""
    env = {k: v for k, v in env.items() if k not in ("ZZGW_CJK_FONT", "ZZGW_CJK_FALLBACK_FONTS")}
    script = (
        "import sys, pathlib, signing.seal_image as fonts; "
        "fonts.KNOWN_FONTS = (pathlib.Path('/nonexistent/droid.ttf'),); "
        "from gateway.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    for command in ("init", "serve"):
        done = subprocess.run(
            [sys.executable, "-c", script, command], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "zzgw: configuration error: no CJK font to draw seals and print licenses with (tried "
            "/nonexistent/droid.ttf): install Debian's fonts-droid-fallback (scripts/install-system-deps does, as "
            "root), or set ZZGW_CJK_FONT to a TrueType font with Chinese glyphs",
        )
    assert not Path(env["ZZGW_DATA_DIR"]).exists()


def test_ctrl_c_while_a_command_loads_or_opens_the_store_ends_without_a_traceback(env: dict[str, str]) -> None:
    """SIGINT at a moment no command handles it itself (here: as init starts making the store): a line, exit 130."""
    interrupt = (  # the signal is taken at once: the sleep ends
        "import os, time, gateway.server as server; "
        "server.initialise = lambda *args, **kwargs: (os.kill(os.getpid(), signal.SIGINT), time.sleep(30)); "
    )
    done = subprocess.run(
        zzgw_command("init", before=interrupt), env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    # with what to do: init is idempotent, and run again completes what this one began (a reviewer, clirev R5)
    assert (done.returncode, done.stderr.strip()) == (130, f"zzgw init: {INIT_INTERRUPTED}"), done.stderr


def test_https_material_that_does_not_fit_is_said_in_plain_words(env: dict[str, str], tmp_path: Path) -> None:
    import datetime as dt

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def key_file(name: str) -> tuple[Path, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        path = tmp_path / name
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        path.write_bytes(pem)
        return path, key

    key, private = key_file("web.key")
    other, _ = key_file("other.key")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder(subject_name=name, issuer_name=name, public_key=private.public_key(),
                                serial_number=x509.random_serial_number(), not_valid_before=now,
                                not_valid_after=now + dt.timedelta(days=1))
        .sign(private, hashes.SHA256())
    )  # fmt: skip
    cert = tmp_path / "web.pem"
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    der = tmp_path / "web.der"
    der.write_bytes(certificate.public_bytes(serialization.Encoding.DER))
    text = tmp_path / "web.txt"
    text.write_text("not a key\n", encoding="utf-8")
    cases = [
        (cert, other, f"ZZGW_HTTP_TLS_KEY ({other}) is not the private key of the certificate in ZZGW_HTTP_TLS_CERT "
                      f"({cert})"),
        (key, cert, f"ZZGW_HTTP_TLS_CERT ({key}) is not a PEM certificate (-----BEGIN CERTIFICATE-----); are "
                    "ZZGW_HTTP_TLS_CERT and ZZGW_HTTP_TLS_KEY swapped?"),
        (der, key, f"ZZGW_HTTP_TLS_CERT ({der}) is not a PEM certificate (-----BEGIN CERTIFICATE-----)"),
        (cert, text, f"ZZGW_HTTP_TLS_KEY ({text}) is not a PEM private key (-----BEGIN PRIVATE KEY-----)"),
    ]  # fmt: skip
    for cert_file, key_file_, said in cases:
        done = zzgw({**env, "ZZGW_HTTP_TLS_CERT": str(cert_file), "ZZGW_HTTP_TLS_KEY": str(key_file_)}, "serve")
        assert (done.returncode, done.stderr.strip()) == (2, f"zzgw: configuration error: {said}")
    fitting = zzgw({**env, "ZZGW_HTTP_TLS_CERT": str(cert), "ZZGW_HTTP_TLS_KEY": str(key)}, "serve")
    assert fitting.returncode == 2 and "run `zzgw init`" in fitting.stderr  # the pair passed; the store is next


def test_config_is_taken_before_and_after_the_command(env: dict[str, str], tmp_path: Path) -> None:
    settings = tmp_path / "other.toml"
    settings.write_text('mode = "staging"\n', encoding="utf-8")
    for args in (("--config", str(settings), "init"), ("init", "--config", str(settings)),
                 ("serve", "--config", str(settings)), ("receipt", "get", "R1", "--member", TAX, "--config",
                                                        str(settings))):  # fmt: skip
        done = zzgw(env, *args, timeout=60)
        assert (done.returncode, done.stderr.strip()) == (
            2,
            "zzgw: configuration error: mode (ZZGW_MODE) must be dev or production, not 'staging'",
        ), args
    good = tmp_path / "good.toml"
    elsewhere = tmp_path / "elsewhere.db"
    good.write_text(f'database_url = "sqlite:///{elsewhere}"\n', encoding="utf-8")
    said = f"zzgw: configuration error: no database at {elsewhere}: run `zzgw init` (with the same settings) first"
    for args in (("audit", "verify", "--config", str(good)), ("--config", str(good), "audit", "verify"),
                 ("--config", str(settings), "audit", "verify", "--config", str(good))):  # fmt: skip
        done = zzgw(env, *args, timeout=60)  # the file's database: after the command, before it, or both (after wins)
        assert (done.returncode, done.stderr.strip()) == (2, said), args


def test_the_demo_needs_the_demo_members(env: dict[str, str], tmp_path: Path) -> None:
    members = tmp_path / "members.json"
    lixia = {"code": samples.uscc(1), "name": "历下区行政审批服务局", "region": "370102", "roles": ["CONSUMER"]}
    members.write_text(json.dumps({"members": [lixia]}, ensure_ascii=False), encoding="utf-8")
    done = zzgw({**env, "ZZGW_MEMBERS": str(members)}, "demo", timeout=60)
    assert done.returncode == 2 and not done.stdout and len(done.stderr.strip().splitlines()) == 1
    assert done.stderr.startswith(
        "zzgw demo: zzgw demo runs the demo departments' journeys; this gateway's members (ZZGW_MEMBERS, "
        f"{members}) do not include 济南市市场监督管理局 (11370100993701011T), 济南市公安局 (1137010099370102XJ), "
    ), done.stderr


def test_the_demo_refuses_production_mode(env: dict[str, str]) -> None:
    """The demo issues made-up licenses under the issuers' real seals, with check-valid citizen IDs and USCCs that can
    be real people's: in production mode it had filled the registry, exit 0 (a reviewer)."""
    done = zzgw({**env, "ZZGW_MODE": "production"}, "demo", timeout=60)
    assert done.returncode == 2 and not done.stdout and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.startswith("zzgw demo: 演示不在生产模式下运行") and "(ZZGW_MODE=production)" in done.stderr
    assert "real seals" in done.stderr


def test_a_demo_at_an_address_that_takes_connections_and_closes_them_is_no_mode_mismatch(env: dict[str, str]) -> None:
    """A balancer whose backends are all down takes each connection and closes it, as a TLS gateway closes a
    plaintext one: it had been called "most likely a mode mismatch, check ZZGW_MODE" (a reviewer). No TLS answers
    there, so no gateway answers."""
    assert zzgw(env, "init").returncode == 0
    listener = socket.create_server(("127.0.0.1", 0))
    threading.Thread(target=_answer_each, args=(listener,), daemon=True).start()
    try:
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        done = zzgw(env, "demo", "--target", address, timeout=120)
    finally:
        listener.close()
    assert done.returncode == 1 and not done.stdout, done.stdout
    said = [line for line in done.stderr.splitlines() if line.startswith("zzgw demo:")]
    assert len(said) == 1 and said[0].startswith(f"zzgw demo: 无法连接证照网关 {address}（no gateway answers"), (
        done.stderr
    )
    assert "ZZGW_MODE" not in said[0]


def test_a_dev_demo_at_a_production_gateway_is_told_it_answers_tls(env: dict[str, str], tmp_path: Path) -> None:
    """A dev demo (plaintext) at a production gateway (mTLS) had been told no gateway answers there, after printing
    step 1's heading as if the run had started: the address answers a TLS handshake, so the modes differ."""
    import grpc

    from tests.conftest import start_gateway

    assert zzgw(env, "init").returncode == 0
    with fresh_database("sqlite", tmp_path) as url:
        production = start_gateway(tmp_path / "production", url, mode="production")
        try:
            done = zzgw(env, "demo", "--target", production.address, timeout=120)
        finally:
            production.stop()
    assert done.returncode == 1 and not done.stdout, done.stdout
    said = [line for line in done.stderr.splitlines() if line.startswith("zzgw demo:")]
    assert len(said) == 1, done.stderr
    assert said[0].startswith(f"zzgw demo: 证照网关 {production.address} 以 TLS 应答（ZZGW_MODE=production 的网关），")
    assert "请核对 ZZGW_MODE" in said[0] and "无法连接证照网关" not in said[0]
    # a stream that was answering and broke (a worker of the right mode killed) is never one, whatever answers now
    from gateway.cli import _refusal

    class Broken(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.UNAVAILABLE

        def details(self) -> str:
            return "Stream removed (Socket closed)"

        def trailing_metadata(self) -> tuple[()]:
            return ()

    with fresh_database("sqlite", tmp_path / "again") as url:
        production = start_gateway(tmp_path / "production-again", url, mode="production")
        try:
            said_broken = _refusal(production.address, Broken(), "dev")
        finally:
            production.stop()
    assert said_broken.startswith(f"无法连接证照网关 {production.address}"), said_broken


def test_a_production_clients_failed_connections_are_said_by_their_cause(tmp_path: Path) -> None:
    """A production client (TLS) whose certificate the gateway refuses (another CA's) or which does not trust the
    server certificate (another gateway's ca.pem) had been told "most likely a mode mismatch, check ZZGW_MODE", a
    setting that was right (a reviewer): they are said as docs/departments.md says them. Only a plaintext gateway
    (WRONG_VERSION_NUMBER, and the address answers HTTP/2 in plaintext) is a mode mismatch; a dev gateway's HTTP port
    (HTTP/1) is not."""
    import grpc

    from gateway.cli import _refusal
    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc
    from tests.conftest import MARKET, start_gateway

    def refused(address: str, ca_pem: bytes, client: Issued) -> grpc.RpcError:
        tls = grpc.ssl_channel_credentials(ca_pem, client.key_pem, client.cert_pem)
        stub = catalog_pb2_grpc.CatalogServiceStub(grpc.secure_channel(address, tls))
        with pytest.raises(grpc.RpcError) as caught:
            stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=10)
        return caught.value

    stranger = CertificateAuthority.create("not the member CA")
    with fresh_database("sqlite", tmp_path) as url, fresh_database("sqlite", tmp_path / "dev") as dev_url:
        production = start_gateway(tmp_path / "production", url, mode="production")
        dev = start_gateway(tmp_path / "dev", dev_url)
        try:
            ca_pem = (production.data_dir / "pki" / "ca.pem").read_bytes()
            member = stranger.issue_client(code=MARKET, name="济南市市场监督管理局")
            said = _refusal(production.address, refused(production.address, ca_pem, member), "production")
            assert said.startswith(f"证照网关 {production.address} 在 TLS 握手中拒绝了本端：多半是客户端证书过期"), said
            assert "docs/departments.md" in said and "ZZGW_MODE" not in said
            untrusting = refused(production.address, stranger.cert_pem, member)
            said = _refusal(production.address, untrusting, "production")
            assert said.startswith(f"证照网关 {production.address} 的服务器证书未获本端信任"), said
            assert "ZZGW_MODE" not in said
            plaintext = refused(dev.address, ca_pem, member)
            said = _refusal(dev.address, plaintext, "production")
            assert said.startswith(f"证照网关 {dev.address} 以明文应答（ZZGW_MODE=dev 的网关），"), said
            http = socket.create_server(("127.0.0.1", 0))  # an HTTP/1 server: answers TLS with a 400
            threading.Thread(target=_answer_each, args=(http, _HTTP_400), daemon=True).start()
            http_address = f"127.0.0.1:{http.getsockname()[1]}"
            said = _refusal(http_address, refused(http_address, ca_pem, member), "production")
            http.close()
            assert said.startswith(f"无法连接证照网关 {http_address}"), said
        finally:
            production.stop()
            dev.stop()


_HTTP_400 = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


def _answer_each(listener: socket.socket, reply: bytes = b"") -> None:
    """Until ``listener`` is closed: take each connection, read what it sends first, answer ``reply`` (nothing: a
    balancer with no backend up) and close it."""
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        with client:
            client.recv(4096)
            if reply:
                client.sendall(reply)


def test_a_gateway_gone_during_the_demos_batch_is_said_in_one_line(env: dict[str, str]) -> None:
    """The gateway stopping as step 11 (批量归集) starts: the import's reconnections are announced, then one line and
    exit 1. It had waited 60 s without a word and ended in an ImportRefused traceback."""
    assert zzgw(env, "init").returncode == 0
    server = _serve(env)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        shorter = "import adapters.batch_import as b; b.RECONNECT_SECONDS = b.ANSWER_SECONDS = 3.0; "
        demo = subprocess.Popen(
            zzgw_command("demo", before=shorter), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert demo.stdout is not None
        for line in demo.stdout:
            if "== 11. 批量归集" in line:
                server.kill()
                break
        _, err = demo.communicate(timeout=120)
    finally:
        server.kill()
        server.communicate()
    assert demo.returncode == 1, err
    assert "Traceback" not in err, err
    assert "正在重连" in err and "reconnecting for up to 3 s" in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("zzgw demo: 批量归集未能完成（the batch import stopped）：无法连接证照网关 "), err


def test_a_step_answered_otherwise_than_the_demo_expects_is_said_in_one_line(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A gateway whose catalog shares the 出生医学证明 unconditionally answers the read the demo shows refused (7.2):
    one line naming the step, exit 1. It had ended in an AssertionError traceback."""
    catalog = json.loads((ROOT / "gateway" / "bootstrap" / "catalog.json").read_text(encoding="utf-8"))
    birth = next(t for t in catalog["license_types"] if t["code"] == "1110000099100006XH001")
    birth["sharing_class"] = "UNCONDITIONAL"
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    env = {**env, "ZZGW_CATALOG": str(path)}
    assert zzgw(env, "init").returncode == 0
    server = _serve(env)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        done = zzgw(env, "demo", timeout=120)
    finally:
        server.terminate()
        server.communicate(timeout=60)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines() == [
        "zzgw demo: 第 7.2 步的结果与预期不符（step 7.2 did not go as the demo expects）："
        "网关应答了本应拒绝的请求（the call was answered, not refused）"
    ], done.stderr


def test_the_import_help_names_every_key_a_record_may_have(capsys: pytest.CaptureFixture[str]) -> None:
    from adapters.records import KEYS
    from gateway import cli

    with pytest.raises(SystemExit):
        cli.main(["import", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert all(key in said for key in KEYS), sorted(key for key in KEYS if key not in said)
    assert "holder.name" in said and "fields.<key>" in said


def test_each_commands_help_says_what_it_does_and_serves_names_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    """`zzgw serve --help` had said nothing of what it does nor of a single setting; each command's help had only its
    usage (found by a docs tester)."""
    from gateway import cli
    from gateway.config import _ENV

    for command, says in (("serve", "run the gateway"), ("members", "list the registered members"), ("init", "")):
        with pytest.raises(SystemExit):
            cli.main([command, "--help"])
        said = capsys.readouterr().out
        assert says in " ".join(said.split()), said
        if command in ("serve", "init"):
            assert all(variable in said for variable in _ENV.values()), [v for v in _ENV.values() if v not in said]


def test_serve_exits_75_when_the_database_accepts_the_connection_and_never_answers(env: dict[str, str]) -> None:
    """A pooler or balancer in front of PostgreSQL whose backend is gone accepts the connection and says nothing:
    `zzgw serve` had waited in its connect (psycopg's 130 s), not exiting 75 for a service manager to start it again (a
    reviewer, R1). It gives up after the pool's connect timeout, 5 s, as for a server down."""
    from gateway.store.database import CONNECT_TIMEOUT_SECONDS
    from gateway.supervisor import EXIT_STORE_UNAVAILABLE

    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nothing ever answers
        hole = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/zzgw"
        started = time.monotonic()
        down = zzgw({**env, "ZZGW_DATABASE_URL": hole}, "serve", timeout=60)
        took = time.monotonic() - started
    assert (down.returncode, down.stdout) == (EXIT_STORE_UNAVAILABLE, ""), down.stderr
    assert down.stderr.startswith(f"zzgw serve: cannot use {hole}: connection timeout expired"), down.stderr
    assert "Traceback" not in down.stderr
    assert CONNECT_TIMEOUT_SECONDS <= took < CONNECT_TIMEOUT_SECONDS + 10, took


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_exits_75_when_the_database_is_down_and_2_when_it_refuses(env: dict[str, str], workers: int) -> None:
    """PostgreSQL not up yet (a host that booted faster than its database): EX_TEMPFAIL, 75, as a worker says it,
    for a service manager to start the gateway again; 2 (told not to restart: ``RestartPreventExitStatus=2``) is a
    setting or file to fix, as a database that answers and does not exist."""
    from gateway.supervisor import EXIT_STORE_UNAVAILABLE
    from tests.conftest import PG_URL

    closed = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/zzgw"  # nothing listens there
    down = zzgw({**env, "ZZGW_WORKERS": str(workers), "ZZGW_DATABASE_URL": closed}, "serve", timeout=60)
    assert (down.returncode, down.stdout) == (EXIT_STORE_UNAVAILABLE, ""), down.stderr
    assert down.stderr.startswith(f"zzgw serve: cannot use {closed}: connection failed: ") and "refused" in down.stderr
    assert down.stderr.count("\n") == 1 and "Traceback" not in down.stderr
    if not PG_URL:
        return
    missing = PG_URL.rsplit("/", 1)[0] + "/zzgw_no_such_database"
    refused = zzgw({**env, "ZZGW_WORKERS": str(workers), "ZZGW_DATABASE_URL": missing}, "serve", timeout=60)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert 'database "zzgw_no_such_database" does not exist' in refused.stderr


def test_init_names_each_client_certificate_it_issues_and_what_to_hand_over(env: dict[str, str]) -> None:
    """`zzgw init` issued a pair to a member new to the members file, or restored after `--revoke`, without a word:
    nothing named the certificate, the pair to hand over or the key to delete (a renewal tester, D6). One line each,
    in production mode (dev mode's members connect with tokens); none when it issues none."""
    production = {**env, "ZZGW_MODE": "production", **DEMO_FILES}
    first = zzgw(production, "init")
    assert first.returncode == 0, first.stderr
    members = Path(env["ZZGW_DATA_DIR"]) / "pki" / "members"
    issued = [line for line in first.stdout.splitlines() if line.startswith("issued a client certificate for ")]
    assert len(issued) == len(list(members.glob("*.pem"))) > 1
    again = zzgw(production, "init")
    assert again.returncode == 0 and "issued a client certificate" not in again.stdout
    planning = "11370100993701089T"
    assert zzgw(production, "members", "--revoke", planning).returncode == 0
    assert zzgw(production, "members", "--restore", planning).returncode == 0
    restored = zzgw(production, "init")
    assert restored.returncode == 0, restored.stderr
    (line,) = [line for line in restored.stdout.splitlines() if "issued a client certificate" in line]
    until = x509.load_pem_x509_certificate((members / f"{planning}.pem").read_bytes()).not_valid_after_utc
    day = until.astimezone(dt.timezone(dt.timedelta(hours=8))).date().isoformat()
    assert line == (
        f"issued a client certificate for {planning} (济南市自然资源和规划局), valid until {day} (Beijing time): hand "
        f"{members / planning}.pem and {members / planning}.key over (docs/departments.md), then delete "
        f"{members / planning}.key here (the gateway never needs it)"
    )


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["import", "x.jsonl"], "import"),
        (["--config", "zzgw.toml", "import", "x.jsonl"], "import"),
        (["--config=zzgw.toml", "import"], "import"),
        (["--conf", "zzgw.toml", "import"], "import"),
        (["--c", "zzgw.toml", "import"], "import"),
        (["--help"], ""),
    ],
)
def test_the_console_entry_finds_the_command_after_config_shortened_as_argparse_takes_it(
    argv: list[str], command: str
) -> None:
    """``gateway.entry`` finds ``zzgw import`` before argparse is loaded, to take SIGTERM over early: ``--conf FILE
    import``, which argparse takes for ``--config``, had been read as the command ``zzgw.toml``, and such an import
    stopped at once ended silently (a review, fixrev1 R2)."""
    from gateway.entry import command_of

    assert command_of(argv) == command
