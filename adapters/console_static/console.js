// The clerk's console (窗口核验): sign in with the department's token, choose the matter, verify, print the receipt.
// Everything shown is set as text (never as HTML), so nothing a license or an error says can run as script.
"use strict";

const VERDICTS = { PASSED: "核验通过", FAILED: "核验未通过", INDETERMINATE: "无法确定" };
// A finding's result, in the verdict's words (the glossary's: a verification reads 核验通过 / 核验未通过 / 无法确定).
const RESULTS = VERDICTS;
const FINDINGS = [
  ["integrity", "完整性（印章与签名未被篡改）"],
  ["status", "状态（现行有效）"],
  ["issuer_identity", "发证部门身份（印章证书可信、该部门有权发证）"],
];
const STATUS = {
  ACTIVE: "有效", SUSPENDED: "已暂停使用", REVOKED: "已吊销或撤销", CANCELLED: "已注销",
  SUPERSEDED: "已变更（不再现行）", EXPIRED: "已过期", NOT_YET_VALID: "尚未生效",
};
// The summary's status when the stored one is not the gateway's (STATUS_ALTERED): what the store says is not stated.
const STATUS_UNKNOWN = "无法确认（记录被改动）";
// The issuer's identity when the record's sealing time, vouched for with its status, was changed behind the gateway's
// back (the detail the gateway gives that NOT_CHECKED), however the license was named.
// A finding of another registry's license (NOT_IN_THIS_REGISTRY) other than its status: not judged here.
const ELSEWHERE = "未核验（不是本证照网关登记的证照，没有可对照的证照）";
// The same finding of a sealed document's or stamp's seal (``by``: document, stamp): another region's seal maker is
// one this gateway does not trust, which is said, and the issuer code the seal's certificate gives is named (the
// receipt's query, ``signer_uscc``) for the clerk to compare with the issuer printed on the document. ELSEWHERE had said
// nothing of the seal maker, and a forged seal read as another region's (a reviewer, fixrevpa R1).
function sealedElsewhere(by, query) {
  if (by !== "document" && by !== "stamp") return ELSEWHERE;
  const uscc = (query || {}).signer_uscc;
  return "未核验（印章证书不是本网关信任的制章机构签发的"
    + (/^[0-9A-Z]{18}$/.test(uscc || "")
      ? "；证书上的发证机构统一社会信用代码为 " + uscc + "，请与文件上印的发证机构核对是否一致" : "")
    + "；请向该发证机构所在地区核验，外省的请通过跨省通办渠道）";
}
const ALTERED_RECORD = "未判断（证照记录被绕过网关改动，签章时间不可信，未判断印章在签章时是否可信）";
// A license's standing now, beside an earlier receipt of a 一件事 case: what it is, and what it became (said "after
// the check" only when the check found it valid, "already at the check" when the check failed for that very reason).
const STANDING = {
  REVOKED: ["已吊销或撤销", "已吊销或撤销"],
  SUSPENDED: ["已暂停使用", "已暂停使用"],
  CANCELLED: ["已注销", "已注销"],
  SUPERSEDED: ["已变更（不再现行）", "已变更，此版本不再现行"],
  EXPIRED: ["已过期", "已过有效期"],
  NOT_YET_VALID: ["尚未生效", "尚未生效"],
  LICENSE_NOT_FOUND: ["未找到该证照", "找不到"],
};
// The version in force of a superseded one (a paper printed before a 变更, or a case receipt of the earlier version):
// "已变更，现行版本 <id>（有效）", or what that version is now; its status unknown when its record is not the gateway's.
function amendedText(currentId, currentStatus) {
  return "已变更，" + currentText(currentId, currentStatus);
}

// "现行版本 <id>（有效）": after the verdict's 证照已变更，此版本不再现行, which says 已变更 already.
function currentText(currentId, currentStatus) {
  return "现行版本 " + versionText(currentId, currentStatus);
}

// "<id>（有效）": the version in force, in the summary's row 现行版本, which names it already.
function versionText(currentId, currentStatus) {
  const status = currentStatus ? STATUS[currentStatus] || currentStatus : STATUS_UNKNOWN;
  return currentId + "（" + status + "）";
}
// A claim's answer (信息比对) that found the license valid then.
const CLAIM_VALID = 0;
// What a clerk holding a scan or a photo of a license should do instead: only the file the issuer sealed verifies.
const SCAN_HINT = "扫描件、照片或截图不能作为电子证照文件核验，请改用“上传二维码图片”或“输入证照”（按证照编号核验）";
const REASONS = {
  SUSPENDED: "证照已暂停使用", REVOKED: "证照已吊销或撤销", CANCELLED: "证照已注销",
  SUPERSEDED: "证照已变更，此版本不再现行", EXPIRED: "证照已过有效期", NOT_YET_VALID: "证照尚未生效",
  LICENSE_NOT_FOUND: "未找到该证照", NOT_CHECKED: "未核验",
  NOT_IN_THIS_REGISTRY: "发证部门不在本证照网关登记，可能是其他地区的证照，请向发证地区核验，外省的请通过跨省通办渠道",
  RECORD_ALTERED: "签章已被篡改（证照数据与印章不符）", STATUS_ALTERED: "证照状态或签章时间被绕过网关改动",
  REGISTRY_ALTERED: "登记库中该文件所属证照被绕过网关改动",
  SIGNATURE_INVALID: "签章已被篡改（签名与文件内容不符）", DOCUMENT_MODIFIED: "签章已被篡改（盖章后文件被改动）",
  CHANGED_AFTER_SEAL: "盖章后有以发证部门名义、未通过核验的签名",
  NO_SIGNATURE: "文件上没有电子印章", NOT_A_REGISTERED_LICENSE: "不是网关登记的电子证照文件",
  UNTRUSTED_ROOT: "印章证书不是可信的制章机构签发", NOT_AUTHORITATIVE_ISSUER: "发证部门无权签发此类证照",
  SEALED_BY_ANOTHER: "印章不属于该证照的发证部门", UNKNOWN_SEAL_KEY: "核验码的印章未知（可能是伪造的）",
  NOT_ZZ1: "不是证照核验码", MALFORMED: "核验码无法读取", TOO_LARGE: "核验码过长",
  CERT_REVOKED: "签章证书已吊销", CERT_NOT_YET_VALID: "签章时证书尚未生效", CERT_EXPIRED: "签章时证书已过期",
  CERT_REVOKED_NO_TRUSTED_TIME: "签章证书已吊销，且无可信时间，无法确定签章是否在吊销之前",
  CERT_EXPIRED_NO_TRUSTED_TIME: "签章证书已过期，且无可信时间，无法确定签章是否在有效期内",
  KEY_MISMATCH: "印章密钥不符",
  LOOKALIKE_CA: "印章证书系仿冒可信制章机构的机构签发（伪造）", INVALID_CHAIN: "印章证书链无效",
  BAD_KEY_USAGE: "印章证书的用途不是签章", NOT_END_ENTITY: "签章用的不是印章证书", WEAK_ALGORITHM: "印章证书使用的算法不安全",
  MALFORMED_CERTIFICATE: "印章证书无法读取", UNSUPPORTED_ALGORITHM: "不支持的签名算法",
  CRL_MISSING: "缺少吊销列表，无法确认印章证书是否已吊销", CRL_STALE: "吊销列表已过期，无法确认印章证书是否已吊销",
  NO_TIMESTAMP: "签章没有可信时间戳", TIMESTAMP_INVALID: "签章时间戳无效", TIMESTAMP_UNTRUSTED: "签章时间戳不是可信机构签发",
  DAMAGED_PDF: "PDF 文件已损坏", SIGNATURE_UNREADABLE: "签章无法读取", TRUNCATED_PDF: "PDF 文件不完整", ENCRYPTED_PDF: "PDF 文件已加密",
  NOT_A_PDF: "不是 PDF 文件", TOO_MANY_REVISIONS: "PDF 文件修订次数过多", PDF_TOO_COMPLEX: "PDF 文件结构过于复杂",
};
// A ZZ1: code the gateway could not read (gateway.services.verification's _UNREADABLE_QR: MALFORMED, a code cut short
// or misread, as a handheld scanner or a phone screen drops characters; TOO_LARGE; NOT_ZZ1). The gateway's verdict
// is 核验未通过 with a receipt, as for a forged code (docs/api.md), but nothing of the license was read: the clerk is
// told to scan again, in amber, not turned against the applicant by a red 核验未通过 (a clerk tester). A code that
// reads but whose signature fails (SIGNATURE_INVALID, UNKNOWN_SEAL_KEY, …) stays red.
const UNREADABLE_CODE = ["MALFORMED", "TOO_LARGE", "NOT_ZZ1"];
const UNREADABLE_HEADLINE = "核验码无法识别，请重新扫描";
// ``photo``: the code was read from a photo (上传二维码图片), not scanned or typed.
function unreadableAdvice(photo) {
  return "核验码不完整或无法识别（可能" + (photo ? "拍摄不全或不清晰" : "扫描时漏读或截断了字符")
    + "），这不说明证照是伪造的：" + (photo ? "请重新拍摄二维码后上传" : "请重新扫描")
    + "；仍无法识别时，请改用“输入证照”（按证照编号核验）或上传电子证照 PDF 文件，不要据此拒绝申请人";
}
// What to do when no license was found (``by``: how the check named it): a red 未找到该证照 alone had the applicant
// turned away for a slip in the number or the type chosen, a license not yet 归集 or another region's (review clerk,
// R2); as the gateway says (docs/api.md, LICENSE_NOT_FOUND: check what was typed), and not taken for a forgery.
function notFoundAdvice(by) {
  const typed = { license_number: "请核对证照编号和所选证照类型；", license_id: "请核对证照标识；" }[by] || "";
  return "：" + typed + "证照可能尚未归集到本证照网关，其他地区的证照请向发证地区核验（外省的通过跨省通办渠道）；"
    + "不要仅据此认定证照是伪造的";
}
// A reason said otherwise when the check named the license by its printed code (a ZZ1: code, typed, scanned or
// photographed): no file was involved, so no 文件 or 签章 words.
const CODE_REASONS = { SIGNATURE_INVALID: "核验码签名不符（可能是伪造的或被改动）" };
// A reason the page has no words for: said in Chinese (its code stays in the element's data-reason and in the
// receipt file), never the gateway's English.
const OTHER_REASON = "其他原因（原因代码见回执文件）";
// What to do with a PDF that cannot be checked as it came: the original again, or another way to verify.
const PDF_OTHER_WAYS = "或改用“上传二维码图片”或“输入证照”（按证照编号核验）";
const PDF_AGAIN = "请申请人重新下载或发送发证部门出具的原文件，" + PDF_OTHER_WAYS;
const PDF_TOO_LARGE_ADVICE = "请申请人提供发证部门出具的原文件（扫描件、照片不能作为电子证照文件核验），" + PDF_OTHER_WAYS;
// A token that signed in and is refused now: ended or replaced by the administrator, not mistyped (TOKEN_ENDED is a
// clerk's own token the gateway knows was ended; a department's replaced is unknown to it).
const TOKEN_LAPSED = "接入令牌已失效（可能已被管理员停用或更换），请向管理员申领新令牌后重新登录";
const ERRORS = {
  NO_CREDENTIAL: "请先登录（输入部门接入令牌）", UNKNOWN_CREDENTIAL: "接入令牌无效，请核对后重新登录",
  ROLE_NOT_ALLOWED: "本部门无核验权限", NO_QR_CODE: "图片中没有找到二维码，请拍得更近、更平整",
  SEVERAL_QR_CODES: "图片中有多个二维码，请只拍一个", NOT_AN_IMAGE: "无法读取该图片（请用 PNG、JPEG、WebP、BMP 或 TIFF 图片）",
  IMAGE_TOO_LARGE: "图片过大（最大 8 MB）", IMAGE_TOO_MANY_PIXELS: "图片尺寸过大（最多 4000 万像素，每边最多 65535 像素），请缩小后重试",
  TOKEN_ENDED: "接入令牌已被管理员停用或更换，请向管理员申领新令牌后重新登录",
  PDF_TOO_LARGE: "PDF 文件过大。" + PDF_TOO_LARGE_ADVICE,
  TRUNCATED_PDF: "PDF 文件不完整（可能在传输或下载中被截断）。" + PDF_AGAIN,
  DAMAGED_PDF: "PDF 文件已损坏，无法读取。" + PDF_AGAIN,
  ENCRYPTED_PDF: "PDF 文件已加密，不能核验。请申请人提供发证部门出具的未加密原文件，" + PDF_OTHER_WAYS,
  TOO_MANY_REVISIONS: "PDF 文件修订次数过多，不能核验。" + PDF_AGAIN,
  PDF_TOO_COMPLEX: "PDF 文件结构过于复杂（页面、表单等对象过多或过大），不能核验。" + PDF_TOO_LARGE_ADVICE,
  REQUEST_TOO_LARGE: "提交的内容过大（所选文件或输入的文字），请缩小后重试",
  UNKNOWN_MATTER: "未知的办理事项", ONE_OF: "请提供一种核验方式（只填写或选择其中一种）",
  INVALID_LICENSE_ID: "证照标识格式不正确或校验码不符，请核对后重新输入", NOT_A_LICENSE_CODE: "该二维码不是电子证照核验码",
  MATTER_NOT_IN_BUNDLE: "所选办理事项不属于该一件事", UNKNOWN_BUNDLE: "未知的一件事", BAD_CASE_ID: "办件编号过长或含有不可打印的字符",
  NOT_MATTER_DEPARTMENT: "该事项不由本部门办理，请选择本部门的办理事项",
  NO_MATTERS: "本部门在事项目录中没有办理事项，不能核验，请联系管理员", BAD_PAGE_TOKEN: "回执列表已失效，请重新查询",
  MALFORMED_REQUEST: "请求格式有误，请刷新页面后重试",
  DATABASE_BUSY: "证照网关的数据库正被占用，本次核验未完成，请稍后重试",
  DATABASE_UNAVAILABLE: "证照网关暂时无法连接数据库，本次核验未完成，请稍后重试",
  STORE_GONE: "证照网关的数据库已被移走或替换，本次核验未完成，请联系管理员，稍后重试",
  STORE_FULL: "证照网关磁盘已满，本次核验未完成，请联系管理员，稍后重试",
  NO_SEAL_CA: "证照网关尚未初始化（没有制章机构或回执密钥），请联系管理员",
  BAD_CHARACTERS: "输入内容含有不可打印或看不见的字符（如制表符、换行、零宽空格），请删除后重新输入", TOO_LONG: "输入内容过长，请删减后重试",
  NOT_A_PDF: "所选文件不是 PDF 文件。" + SCAN_HINT,
  RECEIPT_NOT_FOUND: "证照网关中没有这个编号的回执，请核对回执编号",
  NOT_A_RECEIPT: "所选文件不是核验回执文件（请选择“下载回执文件”得到的 .json 文件）",
};
const FIELD_ERRORS = {
  "type_code:REQUIRED": "按证照编号核验时，请选择证照类型",
  "use.purpose:REQUIRED": "请填写用证事由",
  "use.matter_code:REQUIRED": "请选择办理事项",
  "use.bundle_code:REQUIRED": "填写了办件编号，请选择它所属的一件事（或清空办件编号）",
  "use.case_id:REQUIRED": "请填写办件编号",
  "use.operator:REQUIRED": "使用部门令牌时，请填写核验人姓名或工号",
  "x-zzgw-operator:BAD_OPERATOR": "核验人姓名或工号过长、含有不可打印的字符，或含有公民身份号码、手机号码，请重新登录",
  // {code}: what the holder's code is called for the claim's license type (holderLabels)
  "holder_code:BAD_CHECK_CHARACTER": "{code}的校验码不符，请核对后重新输入（可能是输入有误）",
  "holder_code:BAD_CITIZEN_ID": "所填号码不是有效的公民身份号码，请核对后重新输入",
  "holder_code:BAD_USCC": "所填号码不是有效的统一社会信用代码，请核对后重新输入",
  "holder_code:BAD_HOLDER_CODE": "{code}须为1至32位字母、数字或“-”，请核对后重新输入",
};
const CLAIMS = {
  0: "信息一致，证照有效", 1: "信息一致，证照尚未生效", 2: "信息一致，但证照已暂停使用",
  3: "信息一致，但证照已失效", 4: "信息不完整，无法比对", 5: "未找到该证照",
  6: "未填写比对信息", 7: "部分信息不一致",
};
// A claim's fields that differ, by name (``labels``: the holder's, holderLabels).
// (``typeCode``: the claim's type, whose parents' fields, a 出生医学证明's, are named by their labels)
function claimFields(fields, labels, typeCode) {
  const names = { holder_name: labels.claimName, holder_code: labels.code, license_number: "证照编号" };
  const type = ((session && session.license_types) || []).find((t) => t.code === typeCode);
  for (const field of (type && type.guardian_fields) || []) names[field.key] = field.label;
  return fields.map((f) => names[f] || f);
}

