"""``zzgw verify`` against a real gateway over a socket: every way in (identifier, number with the type's code or
name, ``ZZ1:`` code, a photo of the QR code, the PDF), the report as an operator reads it, its exit status, the
receipt file, and what cannot be asked refused before anything is sent."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import text as sql

from adapters import verify_command
from adapters.receipt_file import TrustMaterial, check_receipt_file, check_text, read_receipt
from adapters.records import issue_request
from adapters.verify_command import EXIT_NO_ANSWER, BadInput, answer_json, answer_text, verify
from gateway.bootstrap import samples
from gateway.cli import main
from gateway.domain.audit import AuditAction
from gateway.domain.identifiers import LicenseId
from protos.zzgw.v1 import issuance_pb2, verification_pb2
from signing.qr import qr_png
from tests.adapters.test_console import blank_png
from tests.api.test_documents import document_of
from tests.api.test_issuance import unique
from tests.api.test_verification import FPSL as MATTER
from tests.api.test_verification import batch_issue_for_invoices as batch_issue
from tests.api.test_verification import change, qr_for, receipt_statement
from tests.api.test_verification import issue_for_invoices as issue
from tests.commands import run_zzgw
from tests.conftest import CIVIL, MARKET, POLICE, TAX, RunningGateway, today, trail_rows
from tests.test_catalog_change import CSDJ

ROOT = Path(__file__).resolve().parents[2]
USE = verification_pb2.UseContext(matter_code=MATTER, purpose="企业开办窗口核验")
"""The tax bureau's use: ``MATTER`` is 发票申领, a matter it handles (a department acts only under its own)."""
LIMIT = 4 * 1024 * 1024


def check(running: RunningGateway, what: str, **options: str) -> tuple[int, str, verification_pb2.VerificationReport]:
    answer = verify(running.channel(TAX), what, USE, max_file_bytes=LIMIT, **options)
    return answer.exit_status, answer_text(answer), answer.report


def test_every_way_in_gives_the_report_with_its_exit_status(running: RunningGateway, tmp_path: Path) -> None:
    issued = issue(running, 41).license
    license_id = issued.license_id

    status, text, report = check(running, license_id, operator="窗口05 李娜")
    assert status == 0 and report.verdict == verification_pb2.CHECK_RESULT_PASSED
    lines = text.splitlines()
    assert lines[0] == "核验通过 PASSED"
    assert any(line.split() == ["完整性", "integrity", "通过", "PASSED"] for line in lines)
    assert f"营业执照 {license_id}（版本 version 1）" in text and "有效 ACTIVE" in text
    # whose license it is, to compare with the applicant: a company's name and code whole (public registration data)
    # under the labels of an organisation: 单位名称 and 统一社会信用代码, not a person's 持证人 and 持证人证件号码 (a
    # government-service editor)
    holder = {line.split()[0]: line.split()[-1] for line in lines if line.strip().startswith(("单位名称", "统一社会"))}
    assert holder == {"单位名称": issued.holder.name, "统一社会信用代码": issued.holder.code}
    assert "持证人" not in text and "持证主体" not in text
    assert "请与申请单位的名称和统一社会信用代码核对" in text and "身份证件" not in text
    assert "登记的文件" not in text and "回执编号 receipt" in text and report.receipt.receipt_id in text
    assert "发证部门 issuer" in text and "签发机构" not in text
    # a 营业执照 has no validity (its 营业期限 is a field): no 有效期 row its paper does not have (a reviewer)
    assert "有效期 validity" not in text and "长期" not in text

    by_name = check(running, issued.license_number, type_="营业执照")[2]
    by_code = check(running, issued.license_number, type_=issued.type_code)[2]
    assert by_name.license.license_id == by_code.license.license_id == license_id

    code, _ = qr_for(running, license_id)
    status, text, report = check(running, code)
    assert report.license.license_id == license_id and issued.holder.code in text
    photo = Image.new("RGB", (900, 700), "white")  # the code photographed on a page
    photo.paste(Image.open(io.BytesIO(qr_png(code, scale=3))).convert("RGB"), (300, 200))
    jpeg = tmp_path / "photo.jpg"
    photo.save(jpeg, format="JPEG", quality=90)
    status, _, report = check(running, str(jpeg))
    assert status == 0 and report.license.license_id == license_id

    pdf = document_of(running, license_id).pdf
    (tmp_path / "license.pdf").write_bytes(pdf)
    status, text, report = check(running, str(tmp_path / "license.pdf"))
    assert status == 0 and report.license.license_id == license_id and "是 yes" in text.split("登记的文件")[1]
    (tmp_path / "edited.pdf").write_bytes(pdf.replace(b"/Contents", b"/Contentz", 1))  # no suffix check: bytes
    status, text, report = check(running, str(tmp_path / "edited.pdf"))
    assert status == 1 and report.integrity.result == verification_pb2.CHECK_RESULT_FAILED
    assert "核验未通过 FAILED" in text and "未查看 not looked at" in text  # a changed document names nothing

    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    status, text, report = check(running, license_id)
    assert status == 1 and text.startswith("核验未通过 FAILED（证照已吊销或撤销 REVOKED）\n")  # the reason in words too
    assert f"已吊销或撤销 REVOKED 自 since {today().isoformat()}" in text

    status, text, report = check(running, "SC-NO-SUCH-NUMBER", type_="营业执照")
    assert status == 1 and report.reason == "LICENSE_NOT_FOUND" and "未找到该证照 none found" in text

    foreign = str(dataclasses.replace(LicenseId.parse(license_id), issuer_code=samples.uscc(903, region="440100")))
    status, text, report = check(running, foreign)  # another region's: undecided, and where to verify it
    assert status == 3
    assert text.startswith("无法确定 INDETERMINATE（发证部门不在本证照网关登记 NOT_IN_THIS_REGISTRY）\n")
    assert "请通过跨省通办渠道向该地区核验" in text and "证照网关核验" not in text  # no gateway it can reach (ADR 0017)
    # another city of the province: no 跨省 channel; a code of this gateway's own city is no other region's at all
    # (review fixrev2, R5)
    qingdao = str(dataclasses.replace(LicenseId.parse(license_id), issuer_code=samples.uscc(903, region="370200")))
    status, text, report = check(running, qingdao)
    assert status == 3 and report.status.reason == "NOT_IN_THIS_REGISTRY"
    assert "不是本证照网关登记的证照，请向该证照的发证地区核验" in text and "跨省" not in text, text
    assert "其发证机构可能属于其他地区的登记库" in text and "其发证机构属于" not in text
    jinan = str(dataclasses.replace(LicenseId.parse(license_id), issuer_code=samples.uscc(903, region="370100")))
    status, text, report = check(running, jinan)
    assert status == 1 and report.status.reason == "LICENSE_NOT_FOUND" and "未找到该证照 none found" in text
    assert "其他地区" not in text and "跨省" not in text

    # the access record names the operator, as x-zzgw-operator(-bin) does for any gRPC caller
    trail = running.gateway.audit
    assert trail is not None
    issuer = running.gateway.authenticator.by_token(running.tokens[MARKET])
    used = [
        r.entry.operator
        for r in trail.list(issuer)[0]
        if r.entry.license_id == license_id and r.entry.action is AuditAction.VERIFY_LICENSE
    ]
    assert "窗口05 李娜" in used


