"""`zzgw receipt check` as a script runs it: each answer and its exit status (docs/receipts.md, "What a checker
answers"), on the receipt test vectors and the trust material they come with, without a gateway."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.cli import main
from signing.errors import SigningError
from tests.commands import run_zzgw

ROOT = Path(__file__).resolve().parent.parent.parent
VECTORS: dict[str, Any] = json.loads((ROOT / "tests" / "vectors" / "receipts.json").read_text(encoding="utf-8"))
CASES = {case["name"]: case for case in VECTORS["cases"]}
REFUSED = {refused["name"]: refused for refused in VECTORS["refused"]}
VALID, INVALID = "batch receipt 0 of 3", "statement changed after signing"


@pytest.fixture
def trust(tmp_path: Path) -> dict[str, Path]:
    """The vectors' trust material as the files the gateway serves."""
    given = VECTORS["trust"]
    files = {
        "root": (tmp_path / "seal-maker-root.pem", given["seal_maker_root_pem"].encode()),
        "intermediate": (tmp_path / "seal-maker-intermediate.pem", given["seal_maker_intermediate_pem"].encode()),
        "crl": (tmp_path / "seal-maker.crl", base64.b64decode(given["crl_der_base64"])),
        "receipts": (tmp_path / "receipts.pem", given["receipts_pem"].encode()),
    }
    for path, data in files.values():
        path.write_bytes(data)
    return {key: path for key, (path, _) in files.items()}


def receipt_file(tmp_path: Path, name: str) -> Path:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(CASES[name]["receipt"]), encoding="utf-8")
    return path


def full(trust: dict[str, Path]) -> list[str]:
    return ["--root", str(trust["root"]), "--intermediate", str(trust["intermediate"]), "--crl", str(trust["crl"])]


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["receipt", "check", *args])
    out, err = capsys.readouterr()
    return status, out, err


def test_valid_is_0(tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust))
    assert (status, err) == (0, "")
    assert out.startswith(f"回执 receipt {CASES[VALID]['receipt']['receiptId']}：回执有效 valid\n")
    # the statement's UTC time (2026-12-02T22:19:41+00:00) in Beijing time, said so in both languages, as zzgw verify
    # prints its own; named 核验时间 as the console names it (it had been 回执时间 here)
    assert "\n  核验时间 checked at：2026-12-03 06:19:41（北京时间 UTC+8）\n" in out
    # the verdict and the license's status then in words, not codes alone (a government-service editor)
    assert "\n  核验结论 verdict：核验通过 PASSED\n" in out
    assert "当时状态：有效 ACTIVE）\n" in out and "\n  核验部门 caller：" in out and "\n  事项编码 matter：" in out