// What the holder and the holder's code are called, by the kind of holder (the code types, GB/T 36903, and the
// license type's holder kind): an organisation's 单位名称 and 统一社会信用代码, a person's 持证人 and 公民身份号码 (or
// 证件号码, a passport's or a permit's); 持证主体 and 持证主体代码 when the kind is not known.
const PERSON_CODE_TYPES = ["111", "414", "516", "511", "554"];
function holderLabels(codeTypes, kind) {
  const all = (types) => codeTypes.length > 0 && codeTypes.every((c) => types.includes(c));
  if (kind === "ORGANIZATION" || all(["001"])) {
    return { name: "单位名称", claimName: "单位名称", code: all(["001"]) ? "统一社会信用代码" : "持证主体代码" };
  }
  if (kind === "PERSON" || all(PERSON_CODE_TYPES)) {
    return { name: "持证人", claimName: "持证人姓名", code: all(["111"]) ? "公民身份号码" : "证件号码" };
  }
  return { name: "持证主体", claimName: "持证主体名称", code: "持证主体代码" };
}

// The labels of a license type's holder (``code``: its type code; ``types``: the session's license types).
function typeHolderLabels(code, types) {
  const known = (types || []).find((t) => t.code === code);
  return known ? holderLabels(known.holder_code_types || [], known.holder_kind) : holderLabels([], "");
}

// What a clerk compares for a license that names several persons who may hold it (a 结婚证's spouses, ``parties``).
const PARTY_CHECK = "请与申请人身份证件核对，确认申请人是证照载明的当事人之一（见上列身份证件号，信息已部分隐去）；"
  + "申请人不是持证人时，可用“信息比对”核对其本人的公民身份号码。";

// What an administrator (ADMIN its only role), which verifies to check the gateway, is told in place of the holder.
const HOLDER_WITHHELD = "管理员核验不显示持证人：运维管理员核验只用于检查证照网关，不读取个人信息。";

const SUMMARY = [
  ["type_name", "证照类型"], ["license_id", "证照标识"], ["holder_name_masked", "持证人"],
  ["holder_code_masked", "持证主体代码"], ["issuer_name", "发证部门"], ["valid_from", "有效期起"],
  ["valid_until", "有效期至"], ["status", "状态"], ["version", "版本"],
];
// A receipt looked up by number or handed over as a file: whether its signature holds, and whether the gateway's
// archive has it.
// The glossary's verdicts of a receipt's check; why, beside them (REVIEW_REASONS).
const REVIEWS = { PASSED: "回执有效", FAILED: "回执无效", INDETERMINATE: "无法确认" };
const REVIEW_REASONS = {
  SIGNATURE_INVALID: "回执的签名与内容不符（回执被改动或伪造）", RECEIPT_ID_MISMATCH: "回执编号与签名的内容不符",
  NOT_THE_PINNED_CERTIFICATE: "回执不是本证照网关的回执专用章签发的", NOT_A_RECEIPT_SEAL: "签名用的不是核验回执专用章",
  CERTIFICATE_UNREADABLE: "回执的证书无法读取", ISSUED_AT_MISSING: "回执没有签发时间",
  UNTRUSTED_ROOT: "回执证书不是可信的制章机构签发", CERT_REVOKED: "回执专用章的证书在回执签发时已吊销",
  CERT_EXPIRED: "回执签发时回执专用章的证书已过期", CERT_NOT_YET_VALID: "回执签发时回执专用章的证书尚未生效",
  CRL_MISSING: "缺少吊销列表，无法确认回执专用章的证书是否已吊销",
};
// A receipt signed with another certificate than this gateway's receipt seals: what is said instead of "invalid".
const FOREIGN_RECEIPT = [
  "无法确认：不是本证照网关签发的回执",
  "请向签发该回执的证照网关核对（本网关不能判断其他证照网关的回执）",
  "本证照网关存档中没有这张回执：它不是本网关出具的。",
];
// MISSING_SIGNED_HERE: one the archive lacks whose signature checks under this gateway's own receipt certificate, as
// a receipt made after the backup a store was restored from does; MISSING had said it forged (a reviewer, R2). Still
// not relied on: the archive, not the signature, tells a receipt the gateway made (receipts.md).
const ARCHIVED = {
  SAME: "与证照网关存档的回执一致。",
  MISSING: "证照网关存档中没有这张回执：它不是本网关出具的，或是伪造的，不能凭它免收材料。",
  MISSING_SIGNED_HERE: "回执由本证照网关的回执专用章签名，但证照网关存档中没有这张回执（数据库可能已从备份恢复）："
    + "不能凭它免收材料，请重新核验该证照。",
  DIFFERENT: "与证照网关存档中同一编号的回执不一致：请以存档为准（按回执编号查验）。",
};
const QUERY_BY = {
  license_id: "证照标识", license_number: "证照编号", qr_code: "核验码", document: "电子证照文件", stamp: "电子印章",
};
const MAX_OPERATOR = 64; // characters, as the gateway counts them (code points)

const $ = (id) => document.getElementById(id);
const CALL_SECONDS = 60; // a gateway that does not answer in this time is said to, not waited for
// A page left this long without the clerk's input (a key, a click or touch, a file chosen or dropped) signs out, as
// 退出 does, and says why: a window left unattended does not stay signed in with the department's token. Nothing
// the page is given lengthens it.
const IDLE_MINUTES = 30;
const IDLE_MESSAGE = "长时间未操作（" + IDLE_MINUTES + " 分钟），已自动退出，请重新登录";
// On the sign-in screen, where no one is signed in, what the wait ends is the token and name kept from a sign-in that
// did not go through, and it says so: it had said 自动退出登录 to a clerk who never signed in (a reviewer).
const KEPT_IDLE_MESSAGE = "长时间未操作（" + IDLE_MINUTES + " 分钟），已清除本页保存的接入令牌和核验人，请重新输入后登录";
// Warned of this long before, with a button to stay signed in (any key or click does too): a clerk called away, or
// reading a long result with a screen reader (whose browsing sends the page no keys), had been signed out unwarned,
// and what was typed lost (WCAG 2.2.1).
const WARN_MINUTES = 2;
// A tab closed and opened again (the browser's restore of its last session, 重新打开关闭的标签页, 恢复页面 after a crash
// or a power cut) comes back with its sessionStorage, the token in it: it had come back signed in as the clerk who
// closed it, at a shared window PC the next person's to use (a penetration tester). Only a reload (F5) of a page
// still open goes on signed in: a page opened any other way (restored, reopened, come back to with Back) is signed
// out as by 退出 and says why; and so is a reload of a tab that had not said it was open (``stillOpen``, every
// ALIVE_SECONDS and at each input) for REOPENED_SECONDS: a browser that calls a restore a reload, a tab put to sleep.
// There is no session on the gateway to end: the token stays valid there until it is ended (zzgw console-token …
// --end).
const ALIVE_SECONDS = 10;
const REOPENED_SECONDS = 60;
const REOPENED_MESSAGE = "页面关闭或离开后重新打开，已自动退出，请重新登录";
const INPUT_EVENTS = ["keydown", "pointerdown", "wheel", "change", "drop"];
let idleTimer = null;
let session = null;
let lastReceipt = null;
let reviewed = null; // the receipt last looked up: its file, and the license to verify again
// Which sign-in the page is in: a call started under one and answered after it ended (退出, a new sign-in) is not
// shown, so nothing of one clerk's applicant reaches the next clerk's screen. Signing out also abandons the calls
// still in flight (``ending``).
let generation = 0;
let ending = new AbortController();
let signingIn = false; // a sign-in waits for the gateway's answer

// An answer for a sign-in that has ended: dropped, not shown.
class Dropped extends Error {}

// A new sign-in, or none: what was started before it is abandoned, and answers to it are dropped.
function nextGeneration() {
  ending.abort();
  ending = new AbortController();
  generation += 1;
  checking = false;
  underway = null;
  signingIn = false;
  entered.clear();
  said = "";
  return generation;
}

function credentials() {
  return { token: sessionStorage.getItem("zzgw.token"), operator: sessionStorage.getItem("zzgw.operator") };
}

// The clerk named by a personal token, else the name or staff number typed at sign-in with the department's token.
function operatorName() {
  return (session && session.clerk) || credentials().operator || "";
}