def test_what_cannot_be_asked_is_refused_before_anything_is_sent(running: RunningGateway, tmp_path: Path) -> None:
    def refused(what: str, **options: object) -> str:
        with pytest.raises(BadInput) as caught:
            verify(running.channel(TAX), what, USE, **{"max_file_bytes": LIMIT, **options})  # type: ignore[arg-type]
        return str(caught.value)

    # each said Chinese first, as the console says it, the English after (they had been English only)
    assert refused("SC-12345") == (
        "SC-12345 不是文件、证照标识或核验码；按证照编号核验时，请用 --type 指定证照类型"
        "（'SC-12345' is not a file, a license identifier or a ZZ1: code: give --type to look a license number up）"
    )
    assert "give --type" in refused("X" * 300 + "/" + "Y" * 300)  # no file can have that name: not an OSError
    said = refused("SC-12345", type_="驾照本")
    assert said.startswith("证照目录中没有证照类型“驾照本”，可选：") and "结婚证" in said  # the types there are
    assert said.endswith("by name or code）")
    assert "（no license type '驾照本' in the gateway's catalog: name one of its types" in said
    missing = tmp_path / "missing.pdf"
    assert refused(str(missing)) == f"找不到文件 {missing}（no such file: {missing}）"
    for suffix in (".tif", ".TIFF", ".webp", ".bmp", ".JPG"):  # a photo's kind: mistyped, not a number (a reviewer)
        photo = tmp_path / f"scan{suffix}"
        assert refused(str(photo), type_="营业执照") == f"找不到文件 {photo}（no such file: {photo}）"
    (tmp_path / "empty.pdf").write_bytes(b"")
    empty = tmp_path / "empty.pdf"
    assert refused(str(empty)) == f"所选文件 {empty} 是空的（0 字节）（{empty} is empty）"
    (tmp_path / "notes.txt").write_text("not a picture", encoding="utf-8")
    assert refused(str(tmp_path / "notes.txt")).endswith(
        "无法读取该图片，请用 PNG、JPEG、WebP、BMP 或 TIFF 图片"
        "（not an image of a kind that is read: PNG, JPEG, WebP, BMP or TIFF）"
    )
    (tmp_path / "web.png").write_bytes(qr_png("HTTPS://WWW.EXAMPLE.COM/"))
    assert refused(str(tmp_path / "web.png")).endswith(
        "图片中的二维码不是电子证照核验码（the QR code in the image is not a license's verification code, ZZ1:…）"
    )
    blank = tmp_path / "blank.png"
    Image.new("RGB", (300, 300), "white").save(blank)
    assert "图片中没有找到二维码，请拍得更近、更平整（no QR code found in the image" in refused(str(blank))
    (tmp_path / "big.pdf").write_bytes(b"%PDF-1.7\n" + b"0" * 5000)
    big = refused(str(tmp_path / "big.pdf"), max_file_bytes=4000)
    assert big.startswith(f"文件 {tmp_path / 'big.pdf'} 有 5,009 字节，超过证照网关可接收的上限 4,000 字节（")
    assert "the gateway takes at most 4,000, ZZGW_MAX_MESSAGE_BYTES）" in big


def zzgw_verify(running: RunningGateway, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}
    return run_zzgw("verify", *args, "--target", running.address, env=env, cwd=cwd, timeout=60)


