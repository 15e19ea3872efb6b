"""``zzgw verify``: one verification from the command line, made as a member (its dev token or client certificate),
for a matter and a purpose, with its receipt kept as a file if asked.

What to verify is read as a clerk's console reads it: a PDF file (``VerifyDocument``); an image file, a photo or scan
of the license's QR code (decoded here, then ``VerifyLicense`` by the code); a ``ZZ1:`` code; a license identifier;
or a license number with its type (code or name, e.g. 结婚证). The answer is printed as the report's verdict, its
three findings and the license summary the member may see, or as the protobuf JSON of the response (``--json``).
The exit status tells a script the verdict: 0 PASSED, 1 FAILED, 3 INDETERMINATE; 2 for a request that could not be
made (bad input, no credentials), 4 for a gateway that refused it or could not be reached.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import stat
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import json_format

from gateway.domain.audit import reason_words
from gateway.domain.errors import ZzgwError
from gateway.domain.model import beijing_time
from gateway.domain.verification import OWN_REGION, REGION_ADVICE, Elsewhere, advice, own_region_words
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, common_pb2, verification_pb2, verification_pb2_grpc

from .license_codes import MAX_QR_IMAGE_BYTES, QR_IMAGE_SUFFIXES, license_code_in, query_of
from .receipt_file import ALTERED, read_receipt, receipt_bytes, receipt_json
from .terminal import shown, shown_json

EXIT_PASSED, EXIT_FAILED, EXIT_INDETERMINATE, EXIT_BAD_REQUEST, EXIT_NO_ANSWER = 0, 1, 3, 2, 4
EXIT_DEFECT = 5
"""zzgw itself failed (a defect): no verdict. Python's own exit status for an uncaught exception is 1, FAILED's."""
_EXIT = {
    verification_pb2.CHECK_RESULT_PASSED: EXIT_PASSED,
    verification_pb2.CHECK_RESULT_FAILED: EXIT_FAILED,
    verification_pb2.CHECK_RESULT_INDETERMINATE: EXIT_INDETERMINATE,
}
_RESULTS = {
    verification_pb2.CHECK_RESULT_PASSED: "通过 PASSED",
    verification_pb2.CHECK_RESULT_FAILED: "未通过 FAILED",
    verification_pb2.CHECK_RESULT_INDETERMINATE: "无法确定 INDETERMINATE",
}
_VERDICTS = {
    verification_pb2.CHECK_RESULT_PASSED: "核验通过 PASSED",
    verification_pb2.CHECK_RESULT_FAILED: "核验未通过 FAILED",
    verification_pb2.CHECK_RESULT_INDETERMINATE: "无法确定 INDETERMINATE",
}
_STATUS = {
    common_pb2.LICENSE_STATUS_ACTIVE: "有效 ACTIVE",
    common_pb2.LICENSE_STATUS_SUSPENDED: "已暂停使用 SUSPENDED",
    common_pb2.LICENSE_STATUS_REVOKED: "已吊销或撤销 REVOKED",
    common_pb2.LICENSE_STATUS_CANCELLED: "已注销 CANCELLED",
    common_pb2.LICENSE_STATUS_SUPERSEDED: "已变更（不再现行） SUPERSEDED",
    common_pb2.LICENSE_STATUS_EXPIRED: "已过期 EXPIRED",
}
"""A status as the other surfaces say it (``LicenseStatus.label``), its code after."""
_FINDINGS = (
    ("integrity", "完整性 integrity"),
    ("status", "状态 status"),
    ("issuer_identity", "发证部门身份 issuer identity"),
)
_PDF_MAGIC = b"%PDF-"
UNREADABLE = frozenset({"MALFORMED", "TOO_LARGE", "NOT_ZZ1"})
"""The integrity reasons of a ``ZZ1:`` code that could not be read: cut short or misread, not forged."""
RESCAN = (
    "核验码无法识别，请重新扫描：核验码不完整或无法识别（可能扫描时漏读或截断了字符），这不说明证照是伪造的；"
    "仍无法识别时，请按证照编号核验（--type）或核验电子证照 PDF 文件，不要据此拒绝申请人"
    "（the code could not be read: scan it again; this does not say the license is forged. If it still cannot be "
    "read, verify by the license number with --type, or the license's PDF; do not turn the applicant away for it）"
)

CALL_SECONDS = 45
"""How long a call is waited for: past the 30 s for which the gateway waits on a store another writer holds
(``gateway.store.database.BUSY_TIMEOUT_MS``), so that its answer, UNAVAILABLE / DATABASE_BUSY, is the one shown, not
this client's own DEADLINE_EXCEEDED (found by an operator tester)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A verification's response, and which RPC gave it."""

    report: verification_pb2.VerificationReport
    response: verification_pb2.VerifyLicenseResponse | verification_pb2.VerifyDocumentResponse
    expires: bool | None = None
    """Whether the license's type has a validity at all (the catalog's ``expires``; None when not asked or not
    known): a 结婚证 or a 营业执照 has none, and its report says no 有效期 its paper does not have."""

    @property
    def registered_document(self) -> bool | None:
        if isinstance(self.response, verification_pb2.VerifyDocumentResponse):
            return self.response.registered_document
        return None

    @property
    def exit_status(self) -> int:
        return _EXIT.get(self.report.verdict, EXIT_INDETERMINATE)


class BadInput(ValueError):
    """What was given to verify cannot be made into a request; the message says why."""


def check_use(use: verification_pb2.UseContext) -> None:
    """BadInput for a use the gateway would refuse whatever is verified: a bundle without its case or a case without
    its bundle (the gateway's answer, UNKNOWN_BUNDLE for an empty bundle, would not say which option is missing)."""
    if bool(use.bundle_code) != bool(use.case_id):
        given, needed = ("--case", "--bundle") if use.case_id else ("--bundle", "--case")
        raise BadInput(
            "一件事的办件须同时给出 --bundle（一件事编码）和 --case（办件编号），或都不给"
            f"（{given} needs {needed}: a bundle's case is named by its bundle's code and its case number together; "
            "give both, or neither）"
        )


def verify(
    channel: grpc.Channel,
    what: str,
    use: verification_pb2.UseContext,
    *,
    type_: str = "",
    operator: str = "",
    max_file_bytes: int,
) -> Answer:
    """Verify ``what`` (a file's path, a ``ZZ1:`` code, an identifier, or a number of the license type ``type_``)
    over ``channel``; BadInput for what cannot be asked, ``grpc.RpcError`` for the gateway's refusal."""
    check_use(use)
    metadata = _operator_metadata(operator)
    stub = verification_pb2_grpc.VerificationServiceStub(channel)
    path = Path(what)
    named = shown(str(path))  # as typed text is shown: a file name's ESC had reached the terminal (a reviewer)
    if not what.upper().startswith("ZZ1:") and _is_file(path):
        data = _read(path, max(max_file_bytes, MAX_QR_IMAGE_BYTES))  # a photo is decoded here, not sent
        if data.startswith(_PDF_MAGIC) or path.suffix.lower() == ".pdf":
            if len(data) > max_file_bytes:
                raise BadInput(
                    f"文件 {named} 有 {len(data):,} 字节，超过证照网关可接收的上限 {max_file_bytes:,} 字节"
                    f"（{named} is {len(data):,} bytes; the gateway takes at most {max_file_bytes:,}, "
                    "ZZGW_MAX_MESSAGE_BYTES）"
                )
            request = verification_pb2.VerifyDocumentRequest(use=use, pdf=data)
            response = stub.VerifyDocument(request, metadata=metadata, timeout=60)
            return Answer(report=response.report, response=response, expires=_expires(channel, response.report))
        try:
            what = license_code_in(data)
        except ZzgwError as exc:
            raise BadInput(f"{named}：{_description(exc)}") from None
    elif path.suffix.lower() in (".pdf", *QR_IMAGE_SUFFIXES) and not what.upper().startswith("ZZ1:"):
        raise BadInput(_no_such_file(path))
    type_code = _type_code(channel, type_) if type_ else ""
    try:
        keywords = query_of(what.strip(), type_code)
    except ZzgwError:
        raise BadInput(
            f"{shown(what.strip()[:200])} 不是文件、证照标识或核验码；按证照编号核验时，请用 --type 指定证照类型"
            f"（{what!r} is not a file, a license identifier or a ZZ1: code: give --type to look a license number up）"
        ) from None
    response = stub.VerifyLicense(verification_pb2.VerifyLicenseRequest(use=use, **keywords), metadata=metadata,
                                  timeout=CALL_SECONDS)  # fmt: skip
    return Answer(report=response.report, response=response, expires=_expires(channel, response.report))


def _expires(channel: grpc.Channel, report: verification_pb2.VerificationReport) -> bool | None:
    """Whether the reported license's type has a validity, as the gateway's catalog says; None when there is no
    license or the catalog cannot say (a type taken out of it): the report is printed all the same."""
    if not report.HasField("license") or not report.license.type_code:
        return None
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    try:
        found = catalog.GetLicenseType(
            catalog_pb2.GetLicenseTypeRequest(type_code=report.license.type_code), timeout=CALL_SECONDS
        )
    except grpc.RpcError:
        return None
    return found.license_type.expires


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; BadInput when this user may not look (a folder they may not enter: a scan in
    another user's 0700 folder had been said as "no such file"; a reviewer)."""
    try:
        return path.is_file()
    except PermissionError as exc:
        raise BadInput(_cannot_read(path, exc)) from None
    except OSError:  # e.g. a name too long to be a file's: then it is not one
        return False


def _description(error: ZzgwError) -> str:
    violations = getattr(error, "violations", ())
    return violations[0].description if violations else error.message


def _read(path: Path, limit: int) -> bytes:
    """The file's bytes; BadInput for one that is empty, too large, or cannot be read: another user's that this one
    may not read, or one removed since it was found (they had ended as a defect of zzgw, exit 5; a reviewer)."""
    named = shown(str(path))
    try:
        size = path.stat().st_size
        if size == 0:
            raise BadInput(f"所选文件 {named} 是空的（0 字节）（{named} is empty）")
        if size > limit:
            raise BadInput(
                f"文件 {named} 有 {size:,} 字节，大于本命令发送或读取的任何证照 PDF 文件或照片"
                f"（{named} is {size:,} bytes: larger than any license PDF or photo this command sends or reads）"
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise BadInput(_no_such_file(path)) from None
    except OSError as exc:
        raise BadInput(_cannot_read(path, exc)) from None


def _cannot_read(path: Path, exc: OSError) -> str:
    named = shown(str(path))
    reason = exc.strerror or type(exc).__name__
    return f"无法读取文件 {named}：{reason}（cannot read {named}: {reason}）"


def _no_such_file(path: Path) -> str:
    named = shown(str(path))
    return f"找不到文件 {named}（no such file: {named}）"


def _operator_metadata(operator: str) -> Sequence[tuple[str, str | bytes]]:
    """The clerk or user on whose behalf the check is made, as the gateway reads it (``x-zzgw-operator``; UTF-8
    under ``-bin``, which gRPC needs for a Chinese name)."""
    if not operator:
        return ()
    if operator.isascii():
        return (("x-zzgw-operator", operator),)
    return (("x-zzgw-operator-bin", operator.encode("utf-8")),)


def _type_code(channel: grpc.Channel, given: str) -> str:
    """A license type's code: ``given`` itself when it is one of the catalog's codes, or the code of the type
    named ``given`` (Chinese or English name)."""
    catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
    types = catalog.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), timeout=CALL_SECONDS).license_types
    for license_type in types:
        if given in (license_type.type_code, license_type.name) or given.casefold() == license_type.name_en.casefold():
            return license_type.type_code
    names = "、".join(t.name for t in types)
    raise BadInput(
        f"证照目录中没有证照类型“{shown(given)}”，可选：{names}"
        f"（no license type {given!r} in the gateway's catalog: name one of its types, by name or code）"
    )


def answer_json(answer: Answer) -> str:
    """The response as protobuf's JSON mapping (the receipt's bytes in base64)."""
    return shown_json(json_format.MessageToJson(answer.response, indent=2, ensure_ascii=False)) + "\n"


def answer_text(answer: Answer, *, receipt_file: Path | None = None) -> str:
    """The report as an operator reads it: the verdict, the three findings, the license and the receipt, each said
    in Chinese first, its code or English after, as the console and the receipts say them."""
    report = answer.report
    head = _VERDICTS.get(report.verdict, "无法确定 INDETERMINATE") + _reason_said(report.reason)
    # a code cut short or misread: a scanner's slip, not a forgery, said as the console says it (a journeys tester)
    by_code = isinstance(answer.response, verification_pb2.VerifyLicenseResponse)
    unread = by_code and report.integrity.reason in UNREADABLE
    rows: list[tuple[str, str]] = []
    for name, label in _FINDINGS:
        finding: verification_pb2.Finding = getattr(report, name)
        said = _RESULTS.get(finding.result, "?")
        if finding.reason:
            said += f"（{finding.reason}）" + (f"：{finding.detail}" if finding.detail else "")
        rows.append((label, said))
    if report.HasField("license"):
        license = report.license
        rows += [
            ("证照 license", f"{license.type_name} {license.license_id}（版本 version {license.version}）"),
            *_holder_rows(license),
            ("发证部门 issuer", f"{license.issuer_name}（{license.issuer_code}）"),
            *([] if answer.expires is False and license.valid_from else [("有效期 validity", _validity_text(license))]),
            ("证照状态 license status", _status_text(report)),
        ]
    elif report.status.reason == "LICENSE_NOT_FOUND":
        rows.append(("证照 license", "未找到该证照 none found"))
    elif report.status.reason == "NOT_IN_THIS_REGISTRY":
        # the gateway's advice: 跨省通办 for another province's issuer only (review fixrev2, R5); to a partner
        # gateway, of its own region's license, that it is its own (review partner, R3)
        if own := OWN_REGION.search(report.status.detail):
            chinese, english = own_region_words(own.group(1))
        else:
            chinese, english = advice(
                Elsewhere.THIS_PROVINCE if REGION_ADVICE in report.status.detail else Elsewhere.OTHER_PROVINCE
            )
        elsewhere = f"不是本证照网关登记的证照，{chinese}（another region's: {english}）"
        rows.append(("证照 license", elsewhere))
    else:
        rows.append(("证照 license", "未查看 not looked at"))
    if answer.registered_document is not None:
        rows.append(("登记的文件 registered document", "是 yes" if answer.registered_document else "否 no"))
    rows.append(("核验时间 checked at", beijing_time(report.checked_at.ToDatetime(dt.UTC))))
    receipt = report.receipt.receipt_id + (f" → {receipt_file}" if receipt_file is not None else "")
    rows.append(("回执编号 receipt", receipt))
    width = max(_display_width(label) for label, _ in rows)
    padded = ((label + " " * (width - _display_width(label)), shown(value)) for label, value in rows)
    lines = [shown(head), *([f"  {RESCAN}"] if unread else [])] + [f"  {label}  {value}" for label, value in padded]
    return "\n".join(lines) + "\n"


def _reason_said(reason: str) -> str:
    """A verdict's reason after it, its words first (``（证照已吊销或撤销 REVOKED）``), or nothing."""
    if not reason:
        return ""
    words = reason_words(reason)
    return f"（{words} {reason}）" if words else f"（{reason}）"


_PERSON_CODE_TYPES = frozenset({"111", "414", "516", "511", "554"})
"""The holder code types that are a person's (``gateway.domain.catalog.KIND_OF_CODE_TYPE``)."""


def _holder_labels(license: verification_pb2.LicenseSummary) -> tuple[str, str]:
    """The holder's two labels, by the kind of holder: an organisation's 单位名称 and 统一社会信用代码, a
    person's 持证人 and 公民身份号码 (证件号码 for another document's number); 持证主体 and 持证主体代码 when the
    kind is not known. A company had been labelled 持证人 with a 持证人证件号码, which a company does not have (a
    government-service editor)."""
    if license.holder_in_full or license.holder_code_type == "001":
        return "单位名称 organisation", "统一社会信用代码 credit code"
    if license.holder_code_type == "111":
        return "持证人 holder", "公民身份号码 citizen ID number"
    if license.holder_code_type in _PERSON_CODE_TYPES:
        return "持证人 holder", "证件号码 ID document number"
    return "持证主体 holder", "持证主体代码 holder code"


def _holder_rows(license: verification_pb2.LicenseSummary) -> list[tuple[str, str]]:
    """The holder, for the operator to compare with the applicant: a code or number that passed may be someone
    else's. A person masked as the license's printed code states it, compared with the applicant's ID; an
    organisation whole (public registration data), compared with the company's name and code."""
    if not (license.holder_name_masked or license.holder_code_masked):
        return []
    if license.holder_in_full:
        compare = (
            "请与申请单位的名称和统一社会信用代码核对，确认是该单位的证照（compare with the company's name and code）"
        )
    elif license.parties:  # a 结婚证: either spouse may show it, the holder or the other
        compare = (
            "请与申请人身份证件核对，确认申请人是证照载明的当事人之一；不是持证人时，可用信息比对核对其本人的公民身份号码"
            "（compare with the applicant's ID: the applicant is one of the persons listed）"
        )
    elif license.holder_code_type == "099":  # a newborn under the hospital's code: no ID of its own, a parent applies
        compare = (
            "持证人尚无身份证件：请核对申请人（父母或监护人）的身份证件与证照所载的父母信息（the holder, a newborn, "
            "has no ID: compare the applicant's, a parent's or guardian's, with the parents the license names）"
        )
    else:
        compare = "请与申请人身份证件核对，确认是本人的证照（compare with the applicant's ID）"
    name, code = _holder_labels(license)
    parties = [
        (party.label, party.code_masked + ("（持证人 holder）" if party.holder else "")) for party in license.parties
    ]
    return [(name, license.holder_name_masked), (code, license.holder_code_masked), *parties, ("核对 check", compare)]


def _validity_text(license: verification_pb2.LicenseSummary) -> str:
    if not license.valid_from:  # a record whose seal fails: its dates are not stated
        return ALTERED
    return f"{license.valid_from} 至 {license.valid_until or '长期'}"


def _status_text(report: verification_pb2.VerificationReport) -> str:
    license = report.license
    if license.status == common_pb2.LICENSE_STATUS_UNSPECIFIED:  # the stored status is not the gateway's
        return ALTERED
    if report.status.reason == "NOT_YET_VALID":  # ACTIVE, but its validity has not begun
        return f"尚未生效 NOT_YET_VALID 生效日期 valid from {license.valid_from}"
    text = _STATUS.get(license.status, common_pb2.LicenseStatus.Name(license.status))
    return text + (f" 自 since {license.status_since}" if license.status_since else "")


def check_receipt_path(path: Path, what: str = "", option: str = "--receipt", member: str = "CODE") -> None:
    """Refuse a receipt file that could not be written, or should not be, before anything is verified (BadInput):
    the file ``what`` names (the one being verified: its receipt had overwritten the applicant's PDF, without a
    word; a reviewer), or an existing file that is not a receipt. A receipt file is replaced (the command run again),
    and so is an empty one, and a symlink: the link itself, never what it names (``_written_in_place``). A stream
    (``/dev/stdout``) or what is not a regular file is written as it is, if this user may write to it, and nothing
    else is checked: its folder (``/dev``, ``/proc/self/fd``, the folder of the file stdout was sent to) may be no
    one's but root's (a reviewer). ``option`` is how the command names the file (``zzgw receipt get``'s ``-o``);
    ``member`` is the verifying member, whose ``--member`` the ``zzgw receipt get`` named must be given."""
    named = f"{option} {shown(str(path))}"
    found = _found_at(path)
    if found is not None and stat.S_ISDIR(found.st_mode):
        raise BadInput(f"{named} 是目录，请给出文件名（{named} is a directory: name a file）")
    if what and _is_file(Path(what)) and _same_file(path, Path(what)):
        raise BadInput(
            f"{named} 就是要核验的文件，回执不能覆盖它，请换一个文件名"
            f"（{named} is the file being verified: the receipt would overwrite it; name another file）"
        )
    stream = _stream_of(path)
    if stream is not None:  # /dev/stdout to a terminal, a pipe or a file, `-o >(jq .)`: written to the stream itself
        if option == "--receipt" and stream == 1:  # where the verdict is printed
            raise BadInput(
                f"{named}：核验结论也输出到标准输出，回执会与结论混在一起；请给出文件名，"
                f"或用 `{receipt_get('回执编号', member)} -o /dev/stdout` 单独取回执"
                f"（{named}: the verdict is printed to stdout too, and the receipt would be mixed with it; "
                f"name a file, or fetch the receipt alone with `{receipt_get('ID', member)} -o /dev/stdout`）"
            )
        if not _writable_stream(stream):
            raise BadInput(f"{named}：不是可写入的已打开输出（{named}: not an open stream this command may write）")
        return
    if _written_in_place(path):  # /dev/null, a FIFO, a terminal
        if not os.access(path, os.W_OK):
            raise BadInput(f"{named}：无权在此写入（{named}: not writable here）")
        return
    if not path.parent.is_dir():
        folder = shown(str(path.parent))
        raise BadInput(f"{named}：没有目录 {folder}（{named}: no directory {folder}）")
    regular = found is not None and stat.S_ISREG(found.st_mode)
    if not os.access(path.parent, os.W_OK) or (regular and not os.access(path, os.W_OK)):
        raise BadInput(f"{named}：无权在此写入（{named}: not writable here）")
    if regular and not _receipt_or_empty(path):
        raise BadInput(
            f"{named} 已存在且不是核验回执，不会覆盖它，请换一个文件名或先移走它"
            f"（{named} exists and is not a receipt: it is not overwritten; name another file, or move it）"
        )


_STREAM = re.compile(r"/dev/(?:(stdout)|(stderr)|fd/([0-9]+))|/proc/(?:self|thread-self|([0-9]+))/fd/([0-9]+)")
"""The names of this process's own open streams (bash's ``>(…)`` is ``/dev/fd/63``), however the path spells them
(``//dev/stdout``, ``/proc/<its pid>/fd/1``): the receipt is written to the stream itself (``_stream_of``)."""


def _stream_of(path: Path) -> int | None:
    """The file descriptor ``path`` names when it is one of this process's own streams' names, else None. The name
    is matched after its slashes are made single (``//dev/stdout`` had been taken for a symlink of the user's and
    replaced, /dev/stdout made a regular file, run as root; a reviewer), and ``/proc/PID/fd`` only for this
    process."""
    name = "/" + os.path.normpath(os.path.abspath(path)).lstrip("/")
    found = _STREAM.fullmatch(name)
    if found is None:
        return None
    stdout, stderr, dev_fd, pid, proc_fd = found.groups()
    if pid is not None and int(pid) != os.getpid():
        return None
    return 1 if stdout else 2 if stderr else int(dev_fd if dev_fd is not None else proc_fd)


def _writable_stream(descriptor: int) -> bool:
    """Whether ``descriptor`` is open for writing in this process (a shell's ``<`` opens it read only)."""
    try:
        mode = fcntl.fcntl(descriptor, fcntl.F_GETFL) & os.O_ACCMODE
    except OSError:  # not open
        return False
    return mode in (os.O_WRONLY, os.O_RDWR)


def _found_at(path: Path) -> os.stat_result | None:
    """What is at ``path``, a symlink as itself (a stream's name as the stream); None when nothing is."""
    try:
        return os.stat(path) if _stream_of(path) is not None else os.lstat(path)
    except OSError:
        return None


def _written_in_place(path: Path) -> bool:
    """Whether a receipt is written through ``path`` as it is, opened and written, rather than renamed over it: a
    stream's name (``/dev/stdout``, ``/dev/fd/N``, ``/proc/self/fd/N``) whatever the stream is, a file stdout was
    sent to too (the user may write it but not its folder, and a rename had left the stream on the old file), and
    what exists and is neither a regular file nor a symlink (a FIFO, a terminal, ``/dev/null``). Any other symlink
    is not followed: one another user put in a shared folder (/tmp) had made root create or replace the file it
    named, wherever (a reviewer); the link itself is replaced."""
    if _stream_of(path) is not None:
        return True
    found = _found_at(path)
    return found is not None and not (stat.S_ISREG(found.st_mode) or stat.S_ISLNK(found.st_mode))


def _write_in_place(data: bytes, path: Path) -> None:
    """Write ``data`` through ``path`` (``_written_in_place``). A stream's name is written to the stream itself, the
    open file description this process was given, at its offset and in its mode: opened again by its name, truncated
    at offset 0, it had overwritten what stdout had printed before and after, replaced a log stdout appended to
    (``>>``), and written over a file the shell had opened read only (``< application.pdf``; a reviewer). What else is
    written in place (``/dev/null``, a FIFO, a terminal) is opened, never created, a symlink put there since the
    check not followed."""
    stream = _stream_of(path)
    if stream is not None:
        sys.stdout.flush()  # what was printed before goes first
        sys.stderr.flush()
        view = memoryview(data)
        while view:
            view = view[os.write(stream, view) :]
        return
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_NOFOLLOW), "wb") as target:
        target.write(data)