// A call of the console's API for the sign-in ``asOf`` (the ``generation`` its work started under): refused with
// ``Dropped`` when that sign-in has ended before it is sent or answered, and abandoned at sign-out.
async function call(path, body, asOf) {
  if (asOf !== generation) throw new Dropped();
  const init = { headers: { Authorization: "Bearer " + credentials().token } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const timer = new AbortController();
  init.signal = timer.signal;
  const timeout = setTimeout(() => timer.abort(), CALL_SECONDS * 1000);
  const signedOff = ending.signal;
  const abandon = () => timer.abort();
  signedOff.addEventListener("abort", abandon);
  let response;
  let answer;
  let text = "";
  try {
    try {
      response = await fetch(path, init);
    } catch (e) {
      if (asOf !== generation) throw new Dropped();
      if (timer.signal.aborted) throw new Error("证照网关 " + CALL_SECONDS + " 秒内没有应答，请稍后重试");
      throw new Error("无法连接证照网关，请检查网络后重试");
    }
    try {
      text = await response.text();
      answer = JSON.parse(text);
    } catch (e) {
      if (asOf !== generation) throw new Dropped();
      // a request not whole in time, or whose body was still coming as the gateway stopped: its plain 408 or 503,
      // Chinese on the first line (上传超时：网络过慢…, 证照网关正在停止…)
      if ((response.status === 408 || response.status === 503) && text) throw new Error(text.split("\n")[0]);
      throw new Error("网关返回了无法识别的内容（HTTP " + response.status + "）");
    }
  } finally {
    clearTimeout(timeout);
    signedOff.removeEventListener("abort", abandon);
  }
  if (asOf !== generation) throw new Dropped(); // nor is a refusal of the last clerk's token this clerk's
  if (!response.ok) {
    const error = answer.error || {};
    const violation = (error.violations || [])[0];
    const reason = (violation && violation.reason) || error.reason;
    if (violation && violation.field === "use.case_id" && body && body.use && !body.use.case_id) {
      violation.reason = "REQUIRED"; // the gateway says BAD_CASE_ID (1-64 characters) for an empty one too
    }
    // a number that is not even a receipt's: what one looks like, and how many characters came
    const misfit = reason === "RECEIPT_NOT_FOUND" && body && body.receipt_id && receiptMisfit(body.receipt_id);
    const fieldWords = violation && FIELD_ERRORS[violation.field + ":" + violation.reason];
    const holder = typeHolderLabels(body && body.type_code, session && session.license_types);
    const known = (fieldWords && fieldWords.replace("{code}", holder.code)) || misfit
      || (reason === "ROLE_NOT_ALLOWED" && roleRefusal(error.message)) || ERRORS[reason]
      || REASONS[reason]
      || (reason === "INTERNAL" && "证照网关内部错误，请稍后重试；如仍出错，请将以下内容告知管理员：" + error.message);
    // a clerk reads Chinese: the gateway's own words, without their English, when the page has none for the reason
    // a token that had signed this tab in (signed in now, or at the reload of a signed-in tab) was not mistyped
    const lapsed = error.reason === "UNKNOWN_CREDENTIAL" && (session || sessionStorage.getItem("zzgw.clerk"));
    const failure = new Error(lapsed ? TOKEN_LAPSED
      : (reason === "BAD_CHARACTERS" && charactersNamed(violation)) || known
        || chineseOf(violation ? violation.description : error.message) || "核验失败，请重试");
    failure.reason = error.reason;
    failure.gatewayField = violation ? violation.field : "";
    if (session && ["UNKNOWN_CREDENTIAL", "TOKEN_ENDED", "NO_CREDENTIAL"].includes(error.reason)) {
      signedOut(failure.message);
    }
    throw failure;
  }
  return answer;
}

// ROLE_NOT_ALLOWED's words where the gateway says why in Chinese (a partner province's gateway, whose departments
// call through their province's forwarder), else "": 本部门无核验权限 alone had sent such a clerk to ask the
// administrator for a permission no one grants (review console2, R4). A refusal that names the call a member may not
// make (…无权调用 VerifyLicense) is the page's 本部门无核验权限.
function roleRefusal(message) {
  const chinese = chineseOf(message);
  return chinese && chinese !== message && !chinese.includes("无权调用") ? chinese : "";
}

// What is wrong with a receipt number typed (``typed``) that is not even a receipt's (32 hexadecimal digits, counted
// as the gateway counts them: full width folded, the spaces and dashes between a printout's groups left out), else "".
function receiptMisfit(typed) {
  const number = typed.normalize("NFKC").replace(/[\s\-\u2010-\u2015\u00b7\u30fb]+/g, "");
  if (/^[0-9A-Fa-f]{32}$/.test(number)) return "";
  return "回执编号应为32位（数字0–9和字母a–f），您填写的是" + [...number].length + "位，请核对";
}

// The Chinese of a refusal the gateway says in both languages, "中文（English）": its English, with API names
// (use.purpose) a window clerk has no use for, cut off. Words without such an ending are kept as they are.
function chineseOf(text) {
  if (!text || !text.endsWith("）")) return text;
  const open = text.lastIndexOf("（");
  const english = text.slice(open + 1, -1);
  if (open <= 0 || !/[A-Za-z]/.test(english) || /[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]/.test(english)) return text;
  const chinese = text.slice(0, open).replace(/[\s：:，,]+$/, "");
  return /[\u4e00-\u9fff]/.test(chinese) ? chinese : text;
}

function show(id, visible) {
  $(id).hidden = !visible;
  if (SKIPS[id]) $(SKIPS[id]).hidden = !visible;
}

// A result's section, and the link to it one Tab after the field it came from: the focus stays in that field (a
// scanner's next code goes there), and the result's actions (打印回执) had been 15 Tab stops away (a keyboard clerk).
const SKIPS = { result: "to-result", "receipt-review": "to-review", "case-receipts": "to-case" };

// Follow a link to a result: the focus on its heading, the next Tab on its first action.
function skipTo(section) {
  const head = $(section).querySelector("h2[tabindex]");
  head.focus({ preventScroll: true });
  $(section).scrollIntoView({ block: "start" }); // the section's top, its heading a little below the screen's edge
}

// The verdict and its reason, said to a screen reader: a small live region always in the page, its text replaced.
function announce(text) {
  $("announce").textContent = text;
}

// A verdict and its reason as shown (``verdict``, ``reason``: the elements' ids), in one sentence.
function spoken(verdict, reason) {
  return [$(verdict).textContent, $(reason).textContent].filter(Boolean).join("：");
}

// The field the words said are about (its id), or "".
let saidOf = "";

// Say ``text`` (a refusal, a hint; "" to take the last away) where the clerk is looking: beside the field it is about
// (``field``: its id), else at the end of the form it concerns (``near``: an element's id), with the page scrolled so
// that the words and the field with the focus are both in view. The one message below all the forms had been off the
// screen at 1366×768, or the field scrolled away (a keyboard clerk). A refusal about one field puts the focus in that
// field, marks it invalid for a screen reader (aria-invalid) and ties the words to it (aria-describedby), until the
// clerk changes it or the words go (the next check, another refusal).
function say(text, field, near) {
  const message = $("message");
  if (field && $(field) && $(field).type === "file") field += "-pick"; // a file is chosen with the page's button
  if (saidOf && $(saidOf)) unmark($(saidOf));
  saidOf = text && field && $(field) ? field : "";
  message.hidden = true; // each refusal shown anew: a role="alert" is announced as it appears, once
  message.textContent = text;
  if (!text) return;
  place(message, saidOf, near);
  message.hidden = false;
  let looking = document.activeElement;
  if (saidOf) {
    looking = $(saidOf);
    const folded = looking.closest("details:not([open])");
    if (folded) folded.open = true; // a field in the folded 一件事 panel: shown, or the focus would go nowhere
    looking.setAttribute("aria-invalid", "true");
    looking.setAttribute("aria-describedby", [looking.getAttribute("aria-describedby"), "message"]
      .filter(Boolean).join(" "));
    looking.focus({ preventScroll: true });
  }
  const where = looking && looking !== document.body && looking.closest("main, header") ? looking : null;
  keepInView(message, where && (where.closest("label") || where));
}

// A field no longer refused: neither marked invalid nor described by the words.
function unmark(field) {
  field.removeAttribute("aria-invalid");
  const rest = (field.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== "message");
  if (rest.length) field.setAttribute("aria-describedby", rest.join(" "));
  else field.removeAttribute("aria-describedby");
}

// Where the words go: after the label of the field they are about (a field of the matter's row: below that row, the
// whole width), else at the end of ``near``, else where they were.
function place(message, field, near) {
  if (field) {
    const label = $(field).closest("label") || $(field);
    if (label.parentElement === $("use-form")) $("use-form").append(message);
    else label.after(message);
  } else if (near && $(near)) {
    $(near).append(message);
  }
}

// Scroll the least that brings ``elements`` (those shown) into view together, the first at the top when they do not
// fit.
function keepInView(...elements) {
  const rects = elements.filter((e) => e && e.getClientRects().length).map((e) => e.getBoundingClientRect());
  if (!rects.length) return;
  const top = Math.min(...rects.map((r) => r.top));
  const bottom = Math.max(...rects.map((r) => r.bottom));
  const margin = 8;
  if (top >= 0 && bottom <= window.innerHeight) return;
  const fits = bottom - top + 2 * margin <= window.innerHeight;
  window.scrollBy(0, top < 0 || !fits ? top - margin : bottom - window.innerHeight + margin);
}

// A refusal of the page's own about one field (its id): ``say`` puts the focus there.
function refusal(message, field) {
  const error = new Error(message);
  error.field = field;
  return error;
}

// The page's field for a field the gateway's refusal names (``what``: the form the check came from).
function fieldInput(field, what) {
  const ids = {
    "use.matter_code": "matter", "use.purpose": "purpose", "use.bundle_code": "bundle", "use.case_id": "case",
    type_code: what === "claim" ? "claim-type" : "type-code", holder_code: "claim-holder",
    license_number: what === "claim" ? "claim-number" : "query", query: "query", "fields.holder_name": "claim-name",
    [`fields.${$("claim-guardian-field").value}`]: "claim-guardian",
    pdf: "pdf", qr_image: "qr-image", receipt_id: "receipt-id", file: "receipt-file",
    // a license named by identifier or code: what 输入证照 holds, or the photo it was read from
    license_id: "query", qr_code: what === "qr" ? "qr-image" : "query",
  };
  return ids[field] || "";
}

// No field is marked invalid (a check starts, or the clerk signs out).
function validAll() {
  document.querySelectorAll("[aria-invalid]").forEach(unmark);
}

// Bring what a check answered into view (the page may be scrolled past the forms); the focus stays where it is, so
// a handheld scanner's next code still goes into the identifier field.
function reveal(id) {
  $(id).scrollIntoView({ block: "nearest" });
}

// When the clerk last gave the page input, kept in the tab (a reload does not start the wait again); 0 for never.
function lastInput() {
  return Number(sessionStorage.getItem("zzgw.input")) || 0;
}

function idle() {
  return Date.now() - lastInput() >= IDLE_MINUTES * 60 * 1000;
}

// Signed out after IDLE_MINUTES without input: checked when the wait is up, and at the next input (a computer
// that slept may not have run the page's timer), so the input after a long absence signs out rather than goes on.
// So is a token kept after a sign-in that did not go through (the gateway out of reach or busy: kept for a reload to
// try again), from the attempt: it had been kept with no limit, and whoever pressed F5 at that window PC hours later
// was signed in as the clerk who typed it (a reviewer).
function watchIdle() {
  clearTimeout(idleTimer);
  idleTimer = null;
  if (!tokenKept()) {
    warnIdle(false);
    return;
  }
  if (idle()) {
    idleOut();
    return;
  }
  const left = lastInput() + IDLE_MINUTES * 60 * 1000 - Date.now();
  const warnIn = left - WARN_MINUTES * 60 * 1000;
  warnIdle(warnIn <= 0);
  idleTimer = setTimeout(watchIdle, warnIn > 0 ? warnIn : left);
}

// The warning of the sign-out to come, shown (said, role="alert") or taken away. The focus stays where it is (a
// scanner's next code still goes into its field), and stays in sight: the field is scrolled clear of the warning
// (``clearOfWarning``); taken away, the focus goes back there from the warning's button.
let beforeWarning = null;
function warnIdle(warning) {
  const shown = !$("idle-warning").hidden;
  if (warning === shown) return;
  if (warning) {
    beforeWarning = document.activeElement;
    $("idle-text").textContent = "长时间未操作：" + WARN_MINUTES + (signedIn()
      ? " 分钟后将自动退出登录。如需继续使用，请点击“继续使用”（或按任意键）。"
      : " 分钟后将清除本页保存的接入令牌和核验人。如需保留，请点击“继续使用”（或按任意键）。");
  }
  show("idle-warning", warning);
  clearOfWarning();
  if (!warning && document.activeElement === $("stay") && beforeWarning && beforeWarning.isConnected) {
    beforeWarning.focus({ preventScroll: true });
  }
}

// The warning stays at the top of the screen, over what is scrolled under it: the focused element in sight is
// scrolled down clear of it, with its label, and what gets the focus meanwhile stops below it (``--idle-warning``,
// the page's scroll-padding-top). A field scrolled away before the warning came is left where it is (the clerk was
// reading).
function clearOfWarning() {
  const warning = $("idle-warning");
  const height = warning.hidden ? 0 : warning.offsetHeight;
  document.documentElement.style.setProperty("--idle-warning", height + "px");
  const focused = document.activeElement;
  if (!height || !focused || focused === document.body || warning.contains(focused)) return;
  const field = (focused.closest("label") || focused).getBoundingClientRect();
  const below = warning.getBoundingClientRect().bottom + 8; // a little room under it, for the focus ring
  if (field.bottom > 0 && field.top < below) window.scrollBy(0, field.top - below);
}

// The tab is open: said in it while a token is kept there (signed in, or a sign-in to try again at a reload).
function stillOpen() {
  if (credentials().token) sessionStorage.setItem("zzgw.open", String(Date.now()));
}

// The page was opened other than by a reload of itself while open: its tab closed and restored or reopened, or left
// and come back to.
function reopened() {
  const open = Number(sessionStorage.getItem("zzgw.open")) || 0;
  return openedBy() !== "reload" || Date.now() - open >= REOPENED_SECONDS * 1000;
}

// How the page was opened, "reload" for a reload: a restored or reopened tab is a history traversal (Chromium). The
// navigation API's word where the browser has it, else the navigation timing's.
function openedBy() {
  if (window.navigation && navigation.activation) return navigation.activation.navigationType;
  const [timing] = performance.getEntriesByType("navigation");
  return timing ? timing.type : "";
}

// Signed in, or a token kept for a sign-in to try again: what the idle sign-out ends.
function tokenKept() {
  return Boolean(session || credentials().token);
}

// Signed in, or a signed-in tab being reloaded (its clerk noted at the sign-in, forgotten when one does not go
// through): not a token kept from a sign-in that did not go through.
function signedIn() {
  return Boolean(session || sessionStorage.getItem("zzgw.clerk"));
}

function noteInput() {
  stillOpen();
  if (!tokenKept()) return;
  if (idle()) {
    idleOut();
    return;
  }
  sessionStorage.setItem("zzgw.input", String(Date.now()));
  // the clerk is there: the warning goes, once the key or click has done what it does (taken away at once, with the
  // focus given back, the key pressed on 继续使用 went on to the field and checked it)
  if (!$("idle-warning").hidden) setTimeout(watchIdle, 0);
}

function idleOut() {
  // the focus in the token field, as after 退出 (it had been nowhere); a scanner's code typed there is not taken for a
  // token (``signInForm``). But not from a field of the sign-in form the clerk is typing in: the input that finds the
  // wait over (a PC that slept past it) is a key there, and it went on into the token field, a name typed in 核验人
  // sent as a token (a reviewer)
  const typing = !session && $("sign-in-form").contains(document.activeElement);
  signOut(signedIn() ? IDLE_MESSAGE : KEPT_IDLE_MESSAGE, !typing);
}

// 退出, and the sign-outs that are as 退出: nothing is left in the tab (the token, the clerk's name and the choices
// kept there).
function signOut(message, focusToken = true) {
  sessionStorage.clear();
  signedOut(message, focusToken);
}

// The clerk is signed out (a token ended or rotated while the page was open): back to 登录, saying why, with the
// focus in the token field unless told otherwise.
function signedOut(message, focusToken = true) {
  sessionStorage.removeItem("zzgw.token");
  sessionStorage.removeItem("zzgw.input");
  forgetClerksWork();
  clearTimeout(idleTimer);
  idleTimer = null;
  warnIdle(false);
  nextGeneration(); // what is still on its way to the page is abandoned, and dropped should it answer
  session = null;
  lastReceipt = null;
  reviewed = null;
  document.querySelectorAll("#work form").forEach((form) => form.reset()); // nothing of the last applicant stays
  for (const input of document.querySelectorAll("#work input")) if (input.type !== "button") input.value = "";
  // nor what a field noted as it got the focus (the applicant's 公民身份号码, after a 信息比对; a reviewer)
  document.querySelectorAll("[data-kept]").forEach((field) => delete field.dataset.kept);
  document.querySelectorAll(".chosen").forEach(showChosen);
  $("operator").value = ""; // the next clerk types their own
  $("token").value = ""; // nor is a token left in its field (a sign-in that did not go through had left it)
  $("member-name").textContent = ""; // nor the department and clerk in the hidden header
  $("operator-name").textContent = "";
  // nor does the last answer wait in the page, hidden: its license, findings, receipt and the case's receipts
  for (const id of ["verdict-text", "verdict-reason", "findings", "registered", "summary", "receipt-table", "case-table",
    "receipt-operator", "review-text", "review-reason", "review-standing", "review-archive", "review-table",
    "review-holder", "review-holder-check", "review-operator", "review-at", "review-invalid", "checked-what",
    "case-linked", "claim-key", "announce"]) {
    $(id).replaceChildren();
  }
  for (const id of ["verdict", "review-verdict"]) $(id).className = "verdict"; // nor how the last check came out
  delete $("verdict").dataset.unreadable;
  delete $("review-reason").dataset.reason;
  $("case-details").open = false;
  listing = null;
  validAll();
  showCase();
  show("result", false);
  offerCurrent("");
  show("receipt-review", false);
  show("case-receipts", false);
  show("receipt-kept", false);
  show("work", false);
  show("who", false);
  show("busy", false); // a check abandoned: its buttons are the next clerk's to use
  waitButtons(false);
  hold([signInButton()], false);
  for (const id of Object.values(UNCHECKED)) show(id, false);
  show("sign-in", true);
  say(message, "", "sign-in-form");
  if (focusToken) $("token").focus();
}

// What the tab keeps of a clerk's work over a reload (the case in force, a purpose written, the last receipt's
// number), and whose it is: forgotten when the sign-in form is shown without a session, and at a sign-in by another
// clerk, so that none of it is offered to the next clerk at the window (a reload refused because the token had been
// ended had handed the last clerk's receipt number to whoever signed in next; a reviewer).
const CLERKS_WORK = ["zzgw.clerk", "zzgw.case", "zzgw.purpose", "zzgw.receipt"];

function forgetClerksWork() {
  for (const key of CLERKS_WORK) sessionStorage.removeItem(key);
}

// Who is signed in, as the access records name them: the department and the clerk.
function clerkIdentity() {
  return JSON.stringify([session.member.code, operatorName()]);
}

// The sign-in form, shown after a sign-in that did not go through: what the tab kept is not the next clerk's.
function notSignedIn() {
  session = null;
  forgetClerksWork();
  show("sign-in", true);
  show("work", false);
  show("who", false);
}

// The clerk's name as the gateway keeps it: every kind of space (a Chinese input method's full-width U+3000, a
// no-break space pasted from a document) a plain one, none around it (gateway.domain.verification.plain_operator).
function plainOperator(text) {
  return text.replace(/[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g, " ").trim();
}

// What the gateway would refuse in a clerk's name, said at sign-in rather than at every check after it: a
// 公民身份号码 or a mobile number (the name is in every access record, which the holder, co-subjects and the issuer
// read), more than 64 characters, or one that is not printable (Python's str.isprintable: controls, format and
// unassigned characters, line and paragraph separators), named.
function operatorProblem(name) {
  const personal = personalNumberIn(name);
  if (personal) {
    return "核验人姓名或工号中不能填写" + personal + "（它写入用证记录，持证人、相关人和发证部门都能看到），请填写本人姓名或工号";
  }
  const characters = [...name];
  if (characters.length > MAX_OPERATOR) {
    return "核验人姓名或工号过长（" + characters.length + " 个字符，最多 " + MAX_OPERATOR + " 个），请删减后重新输入";
  }
  const index = characters.findIndex((c) => /[\p{C}\p{Zl}\p{Zp}]/u.test(c));
  if (index < 0) return "";
  const c = characters[index];
  const code = "U+" + c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
  const what = c === "\t" ? "制表符" : c === "\n" || c === "\r" ? "换行符" : /\p{Cf}/u.test(c) ? "不可见的格式字符 " + code
    : "不可打印的字符 " + code;
  return "核验人姓名或工号的第 " + (index + 1) + " 个字符是" + what + "，请删除后重新输入";
}

// A 公民身份号码 or a mobile number in ``text``, named ("公民身份号码", "手机号码"), else "": as the gateway looks for
// them in a clerk's name or a purpose (gateway.domain.verification.personal_data_in, as typed), in full-width
// digits and with spaces or dashes between the digits too: 18 characters that begin with a region's province and a
// birth date (its check character mistyped or not; joined from pieces, only one whose check character holds), a
// first-generation 15-digit number, a mobile number (11 digits from 13 to 19, after 86 too).
const PROVINCES = new Set(("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 "
  + "65 71 81 82").split(" "));
function personalNumberIn(text) {
  const folded = text.normalize("NFKC");
  const joined = folded.replace(/[\s\-\u2010-\u2015\u00b7\u30fb]/g, "");
  const born = (region, date) => {
    if (!/^[1-8]\d{5}$/.test(region) || !PROVINCES.has(region.slice(0, 2))) return false;
    const [y, m, d] = [Number(date.slice(0, 4)), Number(date.slice(4, 6)), Number(date.slice(6, 8))];
    const day = new Date(Date.UTC(y, m - 1, d));
    const real = day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
    return real && y >= 1900 && day.getTime() <= Date.now() + 8 * 3600 * 1000;
  };
  const eighteen = /(?<![0-9])[0-9]{17}[0-9A-Za-z](?![0-9A-Za-z])/g;
  const fifteen = /(?<![0-9])[0-9]{15}(?![0-9A-Za-z])/g;
  const mobile = /(?<![0-9])(?:86)?1[3-9][0-9]{9}(?![0-9])/;
  if ([...folded.matchAll(eighteen)].some(([n]) => born(n.slice(0, 6), n.slice(6, 14)))
    || [...folded.matchAll(fifteen)].some(([n]) => born(n.slice(0, 6), "19" + n.slice(6, 12)))
    || [...joined.matchAll(eighteen)].some(([n]) => born(n.slice(0, 6), n.slice(6, 14))
      && citizenCheck(n.slice(0, 17)) === n[17].toUpperCase())) {
    return "公民身份号码";
  }
  return mobile.test(folded) || mobile.test(joined) ? "手机号码" : "";
}

// The sign-in form's 登录 button.
function signInButton() {
  return $("sign-in-form").querySelector("button[type=submit]");
}

async function signIn() {
  const asOf = nextGeneration(); // a new clerk: nothing started before is theirs
  // said, and 登录 waiting, while the gateway answers: on a slow network nothing had changed, and 登录 was clicked
  // again (a clerk tester)
  signingIn = true;
  hold([signInButton()], true);
  progress();
  try {
    session = await call("api/session", undefined, asOf);
  } catch (error) {
    if (error instanceof Dropped) return;
    const refused = ["UNKNOWN_CREDENTIAL", "TOKEN_ENDED", "NO_CREDENTIAL", "ROLE_NOT_ALLOWED", "NO_MATTERS"]
      .includes(error.reason);
    if (refused) sessionStorage.removeItem("zzgw.token");
    notSignedIn();
    say(error.message, refused ? "token" : "", "sign-in-form"); // a token refused: that field's refusal
    $("token").select(); // the focus back in the token field, its text chosen: the right token pasted replaces it
    watchIdle(); // a token kept to try again is kept for the idle wait only
    return;
  } finally {
    if (asOf === generation) {
      signingIn = false;
      hold([signInButton()], false);
      progress();
    }
  }
  if (!operatorName()) {
    notSignedIn();
    say(FIELD_ERRORS["use.operator:REQUIRED"], "operator");
    watchIdle();
    return;
  }
  say("");
  // what the tab kept (the case, the purpose, the last receipt) is offered again to the clerk who left it only
  if (sessionStorage.getItem("zzgw.clerk") !== clerkIdentity()) forgetClerksWork();
  sessionStorage.setItem("zzgw.clerk", clerkIdentity());
  $("token").value = ""; // kept in the tab's storage only
  $("member-name").textContent = session.member.name;
  $("operator-name").textContent = operatorName();
  const matter = $("matter");
  // the matters the department handles (the session lists no other), the first chosen unless the clerk chose one
  // before in this tab
  const option = (m) => new Option(m.name + "（" + m.department + "）", m.code);
  matter.replaceChildren(new Option("— 请选择办理事项 —", ""), ...session.matters.map(option));
  const kept = sessionStorage.getItem("zzgw.matter");
  const listed = kept && session.matters.some((m) => m.code === kept);
  matter.value = listed ? kept : session.matters.length ? session.matters[0].code : "";
  const bundles = session.bundles.map((b) => new Option(b.name, b.code));
  $("bundle").replaceChildren(new Option("—", ""), ...bundles);
  show("case-details", bundles.length > 0); // a department none of whose matters is in a 一件事 has no case
  const keptCase = keptInTab("zzgw.case");
  if (keptCase && session.bundles.some((b) => b.code === keptCase.bundle)) {
    $("bundle").value = keptCase.bundle;
    $("case").value = String(keptCase.case || "");
    $("case-details").open = Boolean($("case").value.trim());
  }
  showCase();
  choose(matter.value);
  // the tab's last receipt, after a reload by the clerk who made it: its number ready to be looked up again (not
  // looked up: a look-up is on the holder's log)
  const keptReceipt = sessionStorage.getItem("zzgw.receipt") || "";
  if (keptReceipt && !$("receipt-id").value) $("receipt-id").value = keptReceipt;
  show("receipt-kept", Boolean(keptReceipt) && $("receipt-id").value === keptReceipt);
  show("sign-in", false);
  show("work", true);
  $("query").focus(); // ready for a handheld scanner, which types the code and Enter
  show("who", true);
  sessionStorage.setItem("zzgw.input", String(Date.now())); // signing in is input
  watchIdle();
}

// What the tab keeps under ``key`` (the case in force, a purpose written), or null: anything unreadable is nothing.
function keptInTab(key) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(key) || "null");
    return kept && typeof kept === "object" ? kept : null;
  } catch (e) {
    return null;
  }
}