def test_the_command_writes_the_receipt_and_exits_with_the_verdict(running: RunningGateway, tmp_path: Path) -> None:
    license_id = issue(running, 42).license.license_id
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领", "--operator", "税务窗口02"]
    kept = tmp_path / "receipt.json"
    done = zzgw_verify(running, license_id, *use, "--receipt", str(kept))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("核验通过 PASSED\n") and f"→ {kept}" in done.stdout
    statement = receipt_statement(running, read_receipt(kept.read_bytes()))  # a real receipt: it chains, it verifies
    assert (statement["receipt_id"], statement["license"]["license_id"]) == (
        read_receipt(kept.read_bytes()).receipt_id,
        license_id,
    )
    assert statement["purpose"] == "企业开办：发票申领"
    before = len(trail_rows(running, "seq", "1 = 1"))
    for unwritable in (tmp_path / "no-such-folder" / "r.json", tmp_path):  # refused before anything is verified
        refused = zzgw_verify(running, license_id, *use, "--receipt", str(unwritable))
        assert refused.returncode == 2 and "--receipt" in refused.stderr and "Traceback" not in refused.stderr
    assert len(trail_rows(running, "seq", "1 = 1")) == before

    change(running, license_id, issuance_pb2.STATUS_ACTION_CANCEL)
    as_json = zzgw_verify(running, license_id, *use, "--json")
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)["report"]
    assert (report["verdict"], report["reason"], report["license"]["status"]) == (
        "CHECK_RESULT_FAILED",
        "CANCELLED",
        "LICENSE_STATUS_CANCELLED",
    )

    refused = zzgw_verify(running, license_id, "--member", TAX, "--matter", "NO-SUCH-MATTER", "--purpose", "x")
    assert refused.returncode == 4
    # Chinese first, with what to do
    said = "use.matter_code: 事项目录中没有事项编码 NO-SUCH-MATTER，请按事项目录填写（unknown matter 'NO-SUCH-MATTER'）"
    assert refused.stderr.startswith(f"zzgw verify: 证照网关 {running.address} 拒绝了本次请求（the gateway at ")
    assert f"answered INVALID_ARGUMENT (UNKNOWN_MATTER)）：{said}" in refused.stderr
    stranger = zzgw_verify(running, license_id, "--member", "91370100MA00000000", "--matter", MATTER, "--purpose", "x")
    assert stranger.returncode == 2 and "zzgw verify: 开发令牌文件 " in stranger.stderr
    assert "中没有成员 91370100MA00000000 的令牌" in stranger.stderr
    unreadable = zzgw_verify(running, str(tmp_path / "nothing.pdf"), *use)
    assert unreadable.returncode == 2 and "zzgw verify: 找不到文件 " in unreadable.stderr


def test_an_image_the_decoder_cannot_take_is_bad_input_not_a_defect(running: RunningGateway, tmp_path: Path) -> None:
    """A PNG 65,536 px wide (39 megapixels, a few KB) had made zxing-cpp raise and the command end as its own defect
    (exit 5, a traceback; a penetration tester): it is refused as a photo too large is, exit 2, saying why, and
    nothing is sent; so is a TIFF in a colour mode Pillow cannot make grey (LAB), which had made zxing-cpp raise too."""
    wide, lab = tmp_path / "wide.png", tmp_path / "lab.tiff"
    wide.write_bytes(blank_png(65_536, 600))
    Image.new("LAB", (300, 300)).save(lab, "TIFF")
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领"]
    before = len(trail_rows(running, "seq", "1 = 1"))
    too_wide = (
        "图片过宽或过高（65536×600，每边最多 65,535 像素）（the image is 65536×600 pixels; at most 65,535 a side）"
    )
    for image, said in ((wide, too_wide), (lab, "图片无法读取（the image cannot be read: ")):
        done = zzgw_verify(running, str(image), *use)
        assert (done.returncode, done.stdout) == (verify_command.EXIT_BAD_REQUEST, ""), done.stderr
        assert done.stderr.startswith(f"zzgw verify: {image}：{said}"), done.stderr
        assert "Traceback" not in done.stderr
    assert len(trail_rows(running, "seq", "1 = 1")) == before


