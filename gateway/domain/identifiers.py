"""Identifiers and their check characters.

>>> license_check_char("11100000000013338W032" "11220000013544541J" "2430599" "001")
'F'
>>> LicenseId.parse("1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F").version
1

Three schemes, each with its standard:

- 电子证照标识 (GB/T 36904-2018): ``1.2.156.3005.2.<type code>.<issuer USCC>.<serial>.<version>.<check>``,
  check character by ISO/IEC 7064 MOD 37,36 over type code + issuer + serial + version (dots removed,
  root excluded).
- 公民身份号码 (GB 11643-1999): 17 digits and an ISO/IEC 7064 MOD 11-2 check character.
- 统一社会信用代码 (GB 32100-2015): 17 characters over a 31-symbol alphabet and a weighted MOD 31 check.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from gateway.domain.errors import FieldViolation, invalid
from gateway.domain.model import CHINA_TZ

_T = TypeVar("_T")

LICENSE_ID_ROOT = "1.2.156.3005.2"

_MOD36_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_MOD36_VALUE = {c: i for i, c in enumerate(_MOD36_ALPHABET)}

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {c: i for i, c in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\Z", re.ASCII)

_CITIZEN_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CITIZEN_CHECK = "10X98765432"
_CITIZEN_RE = re.compile(r"^\d{17}[\dX]\Z", re.ASCII)

_TYPE_CODE_RE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}\d{3}\Z", re.ASCII)
_SERIAL_RE = re.compile(r"^[0-9A-Z]{1,32}\Z", re.ASCII)

MAX_VERSION = 999
"""The last version an identifier can carry: GB/T 36904 prints the version in three digits."""
_REGION_RE = re.compile(r"^[1-8]\d{5}\Z", re.ASCII)

# GB/T 2260 province-level prefixes (the first two digits of a region code).
_PROVINCES = frozenset(
    {
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    }
)


def license_check_char(payload: str) -> str:
    """ISO/IEC 7064 MOD 37,36 hybrid check character over ``payload`` (digits and upper-case letters)."""
    return _MOD36_ALPHABET[(37 - _mod37_36(payload, 36)) % 36]


def _mod37_36(payload: str, p: int) -> int:
    for c in payload:
        try:
            value = _MOD36_VALUE[c]
        except KeyError:
            raise ValueError(f"character {c!r} is outside 0-9A-Z") from None
        s = (p + value) % 36 or 36
        p = (s * 2) % 37
    return p


@functools.lru_cache(maxsize=1024)
def _prefix_state(type_code: str, issuer_code: str) -> int:
    """The MOD 37,36 state after type code and issuer, shared by every license of a type and issuer."""
    return _mod37_36(type_code + issuer_code, 36)


def citizen_id_check_char(first17: str) -> str:
    """GB 11643 check character (ISO/IEC 7064 MOD 11-2) for the first 17 digits of a citizen ID."""
    total = sum(int(d) * w for d, w in zip(first17, _CITIZEN_WEIGHTS, strict=True))
    return _CITIZEN_CHECK[total % 11]


def uscc_check_char(first17: str) -> str:
    """GB 32100 check character for the first 17 characters of a unified social credit code."""
    total = sum(_USCC_VALUE[c] * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def citizen_id_problem(value: str, *, today: dt.date | None = None) -> str | None:
    """Why ``value`` is not a valid 公民身份号码, or None when it is. A birth date after ``today`` (by default the
    date now in China, UTC+8, whatever the process's time zone) is one in the future: a number born tomorrow in
    Beijing had been taken by a server whose zone was behind (a time tester)."""
    if not _CITIZEN_RE.match(value):
        if len(value) == 15 and value.isdigit():  # the number of a card issued before 1999, still on old papers
            return "is a 15-digit first-generation number: give the 18-digit one (GB 11643)"
        return "must be 17 digits followed by a digit or X"
    if region_code_problem(value[:6]) is not None:
        return "starts with an unknown region code"
    try:
        born = dt.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return "carries a birth date that does not exist"
    if born > (today or dt.datetime.now(CHINA_TZ).date()):
        return "carries a birth date in the future"
    if citizen_id_check_char(value[:17]) != value[17]:
        return "check character does not match (GB 11643)"
    return None


_USCC_SHAPE = "must be 18 characters from 0-9 and A-Y without I, O, S, V, Z"
_USCC_NO_PAIR = "its first two characters are no registration authority and organisation type of GB 32100"
_USCC_TYPES: Mapping[str, str] = {
    "1": "1239",  # 机构编制: 机关, 事业单位, 中央编办直接管理机构编制的群众团体, 其他
    "2": "19",  # 外交: 外国常驻新闻机构, 其他
    "3": "1234569",  # 司法行政: 律师执业机构, 公证处, 基层法律服务所, 司法鉴定机构, 仲裁委员会, 商事调解组织, 其他
    "4": "19",  # 文化: 外国在华文化中心, 其他
    "5": "123459",  # 民政: 社会团体, 民办非企业单位, 基金会, 村民委员会, 居民委员会, 其他
    "6": "129",  # 旅游: 外国旅游部门常驻代表机构, 港澳台地区旅游部门常驻内地（大陆）代表机构, 其他
    "7": "129",  # 宗教: 宗教活动场所, 宗教院校, 其他
    "8": "129",  # 工会: 基层工会, 非法人工会组织, 其他
    "9": "123",  # 工商: 企业, 个体工商户, 农民专业合作社
    "A": "19",  # 中央军委改革和编制办公室: 军队事业单位, 其他
    "G": "19",  # 公安: 境外非政府组织代表机构, 其他
    "J": "19",  # 住房和城乡建设: 业主大会, 其他
    "N": "1239",  # 农业: 组级, 村级, 乡镇级集体经济组织, 其他
    "Q": "1239",  # 侨联: 区县级, 乡镇级, 村级侨联组织, 其他
    "Y": "1",  # 其他: one type, 1
}
"""GB 32100-2015's 登记管理部门代码 (the first character) with the 机构类别代码 (the second) each assigns (its table 1,
as the registration authorities added since extend it: 公安's G1 for the 境外非政府组织代表机构 it registers had been
left out, refusing such an office's code, review rfB; where a later pair is in doubt, taking it is the lesser harm).
A code beginning otherwise is none: one 公民身份号码 typo in 31 passes the check character alone, and had been taken
for a company's (a reviewer, R4); 37 (山东), 22 (吉林) and 44 (广东), among most provinces' numbers, begin no credit
code."""


def uscc_problem(value: str) -> str | None:
    """Why ``value`` is not a valid 统一社会信用代码, or None when it is."""
    if len(value) != 18:  # before the cache, which would keep the last 4,096 values of any length callers sent
        return _USCC_SHAPE
    return _uscc_problem(value)


@functools.lru_cache(maxsize=4096)
def _uscc_problem(value: str) -> str | None:
    if not _USCC_RE.match(value):
        return _USCC_SHAPE
    if value[1] not in _USCC_TYPES.get(value[0], ""):
        return _USCC_NO_PAIR
    if uscc_check_char(value[:17]) != value[17]:
        return "check character does not match (GB 32100)"
    return None


def holder_code_type_by_form(code: str) -> str:
    """The holder code type (持证主体代码类型) that a code given without its type has by its form, so that the calls
    that name a holder by code alone (consents, a holder's access records) check it by that type's rules: ``111`` for
    a 公民身份号码's form (17 digits with a birth date at the 7th to 14th, then a digit or X) and ``554`` for that form
    beginning with 9 (the 2023 外国人永久居留身份证: no region code begins with 9), unless the code is a valid
    统一社会信用代码; ``001`` for any other code of a USCC's form (18 characters of its alphabet: a government
    body's may be digits only); ``099`` (其他) for any other.

    >>> [holder_code_type_by_form(c) for c in ("91370100MA3C4K7L6M", "37010219600421003x", "E12345678")]
    ['001', '111', '099']
    """
    code = normal_number(code)
    if len(code) == 18 and uscc_problem(code) is None:
        return "001"
    if _CITIZEN_RE.match(code) and _is_date(code[6:14]):
        return "554" if code.startswith("9") else "111"
    return "001" if _USCC_RE.match(code) else "099"


def carries_birth_date(code: str) -> bool:
    """Whether ``code`` has a 公民身份号码's form, which carries its holder's birth date at the 7th to 14th characters
    (17 digits with such a date, then a digit or X; the 2023 外国人永久居留身份证 has it too), whatever type it was
    given under and whether its check character holds: what a mask must hide more of beside that date
    (``gateway.domain.sharing.rebuilds_holder_code``).

    >>> [carries_birth_date(c) for c in ("370102202611285736", "91370100MA3C4K7L6M", "E12345678")]
    [True, False, False]
    """
    code = normal_number(code)
    return bool(_CITIZEN_RE.match(code)) and _is_date(code[6:14])


NOT_CITIZEN_ID_CODE_TYPES = frozenset({"001", "414", "516", "511", "554", "099"})
"""The holder code types (持证主体代码类型) but ``111``: those a code that is no 公民身份号码 is registered under."""


def holder_code_types_of(code: str) -> frozenset[str]:
    """The holder code types under which the holder of ``code``, named by the code alone (consents, a holder's
    access records), holds licenses: ``111`` for a valid 公民身份号码 (``001`` too for one that is also a valid
    统一社会信用代码), every type but ``111`` for any other code. Issuance refuses a 公民身份号码 under another type
    (``CODE_TYPE_MISMATCH``), so it names its own person only: a license a hospital had registered under 其他 (099)
    with a parent's number had been that parent's own in every holder-portal call (a holder-rights tester).

    A credit code narrows nothing here: one 18-character code in 31 of a person's own that begins as a credit code
    may (a hospital's own code for a newborn) passes the GB 32100 check by chance, and had been taken for a
    company's, its stored licenses under 其他 nobody's (a reviewer). Issuance keeps companies to ``001`` instead.

    >>> sorted(holder_code_types_of("37010219600421003x")), sorted(holder_code_types_of("830000201001010469"))
    (['111'], ['001', '099', '414', '511', '516', '554'])
    """
    code = normal_number(code)
    if citizen_id_problem(code, today=dt.date.max) is not None:  # its birth date past or not: the form is a person's
        return NOT_CITIZEN_ID_CODE_TYPES
    return frozenset({"111", "001"}) if uscc_problem(code) is None else frozenset({"111"})


def _is_date(yyyymmdd: str) -> bool:
    try:
        dt.date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:]))
    except ValueError:
        return False
    return True


def region_code_problem(value: str) -> str | None:
    """Why ``value`` is not a GB/T 2260 region code, or None when it is."""
    if not _REGION_RE.match(value) or value[:2] not in _PROVINCES:
        return "must be a 6-digit GB/T 2260 administrative division code"
    return None


_TYPE_CODE_SHAPE = "must be the defining authority's 18-character USCC followed by 3 digits"


def type_code_problem(value: str) -> str | None:
    """Why ``value`` is not a license type code (defining authority's USCC + 3 digits), or None."""
    if len(value) != 21:  # before the cache, as in uscc_problem
        return _TYPE_CODE_SHAPE
    return _type_code_problem(value)


@functools.lru_cache(maxsize=1024)
def _type_code_problem(value: str) -> str | None:
    if not _TYPE_CODE_RE.match(value):
        return _TYPE_CODE_SHAPE
    return uscc_problem(value[:18])


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseId:
    """An 电子证照标识 (GB/T 36904) split into its parts."""

    type_code: str
    """证照类型代码: defining authority's USCC and a 3-digit sequence."""
    issuer_code: str
    """证照颁发机构代码: the issuer's USCC."""
    serial: str
    """流水号: chosen by the issuer, 1-32 characters of 0-9A-Z."""
    version: int
    """版本号, printed as three digits (001 for the first issue)."""

    def __post_init__(self) -> None:
        problem = (
            type_code_problem(self.type_code)
            or uscc_problem(self.issuer_code)
            or (None if _SERIAL_RE.match(self.serial) else "serial must be 1-32 characters of 0-9A-Z")
            or (None if 1 <= self.version <= MAX_VERSION else f"version must be 1-{MAX_VERSION}")
        )
        if problem:
            raise ValueError(f"invalid license identifier part: {problem}")

    @property
    def check_char(self) -> str:
        p = _mod37_36(f"{self.serial}{self.version:03d}", _prefix_state(self.type_code, self.issuer_code))
        return _MOD36_ALPHABET[(37 - p) % 36]

    def __str__(self) -> str:
        return (
            f"{LICENSE_ID_ROOT}.{self.type_code}.{self.issuer_code}.{self.serial}.{self.version:03d}.{self.check_char}"
        )

    def next_version(self) -> LicenseId:
        return LicenseId(
            type_code=self.type_code, issuer_code=self.issuer_code, serial=self.serial, version=self.version + 1
        )

    @classmethod
    def parse(cls, text: str) -> LicenseId:
        """Parse and check an identifier; raises ValueError saying what is wrong."""
        if not text.startswith(LICENSE_ID_ROOT + "."):
            raise ValueError(f"must start with {LICENSE_ID_ROOT}")
        parts = text[len(LICENSE_ID_ROOT) + 1 :].split(".")
        if len(parts) != 5:
            raise ValueError("must have type code, issuer, serial, version and check character")
        type_code, issuer_code, serial, version, check = parts
        if not re.fullmatch(r"\d{3}", version):
            raise ValueError("version must be three digits")
        parsed = cls(type_code=type_code, issuer_code=issuer_code, serial=serial, version=int(version))
        if parsed.check_char != check:
            raise ValueError("check character does not match (ISO/IEC 7064 MOD 37,36)")
        return parsed


_ASCII_UPPER = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


_FULL_WIDTH_ALNUM = str.maketrans(
    {
        **{0xFF10 + i: ord("0") + i for i in range(10)},
        **{0xFF21 + i: ord("A") + i for i in range(26)},
        **{0xFF41 + i: ord("A") + i for i in range(26)},
    }
)
_SPACES = re.compile(r"\s+")
FORMAT_CHARACTERS = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]+"
)
"""Unicode's format characters (category Cf: zero-width spaces and joiners, the BOM, the soft hyphen, direction
marks): invisible, and carried along when a number is copied from a web page, a document or a chat. A number
copied so had been "not found" (未找到该证照) for a license that exists (found by a clerk tester)."""


def normal_number(number: str) -> str:
    """A license number as the gateway keeps and finds it: its ASCII letters in upper case, its full-width letters
    and digits (a Chinese input method's ＳＣ８５…) as ASCII ones, and no spaces (``SC8566 1857041627``). Numbers on
    paper tell none of these apart: each of them had been a second current license under one printed number.
    Punctuation stays as it is (a 不动产权证号's full-width brackets are printed so).

    >>> normal_number(" 37010219600421003x ")
    '37010219600421003X'
    >>> normal_number("ＳＣ８５６６\u3000１８５７０４１６２７")
    'SC85661857041627'
    >>> normal_number("鲁（2024）济南市不动产权第 0012345号")
    '鲁（2024）济南市不动产权第0012345号'

    Invisible format characters (``FORMAT_CHARACTERS``) go too: issuance refuses a number with one, so no license's
    number has any.
    """
    return FORMAT_CHARACTERS.sub("", _SPACES.sub("", number)).translate(_ASCII_UPPER).translate(_FULL_WIDTH_ALNUM)


def composed(value: str) -> str:
    """``value`` with its combining marks composed (NFC) where it has any: a name typed as ``e`` and U+0301 is the
    same name as one typed ``é``, compares so, and prints the font's ``é`` (it printed ``e〓``). A value without
    combining marks is kept as it is: NFC would also replace CJK compatibility ideographs (U+F900-FAFF) that a
    person's registered name may be written with."""
    if unicodedata.is_normalized("NFC", value):  # NFC's quick check, in C: most values, a 经营范围 of 2,000
        return value  # characters in 2 µs where looking at each character for a mark took 80 (review s55fix, R1)
    return unicodedata.normalize("NFC", value) if any(unicodedata.combining(c) for c in value) else value


MAX_LICENSE_NUMBER = 64
"""The longest license number a license may have (issuance refuses a longer one)."""
MAX_NUMBER_TYPED = 4 * MAX_LICENSE_NUMBER
"""The longest number a look-up takes as typed (spaces, full-width forms and all): a longer one is refused before it
is read or normalised; numbers of 10 million characters had been looked up (found by a privacy tester)."""


def find_by_number(read: Callable[[str, str], _T | None], type_code: str, number: str) -> _T | None:
    """What ``read(type_code, number)`` finds for a claimed number: by its normal form, then with its full-width signs
    as ASCII ones (``half_width``) when it has any, then with its ASCII brackets as full-width ones when it has any,
    then without its hyphens when what is left is 18 letters and digits (a holder's code pasted so), then as given
    (trimmed) when that differs, for a license stored before numbers were kept in upper case (its record is sealed
    as issued).
    A number longer than any license's is none without a look-up; one longer than ``MAX_NUMBER_TYPED`` as typed is
    INVALID_ARGUMENT / TOO_LONG on ``license_number``."""
    if len(number) > MAX_NUMBER_TYPED:
        raise invalid(
            "license_number",
            "TOO_LONG",
            f"证照编号不得超过{MAX_NUMBER_TYPED}个字符（license_number must be at most {MAX_NUMBER_TYPED} characters）",
        )
    normal, given = normal_number(number), number.strip()
    if len(normal) > MAX_LICENSE_NUMBER:
        return None
    found = read(type_code, normal)
    if found is None and (typed := half_width(normal)) != normal:
        # its signs typed in full width too (Ｊ３７０１０２－２０１９－…: a Chinese input method's full-width mode): the
        # normal form keeps them, for a number printed with them, so it is looked up with them as ASCII after that one
        found = read(type_code, typed)
    if found is None and (printed := normal.translate(_FULL_WIDTH_BRACKETS)) != normal:
        # and the other way: a number printed with full-width brackets (鲁（2024）济南市不动产权第0012345号) typed
        # with ASCII ones, as an input method in half-width mode types them
        found = read(type_code, printed)
    if found is None and (bare := unhyphenated_code(normal)) is not None:
        # a 统一社会信用代码 or 公民身份号码 pasted with hyphens (913701-0000000078R7): no holder's code has one, and
        # it had been 未找到该证照 over gRPC while the console found it (review clerk, R2); a number of another kind
        # keeps its hyphens, which may be part of it, and is found by them first
        found = read(type_code, bare)
    return read(type_code, given) if found is None and given != normal else found


_FULL_WIDTH_BRACKETS = str.maketrans({"(": "（", ")": "）"})
HYPHENS = re.compile("[-\u2010\u2011\uff0d]")
"""The hyphens a number is pasted with (ASCII, Unicode's two, full width)."""
_HOLDER_CODE_FORM = re.compile("[0-9A-Z]{18}")
"""What a holder's 统一社会信用代码 or 公民身份号码 (and a license number that is its holder's code,
``license_number_of_holder``) looks like once normal."""


def unhyphenated_code(normal: str) -> str | None:
    """``normal`` (a code or number as ``normal_number`` gives it) without its hyphens (``HYPHENS``) when it has any
    and what is left is 18 letters and digits: a 统一社会信用代码 or 公民身份号码 pasted with hyphens
    (370102-19920427-092X, 913701-0000003202PQ), which no such code has. None for any other: a number or a code of
    another kind (其他) keeps its hyphens, which may be part of it.

    >>> unhyphenated_code("370102－19920427‐092X"), unhyphenated_code("H2026-1201-047011")
    ('37010219920427092X', None)
    """
    bare = HYPHENS.sub("", normal)
    return bare if bare != normal and _HOLDER_CODE_FORM.fullmatch(bare) else None


def license_id_violation(field: str, text: str) -> FieldViolation | None:
    """INVALID_LICENSE_ID when ``text`` is not a valid license identifier, said in Chinese first (a holder portal's
    user and a window clerk read it), ``LicenseId.parse``'s English in brackets; BAD_CHARACTERS, naming their code
    points, when it holds control or invisible characters, as every text is refused for them: a NUL after a right
    identifier had been said to make its check character wrong (an integrator)."""
    if violation := unseen_in(field, text):
        return violation
    try:
        LicenseId.parse(text)
    except ValueError as exc:
        english = str(exc)
        chinese = _LICENSE_ID_PROBLEMS.get(
            english, "的组成部分不正确" if english.startswith("invalid license") else "不正确"
        )
        return FieldViolation(field=field, reason="INVALID_LICENSE_ID", description=f"证照标识{chinese}（{english}）")
    return None


_CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters (C0, C1) and the line and paragraph separators: with the format characters
(``FORMAT_CHARACTERS``: zero-width ones, direction marks and overrides), what is never part of an identifier."""


def unseen_in(field: str, text: str, label: str = "证照标识") -> FieldViolation | None:
    """BAD_CHARACTERS (``unseen_characters``) when ``text``, an identifier or another looked-up code, holds a control
    or invisible character; else None."""
    if found := _CONTROL_CHARACTERS.findall(text) + list("".join(FORMAT_CHARACTERS.findall(text))):
        return unseen_characters(field, found, label)
    return None


def unseen_characters(field: str, found: list[str], label: str = "证照标识") -> FieldViolation:
    """BAD_CHARACTERS on ``field``, an identifier or another looked-up code (``label``, 证照编号), naming the first
    three of the characters ``found`` by code point, each once, as ``gateway.domain.validation`` names them in other
    text: most print as nothing, and a clerk looks for U+0000 or U+200B in what was pasted."""
    distinct = list(dict.fromkeys(found))
    named = [f"U+{ord(c):04X}" for c in distinct[:3]]
    more = len(distinct) - len(named)
    if all(unicodedata.category(c) == "Cc" for c in distinct):
        kind, kind_en = "控制字符", "control characters"
    else:
        kind, kind_en = "控制字符或不可见字符", "control or invisible characters"
    return FieldViolation(
        field=field,
        reason="BAD_CHARACTERS",
        description=f"{label}含有{kind} {'、'.join(named)}{f' 等{len(distinct)}种' if more else ''}"
        f"（{field} contains {kind_en}: {', '.join(named)}{f' and {more} more' if more else ''}）",
    )


_LICENSE_ID_PROBLEMS: Mapping[str, str] = {
    "must start with 1.2.156.3005.2": "须以1.2.156.3005.2开头",
    "must have type code, issuer, serial, version and check character": "须由证照类型代码、颁发机构代码、流水号、"
    "版本号和校验码组成",
    "version must be three digits": "的版本号须为三位数字",
    "check character does not match (ISO/IEC 7064 MOD 37,36)": "的校验码不符",
}
"""The Chinese of what ``LicenseId.parse`` finds wrong with an identifier (its words are English, shared with the
CLI); a problem of one of its parts is said in general."""


def same_license(a: str, b: str) -> bool:
    """Whether two license identifiers name versions of one license (type, issuer and serial alike): an approval or a
    consent for a license stays with it through its amendments."""
    return a.rsplit(".", 2)[0] == b.rsplit(".", 2)[0]


_FULL_WIDTH = {0x3000: 0x20, **{0xFF01 + i: 0x21 + i for i in range(94)}}
"""Full-width forms (U+FF01-FF5E) and the ideographic space to their ASCII characters."""
_LINE_ENDS = "\r\n\t\v\f\x85\u2028\u2029"


def half_width(text: str) -> str:
    """``text`` with the full-width forms of ASCII (U+FF01-FF5E) and the ideographic space as ASCII: a code or a
    number typed through a Chinese input method in full-width mode (３７０１０２…００３Ｘ, Ｊ３７０１０２－…).
    Only those: NFKC would also make digits of ①, ² or ⅳ, which no keyboard types for one.

    >>> half_width("３７０１０２－２０１９")
    '370102-2019'
    """
    return text.translate(_FULL_WIDTH)


_IDENTIFIER_TYPED = {**_FULL_WIDTH, 0x3002: ord("."), 0xFF61: ord(".")}
"""What a clerk's input method types for an identifier's characters: full-width forms, and its full stop (。, or the
half-width ｡) for '.' (NFKC maps neither full stop to '.')."""


def typed_license_id(text: str) -> str:
    """A license identifier as typed by hand, as the identifier it is: in full width (１．２．１５６．…), with the input
    method's 。 for '.', in small letters (Caps Lock), with spaces around it. An identifier (GB/T 36904) is capitals,
    digits and '.' only, so this changes nothing of a genuine one and makes no other one of it. Text that is not then
    an identifier's beginning (1.2.156.3005.2.) is given back as it was: a license number or a ``ZZ1:`` code, which
    have rules of their own (``normal_number``, ``scanned_code``).

    >>> typed_license_id("１。２。１５６。３００５。２。１１１ｘ")
    '1.2.156.3005.2.111X'
    >>> typed_license_id(" j370102-2019-938159")
    ' j370102-2019-938159'
    """
    if len(text) > MAX_TYPED_LICENSE_ID or _CANONICAL_ID.fullmatch(text):  # too long to be one, or one as it is
        return text
    typed = text.translate(_IDENTIFIER_TYPED).strip().translate(_ASCII_UPPER)
    return typed if typed.startswith(LICENSE_ID_ROOT + ".") else text


MAX_TYPED_LICENSE_ID = 256
"""Characters past which a typed identifier is not folded (none is 120 long; folding 4 MiB took 66 ms of CPU)."""
_CANONICAL_ID = re.compile(r"[0-9A-Z.]*", re.ASCII)


def scanned_code(code: str) -> str:
    """A scanned code as a scanner or a clerk's paste gives it, without what surrounds it: whitespace before it (a
    code starts ``ZZ1:``) and line ends, tabs and full-width spaces after it (a scanner typing the code and Enter). A
    trailing ASCII space stays: it is a base45 character, the last of a genuine code.

    A handheld scanner types the code as keystrokes: with Caps Lock on its letters arrive in the other case, and
    through a Chinese input method in full-width mode as full-width forms (ＺＺ１：…, its spaces as U+3000). Base45
    has capitals, digits and ``$%*+-./:`` and space only, so a code that begins ``ZZ1:`` in any case or width is
    taken in capitals and ASCII: that changes nothing of a genuine code, and no forgery passes for one by it. (A
    code typed in full width keeps a trailing U+3000 as its last space: one a clerk adds after it fails the code.)
    With the input method's Chinese punctuation on (a counter PC left so), a scanner's ``:`` arrives as ``：``,
    ``.`` as ``。``, ``$`` as ``￥`` and ``/`` as ``、``: none of them is base45, so each is taken for the one it
    was typed for (a black-box tester's clerk had been told 输入内容过长 or 核验码无法读取).

    >>> scanned_code(" zz1：6BF。Q￥、 ")
    'ZZ1:6BF.Q$/ '
    """
    code = code.lstrip()
    if code[:4].translate(_CODE_TYPED).upper() != "ZZ1:":
        return code.rstrip(_LINE_ENDS + "\u3000")
    if code[0] != "Z" and code[0] != "z":  # typed in full width: its spaces too, the last one a base45 character
        return code.translate(_CODE_TYPED).rstrip(_LINE_ENDS).upper()
    return code.rstrip(_LINE_ENDS + "\u3000").translate(_CODE_PUNCTUATED).upper()


_CODE_TYPED = {**_FULL_WIDTH, 0x3002: 0x2E, 0xFF61: 0x2E, 0xFFE5: 0x24, 0xA5: 0x24, 0x3001: 0x2F}
"""A ``ZZ1:`` code's characters as a scanner types them through a Chinese input method: full-width forms, and with
Chinese punctuation 。 (and the half-width ｡) for '.', ￥ (and ¥) for '$', 、 for '/'."""
_CODE_PUNCTUATED = {k: v for k, v in _CODE_TYPED.items() if k != 0x3000}
"""The same for a code typed in half width with Chinese punctuation, whose spaces are ASCII: a U+3000 in it is no
space the scanner typed."""