function choose(code) {
  const matter = session.matters.find((m) => m.code === code);
  // the purpose the clerk wrote for this matter in this tab, kept over a reload (it went back to the catalog's, and
  // the next receipts were signed with that without a word; a clerk tester)
  const kept = keptInTab("zzgw.purpose");
  $("purpose").value = kept && matter && kept.matter === code ? String(kept.purpose) : matter ? matter.purpose : "";
  // a license is verified, and a claim compared, only for the types the matter's materials list (the gateway
  // refuses others): those are offered, a type chosen before kept if the matter uses it too; a claim also of a type
  // whose holder any matter may confirm (the 居民身份证), after the matter's own
  const used = session.license_types.filter((t) => matter && matter.type_codes.includes(t.code));
  const claimable = used.concat(
    session.license_types.filter((t) => matter && !used.includes(t) && t.claimable_under_any_matter));
  const typeCode = $("type-code").value;
  $("type-code").replaceChildren(new Option("—", ""), ...used.map((t) => new Option(t.name, t.code)));
  $("type-code").value = used.some((t) => t.code === typeCode) ? typeCode : "";
  $("claim-type").replaceChildren(...claimable.map((t) => new Option(t.name, t.code)));
  claimLabels();
}

// 信息比对's holder fields named for the type chosen: 公民身份号码 and 持证人姓名 for a 居民身份证, 统一社会信用代码 and
// 单位名称 for a 营业执照.
function claimLabels() {
  const types = (session && session.license_types) || [];
  const labels = typeHolderLabels($("claim-type").value, types);
  // a 结婚证: the spouse who does not hold it is compared by their own number and their own name (review rfB, R3)
  const either = types.some((t) => t.code === $("claim-type").value && t.held_by_one_named);
  $("claim-holder-label").textContent = labels.code + (either ? "（持证人或证照载明的另一方）" : "");
  $("claim-name-label").textContent = labels.claimName + (either ? "（可选，与上栏号码同属一人）" : "（可选）");
  // a newborn's parent applies: their own 公民身份号码 against the mother or father the license names, where the
  // matter uses those codes (出生登记; review clerk, R1): the page had told the clerk to compare them, and offered no
  // way to
  const fields = guardianFields($("claim-type").value);
  const chosen = $("claim-guardian-field").value;
  $("claim-guardian-field").replaceChildren(...fields.map((f) => new Option(f.label, f.key)));
  if (fields.some((f) => f.key === chosen)) $("claim-guardian-field").value = chosen;
  show("claim-guardian-row", fields.length > 0);
  return labels;
}

// The parents' fields of ``typeCode`` (a 出生医学证明's 母亲/父亲有效身份证件号码) a claim under the chosen matter may
// compare (the session's ``guardian_fields``): none where the matter does not use them. ``matterCode``: the chosen
// matter's, or a check's.
function guardianFields(typeCode, matterCode = $("matter").value) {
  const matter = session && session.matters.find((m) => m.code === matterCode);
  return (matter && matter.guardian_fields && matter.guardian_fields[typeCode]) || [];
}

// The panel's title when no case is in force.
const CASE_SUMMARY = "一件事 / 办件编号（可选；接办时可查看本件已有的核验回执）";

// The case in force (a case number in the panel, which every check sends): named in the panel's title, folded or
// not, with 结束本件 beside it; the title as it was when there is none.
function showCase() {
  const caseId = $("case").value.trim();
  const bundle = session ? session.bundles.find((b) => b.code === $("bundle").value) : null;
  $("case-summary").textContent = caseId
    ? "当前办件：" + (bundle ? bundle.name : "（未选择一件事）") + " / " + caseId : CASE_SUMMARY;
  $("case-summary").classList.toggle("active", Boolean(caseId));
  show("case-active", Boolean(caseId));
  if (session) { // the case in force is kept over a reload, as the matter is: a reload had ended it without a word
    if (caseId || $("bundle").value) {
      sessionStorage.setItem("zzgw.case", JSON.stringify({ bundle: $("bundle").value, case: $("case").value }));
    } else {
      sessionStorage.removeItem("zzgw.case");
    }
  }
  if (listing && (listing.use.case_id !== caseId || listing.use.bundle_code !== $("bundle").value.trim())) {
    dropListing(); // another case's receipts are not shown under this one's name, nor paged on
  }
}

// No case listed: a listing's answers still on their way are dropped when they come (``listCase``).
function dropListing() {
  listing = null;
  $("case-table").replaceChildren();
  showRows($("case-table"));
  show("case-receipts", false);
  caseButtons(); // nor waited for
  progress();
}

// 结束本件: the next check is linked to no case (the next applicant's is not the last one's); the case's receipts
// listed go too, and the focus is back in 输入证照 for the next scan.
function endCase() {
  $("case").value = "";
  $("bundle").value = "";
  for (const id of ["case", "bundle"]) $(id).removeAttribute("aria-invalid");
  dropListing();
  showCase();
  say("");
  announce("已结束本件：此后的核验不再关联办件");
  $("query").select();
}

// A license's code or identifier in a text, as a scanner or a paste puts it there (ZZ1: in capitals, small letters or
// full width; the identifier's root 1.2.156.3005.2. with 。 for the dots): where it starts, or -1.
const SCANNED = /[zZＺｚ][zZＺｚ][1１][:：]|1[.。．｡]2[.。．｡]156[.。．｡]3005[.。．｡]2[.。．｡]/;

function scannedAt(text) {
  const found = SCANNED.exec(text);
  return found ? found.index : -1;
}

// The fields a code must not stay in (a scanner types where the cursor is): what each is called.
const NOT_FOR_CODES = {
  purpose: "用证事由", case: "办件编号", "receipt-id": "回执编号",
  // 信息比对's: an applicant's code scanned there is a check of the license, not a claim to compare
  "claim-holder": () => claimLabels().code, "claim-number": "证照编号", "claim-name": () => claimLabels().claimName,
  "claim-guardian": "申请人本人的公民身份号码",
};

// What a field that takes no code is called (NOT_FOR_CODES).
function notForCodes(id) {
  const name = NOT_FOR_CODES[id];
  return typeof name === "function" ? name() : name;
}

// A code (or identifier) that came into one of those fields (``field``) goes to 输入证照, and the field is as it
// was: as soon as its beginning is typed, so that the rest of a scanner's keys, and its Enter, go to 输入证照 and
// check it; a pasted one is checked at once (``pasted``: its text).
function moveScanned(field, pasted) {
  let code;
  if (pasted !== undefined) {
    code = pasted.slice(scannedAt(pasted)).trim();
  } else {
    const value = field.value;
    const at = scannedAt(value);
    const end = field.selectionEnd > at ? field.selectionEnd : value.length;
    code = value.slice(at, end);
    field.value = value.slice(0, at) + value.slice(end);
    // a field entered with Tab has its text selected, and the scanner's first key replaced it: given back
    if (!field.value.trim() && field.dataset.kept) field.value = field.dataset.kept;
    field.setSelectionRange(at, at);
  }
  if (field.id === "case") showCase();
  const query = $("query");
  query.value = code;
  query.focus();
  query.setSelectionRange(code.length, code.length);
  if (checking) entered.add("text");
  if (pasted !== undefined) {
    const running = checking;
    verify("text");
    if (running || !checking) return; // held until the running check ends, or refused: said so
  }
  say(notForCodes(field.id) + "中不能填写核验码或证照标识：已移到“输入证照”"
    + (pasted !== undefined ? "" : "，请按回车核验"), "", "by-text");
}

// The matter and purpose a check needs, said in Chinese when missing (the forms do not use the browser's messages).
function useReady() {
  const [missing, field] = !$("matter").value ? ["请选择办理事项", "matter"]
    : !$("purpose").value.trim() ? ["请填写用证事由", "purpose"]
    : scannedAt($("purpose").value) >= 0 ? ["用证事由中不能含有核验码或证照标识，请删除后重试", "purpose"]
    : scannedAt($("case").value) >= 0 ? ["办件编号中不能含有核验码或证照标识，请删除后重试", "case"]
    : $("bundle").value && !$("case").value.trim() ? ["请填写办件编号", "case"] : ["", ""];
  if (missing) say(missing, field);
  return !missing;
}

function use() {
  return {
    matter_code: $("matter").value,
    purpose: $("purpose").value.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(),
    operator: credentials().operator,
    bundle_code: $("bundle").value.trim(),
    case_id: $("case").value.trim(),
  };
}

function size(bytes) {
  if (bytes < 1024) return bytes + " 字节";
  if (bytes < 1048576) return (bytes / 1024).toFixed(1) + " KB";
  return (bytes / 1048576).toFixed(1) + " MB";
}

// "4,194,305 字节": a size to the byte.
function bytes(count) {
  return count.toLocaleString("en-US") + " 字节";
}

// ``advice``: what to do instead, after the refusal.
function small(file, limit, what, field, advice = "") {
  // refused here, before a long upload the gateway would refuse anyway; in bytes when the rounded sizes read the same
  // (4.0 MB, at most 4.0 MB)
  if (file.size > limit) {
    const [given, most] = size(file.size) === size(limit) ? [bytes(file.size), bytes(limit)] : [size(file.size), size(limit)];
    throw refusal(what + "过大（" + given + "），最大 " + most + (advice ? "。" + advice : ""), field);
  }
  return file;
}

function base64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
    reader.onerror = () => reject(new Error("无法读取文件"));
    reader.readAsDataURL(file);
  });
}

// Who makes a check, as it starts: the department and the clerk its receipt names, and the use it sends (its
// matter, purpose and case), whatever happens to the page before the answer arrives.
function checker() {
  return {
    member: session.member, matters: session.matters, bundles: session.bundles, types: session.license_types,
    operator: operatorName(), use: use(),
  };
}

// A check runs one at a time. What the clerk enters while one runs (Enter in a field, as a window's handheld scanner
// types a code and Enter) is not checked on its own: the running check's verdict is shown first and stays until the
// clerk starts the next check, so no verdict is replaced before it is seen. It is said meanwhile, and when the
// verdict comes, beside the field: 输入框中的内容尚未核验, so that no verdict reads as the field's.
let checking = false;
let underway = null; // the check (or receipt look-up) under way: what it looks for in words (``looked``) and its ``key``
const entered = new Set(); // the forms (text, claim) typed in or entered while it runs
let said = ""; // what the page said of an entry while it runs: taken away when it ends
// Each kind of check's form.
const FORMS = { text: "by-text", pdf: "by-pdf", qr: "by-qr", claim: "by-claim" };
// The notice beside each form whose content has not been checked, by form.
const UNCHECKED = { text: "query-unchecked", claim: "claim-unchecked" };

// A check submitted by the clerk (``what``: text, pdf, qr, claim): run now, or, while one runs, said and left in the
// field for the clerk to enter again.
function verify(what) {
  if (!session) return;
  if (checking) {
    enteredMeanwhile(what);
    return;
  }
  say("");
  show("result", false); // a new check starts: the last one's answer is not this one's
  show("receipt-review", false);
  announce(""); // nor is it said any more: a refusal of the page's own had left the last verdict in the status region
  const check = prepared(what);
  if (check) run(check);
}

// Enter in a form while a check runs: nothing starts; said, the same check as the running one (a double Enter) as
// such.
function enteredMeanwhile(what) {
  entered.add(what);
  const looked = underway ? underway.looked : "";
  said = underway && underway.key === keyOf(what)
    ? "已在核验：" + looked + "，请稍候（同一内容不重复核验）"
    : "正在核验" + (looked ? "：" + looked : "") + "，请稍候。刚输入的内容不会自动核验：本次核验完成后，请再按回车核验";
  say(said, "", FORMS[what]);
}

// What a form's check would send now (its fields, the file chosen, and the use: matter, purpose, bundle, case),
// as one string: two checks with the same key are the same check.
function keyOf(what) {
  const file = (id) => {
    const f = $(id).files[0];
    return f ? [f.name, f.size, f.lastModified] : null;
  };
  const fields = {
    text: () => [$("query").value.trim(), $("type-code").value],
    claim: () => [$("claim-type").value, $("claim-holder").value.trim(), $("claim-number").value.trim(),
      $("claim-name").value.trim(), ...claimedGuardian()],
    pdf: () => file("pdf"),
    qr: () => file("qr-image"),
  }[what]();
  return what + JSON.stringify(fields) + JSON.stringify(use());
}

// The parent's field 信息比对 compares the applicant's own 公民身份号码 with, and that number ([] where the form has
// no such field for the type and matter chosen).
function claimedGuardian() {
  if ($("claim-guardian-row").hidden || !$("claim-guardian-field").value) return [];
  return [$("claim-guardian-field").value, $("claim-guardian").value.trim()];
}

// Whether a form's fields hold something to check.
function filled(what) {
  if (what === "text") return Boolean($("query").value.trim());
  return Boolean($("claim-holder").value.trim() || $("claim-number").value.trim());
}

function waitButtons(waiting) {
  // (the next file may be chosen meanwhile, as the fields may be typed in)
  hold(document.querySelectorAll("#work button:not(.pick), #review-again, #verify-current"), waiting);
  if (!waiting) caseButtons(); // a case's receipts still on their way keep theirs waiting
}

// 查看本件已有核验回执 and 显示更多 wait while a check runs or the case's receipts are on their way.
function caseButtons() {
  hold([$("case-list"), $("case-next")], checking || Boolean(listing && listing.pending));
}

// Buttons made to wait (``waiting``: disabled) or free again: every button the page disables goes through here. A
// button disabled while it has the focus drops it to the page's body: a keyboard or screen-reader clerk who pressed
// 比对, 查验回执 or 查看本件已有核验回执 was left at the top of the page, the form to be found again, and a wrong claim
// not to be corrected where it was typed (an accessibility tester). The focus goes first where Enter in the form's
// field leaves it (``WAITING_FOCUS``); the answer may move it on, as it does from that field.
function hold(buttons, waiting) {
  for (const button of buttons) {
    if (waiting && button === document.activeElement) {
      const next = waitingFocus(button);
      if (next) next.focus({ preventScroll: true });
    }
    button.disabled = waiting;
  }
}