def test_a_defect_of_zzgw_is_no_verdict(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A crash of the command itself ends with 5 and says so; Python's own 1 would read as FAILED to a script."""

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a defect")

    monkeypatch.setattr(verify_command, "verify", broken)
    for name, value in {"ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}.items():
        monkeypatch.setenv(name, value)
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领"]
    status = main(["verify", issue(running, 46).license.license_id, *use, "--target", running.address])
    err = capsys.readouterr().err
    assert status == verify_command.EXIT_DEFECT == 5
    assert "RuntimeError: a defect" in err
    assert err.endswith("没有核验结论（zzgw failed: a defect, not a verdict on the license; no verdict）\n")


def test_a_matter_of_another_department_is_refused_by_the_gateway(running: RunningGateway, tmp_path: Path) -> None:
    """The tax bureau naming the 公安局's 企业印章刻制: the gateway refuses (exit 4, its words printed, no report and
    no receipt) and puts the refusal on the audit trail with the operator."""
    license_id = issue(running, 45).license.license_id
    operator = "税务窗口" + uuid.uuid4().hex[:8]
    kept = tmp_path / "receipt.json"
    use = ["--matter", "370100-QYKZ-001", "--purpose", "企业开办：刻制公章", "--operator", operator]
    done = zzgw_verify(running, license_id, "--member", TAX, *use, "--receipt", str(kept))
    assert done.returncode == EXIT_NO_ANSWER == 4 and done.stdout == ""
    said = (
        f"zzgw verify: 证照网关 {running.address} 拒绝了本次请求"
        f"（the gateway at {running.address} answered PERMISSION_DENIED (NOT_MATTER_DEPARTMENT)）："
    )
    assert done.stderr.startswith(said)
    assert (
        "事项 370100-QYKZ-001（企业印章刻制）由济南市公安局办理，"
        "本部门不能以该事项核验或调取证照，请选择本部门办理的事项"
    ) in done.stderr
    assert not kept.exists()
    columns = "caller, action, matter_code, decision, reason"
    assert trail_rows(running, columns, "operator = :operator", operator=operator) == [
        (TAX, AuditAction.VERIFY_LICENSE.value, "370100-QYKZ-001", "DENIED", "NOT_MATTER_DEPARTMENT")
    ]
    # the 公安局 under the same matter is answered: the refusal is of the pair
    answered = zzgw_verify(running, license_id, "--member", POLICE, *use)
    assert answered.returncode == 0 and answered.stdout.startswith("核验通过 PASSED\n"), answered.stderr


def test_a_license_not_yet_valid_is_not_shown_as_active(running: RunningGateway) -> None:
    later = (today() + dt.timedelta(days=3)).isoformat()
    license_id = batch_issue(running, 44, valid_from=later)
    status, text, report = check(running, license_id)
    assert status == 1 and report.reason == "NOT_YET_VALID"
    assert f"尚未生效 NOT_YET_VALID 生效日期 valid from {later}" in text and "有效 ACTIVE" not in text


def test_a_status_changed_behind_the_gateways_back_is_not_stated(running: RunningGateway) -> None:
    license_id = issue(running, 47).license.license_id
    change(running, license_id, issuance_pb2.STATUS_ACTION_REVOKE)
    with running.gateway.db.engine.begin() as connection:
        connection.execute(sql("UPDATE licenses SET status = 'ACTIVE' WHERE license_id = :id"), {"id": license_id})
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    status, said, report = check(running, license_id)
    assert status == 1 and report.integrity.reason == "STATUS_ALTERED"
    (line,) = [line for line in said.splitlines() if "证照状态 license status" in line]
    assert "无法确认：记录被绕过网关改动（" in line and "有效" not in line and "UNSPECIFIED" not in line
    # its receipt states no status: `zzgw receipt check` says so in the same words (it had printed 当时状态：）)
    assert "当时状态：无法确认：记录被绕过网关改动（unknown" in receipt_checked(running, report.receipt)


def test_a_record_changed_behind_the_gateways_back_states_no_dates_and_no_holder(running: RunningGateway) -> None:
    license_id = issue(running, 48).license.license_id
    with running.gateway.db.engine.begin() as connection:
        connection.execute(
            sql("UPDATE licenses SET valid_until = '2099-12-31', holder_name = '冒名公司' WHERE license_id = :id"),
            {"id": license_id},
        )
    running.gateway.feed.committed([f"license:{license_id}"])  # type: ignore[union-attr]
    status, said, report = check(running, license_id)
    assert status == 1 and report.integrity.reason == "RECORD_ALTERED"
    (validity,) = [line for line in said.splitlines() if "有效期 validity" in line]
    assert "无法确认：记录被绕过网关改动（" in validity and "2099" not in said and "长期" not in said
    assert "单位名称" not in said and "冒" not in said
    assert "当时状态：无法确认：记录被绕过网关改动（unknown" in receipt_checked(running, report.receipt)


def receipt_checked(running: RunningGateway, receipt: verification_pb2.Receipt) -> str:
    """What `zzgw receipt check` prints of ``receipt``, with the gateway's trust material; it is valid."""
    seals = running.gateway.seals
    assert seals is not None
    trust = TrustMaterial(roots=[seals.ca.root], intermediates=[seals.ca.intermediate], crls=[seals.crl()])
    said = check_text(receipt, check_receipt_file(receipt, trust))
    assert said.startswith(f"回执 receipt {receipt.receipt_id}：回执有效 valid\n"), said
    return said


def test_the_json_is_the_response_in_protobuf_json(running: RunningGateway) -> None:
    license_id = issue(running, 43).license.license_id
    answer = verify(running.channel(TAX), license_id, USE, max_file_bytes=LIMIT)
    parsed = json.loads(answer_json(answer))
    assert parsed["report"]["license"]["licenseId"] == license_id and "receipt" in parsed["report"]


def test_what_a_terminal_would_act_on_in_an_answer_is_printed_as_escapes() -> None:
    """The report quotes what others wrote (an issuer's names, what a forged code claims) and the gateway answering
    may be any: ESC, C1's CSI and a line break in it are printed as their code points, in the text and the JSON."""
    import grpc

    from gateway.cli import _refusal

    hostile = "\x1b[2J\x1b]0;pwned\x07\x9b32m核验通过\n  伪造的一行 a forged line"
    report = verification_pb2.VerificationReport(
        verdict=verification_pb2.CHECK_RESULT_FAILED,
        reason="SIGNATURE_INVALID",
        integrity=verification_pb2.Finding(
            result=verification_pb2.CHECK_RESULT_FAILED, reason="SIGNATURE_INVALID", detail=hostile
        ),
        license=verification_pb2.LicenseSummary(license_id="x", type_name=hostile, issuer_name=hostile),
    )
    answer = verify_command.Answer(report=report, response=verification_pb2.VerifyLicenseResponse(report=report))
    for said in (answer_text(answer), answer_json(answer)):
        assert not any(c in said for c in "\x1b\x07\x9b") and "\\u001b[2J" in said
    assert "\n  伪造的一行" not in answer_text(answer) and "\\u000a  伪造的一行" in answer_text(answer)
    assert json.loads(answer_json(answer))["report"]["integrity"]["detail"] == hostile  # the same JSON

    class Refused(grpc.RpcError):
        def code(self) -> grpc.StatusCode:
            return grpc.StatusCode.INVALID_ARGUMENT

        def details(self) -> str:
            return hostile

        def trailing_metadata(self) -> tuple[()]:
            return ()

    said = _refusal("gw:443", Refused())
    assert said.startswith(
        "证照网关 gw:443 拒绝了本次请求（the gateway at gw:443 answered INVALID_ARGUMENT）：\\u001b[2J"
    )
    assert not any(c in said for c in "\x1b\x07\x9b\n")


def test_a_case_without_its_bundle_or_a_bundle_without_its_case_is_bad_input(running: RunningGateway) -> None:
    """The gateway would answer use.bundle_code REQUIRED (exit 4, "the gateway refused"): the command refuses it
    itself, exit 2, saying which option is missing, before looking for credentials or sending anything."""
    license_id = issue(running, 46).license.license_id
    use = ["--matter", MATTER, "--purpose", "企业开办：发票申领"]
    for given, said in (
        (["--case", "1"], "--case needs --bundle"),
        (["--bundle", "QYKB"], "--bundle needs --case"),
    ):
        for member in (TAX, "91370100MA00000000"):  # a member without credentials too: the options are said first
            done = zzgw_verify(running, license_id, "--member", member, *use, *given)
            assert (done.returncode, done.stdout) == (2, ""), done.stderr
            assert done.stderr == (
                "zzgw verify: 一件事的办件须同时给出 --bundle（一件事编码）和 --case（办件编号），或都不给"
                f"（{said}: a bundle's case is named by its bundle's code and its case number together; give both, "
                "or neither）\n"
            )
    alone = verification_pb2.UseContext(matter_code=MATTER, purpose="x", case_id="1")
    with pytest.raises(BadInput, match="--case needs --bundle"):
        verify(running.channel(TAX), license_id, alone, max_file_bytes=LIMIT)


def test_the_command_waits_past_the_stores_busy_timeout() -> None:
    """A store held by another writer is answered UNAVAILABLE / DATABASE_BUSY after the gateway's 30 s: the command's
    own deadline must come later, or the operator reads DEADLINE_EXCEEDED and no reason (an operator tester)."""
    from adapters.verify_command import CALL_SECONDS
    from gateway.store.database import BUSY_TIMEOUT_MS

    assert CALL_SECONDS > BUSY_TIMEOUT_MS / 1000 + 5


def test_the_holder_is_labelled_by_its_kind(running: RunningGateway) -> None:
    """A person's license names its holder 持证人 with a 公民身份号码 (masked), a company's 单位名称 with a
    统一社会信用代码 (whole); another person's document 证件号码, and a holder of no known kind 持证主体 and
    持证主体代码. A company had been labelled 持证人 / 持证人证件号码, which a company has not (a government-service
    editor)."""
    from tests.api.test_sharing import BDCZY, REAL_ESTATE, id_card

    card = id_card(running).license
    answer = verify(running.channel(REAL_ESTATE), card.license_id, BDCZY, max_file_bytes=LIMIT)
    assert answer.report.license.holder_code_type == "111"  # the reply names it; a receipt holds no holder
    lines = answer_text(answer).splitlines()
    rows = {line.split()[0]: line.split()[-1] for line in lines if line.strip().startswith(("持证人", "公民身份号码"))}
    summary = answer.report.license
    assert rows == {"持证人": summary.holder_name_masked, "公民身份号码": summary.holder_code_masked}
    assert "*" in rows["公民身份号码"] and "单位名称" not in "\n".join(lines)

    def labels(code_type: str, in_full: bool = False) -> list[str]:
        summary = verification_pb2.LicenseSummary(
            holder_name_masked="某", holder_code_masked="P3*****72", holder_code_type=code_type, holder_in_full=in_full
        )
        report = verification_pb2.VerificationReport(license=summary)
        said = answer_text(verify_command.Answer(report=report, response=verification_pb2.VerifyLicenseResponse()))
        return [line.split()[0] for line in said.splitlines()[5:7]]

    card_text = answer_text(answer)
    assert answer.expires is True and "有效期 validity" in card_text  # a 居民身份证 has one
    assert labels("414") == ["持证人", "证件号码"]
    assert labels("001", in_full=True) == ["单位名称", "统一社会信用代码"]
    assert labels("099") == labels("") == ["持证主体", "持证主体代码"]


def test_a_newborns_certificate_is_compared_with_the_parent_who_applies(running: RunningGateway) -> None:
    """A newborn registered under the hospital's code (099) has no ID card to compare: the command had told the
    operator to check it against the applicant's own ID, "本人的证照", where a parent applies (a reviewer, R5)."""
    from adapters.demo import HEALTH, _birth_certificate

    certificate = running.issuance(HEALTH).IssueLicense(issue_request(_birth_certificate(700_001))).license
    answer = verify(running.channel(POLICE), certificate.license_id, CSDJ, max_file_bytes=LIMIT)
    assert answer.report.license.holder_code_type == "099"
    said = answer_text(answer)
    assert "请核对申请人（父母或监护人）的身份证件与证照所载的父母信息" in said, said
    assert "确认是本人的证照" not in said, said


def test_the_example_in_console_md_is_what_the_command_prints(running: RunningGateway, tmp_path: Path) -> None:
    """docs/console.md's example, run as it is written against a 结婚证's PDF: the command prints it line for line,
    but for what differs each run (the identifier, the holder masked, the time, the receipt's number). The example
    had left out the 核对 row the command prints after the holder's (a reviewer)."""
    doc = (ROOT / "docs" / "console.md").read_text(encoding="utf-8")
    example = doc.split("## From the command line: `zzgw verify`", 1)[1].split("```\n", 2)[1]
    command, printed = example.replace("\\\n", "").split("\n", 1)  # the command's line continued
    args = shlex.split(command.removeprefix("$ zzgw verify "))
    record = unique(samples.marriage_certificate(uuid.uuid4().int % 1000))
    marriage = running.issuance(CIVIL).IssueLicense(issue_request(record)).license
    (tmp_path / "license.pdf").write_bytes(document_of(running, marriage.license_id, CIVIL).pdf)
    done = zzgw_verify(running, *args, cwd=tmp_path)  # receipt.json written there
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "receipt.json").exists()
    assert varying(done.stdout) == varying(printed), done.stdout


def varying(text: str) -> str:
    """``text`` with what differs from one run to the next put as a placeholder."""
    for pattern, placeholder in (
        (r"1\.2\.156\.[0-9A-Z.]+\.[0-9A-Z]", "<identifier>"),
        (r"[0-9a-f]{32}", "<receipt number>"),
        (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>"),
        (r"\b\d{4}\*{10}\d{3}[\dX]\b", "<公民身份号码 masked>"),
        (r"(?<=  )[\u4e00-\u9fff]\*+", "<name masked>"),
    ):
        text = re.sub(pattern, placeholder, text)
    return text


def test_a_code_cut_short_says_to_scan_again_not_that_it_is_forged(running: RunningGateway) -> None:
    """A journeys tester: a code missing its last characters (a handheld scanner's slip), or a bare ``ZZ1:``, was
    printed as 核验码不是真实签发的 (not a genuine one), while the console says in amber to scan again and that it does
    not mean the license is forged. The exit status stays the verdict's (1, FAILED); the words are the console's."""
    code, _ = qr_for(running, batch_issue(running, 47))
    for text in (code[:-10], code[:-12], "ZZ1:"):
        status, printed, report = check(running, text)
        assert status == 1 and report.integrity.reason == "MALFORMED", text
        assert "不是真实" not in printed and "genuine" not in printed, printed
        lines = printed.splitlines()
        assert lines[0] == "核验未通过 FAILED（核验码无法读取 MALFORMED）"
        assert lines[1].strip().startswith("核验码无法识别，请重新扫描"), printed
        assert "这不说明证照是伪造的" in lines[1] and "不要据此拒绝申请人" in lines[1]
        assert "未查看 not looked at" in printed
    forged = code[:-2] + ("A" if code[-2] != "A" else "B") + code[-1]  # inside the checksum: unreadable too
    assert "请重新扫描" in check(running, forged)[1]
    status, printed, _ = check(running, "SC-NO-SUCH-NUMBER", type_="营业执照")
    assert status == 1 and "请重新扫描" not in printed  # a license not found is no scanner's slip


def zzgw_verify_here(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    """``zzgw verify`` run in this process (so that a file system's failure can be made to happen): its exit status,
    standard output and standard error."""
    for name, value in {"ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CONFIG": ""}.items():
        monkeypatch.setenv(name, value)
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领"]
    status = main(["verify", *args, *use, "--target", running.address])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_file_that_cannot_be_read_is_bad_input_not_a_defect(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scan another user may not read, or a file removed between the check that it is one and its reading: said in
    one line, exit 2, nothing sent. Both had ended with a traceback and exit 5, "a defect of zzgw" (a reviewer)."""
    import errno

    code, _ = qr_for(running, batch_issue(running, 48))
    unreadable = tmp_path / "scan.png"
    unreadable.write_bytes(qr_png(code))
    unreadable.chmod(0)
    if os.geteuid() == 0:  # root reads it all the same: the refusal a clerk's own user meets is made here
        read_bytes = Path.read_bytes

        def denied(path: Path) -> bytes:
            if path == unreadable:
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return read_bytes(path)

        monkeypatch.setattr(Path, "read_bytes", denied)
    before = len(trail_rows(running, "seq", "1 = 1"))
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(unreadable))
    assert (status, out) == (verify_command.EXIT_BAD_REQUEST, "")
    denied_said = f"无法读取文件 {unreadable}：Permission denied（cannot read {unreadable}: Permission denied）"
    assert err == f"zzgw verify: {denied_said}\n"

    vanishing = tmp_path / "license.pdf"
    vanishing.write_bytes(b"%PDF-1.7\n" + b"0" * 100)
    is_file = verify_command._is_file

    def removed_after(path: Path) -> bool:
        found = is_file(path)
        path.unlink(missing_ok=True)  # as another program (a sync client, a clean-up) may between the two
        return found

    monkeypatch.setattr(verify_command, "_is_file", removed_after)
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(vanishing))
    assert (status, out) == (verify_command.EXIT_BAD_REQUEST, "")
    assert err == f"zzgw verify: 找不到文件 {vanishing}（no such file: {vanishing}）\n"
    assert len(trail_rows(running, "seq", "1 = 1")) == before


def test_a_file_in_a_folder_this_user_may_not_enter_cannot_be_read_not_no_such_file(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scan in another user's 0700 folder: whether it is a file cannot even be asked (Path.is_file raises EACCES),
    which had been said as "找不到文件 (no such file)" for a .png or .pdf and as "not a file, a license identifier or a
    ZZ1: code" for any other name (a reviewer). It is "cannot read", exit 2, nothing sent."""
    import errno

    folder = tmp_path / "他人目录"
    folder.mkdir()
    names = [folder / "scan.png", folder / "申请材料.pdf", folder / "扫描件"]
    for name in names:
        name.write_bytes(b"\x89PNG\r\n")
    folder.chmod(0o700)
    stat = Path.stat

    def no_entry(path: Path, **kwargs: bool) -> os.stat_result:  # as for a user who may not enter the folder
        if path.parent == folder:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return stat(path, **kwargs)

    monkeypatch.setattr(Path, "stat", no_entry)
    before = len(trail_rows(running, "seq", "1 = 1"))
    for name in names:
        status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(name))
        assert (status, out) == (verify_command.EXIT_BAD_REQUEST, ""), name
        assert err == f"zzgw verify: 无法读取文件 {name}：Permission denied（cannot read {name}: Permission denied）\n"
    assert len(trail_rows(running, "seq", "1 = 1")) == before


def test_the_receipt_never_replaces_the_file_verified_or_another_that_is_no_receipt(
    running: RunningGateway, tmp_path: Path
) -> None:
    """``--receipt`` naming the very file verified (a slip of tab completion) had verified it, then overwritten the
    applicant's PDF with the receipt, exit 0, without a word (a reviewer): refused before anything is verified, exit
    2, however the file is named. So is an existing file that is not a receipt; a receipt file (the command run
    again), an empty file or a new one are written."""
    code, _ = qr_for(running, batch_issue(running, 49))
    scan = tmp_path / "scan.png"
    scan.write_bytes(qr_png(code))
    notes = tmp_path / "notes.txt"
    notes.write_text("申请人材料清单", encoding="utf-8")
    os.link(scan, tmp_path / "same-scan.png")
    use = ["--member", TAX, "--matter", MATTER, "--purpose", "企业开办：发票申领"]
    before = len(trail_rows(running, "seq", "1 = 1"))
    for receipt in ("scan.png", "./scan.png", str(scan), "same-scan.png"):
        done = zzgw_verify(running, "scan.png", *use, "--receipt", receipt, cwd=tmp_path)
        assert (done.returncode, done.stdout) == (2, ""), done.stderr
        named = Path(receipt)  # as the argument parser hands it: ./scan.png is scan.png
        assert done.stderr == (
            f"zzgw verify: --receipt {named} 就是要核验的文件，回执不能覆盖它，请换一个文件名"
            f"（--receipt {named} is the file being verified: the receipt would overwrite it; name another file）\n"
        )
    done = zzgw_verify(running, "scan.png", *use, "--receipt", "notes.txt", cwd=tmp_path)
    assert (done.returncode, done.stdout) == (2, ""), done.stderr
    assert done.stderr == (
        "zzgw verify: --receipt notes.txt 已存在且不是核验回执，不会覆盖它，请换一个文件名或先移走它"
        "（--receipt notes.txt exists and is not a receipt: it is not overwritten; name another file, or move it）\n"
    )
    assert len(trail_rows(running, "seq", "1 = 1")) == before
    assert scan.read_bytes() == qr_png(code) and notes.read_text(encoding="utf-8") == "申请人材料清单"

    (tmp_path / "empty.json").write_bytes(b"")
    for receipt in ("receipt.json", "receipt.json", "empty.json"):  # new, then a receipt replaced, then an empty file
        done = zzgw_verify(running, str(scan), *use, "--receipt", receipt, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert read_receipt((tmp_path / receipt).read_bytes()).receipt_id in done.stdout
    (tmp_path / "elsewhere").mkdir()  # a dangling symlink: replaced itself, the file it names not created
    (tmp_path / "dangling.json").symlink_to(tmp_path / "elsewhere" / "made.conf")
    done = zzgw_verify(running, str(scan), *use, "--receipt", "dangling.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "dangling.json").is_symlink() and not any((tmp_path / "elsewhere").iterdir())


def test_a_file_that_appears_at_the_receipt_path_during_the_check_is_not_overwritten(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--receipt`` is checked before the gateway is asked; a file written at that name meanwhile (a scanner's output,
    a sync client) had been overwritten with the receipt, exit 0, without a word (a reviewer). It is kept: the verdict
    stands, and the message names `zzgw receipt get`; a receipt that appears there meanwhile is replaced, as one there
    before is. A symlink put there meanwhile is replaced itself, never followed: what it names is kept."""
    code, _ = qr_for(running, batch_issue(running, 50))
    scan = tmp_path / "scan.png"
    scan.write_bytes(qr_png(code))
    applicants = tmp_path / "申请材料原件.pdf"
    applicants.write_bytes(b"%PDF-1.7 the applicant's document\n")
    real_verify = verify_command.verify
    meanwhile: list[Callable[[Path], None]] = []

    def slow_verify(*args: Any, **kwargs: Any) -> verify_command.Answer:
        answer = real_verify(*args, **kwargs)
        meanwhile[-1](target)
        return answer

    monkeypatch.setattr(verify_command, "verify", slow_verify)
    target = tmp_path / "申请材料0.pdf"
    meanwhile.append(lambda path: path.write_bytes(b"%PDF-1.7 written meanwhile\n"))
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", str(target))
    assert status == 0, err
    receipt_id = out.split("回执编号 receipt")[1].split()[0]
    assert f"→ {target}" not in out
    fetch = f"zzgw receipt get {receipt_id} --member {TAX}"
    assert err == (
        f"zzgw verify: --receipt {target} 在核验期间出现了一个不是核验回执的文件，未覆盖它；可用 `{fetch}` 取回该回执"
        f"（--receipt {target}: a file that is not a receipt appeared there during the check: it is not "
        f"overwritten; `{fetch}` fetches the receipt）\n"
    )
    assert target.read_bytes() == b"%PDF-1.7 written meanwhile\n"

    target = tmp_path / "申请材料1.pdf"  # a symlink to the applicant's PDF: the link replaced, the PDF kept
    meanwhile.append(lambda path: path.symlink_to(applicants))
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", str(target))
    assert (status, err) == (0, ""), err
    assert not target.is_symlink() and read_receipt(target.read_bytes()).receipt_id in out
    assert applicants.read_bytes() == b"%PDF-1.7 the applicant's document\n"

    target = tmp_path / "receipt.json"  # another run's receipt, written meanwhile: replaced
    meanwhile.append(lambda path: None)
    first = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", str(tmp_path / "earlier.json"))
    assert first[0] == 0, first[2]
    meanwhile.append(lambda path: path.write_bytes((tmp_path / "earlier.json").read_bytes()))
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", str(target))
    assert (status, err) == (0, ""), err
    assert read_receipt(target.read_bytes()).receipt_id in out and f"→ {target}" in out


def test_the_receipt_get_a_verify_names_when_it_cannot_keep_the_receipt_fetches_it_as_pasted(
    running: RunningGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """When ``zzgw verify`` cannot keep the receipt (the file cannot be written, one that is not a receipt appeared
    there meanwhile, ``--receipt /dev/stdout``), it names the ``zzgw receipt get`` that fetches it; the command had
    no ``--member``, which ``zzgw receipt get`` requires, and pasted as written ended with a usage error, exit 2 (a
    reviewer). Each names the verifying member, and run as written it fetches the receipt."""
    code, _ = qr_for(running, batch_issue(running, 51))
    scan = tmp_path / "scan.png"
    scan.write_bytes(qr_png(code))
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", "/dev/full")
    assert status == 0, err
    receipt_id = out.split("回执编号 receipt")[1].split()[0]
    named = re.findall(r"`(zzgw receipt get [^`]*)`", err)
    assert named == [f"zzgw receipt get {receipt_id} --member {TAX}"] * 2, err

    real_verify = verify_command.verify

    def verify_then_write_there(*args: Any, **kwargs: Any) -> verify_command.Answer:
        answer = real_verify(*args, **kwargs)
        (tmp_path / "r.json").write_bytes(b"%PDF-1.7 written meanwhile\n")
        return answer

    monkeypatch.setattr(verify_command, "verify", verify_then_write_there)
    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", str(tmp_path / "r.json"))
    assert status == 0, err
    taken = out.split("回执编号 receipt")[1].split()[0]
    assert re.findall(r"`(zzgw receipt get [^`]*)`", err) == [f"zzgw receipt get {taken} --member {TAX}"] * 2, err

    status, out, err = zzgw_verify_here(running, monkeypatch, capsys, str(scan), "--receipt", "/dev/stdout")
    assert (status, out) == (2, ""), err
    assert re.findall(r"`(zzgw receipt get [^`]*)`", err) == [
        f"zzgw receipt get 回执编号 --member {TAX} -o /dev/stdout",
        f"zzgw receipt get ID --member {TAX} -o /dev/stdout",
    ], err

    for fetched in (receipt_id, taken):  # pasted as written (``-o`` to a file: stdout is pytest's capture here)
        kept = tmp_path / f"{fetched}.json"
        command = shlex.split(f"zzgw receipt get {fetched} --member {TAX}")[1:]
        assert main([*command, "--target", running.address, "-o", str(kept)]) == 0, capsys.readouterr().err
        assert read_receipt(kept.read_bytes()).receipt_id == fetched


def test_a_file_name_a_terminal_would_act_on_is_printed_as_escapes(running: RunningGateway, tmp_path: Path) -> None:
    """A file name holding ESC (a photo saved from a chat under its sender's name) had gone to the terminal as it is
    in every message naming it (ESC[2J clearing the screen, OSC 0 retitling the window), while typed text was
    escaped (a reviewer): every path is escaped alike."""
    hostile = "scan\x1b[2J\x1b]0;pwned\x07"
    photo = tmp_path / f"{hostile}.png"
    photo.write_text("hi", encoding="utf-8")
    missing = tmp_path / f"x{hostile}.pdf"
    empty = tmp_path / f"{hostile}.pdf"
    empty.write_bytes(b"")
    big = tmp_path / f"big{hostile}.pdf"
    big.write_bytes(b"%PDF-1.7\n" + b"0" * 5000)
    said = []
    for what, limit in ((photo, LIMIT), (missing, LIMIT), (empty, LIMIT), (big, 4000)):
        with pytest.raises(BadInput) as caught:
            verify(running.channel(TAX), str(what), USE, max_file_bytes=limit)
        said.append(str(caught.value))
    (tmp_path / hostile).mkdir()
    for receipt in (tmp_path / hostile, tmp_path / hostile / "no-such-folder" / "r.json"):  # a folder; none
        with pytest.raises(BadInput) as caught:
            verify_command.check_receipt_path(receipt)
        said.append(str(caught.value))
    for text in said:
        assert not any(c in text for c in "\x1b\x07"), text
        assert "scan\\u001b[2J\\u001b]0;pwned\\u0007" in text, text