def _same_file(one: Path, other: Path) -> bool:
    try:
        return os.path.samefile(one, other)
    except OSError:  # one of them is not there (the receipt file yet to be written)
        return False


def _receipt_or_empty(path: Path) -> bool:
    """The file holds a receipt (at most one byte more than any receipt is read), or nothing; False when it cannot
    be read (what it holds is not known, so it is not overwritten), or is a symlink put there since the check (not
    read through)."""
    try:
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as source:
            data = receipt_bytes(source)
        if data:
            read_receipt(data)
    except (OSError, ValueError):
        return False
    return True


class ReceiptFileTaken(Exception):
    """A file that is not a receipt appeared at ``--receipt``'s path while the gateway was asked: it is kept."""


def verdict_words(answer: Answer) -> str:
    """The verdict of ``answer`` in the words the report's findings use (``通过 PASSED``)."""
    return _RESULTS.get(answer.report.verdict, _RESULTS[verification_pb2.CHECK_RESULT_INDETERMINATE])


def receipt_get(receipt_id: str, member: str) -> str:
    """The ``zzgw receipt get`` command a message tells a clerk to run to fetch a receipt that was not kept, with the
    verifying member's ``--member``, which the command requires: given without it, pasted as written, it had ended
    with a usage error, exit 2 (a reviewer)."""
    return f"zzgw receipt get {receipt_id} --member {shown(member)}"