// Where the focus goes from a button that waits, by the button's id or its form's: 登录 to the token field, 核验,
// 核验文件, 识别并核验, 重新核验此证照 and 核验现行版本 to 输入证照 (where a check's answer leaves it), 比对 to the
// holder's code of 信息比对 (公民身份号码, 统一社会信用代码 …), 查验回执 to 回执编号, 查看本件已有核验回执 to 办件编号, 结束本件 to
// 输入证照 (docs/console.md).
const WAITING_FOCUS = {
  "sign-in-form": "token", "by-text": "query", "by-pdf": "query", "by-qr": "query", "by-claim": "claim-holder",
  "by-receipt": "receipt-id", "case-list": "case", "case-end": "query", "review-again": "query",
  "verify-current": "query",
};

// The element the focus goes to from ``button`` while it waits (``WAITING_FOCUS``); from 显示更多, the last receipt's
// 下载 above it, the next Tab the first receipt of the page to come.
function waitingFocus(button) {
  if (button.id === "case-next") return [...$("case-table").querySelectorAll("button")].pop() || $("case-head");
  const id = WAITING_FOCUS[button.id] || (button.form && WAITING_FOCUS[button.form.id]);
  return id ? $(id) : null;
}

// What the page waits for, said below the forms (#busy, a polite status) while the buttons that would ask again wait:
// a sign-in, a check, a receipt's look-up, a case's receipts. A sign-in and a case's listing had shown nothing on a
// slow network, and were asked again (a clerk tester).
function progress() {
  const text = signingIn ? "正在登录…" : checking ? (underway && underway.busy) || "正在核验…"
    : listing && listing.pending ? "正在查询本件核验回执…" : "";
  if (text && $("busy").textContent !== text) $("busy").textContent = text;
  show("busy", Boolean(text));
}

// A check or a receipt's look-up starts (``check``: its form ``what``, if any, ``looked`` and ``key``): the last
// answer goes (the new one is not its), the buttons wait. Returns the sign-in it runs under.
function begin(check) {
  checking = true;
  underway = check;
  entered.clear();
  said = "";
  say("");
  show("result", false);
  offerCurrent(""); // the last answer's version in force is not this check's
  show("receipt-review", false);
  if (UNCHECKED[check.what]) show(UNCHECKED[check.what], false); // what the form holds is being checked
  validAll();
  waitButtons(true);
  progress();
  announce("");
  return generation;
}

// A check or look-up started by ``begin`` has ended, its answer shown or refused (``refusal``, the words): the page
// is free again. What was entered while it ran and is not what it checked is said, beside its field and to a screen
// reader, to be not checked yet; a refusal then names what it refuses. The 正在核验 said meanwhile goes.
function finished(asOf, check, refusal, field) {
  if (asOf !== generation) return; // the page is another clerk's (or none's) now: it is left as it is
  checking = false;
  underway = null;
  progress();
  waitButtons(false);
  const unchecked = [...entered].filter((w) => UNCHECKED[w] && filled(w) && keyOf(w) !== check.key);
  entered.clear();
  for (const w of unchecked) show(UNCHECKED[w], true);
  if (!session) return;
  const form = check.form || FORMS[check.what];
  if (refusal) say(unchecked.length ? check.looked + "：" + refusal : refusal, unchecked.length ? "" : field, form);
  else if (said && $("message").textContent === said) say("");
  said = "";
  // a refusal is heard once, from the words shown (role="alert"); the status region says only what else there is
  const notices = unchecked.map((w) => $(UNCHECKED[w]).textContent);
  if (refusal) announce(notices.join("。"));
  else if (notices.length) announce([$("announce").textContent, ...notices].filter(Boolean).join("。"));
  // the next scan replaces what this one typed (unless a refusal named a field: the focus is there)
  if (check.what && check.what !== "claim" && !(refusal && field)) $("query").select();
}

// The check the clerk asks for, taken as it stands now (the fields may change before it runs): who makes it, what
// it sends, and what it looks for in words (``looked``, shown with its verdict); null, said why, when it cannot run.
function prepared(what) {
  if (!useReady()) return null;
  try {
    const by = checker();
    const check = { what, by, request: { use: by.use } };
    if (what === "text") {
      check.request.query = $("query").value.trim();
      if (!check.request.query) throw refusal("请输入证照标识、证照编号或核验码", "query");
      check.request.type_code = $("type-code").value;
      check.request.query = holderCodeNumber(check.request.query, check.request.type_code, by.types);
      const mistyped = mistypedNumber(check.request.query, check.request.type_code, by.types);
      if (mistyped) throw refusal("证照编号（" + mistyped + "）的校验码不符，可能输入有误，请核对后重新输入", "query");
      check.looked = typed(check.request.query, check.request.type_code, by);
    } else if (what === "claim") {
      if (!$("claim-holder").value.trim() || !$("claim-number").value.trim()) {
        const holder = claimLabels().code;
        throw refusal("请填写" + holder + "和证照编号", $("claim-holder").value.trim() ? "claim-number" : "claim-holder");
      }
      check.request.type_code = $("claim-type").value;
      check.request.holder_code = $("claim-holder").value.trim();
      check.request.license_number = $("claim-number").value.trim();
      check.request.fields = { holder_name: $("claim-name").value.trim() };
      const [guardian, code] = claimedGuardian();
      if (guardian && code) check.request.fields[guardian] = code;
      check.looked = "信息比对：" + typeName(check.request.type_code, by) + "，证照编号 "
        + masked(check.request.license_number, personalNumber(check.request.type_code, by));
    } else if (what === "pdf") {
      check.file = small(chosen("pdf", "PDF 文件"), session.limits.pdf_bytes, "PDF 文件", "pdf", PDF_TOO_LARGE_ADVICE);
      check.looked = "PDF 文件 " + fileName(check.file.name) + "（" + size(check.file.size) + "）";
    } else {
      check.file = small(chosen("qr-image", "二维码图片"), session.limits.image_bytes, "图片", "qr-image");
      check.looked = "二维码图片 " + fileName(check.file.name) + "（" + size(check.file.size) + "）";
    }
    check.key = keyOf(what);
    return check;
  } catch (error) {
    say(error.message, error.field, FORMS[what]);
    return null;
  }
}

async function run(check) {
  const asOf = begin(check);
  const { what, by, request } = check;
  let refused = "";
  let field = "";
  try {
    if (what === "claim") {
      renderClaim(await call("api/check-claim", request, asOf), by, check);
      return;
    }
    if (what === "pdf") request.pdf = await base64(check.file);
    else if (what === "qr") request.qr_image = await base64(check.file);
    render(await call("api/verify", request, asOf), by, check);
  } catch (error) {
    refused = error.message || "核验失败，请重试";
    field = fieldInput(error.gatewayField, what);
    if (field === "claim-guardian") refused = guardianWords(refused);
  } finally {
    finished(asOf, check, refused, field);
  }
}

// A refusal of the applicant's own number (信息比对's 申请人本人的公民身份号码), said by that field's label: the
// gateway names the license's field it is compared with (母亲有效身份证件号码), which the clerk had not typed into
// (review console2, R3).
function guardianWords(message) {
  const compared = $("claim-guardian-field").selectedOptions[0];
  const label = compared ? compared.text : "";
  return label && message.includes(label) ? message.replace(label, NOT_FOR_CODES["claim-guardian"]) : message;
}

// A license number that is its holder's code (a 居民身份证's 公民身份号码, a 营业执照's 统一社会信用代码: the type's
// ``number_is_holder_code``) whose check character does not match: what it is called, else "". No license has such a
// number (issuance refuses the code), so it was mistyped: said before the look-up, which could only answer 未找到该证照
// (a Chinese text editor). Read as the gateway reads a number: full width, small letters and spaces folded.
function mistypedNumber(number, typeCode, types) {
  const type = (types || []).find((t) => t.code === typeCode);
  if (!type || !type.number_is_holder_code) return "";
  const codes = type.holder_code_types || [];
  const plain = number.normalize("NFKC").replace(/\s+/g, "").toUpperCase();
  const only = (code) => codes.length > 0 && codes.every((c) => c === code);
  if (only("111") && /^\d{17}[\dX]$/.test(plain) && citizenCheck(plain.slice(0, 17)) !== plain[17]) {
    return "公民身份号码";
  }
  if (only("001") && USCC_SHAPE.test(plain) && usccCheck(plain.slice(0, 17)) !== plain[17]) return "统一社会信用代码";
  return "";
}

// A number that is its holder's code (``number_is_holder_code``) typed or pasted with hyphens (913701-0000000078R7,
// 370102-19900101-0005, in full width too) without them, as the gateway drops spaces from a number: no such number
// has one, and it had been a red 未找到该证照 (review clerk, R2). Anything else (an identifier, a code) as it was.
const HYPHENS = /[-\u2010\u2011\uFF0D]/g;
function holderCodeNumber(text, typeCode, types) {
  const type = (types || []).find((t) => t.code === typeCode);
  const bare = text.replace(HYPHENS, "");
  const compact = bare.normalize("NFKC").replace(/[\s\p{Cf}]+/gu, "");
  return type && type.number_is_holder_code && /^[0-9A-Za-z]{18}$/.test(compact) ? bare : text;
}

// GB 11643's check character of a 公民身份号码's first 17 digits (ISO/IEC 7064 MOD 11-2).
function citizenCheck(first17) {
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const total = [...first17].reduce((sum, d, i) => sum + Number(d) * weights[i], 0);
  return "10X98765432"[total % 11];
}

// GB 32100's check character of a 统一社会信用代码's first 17 characters.
const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_SHAPE = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/; // as the gateway reads one
function usccCheck(first17) {
  const weights = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  const total = [...first17].reduce((sum, c, i) => sum + USCC_ALPHABET.indexOf(c) * weights[i], 0);
  return USCC_ALPHABET[(31 - (total % 31)) % 31];
}

// What a clerk typed, in words: a number with its type, an identifier, a code or, without a type, what was typed (as the gateway reads it, which the
// answer's statement says: ``checkedText``); a long text shortened.
function typed(text, typeCode, by) {
  if (/^\s*[zZＺｚ][zZＺｚ][1１][:：]/.test(text)) return "核验码 " + shortened(text);
  if (typeCode) return "证照编号 " + masked(text, personalNumber(typeCode, by)) + "（" + typeName(typeCode, by) + "）";
  // an identifier by its root (1.2.156.…); anything else is what was typed, a 公民身份号码 masked
  return /^\s*1\.2\.156\./.test(text) ? "证照标识 " + shortened(text) : "输入内容 " + masked(text);
}

// What was typed as the gateway reads it: without invisible format characters (a zero-width space, a direction
// override pasted with a number), which it drops from a number. Shown as typed, U+202E had turned the rest of 核验内容
// around (证照编号 …（证婚结）, a console tester).
function shortened(text) {
  const characters = [...text.replace(/\p{Cf}+/gu, "")];
  return characters.length > 120 ? characters.slice(0, 100).join("") + "…（共 " + characters.length + " 个字符）"
    : characters.join("");
}

// A text refused for characters the gateway named (持证主体名称含有不可见字符 U+200B): most print as nothing, so the
// clerk is told which field and which to delete, as the gateway says it (a console tester: the page had said only
// 看不见的字符).
function charactersNamed(violation) {
  const said = violation ? chineseOf(violation.description) : "";
  return /U\+[0-9A-F]{4,6}/.test(said) ? said + "，请删除后重新输入" : "";
}

// A number typed that is a 公民身份号码 (a 居民身份证's number is its holder's), or one of a type whose numbers are a
// person's (``personal``: ``personalNumber``): masked as the summary masks the holder's (3701**********1234,
// E8*****21); another as typed. Read as the gateway reads a number (normal_number): full-width digits and letters as
// ASCII ones, small letters as capitals, no spaces or invisible format characters. Typed in full width (an input
// method's or a scanner's ３７０１…), which the gateway finds as the same number, it had been shown whole (a privacy
// auditor); a passport's number had been shown whole above the summary's 证件号码 E8*****21 (a reviewer, R2).
function masked(text, personal) {
  const compact = text.normalize("NFKC").replace(/[\s\p{Cf}]+/gu, "").toUpperCase();
  return personal || /^\d{17}[\dX]$/.test(compact) ? maskEnds(compact) : shortened(text);
}

// gateway.domain.model.mask, the summary's rule: each end shows at most 4 characters and at most a quarter of the
// value; 8 characters or fewer are hidden whole.
function maskEnds(value) {
  const characters = [...value];
  if (characters.length <= 8) return "*".repeat(characters.length);
  const shown = Math.min(4, Math.floor(characters.length / 4));
  return characters.slice(0, shown).join("") + "*".repeat(characters.length - 2 * shown)
    + characters.slice(-shown).join("");
}

// The holder code types of a person's papers other than the 公民身份号码: 护照号码, the two 通行证, the 外国人永久居留身份证.
const PAPER_CODE_TYPES = ["414", "516", "511", "554"];

// Whether the numbers of license type ``typeCode`` are a person's: a type whose holders may be known by a passport's
// or a permit's number (a 护照: its number is that paper's), or whose number is its holder's code
// (``number_is_holder_code``) where the holder is not an organisation under its public 统一社会信用代码 (shown whole,
// as the summary shows it).
function personalNumber(typeCode, by) {
  const type = (by.types || []).find((t) => t.code === typeCode);
  if (!type) return false;
  const codes = type.holder_code_types || [];
  if (codes.some((c) => PAPER_CODE_TYPES.includes(c))) return true;
  return Boolean(type.number_is_holder_code) && !codes.every((c) => c === "001");
}

// A chosen file's name as 核验内容 says it, on the screen and on paper: a 公民身份号码 in it masked as a typed one is.
// Scans are often named by the applicant's number (370102198910031235-徐某身份证.png), which had been printed whole
// beside the summary's 3701**********1235 (a reviewer, R2).
function fileName(name) {
  return shortened(name).replace(/(?<!\p{Nd})\p{Nd}{17}[\p{Nd}XxＸｘ](?!\p{Nd})/gu,
    (number) => maskEnds(number.normalize("NFKC").toUpperCase()));
}

function typeName(code, by) {
  const known = (by.types || []).find((t) => t.code === code);
  return known ? known.name : code || "—";
}

// What a check looked for, beside its verdict and on its paper: what the clerk typed or chose, as the gateway read
// it (the signed statement's query).
function checkedText(check, query) {
  if (!check) return "";
  if (check.what === "text" && query.by === "license_id") return "证照标识 " + (query.license_id || check.request.query);
  if (check.what === "text" && query.by === "license_number") {
    const personal = personalNumber(query.type_code, check.by);
    return "证照编号 " + masked(check.request.query, personal) + "（" + typeName(query.type_code, check.by) + "）";
  }
  if (check.what === "text" && query.by === "qr_code") return "核验码 " + shortened(check.request.query);
  return check.looked;
}

// A receipt by its number or as a file (another department's, 接办免收; one the applicant brings): checked again by
// the gateway, shown only when its signature holds, with whether the archive has it.
async function reviewReceipt() {
  if (checking) return say("正在核验，请稍候", "", "by-receipt");
  show("receipt-kept", false);
  say("");
  show("result", false);
  show("receipt-review", false);
  announce("");
  const number = $("receipt-id").value.trim();
  const file = $("receipt-file").files[0];
  if (!number && !file) return say("请填写回执编号，或选择回执文件", "receipt-id");
  if (number && file) return say("请只填写回执编号或只选择回执文件（清空其中一个）", "", "by-receipt");
  const check = {
    looked: number ? "回执 " + number : "回执文件 " + file.name, key: null, form: "by-receipt", busy: "正在查验回执…",
  };
  const asOf = begin(check);
  let refused = "";
  let field = "";
  try {
    // the clerk who looks, for the holder's log (a clerk's own token names them itself)
    const request = number ? { receipt_id: number, operator: operatorName() }
      : {
        file: await readText(small(chosen("receipt-file", "回执文件"), 262144, "回执文件", "receipt-file")),
        operator: operatorName(),
      };
    renderReview(await call("api/receipt", request, asOf));
  } catch (error) {
    refused = error.message || "查验失败，请重试";
    // a number no receipt has is that field's refusal
    field = error.field || fieldInput(error.gatewayField, "receipt")
      || (error.reason === "RECEIPT_NOT_FOUND" && number ? "receipt-id" : "");
  } finally {
    finished(asOf, check, refused, field);
  }
}

function readText(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(new Error("无法读取文件"));
    reader.readAsText(file, "utf-8");
  });
}