@pytest.mark.parametrize(
    "name", ["first form (zzgw-receipt/1), no proof", "first form, proof empty", "first form, proof null"]
)
def test_a_first_form_receipt_has_no_proof_or_an_empty_or_null_one(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    """receipts.md: ``proof`` may be missing, null or empty: that is the first form. A null one had been refused,
    exit 2, as a value of the wrong type (a receipts tester)."""
    status, out, err = check(capsys, str(receipt_file(tmp_path, name)), *full(trust))
    assert (status, err) == (0, "")
    assert out.startswith(f"回执 receipt {CASES[name]['receipt']['receiptId']}：回执有效 valid\n")


def openssl_fingerprint(pem: Path) -> str:
    """The root's SHA-256 fingerprint as the checker compares it with the operator's: openssl's own."""
    said = subprocess.run(
        ["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", str(pem)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return said.strip().split("=", 1)[1]


ROOT_SUBJECT = "CN=济南市制章中心（测试） Seal Root CA,O=济南市制章中心（测试）,C=CN"


def test_the_root_relied_on_is_named_by_its_fingerprint_and_the_standing_now_is_not_the_receipts(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Whoever gives the root decides what checks valid: a root of a CA of one's own, named as the seal maker's,
    made a forged receipt read exactly as a genuine one, and nothing named the root (a receipts tester). The check
    names the root it relied on by its SHA-256 fingerprint, as openssl prints it, to compare with the one the
    gateway's operator gave by another channel. And a valid receipt says what was found then: it had read
    回执有效 … 当时状态：有效 for a license revoked since, with no word of where to learn its standing now (a
    receipts tester)."""
    status, out, _ = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust))
    fingerprint = openssl_fingerprint(trust["root"])
    assert status == 0 and out.splitlines()[-2:] == [
        f"  信任的根证书 trusted root：济南市制章中心（测试） Seal Root CA，SHA-256 {fingerprint}"
        "（须与证照网关运维方另行告知的指纹一致；must be the fingerprint the gateway's operator gave you by another "
        "channel）",
        "  提示 note：回执只证明当时的核验结果，不说明证照现在仍然有效；"
        "证照现在的状态请在证照网关核验台“查验回执”查看，或由 "
        "ListCaseReceipts（standing_now）、重新核验（VerifyLicense）得知（the receipt states what the check found "
        "then, not that the license is valid now: learn its standing now from the gateway's console, "
        "ListCaseReceipts' standing_now, or a new VerifyLicense）",
    ]
    status, out, _ = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust)[:4])  # no CRL: undecided
    assert status == 3 and f"SHA-256 {fingerprint}" in out and "提示 note：" in out
    status, out, _ = check(capsys, str(receipt_file(tmp_path, VALID)), "--root", str(trust["root"]))
    assert status == 3 and "信任的根证书" not in out  # no chain to it without the intermediate: no root relied on
    status, out, _ = check(capsys, str(receipt_file(tmp_path, INVALID)), *full(trust))
    assert status == 1 and "信任的根证书" not in out and "提示 note" not in out


def test_invalid_is_1(tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check(capsys, str(receipt_file(tmp_path, INVALID)), *full(trust))
    assert (status, err) == (1, "")
    assert "：回执无效 INVALID（SIGNATURE_INVALID）：" in out.splitlines()[0]
    assert out.splitlines()[1:] == ["  回执内容不可采信（what it says is not to be relied on）"]


@pytest.mark.parametrize(("left_out", "reason"), [("--crl", "CRL_MISSING"), ("--intermediate", "CHAIN_INCOMPLETE")])
def test_undecided_is_3(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str], left_out: str, reason: str
) -> None:
    args = full(trust)
    at = args.index(left_out)
    del args[at : at + 2]
    status, out, err = check(capsys, str(receipt_file(tmp_path, VALID)), *args)
    assert (status, err) == (3, "")
    assert f"：无法确认 INDETERMINATE（{reason}）：" in out.splitlines()[0]
    assert f"with {left_out}" in out.splitlines()[0]  # what to give
    assert f"请用 {left_out} 加上网关的" in out.splitlines()[0]  # said in Chinese first, as a clerk reads it
    assert "  核验结论 verdict：核验通过 PASSED" in out  # what it says is shown, marked undecided


def test_a_failed_verification_is_said_in_words_chinese_first() -> None:
    """What a receipt says, in the words every other surface says it: the verdict 核验未通过 with the status's words
    (it had printed ``核验结论 verdict: FAILED REVOKED`` and ``(…, REVOKED)``: codes alone; a government-service
    editor), the department that checked as 核验部门, the matter's code as 事项编码. The check reads no catalog and no
    member list (it runs offline, without a gateway's settings), so the type, department and matter stay codes."""
    from adapters.receipt_file import NOW_UNKNOWN, check_text
    from protos.zzgw.v1 import verification_pb2
    from signing.receipts import ReceiptCheck
    from signing.results import CheckResult

    license_id = "1.2.156.3005.2.11100000991000019E001.1137010099370102XJ.0MX9V4Q4W99HBA630U83.001.0"
    statement = {
        "kind": "verification",
        "verdict": "FAILED",
        "reason": "REVOKED",
        "license": {"license_id": license_id, "type_code": "11100000991000019E001", "status": "REVOKED",
                    "status_since": "2026-12-05"},
        "caller": "123701009937011183",
        "matter_code": "370100-BDCZY-001",
        "purpose": "核验权利人身份",
        "issued_at": "2026-12-05T03:38:48.942880+00:00",
        "bundle_code": "370100-YJS-QYKB",
        "case_id": "QYKB-1",
    }  # fmt: skip
    checked = ReceiptCheck(result=CheckResult.PASSED, reason=None, detail="", statement=statement, signer=None)
    said = check_text(verification_pb2.Receipt(receipt_id="01a2444874ef712de17bb61a24640118"), checked)
    assert said.splitlines() == [
        "回执 receipt 01a2444874ef712de17bb61a24640118：回执有效 valid",
        "  核验结论 verdict：核验未通过 FAILED（证照已吊销或撤销 REVOKED）",
        f"  证照 license：{license_id}"
        "（证照类型代码 11100000991000019E001；当时状态：已吊销或撤销 REVOKED，2026-12-05 起）",
        "  核验部门 caller：123701009937011183",
        "  事项编码 matter：370100-BDCZY-001",
        "  用证事由 purpose：核验权利人身份",
        "  核验时间 checked at：2026-12-05 11:38:48（北京时间 UTC+8）",
        "  一件事 case：370100-YJS-QYKB，办件编号 QYKB-1",
        f"  提示 note：{NOW_UNKNOWN}",
    ]
    claim = {"kind": "claim", "result": "PARTLY_WRONG", "code": 7, "mismatched_fields": ["holder_name", "address"]}
    checked = ReceiptCheck(result=CheckResult.PASSED, reason=None, detail="", statement=claim, signer=None)
    said = check_text(verification_pb2.Receipt(receipt_id="r"), checked)
    assert said.splitlines()[1] == (
        "  信息比对 claim：部分信息不一致 PARTLY_WRONG（结果代码 code 7），不一致的信息项 differ：holder_name、address"
    )


def test_a_file_that_is_not_json_is_said_no_receipt_chinese_first(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """As the console says it (所给文件不是核验回执文件), the reason after: it had been ``not JSON: …`` alone."""
    path = tmp_path / "notes.json"
    path.write_text("hello", encoding="utf-8")
    status, out, err = check(capsys, str(path), *full(trust))
    assert (status, out) == (2, "")
    assert err == (
        "zzgw receipt check: 所给文件不是核验回执文件（not a receipt file: not JSON: Expecting value: line 1 column 1 "
        "(char 0)）\n"
    )


@pytest.mark.parametrize("name", list(REFUSED))
def test_a_file_that_is_no_receipt_is_2_and_no_result(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = tmp_path / "receipt.json"
    path.write_text(REFUSED[name]["file"], encoding="utf-8")
    for json_output in ([], ["--json"]):
        status, out, err = check(capsys, str(path), *full(trust), *json_output)
        assert (status, out) == (2, "")  # nothing on standard output, not even with --json
        assert err.startswith("zzgw receipt check: ")


def test_a_file_that_cannot_be_read_is_2(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, err = check(capsys, str(tmp_path / "nothing.json"), *full(trust))
    assert (status, out) == (2, "")
    missing = tmp_path / "nothing.json"
    assert err == (
        f"zzgw receipt check: 无法打开 {missing}：No such file or directory"
        f"（cannot open {missing}: No such file or directory）\n"
    )
    status, out, err = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust), "--crl", str(tmp_path / "x"))
    assert (status, out) == (2, "") and err.startswith(f"zzgw receipt check: 无法打开 {tmp_path / 'x'}：")
    status, out, err = check(capsys, str(tmp_path), *full(trust))  # a directory
    assert (status, out) == (2, "") and err.startswith(f"zzgw receipt check: 无法打开 {tmp_path}：")


def test_the_intermediate_given_as_the_root_is_2_saying_so(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """It used to be taken as a root, and every receipt, genuine or not, came out undecided (CRL_MISSING)."""
    receipt = str(receipt_file(tmp_path, VALID))
    for extra in ([], ["--crl", str(trust["crl"])], ["--intermediate", str(trust["root"]), "--crl", str(trust["crl"])]):
        status, out, err = check(capsys, receipt, "--root", str(trust["intermediate"]), *extra)
        assert (status, out) == (2, "")
        assert err.startswith(
            "zzgw receipt check: 所给的信任材料（--root、--intermediate、--crl、--certificate）无法使用"
            f"（{trust['intermediate']}: "
        )
        assert "is not a root: it is a CA certificate issued by " in err
        assert "seal-maker-root.pem" in err and "--intermediate" in err


def test_other_trust_material_in_the_wrong_place_is_2(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    receipt = str(receipt_file(tmp_path, VALID))
    for args, said in [
        (["--root", str(trust["receipts"])], "is not a CA certificate"),
        ([*full(trust), "--certificate", str(trust["root"])], "is a CA certificate, not a receipt certificate"),
        ([*full(trust)[:4], "--crl", str(trust["root"])], "not a CRL"),
        (["--root", str(trust["crl"])], "not PEM certificates"),
    ]:
        status, out, err = check(capsys, receipt, *args)
        assert (status, out) == (2, ""), args
        assert said in err


def test_the_pinned_certificate(tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    pinned = [*full(trust), "--certificate", str(trust["receipts"])]
    assert check(capsys, str(receipt_file(tmp_path, VALID)), *pinned)[0] == 0
    status, out, _ = check(capsys, str(receipt_file(tmp_path, "signed by another seal of the same CA")), *pinned)
    assert status == 1 and "NOT_THE_PINNED_CERTIFICATE" in out


def test_json_says_the_result_and_reason(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust), "--json")
    answer = json.loads(out)
    assert status == 0 and set(answer) == {"receipt_id", "result", "reason", "detail", "statement", "signer", "root"}
    assert (answer["result"], answer["reason"], answer["signer"]["seal"]) == ("PASSED", "", "核验回执专用章")
    assert answer["root"] == {"subject": ROOT_SUBJECT, "sha256": openssl_fingerprint(trust["root"])}
    status, out, _ = check(capsys, str(receipt_file(tmp_path, INVALID)), *full(trust), "--json")
    answer = json.loads(out)
    assert (status, answer["result"], answer["reason"]) == (1, "FAILED", "SIGNATURE_INVALID")
    assert answer["statement"] is None and answer["signer"] is None  # the signature did not verify
    assert answer["root"] is None  # nothing of an invalid receipt is relied on
    status, out, _ = check(capsys, str(receipt_file(tmp_path, "receipt id that the statement does not name")),
                           *full(trust), "--json")  # fmt: skip
    answer = json.loads(out)
    assert (status, answer["reason"], answer["signer"]) == (1, "RECEIPT_ID_MISMATCH", None)
    assert answer["statement"]["verdict"] == "PASSED"  # given to programs; `result` says not to rely on it


def test_what_a_terminal_would_act_on_is_printed_as_escapes(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """A receipt file is anyone's to write: an id of ANSI sequences had cleared the screen, turned the line green
    with 回执有效 VALID and retitled the terminal ahead of the 无效 INVALID it then said (an independent fuzz tester).
    ESC, BEL, NUL, C1's CSI, a line break and a right-to-left override are printed as their code points."""
    receipt = dict(CASES[VALID]["receipt"])
    receipt["receiptId"] = "\x1b[2J\x1b[32m回执有效 VALID\x1b]0;pwned\x07\x00\x9b1m\n  核验结论\u202e"
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt), encoding="utf-8")
    status, out, err = check(capsys, str(path), *full(trust))
    assert (status, err) == (1, "")
    assert out.startswith(
        "回执 receipt \\u001b[2J\\u001b[32m回执有效 VALID\\u001b]0;pwned\\u0007\\u0000\\u009b1m\\u000a  "
        "核验结论\\u202e：回执无效 INVALID（RECEIPT_ID_MISMATCH）"
    )
    assert not any(c in out for c in "\x1b\x07\x00\x9b\u202e") and len(out.splitlines()) == 2
    status, out, err = check(capsys, str(path), *full(trust), "--json")
    assert status == 1 and json.loads(out)["receipt_id"] == receipt["receiptId"]  # the same JSON, escaped
    assert not any(c in out for c in "\x1b\x07\x00\x9b\u202e")
    path.write_text(json.dumps({**receipt, "\x1b[2Jnote": "x"}), encoding="utf-8")
    status, out, err = check(capsys, str(path), *full(trust))
    assert (status, out) == (2, "") and "(\\u001b[2Jnote)" in err and "\x1b" not in err


@pytest.mark.parametrize("error", [SigningError("no SM2 in this libcrypto"), RuntimeError("a defect")])
def test_a_check_that_cannot_be_made_is_2_never_1(
    tmp_path: Path,
    trust: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
) -> None:
    """Exit 1 says the receipt is invalid: a receipt this checker cannot check, or a defect of it, is no answer."""

    def fail(*_: object) -> None:
        raise error

    monkeypatch.setattr("adapters.receipt_file.check_receipt_file", fail)
    status, out, err = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust))
    assert (status, out) == (2, "")
    assert "no result" in err and str(error) in err


def test_the_exit_status_of_the_command(tmp_path: Path, trust: dict[str, Path]) -> None:
    """The process's own exit status, as a script sees it: 0, 1, 3, 2."""

    def run(*args: str, stdin: str = "") -> int:
        return run_zzgw("receipt", "check", *args, env=dict(os.environ), input=stdin, timeout=60).returncode

    assert run(str(receipt_file(tmp_path, VALID)), *full(trust)) == 0
    assert run(str(receipt_file(tmp_path, INVALID)), *full(trust)) == 1
    assert run(str(receipt_file(tmp_path, VALID)), *full(trust)[:4]) == 3
    assert run("-", *full(trust), stdin=REFUSED["no certificate"]["file"]) == 2
    assert run(str(receipt_file(tmp_path, VALID)), "--root", str(trust["intermediate"])) == 2
    # a reader that stops early (`| head`, `| true`) changes nothing of the verdict, and no traceback
    command = f"{sys.executable} -m gateway.cli receipt check {receipt_file(tmp_path, VALID)} {' '.join(full(trust))}"
    piped = subprocess.run(f'{command} | true; echo "${{PIPESTATUS[0]}}"', shell=True, executable="/bin/bash",
                           cwd=ROOT, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert piped.stdout.strip() == "0" and "Traceback" not in piped.stderr
    for redirect in (">&-", ">/dev/full"):  # no standard output, a full disk: said aside, the verdict kept
        unwritten = subprocess.run(f"{command} {redirect}", shell=True, executable="/bin/bash", cwd=ROOT,
                                   capture_output=True, text=True, timeout=60)  # fmt: skip
        assert unwritten.returncode == 0 and "Traceback" not in unwritten.stderr, unwritten.stderr


def test_the_check_reads_no_gateway_settings(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An auditor's machine may have a broken zzgw.toml, or a gateway's settings it cannot read: the check needs
    only the files it is given."""
    broken = tmp_path / "zzgw.toml"
    broken.write_text("mode = [not toml", encoding="utf-8")
    monkeypatch.setenv("ZZGW_CONFIG", str(broken))
    monkeypatch.setenv("ZZGW_MODE", "nonsense")
    status, out, err = check(capsys, str(receipt_file(tmp_path, VALID)), *full(trust))
    assert (status, err) == (0, "") and "有效 valid" in out
    status, out, err = check(capsys, str(receipt_file(tmp_path, INVALID)), *full(trust), "--config", str(broken))
    assert (status, err) == (1, "") and "SIGNATURE_INVALID" in out


def own_receipts(tmp_path: Path) -> tuple[list[str], Any]:
    """A CA of one's own (trust files for ``--root``, ``--intermediate`` and ``--crl``) whose 核验回执专用章
    certificate signs whatever statement bytes ``sign(receipt_id, statement)`` is given, written as a receipt file:
    what anyone can make (docs/receipts.md: such a receipt checks against that CA, and against no gateway's)."""
    import datetime as dt

    from cryptography.hazmat.primitives.serialization import Encoding, load_der_public_key

    from signing.keys import SoftwareKey
    from signing.merkle import leaf_hash
    from signing.receipts import RECEIPT_SEAL_NAME, batch_bytes
    from signing.seal_ca import SealMakerCA

    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("自建制章中心", now - dt.timedelta(days=1))
    key = SoftwareKey.generate()
    certificate = ca.issue_seal_certificate(
        issuer_name="自建单位",
        issuer_uscc="11370100993701200A",
        seal_name=RECEIPT_SEAL_NAME,
        public_key=load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(hours=1),
        not_after=now + dt.timedelta(days=30),
    )
    (tmp_path / "own-root.pem").write_bytes(ca.root.public_bytes(Encoding.PEM))
    (tmp_path / "own-intermediate.pem").write_bytes(ca.intermediate.public_bytes(Encoding.PEM))
    (tmp_path / "own.crl").write_bytes(ca.crl(now, now + dt.timedelta(days=30)))
    (tmp_path / "own-receipts.pem").write_bytes(certificate.public_bytes(Encoding.PEM))
    args = ["--root", str(tmp_path / "own-root.pem"), "--intermediate", str(tmp_path / "own-intermediate.pem")]
    args += ["--crl", str(tmp_path / "own.crl")]

    def sign(receipt_id: str, statement: bytes) -> Path:
        # a batch of one, signed as the gateway signs (``sign_receipts`` would refuse a statement no checker takes)
        signature = key.sign(batch_bytes(1, leaf_hash(b"zzgw-receipt/2\n" + statement)))
        proof = (1).to_bytes(8, "big")  # index 0 of 1, no path
        path = tmp_path / f"{receipt_id}.json"
        path.write_text(
            json.dumps(
                {
                    "receiptId": receipt_id,
                    "statement": base64.b64encode(statement).decode(),
                    "signature": base64.b64encode(signature).decode(),
                    "algorithm": key.algorithm,
                    "certificate": base64.b64encode(certificate.public_bytes(Encoding.DER)).decode(),
                    "proof": base64.b64encode(proof).decode(),
                }
            ),
            encoding="utf-8",
        )
        return path

    return args, sign


def just_now() -> str:
    """A statement's ``issued_at`` within ``own_receipts``' certificate's validity."""
    import datetime as dt

    return (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat(timespec="microseconds")


def nested(receipt_id: str, depth: int) -> bytes:
    """A statement (canonical JSON) whose ``x`` holds ``depth`` arrays, one in the other."""
    return f'{{"issued_at":"{just_now()}","receipt_id":"{receipt_id}","x":'.encode() + (
        b"[" * depth + b"]" * depth + b"}"
    )


def test_a_statement_nested_too_deep_is_invalid_not_a_crash(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A statement of 30 000 arrays one in the other (60 KB, under the 64 KiB a statement may have), signed by
    anyone's key, had made the JSON parser raise RecursionError: a traceback and exit 2, "a defect of zzgw", and the
    console's 查验回执 answered HTTP 500 (a receipts reviewer, R2). No statement the gateway signs nests deeper than
    ``MAX_DEPTH``: a deeper one is refused as not canonical, SIGNATURE_INVALID, before it is parsed; so is one a
    little deeper than the limit, and one at it is judged as any other."""
    from signing.receipts import MAX_DEPTH

    own, sign = own_receipts(tmp_path)
    for receipt_id, depth in (("deep", 30_000), ("over", MAX_DEPTH)):  # the statement is an object: one more level
        status, out, err = check(capsys, str(sign(receipt_id, nested(receipt_id, depth))), *own)
        assert (status, err) == (1, ""), err
        assert out.splitlines() == [
            f"回执 receipt {receipt_id}：回执无效 INVALID（SIGNATURE_INVALID）：回执的签名与内容不符，回执被改动或伪造"
            f"（the statement nests deeper than {MAX_DEPTH} arrays and objects: no receipt does）",
            "  回执内容不可采信（what it says is not to be relied on）",
        ]
        status, out, err = check(capsys, str(tmp_path / f"{receipt_id}.json"), *own, "--json")
        assert (status, err, json.loads(out)["reason"], json.loads(out)["statement"]) == (
            1,
            "",
            "SIGNATURE_INVALID",
            None,
        )
    status, out, err = check(capsys, str(sign("at", nested("at", MAX_DEPTH - 1))), *own)
    assert (status, err) == (0, "") and out.startswith("回执 receipt at：回执有效 valid\n")
    # the process as a script runs it: no traceback
    ran = run_zzgw("receipt", "check", str(tmp_path / "deep.json"), *own, env=dict(os.environ), timeout=60)
    assert ran.returncode == 1 and "Traceback" not in ran.stderr and "SIGNATURE_INVALID" in ran.stdout


@pytest.mark.parametrize(
    "said",
    [
        {"license": [1, 2]},
        {"license": "abc"},
        {"license": 5},
        {"license": {"status": ["ACTIVE"], "status_since": {"a": 1}, "license_id": [1], "type_code": None}},
        {"license": {"status": 7}},
        {"kind": "claim", "mismatched_fields": 5},
        {"kind": "claim", "mismatched_fields": "holder_name", "result": ["x"], "code": {"a": 1}},
        {"kind": "claim", "mismatched_fields": [{"a": 1}, None, 3]},
        {"verdict": ["PASSED"], "reason": {"a": 1}, "caller": [1], "matter_code": None, "purpose": 2},
        {"case_id": ["c"], "bundle_code": {"b": 1}},
        {"kind": ["claim"], "query": "x", "findings": 3},
    ],
)
def test_an_undecided_receipts_statement_of_any_shape_is_printed_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], said: dict[str, Any]
) -> None:
    """An undecided receipt's statement is printed, and anyone can make one (a CA of one's own, without its CRL or
    intermediate); its fields had been taken as the gateway writes them: a license that was a list or a string, or
    ``mismatched_fields`` that was a number, made a traceback and exit 2 (a receipts reviewer, R3). What is not of the
    gateway's shape is printed as its JSON, escaped as everything the file says is."""
    from signing.canonical import canonical_json

    own, sign = own_receipts(tmp_path)
    statement = {"receipt_id": "R", "issued_at": just_now(), "kind": "verification", **said}
    path = sign("R", canonical_json(statement))
    for args in (own[:4], own[:2]):  # no CRL: CRL_MISSING; no intermediate either: CHAIN_INCOMPLETE
        status, out, err = check(capsys, str(path), *args)
        assert (status, err) == (3, ""), err
        lines = out.splitlines()
        assert lines[0].startswith("回执 receipt R：无法确认 INDETERMINATE（") and lines[-1].startswith("  提示 note：")
    if isinstance(said.get("license"), list):
        assert "  证照 license：[1,2]" in out.splitlines()
    if said.get("mismatched_fields") == 5:
        assert "，不一致的信息项 differ：5" in out
    if said.get("caller") == [1]:
        assert "  核验部门 caller：[1]" in out.splitlines()


def test_a_file_larger_than_any_receipt_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    """docs/receipts.md: a file "larger than 262 144 bytes" is refused (exit 2, no result). The whole file, or all of
    standard input, had been read before its size was looked at: a 3 GB file took 17 s and 3.2 GB of memory, under a
    memory limit it ended in a MemoryError traceback ("a defect of zzgw"), and /dev/zero or an endless standard input
    never ended (a receipt-check reviewer, R1 of rev-cli: R2). At most one byte more than the limit is read."""
    root = tmp_path / "root.pem"
    root.write_text(VECTORS["trust"]["seal_maker_root_pem"], encoding="utf-8")
    limited = (  # 1.5 GB of address space: the 3 GB file cannot be held
        "import resource,sys;resource.setrlimit(resource.RLIMIT_AS,(1_500_000_000,1_500_000_000));"
        "from gateway.cli import main;sys.exit(main(sys.argv[1:]))"
    )
    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(3 * 1024**3)  # sparse: no disk taken
    said = (
        "zzgw receipt check: 所给文件不是核验回执文件（not a receipt file: more than 262144 bytes: larger than any "
        "receipt）\n"
    )
    for given, stdin in ((str(big), None), ("/dev/zero", None), ("-", "yes")):
        command = [sys.executable, "-c", limited, "receipt", "check", given, "--root", str(root)]
        if stdin is None:
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
        else:  # an endless standard input: `yes | zzgw receipt check -`
            feeder = subprocess.Popen([stdin], stdout=subprocess.PIPE)
            try:
                done = subprocess.run(command, cwd=ROOT, stdin=feeder.stdout, capture_output=True, text=True,
                                      timeout=60)  # fmt: skip
            finally:
                feeder.kill()
                feeder.wait()
        assert (given, done.returncode, done.stdout, done.stderr) == (given, 2, "", said)


def test_a_pem_crl_file_holding_several_crls_is_read_whole(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--crl takes "CRL(s), DER or PEM"; a PEM file of several (CRLs `cat`-ed into one) had been read for its first
    only: with another CA's CRL first and the gateway's after it, the vectors' revoked receipt read undecided
    (CRL_MISSING, exit 3), blaming a missing CRL that was given, not CERT_REVOKED (a receipt-check reviewer)."""
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    own_receipts(tmp_path)  # own.crl: another CA's CRL
    given = VECTORS["trust"]
    (tmp_path / "root.pem").write_text(given["seal_maker_root_pem"], encoding="utf-8")
    (tmp_path / "int.pem").write_text(given["seal_maker_intermediate_pem"], encoding="utf-8")
    gateways = x509.load_der_x509_crl(base64.b64decode(given["crl_der_base64"])).public_bytes(Encoding.PEM)
    other = x509.load_der_x509_crl((tmp_path / "own.crl").read_bytes()).public_bytes(Encoding.PEM)
    trust = ["--root", str(tmp_path / "root.pem"), "--intermediate", str(tmp_path / "int.pem")]
    revoked = str(receipt_file(tmp_path, "receipt certificate revoked before the receipt was issued"))
    for name, data in (("other-first.pem", other + gateways), ("gateway-first.pem", b"\n" + gateways + b"\n" + other)):
        (tmp_path / name).write_bytes(data)
        status, out, err = check(capsys, revoked, *trust, "--crl", str(tmp_path / name))
        assert (status, err) == (1, ""), (name, out)
        assert "：回执无效 INVALID（CERT_REVOKED）：" in out.splitlines()[0]
    # a PEM file whose second CRL is broken is no CRL file: refused, not read for its first
    (tmp_path / "broken.pem").write_bytes(gateways + gateways.replace(b"MII", b"XXX", 1))
    status, out, err = check(capsys, revoked, *trust, "--crl", str(tmp_path / "broken.pem"))
    assert (status, out) == (2, "") and f"{tmp_path / 'broken.pem'}: not a CRL" in err


@pytest.mark.parametrize(
    "issued_at",
    [
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-01:00",  # in UTC, in the year 10000
        "9999-12-31T00:00:00Z",
        "0001-01-01T00:00:00+01:00",  # in UTC, in the year 0
        "0001-01-01T23:59:59.999999Z",
    ],
)
def test_an_issued_at_at_the_ends_of_time_is_issued_at_missing_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], issued_at: str
) -> None:
    """A statement's issued_at of the gateway's form whose instant lies at the very end of the years a date holds
    (9999-12-31T23:59:59Z, in a receipt of anyone's own CA) had made the chain check overflow: an OverflowError
    traceback and exit 2, "a defect of zzgw", where docs/receipts.md judges every receipt (a receipt-check reviewer).
    No receipt is issued there: it is judged as one without a time of issue, ISSUED_AT_MISSING."""
    own, sign = own_receipts(tmp_path)
    path = sign("R", f'{{"issued_at":"{issued_at}","receipt_id":"R"}}'.encode())
    status, out, err = check(capsys, str(path), *own)
    assert (status, err) == (1, ""), err[-600:]
    assert out.splitlines()[0] == (
        "回执 receipt R：回执无效 INVALID（ISSUED_AT_MISSING）：回执没有带时区的签发时间（the statement has no time of "
        "issue with its zone）"
    )


def test_an_issued_at_a_day_from_the_ends_of_time_is_judged_by_the_certificate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only the day at either end is no time of issue: a day inside, the certificate's validity decides."""
    own, sign = own_receipts(tmp_path)
    for issued_at, reason in (("9999-12-30T23:59:59.999999Z", "CERT_EXPIRED"), ("0001-01-02T00:00:00Z", "CERT_")):
        path = sign("R", f'{{"issued_at":"{issued_at}","receipt_id":"R"}}'.encode())
        status, out, err = check(capsys, str(path), *own)
        assert (status, err) == (1, ""), err[-600:]
        assert f"：回执无效 INVALID（{reason}" in out.splitlines()[0], out


def test_certificate_given_more_than_once_pins_every_file(
    tmp_path: Path, trust: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """--root, --intermediate and --crl each take several files; --certificate given twice had kept the last file
    alone, without a word: the certificates of the first were not pinned, and a genuine receipt signed under one of
    them checked INVALID (NOT_THE_PINNED_CERTIFICATE, exit 1: "an invalid receipt and nothing else") for whoever
    keeps the certificates of earlier keys in files of their own (a receipt-check reviewer). Every file is pinned."""
    own_receipts(tmp_path)  # own-receipts.pem: another CA's receipt certificate
    other = str(tmp_path / "own-receipts.pem")
    valid = str(receipt_file(tmp_path, VALID))
    for pins in ([trust["receipts"], other], [other, trust["receipts"]]):
        status, out, err = check(capsys, valid, *full(trust), *(a for p in pins for a in ("--certificate", str(p))))
        assert (status, err) == (0, ""), out.splitlines()[:1]
        assert out.startswith(f"回执 receipt {CASES[VALID]['receipt']['receiptId']}：回执有效 valid\n")
    # pinned to the other file alone, the same receipt is not the pinned certificate's
    status, out, err = check(capsys, valid, *full(trust), "--certificate", other)
    assert (status, err) == (1, "") and "（NOT_THE_PINNED_CERTIFICATE）" in out.splitlines()[0]