def write_receipt(answer: Answer, path: Path, member: str) -> None:
    """Write the receipt at ``path`` (checked by ``check_receipt_path`` before the call): a new file is created only
    if none is there still, and one that appeared meanwhile is replaced only if it is a receipt or empty, as read
    through the very file written (ReceiptFileTaken otherwise: a file written there during the check had been
    overwritten without a word; a reviewer). A symlink there is replaced, a temporary file renamed over it, never
    followed; a stream (``/dev/stdout``) or what is not a regular file is written as it is (``_written_in_place``).
    ``member`` is the verifying member, named in the ``zzgw receipt get`` the message gives."""
    data = receipt_json(answer.report.receipt).encode("utf-8")
    named, fetch = shown(str(path)), receipt_get(answer.report.receipt.receipt_id, member)
    taken = ReceiptFileTaken(
        f"--receipt {named} 在核验期间出现了一个不是核验回执的文件，未覆盖它；可用 `{fetch}` 取回该回执"
        f"（--receipt {named}: a file that is not a receipt appeared there during the check: it is not overwritten; "
        f"`{fetch}` fetches the receipt）"
    )
    if _written_in_place(path):
        _write_in_place(data, path)
        return
    if path.is_symlink():
        _rename_over(data, path, taken)
        return
    try:
        created = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except FileExistsError:
        with os.fdopen(os.open(path, os.O_RDWR | os.O_NOFOLLOW), "r+b") as target:  # ELOOP: a link put there now
            if not stat.S_ISREG(os.fstat(target.fileno()).st_mode):
                raise taken from None
            held = receipt_bytes(target)
            try:
                if held:
                    read_receipt(held)
            except ValueError:
                raise taken from None
            target.seek(0)
            target.truncate()
            target.write(data)
        return
    with os.fdopen(created, "wb") as target:
        target.write(data)