function renderReview(answer) {
  const check = answer.check;
  // signed with a certificate this gateway does not pin: another gateway's receipt (a partner province's), genuine or
  // not, which this gateway cannot judge; not "invalid"
  const foreign = check.result === "FAILED" && check.reason === "NOT_THE_PINNED_CERTIFICATE";
  // a valid receipt says what the check found then, in its banner and to a screen reader: one of a check that
  // failed is valid as a record, and green nowhere (green is 核验通过 everywhere on the page)
  const then = check.result === "PASSED" && answer.statement ? recorded(answer.statement) : null;
  $("review-verdict").className = "verdict " + (foreign ? "INDETERMINATE" : then ? then.outcome : check.result);
  $("review-text").textContent = foreign ? FOREIGN_RECEIPT[0] : then ? then.headline : REVIEWS[check.result] || check.result;
  $("review-reason").textContent = foreign ? FOREIGN_RECEIPT[1] : then ? then.reason
    : check.reason ? (REVIEW_REASONS[check.reason] || "回执未通过签名核验") + (check.result === "FAILED" ? "，内容不可采信" : "")
    : "";
  $("review-reason").title = "";
  $("review-reason").dataset.reason = check.reason || "";
  $("review-archive").textContent = foreign && answer.archived === "MISSING" ? FOREIGN_RECEIPT[2]
    : ARCHIVED[answer.archived] || "";
  showStanding(answer);
  // heard with the banner: a license revoked since is not to be taken for valid by ear either
  announce([spoken("review-text", "review-reason"), $("review-standing").textContent].filter(Boolean).join("。"));
  $("review-archive").className = "check" + (answer.archived === "SAME" ? "" : " changed");
  const table = $("review-table");
  table.replaceChildren();
  row(table, "回执编号", answer.receipt_id);
  const said = answer.statement;
  if (said) {
    row(table, "核验时间", beijingTime(said.issued_at));
    row(table, "核验部门", (answer.caller_name || "") + "（" + said.caller + "）");
    row(table, "办理事项", (answer.matter_name ? answer.matter_name + " " : "") + said.matter_code);
    row(table, "用证事由", said.purpose);
    // the 一件事 by its name as well, as the check's own receipt names it (it had been the code alone: a reviewer, R3)
    if (said.case_id) {
      const bundle = session ? session.bundles.find((b) => b.code === said.bundle_code) : null;
      row(table, "一件事 / 办件编号", (bundle ? bundle.name + " " : "") + said.bundle_code + " / " + said.case_id);
    }
    const query = said.query || {};
    if (said.kind === "claim") {
      row(table, "核验方式", "信息比对（" + (answer.type_name || query.type_code || "") + "）");
      const holder = typeHolderLabels(query.type_code, session && session.license_types);
      const differ = claimFields(said.mismatched_fields || [], holder, query.type_code);
      row(table, "当时结论", (CLAIMS[said.code] || said.result) + (differ.length ? "；不符：" + differ.join("、") : ""));
    } else {
      row(table, "核验方式", QUERY_BY[query.by] || query.by || "—");
      if (!said.license && query.type_code) row(table, "证照类型", answer.type_name || query.type_code);
      if (!said.license && query.license_id) row(table, "所查证照标识", query.license_id);
      if (query.document_sha256) row(table, "文件 SHA-256", query.document_sha256);
      const findings = said.findings || {};
      const why = findingText(said.reason, findings, query.by);
      row(table, "当时结论", (VERDICTS[said.verdict] || said.verdict) + (said.reason ? "（" + why + "）" : ""));
      for (const [key, label] of FINDINGS) {
        const finding = findings[key];
        if (!finding) continue;
        const result = (RESULTS[finding.result] || finding.result)
          + (finding.reason ? "：" + findingText(finding, findings, query.by, query) : "");
        row(table, label.split("（")[0], result); // 完整性, 状态, 发证部门身份
      }
      const license = said.license;
      if (license) {
        row(table, "证照类型", answer.type_name || license.type_code);
        row(table, "证照标识", license.license_id);
        row(table, "发证部门", answer.issuer_name || license.issuer_code);
        row(table, "有效期", license.valid_from ? license.valid_from + " 至 " + (license.valid_until || "长期") : STATUS_UNKNOWN);
        row(table, "当时状态", license.status ? STATUS[license.status] || license.status : STATUS_UNKNOWN);
      } else {
        row(table, "证照", "当时未找到对应的证照");
      }
    }
  }
  showHolder(answer);
  // not in the receipt's signature: who looked it up here, and when, for the paper of a 免收 (printed below it)
  $("review-operator").textContent = operatorName();
  $("review-at").textContent = beijingTime(answer.looked_up_at);
  reviewed = { receipt_id: answer.receipt_id, file: answer.file, license: said && said.license ? said.license : null };
  // a receipt found forged (not another gateway's, which is undecided here): nothing of it is offered to print or to
  // keep as a file (打印 and 下载回执文件 had been), and the clerk is told what to do instead
  const forged = check.result === "FAILED" && !foreign;
  $("review-invalid").textContent = !forged ? ""
    : answer.archived !== "SAME" ? INVALID_FILE
    : CHANGED_REASONS.has(check.reason) ? INVALID_ARCHIVED : INVALID_CERTIFICATE;
  show("review-invalid", forged);
  show("review-print", !forged);
  show("review-download", !forged);
  show("review-hint-print", Boolean(said)); // what a receipt recorded then, on paper: only of one whose words are shown
  showReviewAgain();
  show("receipt-review", true);
  reveal("receipt-review");
}

// What a valid receipt recorded (``said``: its signed statement), for its banner: the outcome then (PASSED, FAILED,
// INDETERMINATE: the banner's colour), the headline and the reason. One of a check that did not pass cannot be relied
// on instead of the applicant's material (接办免收), which the banner says.
function recorded(said) {
  const claim = said.kind === "claim";
  const outcome = claim ? (said.code === CLAIM_VALID ? "PASSED" : said.code === 4 ? "INDETERMINATE" : "FAILED")
    : said.verdict;
  const query = said.query || {};
  const differ = claim
    ? claimFields(said.mismatched_fields || [], typeHolderLabels(query.type_code, session && session.license_types),
      query.type_code) : [];
  const why = claim
    ? [CLAIMS[said.code] || said.result, ...differ.length ? ["不符：" + differ.join("、")] : []].join("；")
    : said.reason ? findingText(said.reason, said.findings || {}, query.by) : "";
  if (outcome === "PASSED") {
    return { outcome, headline: REVIEWS.PASSED, reason: claim ? "当时信息比对：" + why : "当时核验通过" };
  }
  const then = claim ? "当时信息比对未通过" : outcome === "INDETERMINATE" ? "当时核验无法确定" : "当时核验未通过";
  return {
    outcome,
    headline: REVIEWS.PASSED + "，但" + then,
    reason: (why ? why + "；" : "") + "不能凭此回执免收材料",
  };
}

// What a clerk does instead of relying on a receipt found forged: a file, handed over, is checked by its printed number
// against the archive (the archive's is the receipt); the archive's own, changed behind the gateway's back, is
// reported, and the license verified itself.
const INVALID_FILE = "不能凭此回执免收材料，也不要打印或转交此文件。请按申请人纸质回执上的回执编号查验（以证照网关存档为准），"
  + "或请申请人提交证照，在“输入证照”中重新核验。";
const INVALID_ARCHIVED = "不能凭此回执免收材料。证照网关存档中的这张回执已被改动，请告知证照网关管理员；"
  + "请申请人提交证照，在“输入证照”中重新核验。";
// The archive's own receipt fails for these only when what it holds was changed; for its certificate (CERT_REVOKED:
// revoked from before the receipt was issued, after a leak of the receipt key) the receipt is as the gateway made
// it, and the page had sent the administrator looking for an edit of the archive that never was (a receipt-keys
// reviewer, R2).
const CHANGED_REASONS = new Set([
  "SIGNATURE_INVALID", "RECEIPT_ID_MISMATCH", "ISSUED_AT_MISSING", "CERTIFICATE_UNREADABLE",
]);
const INVALID_CERTIFICATE = "不能凭此回执免收材料。这张回执与证照网关存档一致，但回执专用章的证书已吊销或在回执签发时无效"
  + "（例如回执专用章的密钥泄露后），回执的内容不可采信；请申请人提交证照，在“输入证照”中重新核验。";

// The license's standing as the receipt is looked up, beside the banner of what the check found then (not in the
// receipt's signed part): in red, with 不能凭此回执免收材料, when it is not valid now. A license revoked since had
// shown only a green 回执有效 / 当时核验通过, and where 重新核验此证照 is not offered the clerk had no way to learn it
// (a clerk tester). The gateway gives it for a type one of the department's matters uses only (ADR 0012): for
// another the page says that it does not say, so that the green banner is not read as "valid now".
function showStanding(answer) {
  const said = answer.statement;
  const license = said && said.kind !== "claim" ? said.license : null;
  const finding = answer.standing_now;
  let text = "";
  let kind = "";
  if (license && finding) {
    const then = { kind: said.kind, verdict: said.verdict, reason: said.reason };
    const [label, note, changed] = standingWords(finding, then, answer.current_license_id, "不能凭此回执免收材料");
    // one the check failed for what it still is: the red banner says so already (不能凭此回执免收材料), heard once
    const sameThen = said.verdict !== "PASSED" && said.reason === finding.reason && !answer.current_license_id;
    text = "证照现在的状态：" + label + (note && !sameThen ? "。" + note : "");
    kind = changed ? "changed" : "";
  } else if (license && answer.archived !== "SAME") {
    // a file the archive does not hold as it is: its look-up is on no holder's log, so neither is given (R3)
    text = "此回执不是证照网关存档中的回执，证照网关不提供证照现在的状态和持证人：请申请人提交证照，在“输入证照”中重新核验";
    kind = "unknown";
  } else if (license) {
    text = "本部门的办理事项不使用此类证照，证照网关不提供它现在的状态：此回执只说明当时的核验结果，不说明证照现在仍然有效";
    kind = "unknown";
  }
  $("review-standing").textContent = text;
  $("review-standing").className = "standing-now " + kind;
  show("review-standing", Boolean(text));
}

// What the clerk compares a license's holder with: a company's name and code (whole, public registration data); a
// person's ID (masked); a person registered under another code (099: a newborn without a 公民身份号码 yet, under the
// hospital's) holds no ID, and a parent applies: their ID, against the parents the license names; either person a
// 结婚证 names may show it (partyCheck: the words, as the persons are listed or not). A code hidden whole (a license
// issued at its holder's birth, a 出生医学证明 under the child's own 公民身份号码: its date would give the masked
// number back) leaves nothing of the holder's to compare with an ID, and a parent applies, as for 099.
// A parent applies (``parentCheck``, guardianCheck: how, as the page shows the parents or not; by default, as a
// receipt's look-up shows none, the parents the license names).
function holderCheck(inFull, codeType, partyCheck, maskedCode, parentCheck) {
  if (inFull) return "请与申请单位的名称和统一社会信用代码核对，确认是该单位的证照。";
  if (partyCheck) return partyCheck;
  const parents = parentCheck || "请核对申请人（父母或监护人）的身份证件与证照所载的父母信息";
  if (codeType === "099") {
    return "持证人尚无身份证件（以其他代码登记，如新生儿）：申请人应为其父母或监护人，" + parents + "（持证人信息已部分隐去）。";
  }
  if (/^\*+$/.test(maskedCode || "")) {
    return "持证人的公民身份号码已全部隐去（出生时签发的证照，如新生儿的出生医学证明）：申请人应为其父母或监护人，" + parents + "。";
  }
  return "请与申请人身份证件核对，确认是本人的证照（持证人信息已部分隐去）。";
}

// How a verification's clerk confirms that the applicant is the newborn's parent: by the parents the summary lists
// (``guardians``, masked), and by 信息比对 with the applicant's own 公民身份号码 where the matter may compare it; a
// matter that uses neither (参保登记) is told the gateway cannot say, rather than sent to parents' details it is not
// shown (review clerk, R1). "" for a license naming no parent.
function guardianCheck(license, by) {
  const type = (by.types || []).find((t) => t.code === license.type_code);
  if (!type || !(type.guardian_fields || []).length) return "";
  const claimable = guardianFields(license.type_code, by.use.matter_code).length > 0;
  if ((license.guardians || []).length) {
    return "请核对申请人的身份证件与上列父母的身份证件号"
      + (claimable ? "；可用“信息比对”核对申请人（父母）本人的公民身份号码" : "");
  }
  return claimable
    ? "可用“信息比对”核对申请人（父母）本人的公民身份号码"
    : "本事项不使用证照所载的父母信息，证照网关不能核对申请人与持证人的关系：请按本事项的规定核对申请人的监护关系";
}

// Whose license a receipt's is. A receipt names a license and no holder (it holds no personal data): another
// company's valid receipt, handed over by an applicant, had shown green with nothing to compare with the applicant (a
// receipts tester). The gateway gives the license's holder from its registry as a verification shows it (a person
// masked, an organisation whole), for a type one of the department's matters uses (ADR 0012): shown apart from what
// the receipt says, said to be the registry's, with what to compare it with; for another type, a claim's receipt or
// a license not found, the clerk is told the receipt does not say whose it is.
function showHolder(answer) {
  const said = answer.statement;
  const holder = answer.holder;
  const table = $("review-holder");
  table.replaceChildren();
  let text = "";
  if (said && holder) {
    const license = said.license || {};
    const type = ((session && session.license_types) || []).find((t) => t.code === license.type_code);
    const labels = holderLabels([holder.holder_code_type].filter(Boolean), type ? type.holder_kind : "");
    row(table, labels.name + "（登记库信息，不在签名内容中）", holder.holder_name_masked);
    row(table, labels.code + "（登记库信息，不在签名内容中）", holder.holder_code_masked);
    text = "回执不记载持证人，上面是证照网关登记库中该证照的持证信息："
      + holderCheck(holder.holder_in_full, holder.holder_code_type, type && type.held_by_one_named
        ? "请与申请人身份证件核对；申请人可以是证照载明的另一方当事人（如结婚证的配偶），"
          + "不是持证人时请用“信息比对”核对其本人的公民身份号码。"
        : "", holder.holder_code_masked,
      // a newborn's: no parent shown here, but 信息比对 under the chosen matter, as a verification says
      guardianCheck({ type_code: license.type_code, guardians: [] },
        { types: (session && session.license_types) || [], use: { matter_code: $("matter").value } }));
  } else if (said) {
    text = "回执不记载持证人，不能说明所载证照是申请人的：请核对是否为申请人的证照，或请申请人提交证照，在“输入证照”中重新核验。";
  }
  showRows(table); // none for a claim's receipt, a type the department does not use, a license not found
  $("review-holder-check").textContent = text;
  show("review-holder-check", Boolean(text));
}

// 重新核验此证照 is offered for a receipt's license when the clerk's matter uses its type: for another it could only
// be refused, and a refusal put on the holder's log each time it was pressed (a clerk tester); the hint says why.
function showReviewAgain() {
  const license = reviewed && reviewed.license;
  const matter = session && session.matters.find((m) => m.code === $("matter").value);
  const usable = Boolean(license && matter && matter.type_codes.includes(license.type_code));
  show("review-again", usable);
  show("review-hint", usable); // it names the button: said with it only (it had pointed to a button not shown)
  $("review-again-hint").textContent = license && !usable
    ? "当前办理事项不使用此类证照，不能在此重新核验；如需核验，请选择使用该证照的事项" : "";
}

// The license of a receipt looked up, verified now under the clerk's own matter (a new check, with its own receipt).
function verifyAgain() {
  if (!reviewed || !reviewed.license) return;
  // the focus to 输入证照 now, where hold() would move it: the button is hidden before it waits, and a hidden
  // button keeps the focus only until the browser next draws the page
  $("query").focus({ preventScroll: true });
  $("query").value = reviewed.license.license_id;
  $("type-code").value = "";
  verify("text");
}

// The file picker's own words (the browser's button speaks the browser's language): the chosen file's name and size.
function showChosen(label) {
  const file = $(label.dataset.for).files[0];
  label.textContent = file ? file.name + "（" + size(file.size) + "）" : "未选择文件";
}

// Whether ``file`` is of a kind an input's ``accept`` names (".pdf", "application/pdf", "image/*").
function accepted(file, accept) {
  const name = file.name.toLowerCase();
  return accept.split(",").some((kind) => {
    kind = kind.trim().toLowerCase();
    if (kind.startsWith(".")) return name.endsWith(kind);
    if (kind.endsWith("/*")) return file.type.startsWith(kind.slice(0, -1));
    return file.type === kind;
  });
}

function chosen(input, what) {
  const file = $(input).files[0];
  if (!file) throw refusal(spaced("请选择", what), input);
  if (file.size === 0) throw refusal(spaced("所选文件是空的（0 字节），请重新选择", what), input);
  return file;
}

// Chinese followed by a word in Latin letters ("PDF 文件") takes a space between them, as the page's labels do.
function spaced(text, word) {
  return text + (/^[A-Za-z0-9]/.test(word) ? " " : "") + word;
}

// The case listed (its use, sent again for each further page), how many of its receipts are shown, and the token of
// the next page ("" when all are shown). Each listing is an object of its own: an answer that comes when another
// listing (or none: 结束本件, another case number) has taken its place is dropped, never added to the other's.
let listing = null;

// The receipts of the case named in the panel (``more``: the next page of the one listed, appended).
async function listCase(more = false) {
  if (more && !(listing && listing.next)) return;
  if (!more) {
    show("case-receipts", false);
    if (!useReady()) return;
    if (!$("bundle").value || !$("case").value.trim()) {
      say("请选择一件事并填写办件编号", $("bundle").value ? "case" : "bundle");
      return;
    }
  }
  say("");
  const asOf = generation;
  if (!more) {
    dropListing();
    listing = { use: use(), shown: 0, next: "" };
  }
  const mine = listing;
  const request = more ? { use: mine.use, page_token: mine.next } : { use: mine.use };
  mine.pending = true;
  caseButtons();
  progress();
  try {
    const answer = await call("api/case-receipts", request, asOf);
    if (listing !== mine) return; // another case listed, or the case ended, meanwhile
    const table = $("case-table");
    // the columns' header above the receipts only: a case without any says so alone
    if (!table.rows.length && answer.receipts.length) {
      const head = document.createElement("tr");
      head.className = "head";
      for (const label of CASE_COLUMNS) {
        const th = document.createElement("th");
        th.textContent = label;
        head.append(th);
      }
      table.append(head);
    }
    for (const receipt of answer.receipts) {
      const tr = table.insertRow();
      tr.dataset.receipt = receipt.receipt_id;
      const at = beijingTime(receipt.created_at);
      const zone = document.createElement("span");
      zone.className = "zone"; // its own line in the table's narrow column (console.css), after the date and time
      zone.textContent = at.slice(at.indexOf("（"));
      tr.insertCell().append(at.slice(0, at.indexOf("（")), zone);
      const cells = [
        receipt.caller_name || receipt.caller,
        receipt.matter_name || receipt.matter_code,
        (receipt.type_name || "—") + (receipt.kind === "claim" ? "（信息比对）" : ""),
        receipt.license_id || "—",
        receipt.kind === "claim" ? CLAIMS[receipt.claim_code] || "信息比对" : VERDICTS[receipt.verdict] || receipt.verdict || "—",
      ];
      for (const value of cells) tr.insertCell().textContent = value;
      if (receipt.holder) tr.cells[4].append(caseHolder(receipt));
      standing(tr.insertCell(), receipt.standing_now, receipt, receipt.current_license_id);
      tr.insertCell().textContent = receipt.receipt_id;
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = "下载";
      // named for its receipt: each row's had been "下载" alone to a screen reader (a screen-reader clerk)
      button.setAttribute("aria-label", "下载回执 " + receipt.receipt_id); // numbers begin alike: whole
      button.addEventListener("click", () => save(receipt));
      tr.insertCell().append(button);
      // on a narrow screen each receipt is a card of labelled lines (console.css): the standing now in view, not in
      // a column scrolled off to the right (a clerk tester)
      [...tr.cells].forEach((cell, i) => (cell.dataset.label = CASE_COLUMNS[i]));
    }
    showRows(table); // none for a case without receipts, which is said in words
    show("case-holder-check", Boolean(table.querySelector(".holder")));
    listing.shown += answer.receipts.length;
    listing.next = answer.next_page_token || "";
    // a count said only when it is the case's: a page that is not the last says how many are shown, and that there
    // are more
    const shown = listing.shown;
    const counted = listing.next ? "已显示 " + shown + " 张核验回执（最早的），还有更多，请点击“显示更多”"
      : shown ? "本件共有 " + shown + " 张核验回执" : "本件还没有核验回执";
    show("case-empty", shown === 0);
    $("case-more").textContent = listing.next ? counted : "";
    show("case-more", Boolean(listing.next));
    show("case-next", Boolean(listing.next));
    announce(counted);
    show("case-receipts", true);
    if (!more) reveal("case-receipts");
  } catch (error) {
    if (asOf !== generation || listing !== mine) return; // signed out, or another listing took its place
    if (!more) show("case-receipts", false);
    if (session) say(error.message, "", "case-details");
  } finally {
    mine.pending = false;
    caseButtons(); // a check running keeps them waiting
    progress();
  }
}

// Whose license a case's receipt is, under its identifier: a receipt names no holder, and two companies' green
// 营业执照 verified in one case (a mistyped case number) had shown nothing to tell which was the applicant's (a
// reviewer, R4). The registry's holder, as 查验回执 shows it (a person masked, an organisation whole), said to be the
// registry's; the hint below the table says what to compare it with.
function caseHolder(receipt) {
  const holder = receipt.holder;
  const typeCode = (receipt.license_id || "").split(".")[5] || ""; // the identifier's sixth part
  const type = ((session && session.license_types) || []).find((t) => t.code === typeCode);
  const labels = holderLabels([holder.holder_code_type].filter(Boolean), type ? type.holder_kind : "");
  const line = document.createElement("span");
  line.className = "holder";
  line.textContent = labels.name + "：" + holder.holder_name_masked + "，" + labels.code + "："
    + holder.holder_code_masked + "（登记库信息）";
  return line;
}

const CASE_COLUMNS = ["核验时间", "核验部门", "办理事项", "证照类型", "证照标识", "当时结论", "现在状态", "回执编号", "回执文件"];

// A case receipt's license as it stands now (the receipt, ``then``, says what it was at the check): 有效, or in red
// what it is now and that the clerk must check again rather than rely on the earlier receipt (``standingWords``).
function standing(cell, finding, then, currentId) {
  cell.className = "standing";
  if (!finding) {
    cell.textContent = "—";
    return;
  }
  const [label, note, changed] = standingWords(finding, then, currentId, "请重新核验");
  if (changed) cell.classList.add("changed");
  cell.textContent = label;
  if (note) {
    const why = document.createElement("span");
    why.className = "warning"; // its own line; in the cell's colour (a license amended since and valid: not red)
    why.textContent = note;
    cell.append(why);
  }
}

// What a license's standing now (``finding``, ``standing_now``) is called, and the words beside it: [label, note,
// changed], ``changed`` when it is not valid now (said in red). "Since the check" only of a license the check
// (``then``: its receipt's verdict and reason, or a claim's code) found valid: one the check already failed for the
// same reason was so at the check. A license amended since (变更: ``currentId`` names the version in force) stands as
// that version does: 有效, said amended, and the receipt may be relied on; else that version's status. ``advice``
// ends a warning: 请重新核验 in a case's list, 不能凭此回执免收材料 beside a receipt looked up.
function standingWords(finding, then, currentId, advice) {
  if (finding.result === "PASSED") return ["有效", currentId ? amendedText(currentId, "ACTIVE") : "", false];
  const known = STANDING[finding.reason];
  const label = known ? known[0] : finding.result === "INDETERMINATE" ? "无法确定" : "核验未通过";
  if (currentId) return [label, "该证照在核验后已变更，现行版本 " + currentId + "（" + label + "），" + advice, true];
  const claim = then.kind === "claim";
  const validThen = claim ? then.claim_code === CLAIM_VALID : then.verdict === "PASSED";
  const sameThen = !claim && then.reason === finding.reason; // a claim's answer names no status reason
  const what = known ? known[1] : "核验不通过（" + (reasonText(finding.reason) || "原因不明") + "）";
  const subject = finding.reason === "LICENSE_NOT_FOUND" ? (w) => w + "该证照" : (w) => "该证照" + w;
  if (validThen && finding.reason !== "NOT_YET_VALID") return [label, subject("在核验后" + what) + "，" + advice, true];
  if (sameThen) return [label, subject("在核验时即" + what) + "（当时核验未通过），不能凭此回执免收材料", true];
  return [label, subject("现在" + what) + "，" + advice, true];
}

// A table in the page only while it has rows: an empty one stayed in the accessibility tree, a screen reader saying a
// table of no rows (NVDA: 表格 0 行 0 列) under 证照摘要 before the words that say why there is none (an accessibility
// tester).
function showRows(table) {
  table.hidden = table.rows.length === 0;
}

function row(table, label, value) {
  const tr = table.insertRow();
  const th = document.createElement("th");
  th.textContent = label;
  tr.append(th);
  tr.insertCell().textContent = value;
}

function reasonText(reason, by) {
  if (!reason) return "";
  return (by === "qr_code" && CODE_REASONS[reason]) || REASONS[reason] || OTHER_REASON;
}

// Why a finding (``finding``) was not judged (NOT_CHECKED), in words: the gateway gives that one reason for several
// situations, which its detail, the check's other findings and how the license was named (``by``, the statement's
// query) tell apart. What the gateway says of the finding itself comes first: a license record changed behind its
// back is the record's fault, whichever way the license was named (a genuine PDF of it is not blamed).
function notChecked(finding, findings, by) {
  const integrity = findings.integrity || {};
  const status = findings.status || {};
  if (/sealing time may have been changed/.test((finding || {}).detail || "")) return ALTERED_RECORD;
  if (integrity.reason === "NO_SIGNATURE") return "未核验（文件上没有电子印章，未查看它所指的证照）";
  if (integrity.reason === "REGISTRY_ALTERED" && by === "document") {
    return "未核验（登记库中该文件属于哪张证照已被改动，未查看证照）";
  }
  if (status.reason === "NOT_IN_THIS_REGISTRY") return ELSEWHERE;
  if (status.reason === "LICENSE_NOT_FOUND" && integrity.reason === "NOT_CHECKED") {
    return "未核验（未找到该证照，没有可对照的证照）";
  }
  if (by === "document" && integrity.result !== "PASSED") {
    return "未核验（文件的签章未通过完整性核验，未查看它所指的证照）";
  }
  if (by === "stamp" && integrity.result !== "PASSED") return "未核验（电子印章未通过完整性核验）";
  if (integrity.reason === "STATUS_ALTERED" || integrity.reason === "RECORD_ALTERED") {
    return ALTERED_RECORD; // the record's sealing time is vouched for with its status: the seal's trust then is not
  }
  if (by === "qr_code" && ["NOT_ZZ1", "MALFORMED", "TOO_LARGE"].includes(integrity.reason)) {
    return "未核验（核验码无法读取，未查看它所指的证照）";
  }
  if (by === "qr_code" && integrity.result !== "PASSED") {
    return "未核验（核验码未通过核验，可能是伪造的，未查看它所指的证照）";
  }
  if (integrity.reason === "UNKNOWN_SEAL_KEY") return "未核验（证照记录的印章未知，无法判断发证部门）";
  return integrity.result !== "PASSED" ? "未核验（完整性未通过，此项未判断）" : "未核验";
}

// A finding's reason in words (``finding``: the finding, or the verdict's reason alone), with what else the check
// found (``findings``), how it named the license (``by``) and what else its query holds (``query``).
function findingText(finding, findings, by, query) {
  const reason = typeof finding === "string" ? finding : finding.reason;
  if (reason === "NOT_IN_THIS_REGISTRY" && typeof finding !== "string" && finding !== (findings || {}).status) {
    return sealedElsewhere(by, query); // the seal and the issuer of another registry's license are not judged here
  }
  return reason === "NOT_CHECKED" ? notChecked(typeof finding === "string" ? {} : finding, findings || {}, by)
    : reasonText(reason, by);
}

function render(report, by, check) {
  const verdict = $("verdict");
  const named = (report.receipt.statement.query || {}).by; // how the check named the license
  // a code that could not be read: amber, to scan again (the gateway's verdict stays in the receipt)
  const unreadable = named === "qr_code" && report.verdict === "FAILED"
    && UNREADABLE_CODE.includes(report.findings.integrity.reason);
  verdict.className = "verdict " + (unreadable ? "INDETERMINATE" : report.verdict);
  verdict.dataset.unreadable = unreadable ? "true" : "";
  $("verdict-text").textContent = unreadable ? UNREADABLE_HEADLINE : VERDICTS[report.verdict] || report.verdict;
  const current = report.license && report.license.current_license_id
    ? amendedText(report.license.current_license_id, report.license.current_status) : "";
  $("verdict-reason").textContent = unreadable ? unreadableAdvice(check.what === "qr")
    : findingText(report.reason, report.findings, named)
    + (report.reason === "NO_SIGNATURE" ? "。" + SCAN_HINT : "")
    + (report.reason === "SUPERSEDED" && current
      ? "；" + currentText(report.license.current_license_id, report.license.current_status) : "")
    + (report.reason === "LICENSE_NOT_FOUND" ? notFoundAdvice(named) : "");
  // the version in force of a superseded one, verified in one step (its identifier had to be copied by hand)
  offerCurrent(report.reason === "SUPERSEDED" && report.license ? report.license.current_license_id : "");

  const findings = FINDINGS.map(([key, label]) => {
    const finding = report.findings[key];
    const li = document.createElement("li");
    // a code not read: its seal and signature were not looked at, so not said to fail (核验未通过 read as a forgery)
    const unread = unreadable && key === "integrity";
    li.className = unread ? "INDETERMINATE" : finding.result;
    li.dataset.finding = key;
    li.textContent = label + "：" + (unread ? "未能判断" : RESULTS[finding.result] || finding.result);
    if (finding.reason) {
      const detail = document.createElement("span");
      detail.className = "detail";
      detail.textContent = unread ? "核验码不完整或无法识别，未能检查印章与签名，请重新扫描"
        : finding.reason === "NOT_CHECKED" ? notChecked(finding, report.findings, named)
        : finding.reason === "NOT_IN_THIS_REGISTRY" && key !== "status"
          ? sealedElsewhere(named, report.receipt.statement.query)
        : reasonText(finding.reason, named) + (REASONS[finding.reason] ? advice(finding.reason, report) : "");
      // on hover the same words in Chinese (the gateway's detail is for integrators: it is in the receipt file);
      // the reason's code for support, out of sight
      detail.title = detail.textContent;
      detail.dataset.reason = finding.reason;
      li.append(detail);
    }
    return li;
  });
  $("findings").replaceChildren(...findings);
  if (report.registered_document !== undefined && report.license) {
    $("registered").textContent = report.registered_document
      ? "该文件与网关登记的电子证照文件一致。"
      : "该文件不是网关登记的文件本身（可能含有后续的用证标注或签名）。";
  }
  show("registered", report.registered_document !== undefined && Boolean(report.license));

  const summary = $("summary");
  summary.replaceChildren();
  if (report.license) {
    // the holder named by its kind: 持证人 and 公民身份号码 (证件号码), or 单位名称 and 统一社会信用代码
    const type = (by.types || []).find((t) => t.code === report.license.type_code);
    const holder = holderLabels([report.license.holder_code_type].filter(Boolean), type ? type.holder_kind : "");
    const labels = { holder_name_masked: holder.name, holder_code_masked: holder.code };
    for (const [key, label] of SUMMARY) {
      let value = report.license[key];
      if (key.startsWith("holder_") && !value) continue;
      if (key === "status") {
        if (!value) {
          value = STATUS_UNKNOWN; // the stored status was changed behind the gateway's back: not stated
        } else {
          value = withSince(STATUS[value] || value, report.license.status_since);
          if (report.findings.status.reason === "NOT_YET_VALID") value = "尚未生效（" + report.license.valid_from + " 起生效）";
        }
      }
      // a record whose seal fails states no dates (nothing of the edit is shown as the license's)
      if (key.startsWith("valid_") && !report.license.valid_from) value = STATUS_UNKNOWN;
      else if (key === "valid_until" && !value) value = "长期";
      row(summary, labels[key] || label, String(value));
      // the license itself, beside this version: whether the company's license is fine now
      if (key === "status" && current) {
        row(summary, "现行版本", versionText(report.license.current_license_id, report.license.current_status));
      }
    }
    // a 结婚证's spouses: the applicant may be either, the holder or the other (masked as the holder)
    for (const party of report.license.parties || []) {
      row(summary, party.label, party.code_masked + (party.holder ? "（持证人）" : ""));
    }
    // a newborn's parents, where the matter uses their codes: the applicant is one of them (masked as a spouse is)
    for (const guardian of report.license.guardians || []) row(summary, guardian.label, guardian.code_masked);
  }
  showRows(summary); // none for a license not found or not looked at (an unreadable code)
  // the license's code or number may be someone else's: the holder is what ties it to the applicant (a person's
  // masked, compared with the ID; an organisation's whole, public registration data, compared with its name and code;
  // for a 结婚证, either spouse: the wife of one her husband holds had been told to confirm it was hers, and refused)
  // an administrator reads no data (docs/api.md): the gateway gives it no holder, and the page says why none is shown
  const withheld = Boolean(report.license && report.license.holder_withheld);
  $("holder-check").textContent = withheld ? HOLDER_WITHHELD : report.license
    ? holderCheck(report.license.holder_in_full, report.license.holder_code_type,
      (report.license.parties || []).length ? PARTY_CHECK : "", report.license.holder_code_masked,
      guardianCheck(report.license, by))
    : "";
  show("holder-check", withheld || Boolean(report.license && report.license.holder_name_masked));
  // a license not found, or one the gateway did not look at (the document or code failed first): said apart
  const lookedAt = ((report.findings || {}).status || {}).reason !== "NOT_CHECKED";
  $("no-license").textContent = lookedAt
    ? "未找到对应的证照，不显示证照信息。"
    : "未查看它所指的证照（见上方核验结果），不显示证照信息。";
  show("no-license", !report.license);
  // the receipt says the gateway's verdict, and here why: a reading of the code, not of the license
  const conclusion = (VERDICTS[report.verdict] || report.verdict) + (unreadable ? "（核验码无法识别，须重新扫描）" : "");
  showReceipt(report.receipt, report.checked_at, conclusion, by, check);
  announce(withCase(spoken("verdict-text", "verdict-reason")));
}