def replace_receipt_file(text: str, path: Path, option: str) -> None:
    """Write a fetched receipt at ``path`` (checked by ``check_receipt_path`` before the call) through a temporary
    file beside it, renamed over it: the file is never half written, and a file that is not a receipt that appeared
    there meanwhile is kept (ReceiptFileTaken). ``zzgw receipt get -o`` had replaced any file, the applicant's PDF
    too (a reviewer). A symlink is replaced itself, never followed; a stream (``/dev/stdout``) or what is not a
    regular file is written as it is (``_written_in_place``)."""
    data = text.encode("utf-8")
    if _written_in_place(path):
        _write_in_place(data, path)
        return
    named = f"{option} {shown(str(path))}"
    _rename_over(
        data,
        path,
        ReceiptFileTaken(
            f"{named} 在取回期间出现了一个不是核验回执的文件，未覆盖它（{named}: a file that is not a receipt "
            "appeared there meanwhile: it is not overwritten）"
        ),
    )


def _rename_over(data: bytes, path: Path, taken: ReceiptFileTaken) -> None:
    """Put ``data`` at ``path`` by a temporary file in its folder renamed over it, which replaces a symlink there,
    not what it names; ``taken`` is raised, nothing replaced, when a regular file there is not a receipt or empty."""
    descriptor, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temporary = Path(name)
    try:
        with os.fdopen(descriptor, "wb") as target:
            target.write(data)
        mask = os.umask(0)
        os.umask(mask)
        temporary.chmod(0o666 & ~mask)  # as a file created by open, not mkstemp's 0600: a receipt is to be shared
        found = _found_at(path)
        if found is not None and stat.S_ISREG(found.st_mode) and not _receipt_or_empty(path):
            raise taken
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _display_width(text: str) -> int:
    """Columns a terminal gives ``text``: two for each CJK character."""
    return sum(2 if ord(c) > 0x2E80 else 1 for c in text)