// 核验现行版本 under the banner, offered for ``license`` (the version in force of the superseded one just shown), or
// taken away with nothing of it left (""). A check starting, every answer and the sign-out go through here: the
// button had stayed under a 信息比对's banner after a superseded version's check, the next applicant's or the next
// clerk's, carrying the earlier applicant's license, and a click gave a green 核验通过 for it (a reviewer).
function offerCurrent(license) {
  const button = $("verify-current");
  if (license) {
    button.dataset.license = license;
    button.setAttribute("aria-label", "核验现行版本 " + license);
  } else {
    delete button.dataset.license;
    button.removeAttribute("aria-label");
  }
  show("current-version", Boolean(license));
}

// 核验现行版本: the version in force of the superseded one just shown, verified now (a check of its own, with its own
// receipt), as 重新核验此证照 verifies a receipt's license.
function verifyCurrent() {
  const currentId = $("verify-current").dataset.license;
  if (!currentId) return;
  // the focus to 输入证照 now, where hold() would move it: the button is hidden before it waits, and a hidden
  // button keeps the focus only until the browser next draws the page
  $("query").focus({ preventScroll: true });
  $("query").value = currentId;
  $("type-code").value = "";
  verify("text");
}

// A status and the day it took effect, in one pair of parentheses: 已吊销或撤销（2026-12-04 起）, 已变更（不再现行，2026-12-04 起）.
function withSince(status, since) {
  if (!since) return status;
  return status.endsWith("）") ? status.slice(0, -1) + "，" + since + " 起）" : status + "（" + since + " 起）";
}

// What a clerk should do about a finding that is not a plain pass or fail.
function advice(reason, report) {
  if (reason === "CHANGED_AFTER_SEAL") return "，PDF阅读器可能把它显示为证照的签名，请以证照摘要中的登记信息为准";
  if (reason === "NOT_A_REGISTERED_LICENSE") {
    const sealGood = report.findings.integrity.result === "PASSED" && report.findings.issuer_identity.result === "PASSED";
    return sealGood ? "，印章有效但不能证明其内容是登记的证照" : "";
  }
  return "";
}

function renderClaim(answer, by, check) {
  const outcome = answer.code === 0 ? "PASSED" : answer.code === 4 ? "INDETERMINATE" : "FAILED";
  $("verdict").className = "verdict " + outcome;
  $("verdict").dataset.unreadable = ""; // a comparison reads no code
  offerCurrent(""); // nor names a license: no version in force to verify
  $("verdict-text").textContent = CLAIMS[answer.code] || answer.result;
  const differ = claimFields(answer.mismatched_fields, typeHolderLabels(check.request.type_code, by.types),
    check.request.type_code);
  const why = [];
  if (differ.length) why.push("不符：" + differ.join("、"));
  if (answer.status_reason) why.push(reasonText(answer.status_reason, "claim"));
  $("verdict-reason").textContent = why.join("；");
  const li = document.createElement("li");
  li.className = outcome;
  // what the comparison found, in words (the provincial result code is in the receipt file)
  li.textContent = "比对结果：" + (CLAIMS[answer.code] || answer.result)
    + (differ.length ? "（不符：" + differ.join("、") + "）" : "");
  $("findings").replaceChildren(li);
  show("registered", false);
  show("holder-check", false);
  $("summary").replaceChildren();
  showRows($("summary"));
  $("no-license").textContent = "信息比对只回答是否一致，不返回证照数据。";
  show("no-license", true);
  showReceipt(answer.receipt, answer.checked_at, CLAIMS[answer.code] || answer.result, by, check);
  // the key the receipt's digests of the number and holder code claimed are made with, for the claim's own file: with
  // it the claim and its receipt are tied together again (docs/receipts.md). On the screen alone (.screen-only), to be
  // noted apart: printed in the receipt's table, beside its number and the number claimed masked (3701**********1235),
  // it let whoever held the sheet fetch the receipt (any department may) and find the 10 digits hidden from the
  // digest in about 11,000 tries (a reviewer, R1)
  if (answer.claim_key) {
    const key = document.createElement("strong");
    key.textContent = "比对密钥：" + answer.claim_key;
    $("claim-key").replaceChildren(key, document.createElement("br"),
      "请另行记入本件材料，勿与回执放在一起：凭回执编号和此密钥可推算出比对的号码。此密钥不打印在回执上。");
    show("claim-key", true);
  }
  announce(withCase(spoken("verdict-text", "verdict-reason")));
}

// A verdict said, with the case the check was linked to, if any.
function withCase(said) {
  return $("case-linked").hidden ? said : said + "。" + $("case-linked").textContent;
}

// The receipt of a check made by ``by`` (``checker``, as the check started): its department and clerk, not whoever
// is signed in when the answer arrives.
function showReceipt(made, checkedAt, conclusion, by, check) {
  const statement = made.statement;
  const query = statement.query || {};
  // what was looked for, beside the verdict (the fields may hold the next one already) and on the paper
  $("checked-what").textContent = "核验内容：" + checkedText(check, query);
  const receipt = $("receipt-table");
  receipt.replaceChildren();
  $("claim-key").replaceChildren(); // a 信息比对's key (renderClaim) is its own receipt's only
  show("claim-key", false);
  row(receipt, "回执编号", made.receipt_id);
  row(receipt, "核验时间", beijingTime(checkedAt));
  // the department the signed statement names, by the name of that department only
  const caller = by.member.code === statement.caller ? by.member.name + "（" + statement.caller + "）" : statement.caller;
  row(receipt, "核验部门", caller);
  const matter = by.matters.find((m) => m.code === statement.matter_code);
  row(receipt, "办理事项", (matter ? matter.name + " " : "") + statement.matter_code);
  row(receipt, "用证事由", statement.purpose);
  // the 一件事 case the check is linked to, as the signed statement names it (else as the check sent it): the paper
  // handed on to the case's next department says which case it is for
  const bundleCode = statement.case_id ? statement.bundle_code : by.use.case_id ? by.use.bundle_code : "";
  let linked = "";
  if (bundleCode) {
    const bundle = by.bundles.find((b) => b.code === bundleCode);
    const caseId = statement.case_id || by.use.case_id;
    row(receipt, "一件事 / 办件编号", (bundle ? bundle.name + " " : "") + bundleCode + " / " + caseId);
    linked = "本次核验已关联办件：" + (bundle ? bundle.name : bundleCode) + " / " + caseId;
  }
  // beside the verdict too: a case left in the panel links every check to it, the next applicant's as well
  $("case-linked").textContent = linked;
  show("case-linked", Boolean(linked));
  // what the check looked for, as the signed statement says it (a number is not in it, only its type)
  row(receipt, "核验方式", statement.kind === "claim" ? "信息比对" : QUERY_BY[query.by] || query.by || "—");
  if (query.type_code) row(receipt, "证照类型", typeName(query.type_code, by));
  if (query.license_id) row(receipt, "所查证照标识", query.license_id);
  if (query.document_sha256) row(receipt, "文件 SHA-256", query.document_sha256);
  row(receipt, "核验结论", conclusion);
  // not in the signed statement: printed below the signed part, and said so
  $("receipt-operator").textContent = by.operator;
  lastReceipt = made;
  // its number, and nothing else of the check, kept in the tab until the next check or the sign-out: a reload (F5,
  // Back and Forward) had lost the verdict before it was printed, and checking again made a second access record in
  // the holder's log (a keyboard clerk). A receipt holds no personal data; what the page showed of the holder is not
  // kept.
  sessionStorage.setItem("zzgw.receipt", made.receipt_id);
  if (!$("receipt-kept").hidden) { // the number filled in after a reload is not the last receipt's any more
    $("receipt-id").value = "";
    show("receipt-kept", false);
  }
  show("result", true);
  reveal("result");
}

// "2026-12-02 19:55:38（北京时间）", whatever the browser's own zone and locale.
function beijingTime(iso) {
  const at = new Date(new Date(iso).getTime() + 8 * 3600 * 1000).toISOString();
  return at.slice(0, 10) + " " + at.slice(11, 19) + "（北京时间）";
}

function save(receipt) {
  const blob = new Blob([receipt.file], { type: "application/json" });
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = "receipt-" + receipt.receipt_id + ".json";
  link.click();
  URL.revokeObjectURL(link.href);
}

function download() {
  if (lastReceipt) save(lastReceipt);
}

document.addEventListener("DOMContentLoaded", () => {
  $("sign-in-form").addEventListener("submit", (event) => {
    event.preventDefault();
    if (signingIn) return; // 登录 waits for the sign-in under way
    if (!$("token").value.trim()) {
      say("请输入接入令牌", "token");
      return;
    }
    // a window's scanner typing the next applicant's code into the sign-in form (the focus is in the token field
    // after a sign-out): not sent to the gateway as a token, nor kept as a clerk's name
    for (const id of ["token", "operator"]) {
      if (scannedAt($(id).value) >= 0) {
        $(id).value = "";
        say("这是证照的核验码或证照标识，不是" + (id === "token" ? "接入令牌" : "核验人姓名") + "：请先登录，再扫描证照", id);
        return;
      }
    }
    const operator = plainOperator($("operator").value);
    const wrong = operatorProblem(operator);
    if (wrong) {
      say(wrong, "operator");
      return;
    }
    sessionStorage.setItem("zzgw.token", $("token").value.trim());
    sessionStorage.setItem("zzgw.operator", operator);
    sessionStorage.setItem("zzgw.input", String(Date.now())); // the idle wait starts at the attempt (watchIdle)
    stillOpen();
    signIn();
  });
  $("sign-out").addEventListener("click", () => signOut(""));
  $("claim-type").addEventListener("change", claimLabels);
  $("matter").addEventListener("change", (event) => {
    // what was said of a check under the matter before (事项 … 不使用结婚证) is not said of this one
    say("");
    validAll();
    sessionStorage.setItem("zzgw.matter", event.target.value);
    choose(event.target.value);
    showReviewAgain();
  });
  for (const [form, what] of [["by-text", "text"], ["by-pdf", "pdf"], ["by-qr", "qr"], ["by-claim", "claim"]]) {
    $(form).addEventListener("submit", (event) => {
      event.preventDefault();
      verify(what);
    });
    // Enter while a check runs (its buttons are disabled, so the browser would drop it without a word): said, and
    // left in the field (``enteredMeanwhile``)
    $(form).addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing || !checking || !(event.target instanceof HTMLInputElement)) return;
      if (event.target.type === "file") return;
      event.preventDefault();
      verify(what);
    });
    // typed in while a check runs: not what it checks (said when it ends); a field emptied holds nothing unchecked
    $(form).addEventListener("input", () => {
      if (!UNCHECKED[what]) return;
      if (checking) entered.add(what);
      else if (!filled(what)) show(UNCHECKED[what], false);
    });
  }
  // a file dropped beside its form would otherwise make the browser leave the console to show it
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
  document.querySelectorAll(".chosen").forEach((label) => {
    const input = $(label.dataset.for);
    $(input.id + "-pick").addEventListener("click", () => input.click()); // the browser's chooser
    input.addEventListener("change", () => {
      showChosen(label);
      if (saidOf === input.id + "-pick") say(""); // a file chosen: what was said of none no longer applies
    });
    // a file dropped anywhere on its form is chosen, as the browser's own picker would take it
    input.form.addEventListener("drop", (event) => {
      event.preventDefault();
      const files = event.dataTransfer.files;
      if (!files.length) return;
      // as the picker would take it: one file, of the kind the box is for
      if (files.length > 1) return say("请只拖入一个文件", "", input.form.id);
      if (!accepted(files[0], input.accept)) {
        const kind = { pdf: "请拖入 PDF 文件", "receipt-file": "请拖入回执文件（.json）" }[input.id];
        return say(kind || "请拖入图片文件（PNG、JPEG、WebP、BMP 或 TIFF）", "", input.form.id);
      }
      say("");
      input.files = files;
      showChosen(label);
    });
  });
  $("print").addEventListener("click", () => window.print());
  $("by-receipt").addEventListener("submit", (event) => {
    event.preventDefault();
    reviewReceipt();
  });
  $("review-again").addEventListener("click", verifyAgain);
  $("verify-current").addEventListener("click", verifyCurrent);
  $("review-print").addEventListener("click", () => window.print());
  $("review-download").addEventListener("click", () => reviewed && save(reviewed));
  $("case-list").addEventListener("click", () => listCase());
  $("case-next").addEventListener("click", () => listCase(true));
  $("case-end").addEventListener("click", endCase);
  $("case").addEventListener("input", showCase);
  $("receipt-id").addEventListener("input", () => show("receipt-kept", false));
  $("bundle").addEventListener("change", showCase);
  // a code scanned or pasted where it does not belong goes to 输入证照 (not into a signed receipt's purpose)
  for (const id of Object.keys(NOT_FOR_CODES)) {
    $(id).addEventListener("focus", (event) => {
      event.target.dataset.kept = event.target.value; // what a scan that replaces a selected text gives back
    });
    $(id).addEventListener("input", (event) => {
      if (!event.isComposing && scannedAt(event.target.value) >= 0) moveScanned(event.target);
    });
    $(id).addEventListener("paste", (event) => {
      const text = (event.clipboardData && event.clipboardData.getData("text")) || "";
      if (scannedAt(text) < 0) return;
      event.preventDefault();
      moveScanned(event.target, text);
    });
  }
  $("purpose").addEventListener("input", () => {
    sessionStorage.setItem("zzgw.purpose", JSON.stringify({ matter: $("matter").value, purpose: $("purpose").value }));
  });
  // Enter in 用证事由 (a form without a button of its own): the purpose is taken as it is, and the focus goes to
  // 输入证照, said, for the applicant's code
  $("purpose").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    if (!$("purpose").value.trim()) return say("请填写用证事由", "purpose");
    say("用证事由已填写。请在“输入证照”中扫描或输入证照，按回车核验", "", "by-text");
    $("query").select();
  });
  // any field marked invalid is no longer once the clerk changes it, and the words about it go: they no longer apply
  for (const name of ["input", "change"]) {
    document.addEventListener(name, (event) => {
      if (!(event.target instanceof Element) || !event.target.hasAttribute("aria-invalid")) return;
      if (event.target.id === saidOf) say("");
      else unmark(event.target);
    });
  }
  // Enter in 办件编号 lists the case's receipts, as the button beside it does (not while an input method composes)
  $("case").addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.isComposing) return;
    event.preventDefault();
    if (!$("case-list").disabled) listCase();
  });
  $("download").addEventListener("click", download);
  for (const [section, link] of Object.entries(SKIPS)) {
    $(link).addEventListener("click", (event) => {
      event.preventDefault();
      skipTo(section);
    });
  }
  $("stay").addEventListener("click", () => {
    noteInput(); // a screen reader's click may come without the pointer's events
    watchIdle();
  });
  for (const name of INPUT_EVENTS) document.addEventListener(name, noteInput, { capture: true, passive: true });
  window.addEventListener("resize", clearOfWarning); // zoomed, the warning takes more of the screen
  if (credentials().token && sessionStorage.getItem("zzgw.input") && idle()) {
    idleOut(); // a page reloaded after it was left alone: signed out, as it would have been
  } else if (credentials().token && reopened()) {
    signOut(REOPENED_MESSAGE); // not the clerk's who closed it: whoever opened it signs in
  } else if (credentials().token) {
    signIn();
  } else {
    forgetClerksWork(); // no one signed in: nothing kept is anyone's to be offered
    $("token").focus();
  }
  stillOpen();
  setInterval(stillOpen, ALIVE_SECONDS * 1000);
  // back in sight, at once: a hidden tab's timers may have been held back (but not as it is unloaded, hidden: a tab
  // closed did not say it was open as it went)
  document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && stillOpen());
});
