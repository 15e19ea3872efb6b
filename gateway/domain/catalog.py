"""The catalog (证照目录): license types with their fields, matters (事项) and bundles (一件事).

>>> catalog = Catalog.from_json(Path("gateway/bootstrap/catalog.json").read_bytes())  # doctest: +SKIP
>>> catalog.license_type("111000009910000354001").name  # doctest: +SKIP
'营业执照'

The catalog is data, never code: ``gateway/bootstrap/catalog.json`` holds the bootstrap catalog, a deployment's file
has the same form (docs/catalog.md, which ``tests/test_docs_catalog.py`` keeps in step with the keys and values here),
and ``Catalog.from_json`` / ``from_mapping`` check it when it is loaded (text that is not UTF-8 or not JSON, a key
given twice in an object, unknown keys, values of the wrong JSON type, bad or duplicate codes and names, blank or
overlong names, a field looser than its type, matters that name unknown types all fail loudly at start-up, naming the
entry, not at the first request).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import json
import json.decoder
import json.scanner
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from gateway.domain.errors import FieldViolation, NotFoundError
from gateway.domain.identifiers import type_code_problem, uscc_problem


class SharingClass(enum.Enum):
    """State Council sharing classes (国发〔2016〕51号, 国务院令第809号), from the loosest to the strictest."""

    UNCONDITIONAL = "UNCONDITIONAL"  # 无条件共享
    CONDITIONAL = "CONDITIONAL"  # 有条件共享
    NOT_SHARED = "NOT_SHARED"  # 不予共享

    @property
    def words(self) -> str:
        """The class in Chinese, as the State Council names it (无条件共享)."""
        return _SHARING_WORDS[self]

    def looser_than(self, other: SharingClass) -> bool:
        """Whether this class lets more out than ``other`` (无条件共享 is looser than 有条件共享)."""
        order = list(SharingClass)
        return order.index(self) < order.index(other)


_SHARING_WORDS: Mapping[SharingClass, str] = {
    SharingClass.UNCONDITIONAL: "无条件共享",
    SharingClass.CONDITIONAL: "有条件共享",
    SharingClass.NOT_SHARED: "不予共享",
}


class HolderKind(enum.Enum):
    PERSON = "PERSON"
    ORGANIZATION = "ORGANIZATION"


class ValueType(enum.Enum):
    """How a field's value is written and checked. Every value travels as a string."""

    STRING = "STRING"
    DATE = "DATE"  # ISO 8601 calendar date, YYYY-MM-DD
    INTEGER = "INTEGER"
    DECIMAL = "DECIMAL"
    CITIZEN_ID = "CITIZEN_ID"  # 公民身份号码, GB 11643 check
    USCC = "USCC"  # 统一社会信用代码, GB 32100 check
    REGION = "REGION"  # GB/T 2260 division code
    ENUM = "ENUM"  # one of ``choices``


class OfHolder(enum.Enum):
    """What a field states about the license's holder, which the field must then agree with."""

    NAME = "name"  # the holder's name (a 居民身份证's 姓名, a 营业执照's 名称)
    CODE = "code"  # the holder's code (a 营业执照's 统一社会信用代码)
    BIRTH_DATE = "birth_date"  # the birth date a holder's 公民身份号码 carries (digits 7-14)
    SEX = "sex"  # the sex a holder's 公民身份号码 carries (digit 17: odd 男, even 女)


class Masking(enum.Enum):
    """How a SENSITIVE field's value is shown when a matter does not need it in full."""

    ENDS = "ends"  # the first and last four characters (3701**********1234): identifiers and card numbers
    PREFIX = "prefix"  # the first characters only, at most six (an address's province and city), length hidden
    WHOLE = "whole"  # nothing of it, length hidden: free text that names people (户内成员)


class Sensitivity(enum.Enum):
    NORMAL = "NORMAL"
    SENSITIVE = "SENSITIVE"  # masked unless a matter needs it in full
    SECRET = "SECRET"  # never leaves the gateway in a data response (e.g. a photo reference)


def unknown_type_words(code: str) -> str:
    """A license type code no type of the catalog has, in Chinese, with what to do: UNKNOWN_LICENSE_TYPE's and
    LICENSE_TYPE_NOT_FOUND's words (they had been 没有证照类型 123)."""
    return f"证照目录中没有证照类型代码 {code}，请按证照目录填写"


def unknown_matter_words(code: str) -> str:
    """A matter code no matter of the catalog has, in Chinese, with what to do: UNKNOWN_MATTER's and
    MATTER_NOT_FOUND's words (they had been 没有事项 370100-XXX-001)."""
    return f"事项目录中没有事项编码 {code}，请按事项目录填写"


HOLDER_CODE_TYPES: Mapping[str, str] = {
    "111": "公民身份号码",
    "001": "统一社会信用代码",
    "414": "护照号码",
    "516": "港澳居民来往内地通行证",
    "511": "台湾居民来往大陆通行证",
    "554": "外国人永久居留身份证",
    "099": "其他",
}
"""Holder code types (持证主体代码类型, GB/T 36903); ``111`` and ``001`` carry check characters."""
KIND_OF_CODE_TYPE: Mapping[str, HolderKind] = {
    "111": HolderKind.PERSON,
    "414": HolderKind.PERSON,
    "516": HolderKind.PERSON,
    "511": HolderKind.PERSON,
    "554": HolderKind.PERSON,
    "001": HolderKind.ORGANIZATION,
}
"""The kind of holder a code type names; ``099`` (其他) names either."""


DEFAULT_MAX_LENGTH = 200
MAX_MAX_LENGTH = 2**31 - 1
"""The largest ``max_length`` the API carries (``FieldSpec.max_length``, an int32): a larger one had loaded, been
checked and adopted, and then every `zzgw serve` of the store died building the catalog's messages (a reviewer)."""
"""A field's ``max_length`` when the catalog gives none (every value travels as a string, codes and choices too)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One field (照面信息项) of a license type."""

    key: str
    """Stable key used in the API, e.g. ``legal_representative``."""
    label: str
    """Chinese label shown to people, e.g. ``法定代表人``."""
    value_type: ValueType
    required: bool = False
    max_length: int = DEFAULT_MAX_LENGTH
    sensitivity: Sensitivity = Sensitivity.NORMAL
    sharing_class: SharingClass | None = None
    """The field's own sharing class, when set: never looser than its type's (``LicenseType`` refuses that), so it
    only keeps a field back (a 照片 不予共享 in a 有条件共享 type)."""
    choices: tuple[str, ...] = ()
    form_labels: tuple[str, ...] = ()
    """Other names forms give the field (企业名称 for a 营业执照's 名称): ``PrefillForm`` finds it by them too."""
    of_holder: OfHolder | None = None
    """What the field states about the holder, if anything: a license whose field disagrees with its holder is refused
    (``BIRTH_DATE`` and ``SEX`` where the holder's code is a 公民身份号码, which carries them)."""
    masking: Masking = Masking.ENDS
    """How the value is masked when SENSITIVE and not needed in full: the catalog's ``masking``, else ``ENDS`` for
    codes and ``WHOLE`` for free text (``STRING``), whose ends could name a person or a flat."""
    guardian_of_holder: bool = False
    """Whether the person whose 公民身份号码 the field states is a parent of the holder (a 出生医学证明's mother and
    father): while the holder is a minor, that person may consent for the holder to the use of the license
    (监护人代为授权, ``gateway.domain.guardianship``). Only a ``CITIZEN_ID`` field not ``of_holder`` may be one."""

    person_sex: str = ""
    """The sex (男 or 女) of the person whose 公民身份号码 a co-subject field states (a 出生医学证明's mother, a
    结婚证's 女方): an issue or amendment whose number carries the other is refused. Only a ``CITIZEN_ID`` field not
    ``of_holder`` may carry it."""
    person_birth_date: str = ""
    """The key of the ``DATE`` field that states the birth date of the person this ``CITIZEN_ID`` field names (a
    结婚证's 男方出生日期 for 男方身份证件号): an issue or amendment whose date is not the one the number carries is
    refused."""
    person_name: str = ""
    """The key of the ``STRING`` field that states the name of the person this ``CITIZEN_ID`` field names (a 结婚证's
    女方姓名 for 女方身份证件号): a claim made with that person's code (``holder_among``) compares a claimed
    ``holder_name``, the applicant's, with it."""
    may_be_future: bool = False
    """Whether a ``DATE`` field's date may be after today (a 下次检验日期, an expiry stated as a field). By default a
    date states something that has happened (出生, 成立日期, 登记日期): one after today in China is refused
    (``DATE_IN_FUTURE``), as an issue date is. Only a ``DATE`` field not ``of_holder`` may carry it."""

    def named(self, name: str) -> bool:
        """Whether ``name`` is the field's label or one of its form labels."""
        return name == self.label or name in self.form_labels


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseType:
    """A license type (证照类型)."""

    code: str
    """证照类型代码: the defining authority's USCC and a 3-digit sequence (21 characters)."""
    name: str
    holder_kind: HolderKind
    holder_code_types: tuple[str, ...]
    sharing_class: SharingClass
    expires: bool
    """Whether licenses of this type carry a validity end date (有效期截止日期)."""
    issuers: frozenset[str]
    """USCCs of the authoritative issuers (一数一源): only they may issue this type."""
    fields: tuple[FieldSpec, ...]
    license_number_label: str = "证照编号"
    name_en: str = ""
    license_number_of_holder: bool = False
    """Whether a license's number is its holder's code (a 居民身份证's 公民身份号码, a 营业执照's 统一社会信用代码): one
    that is not is refused, else a card would verify by another person's number."""
    lifelong: bool = False
    """Whether a license of a type that ``expires`` may have no end date all the same (长期: the 居民身份证 of a
    holder aged 46 or more)."""
    holder_among: tuple[str, ...] = ()
    """The keys of the ``CITIZEN_ID`` fields one of which names the holder (a 结婚证's 男方 and 女方身份证件号): a
    license whose holder's 公民身份号码 is none of the numbers they state is refused (``DISAGREES_WITH_HOLDER``).
    Else a 结婚证 held by a third person had been issued, and that person alone consented to the release of both
    spouses' numbers (a reviewer). Empty: the holder may be none of them (a 出生医学证明's child is no parent)."""
    claimable_under_any_matter: bool = False
    """Whether a claim of a license's holder (``CheckClaim``: the holder's code, the number and the holder's name, no
    other field) may be checked under any matter, not only one whose materials list the type: an identity document's
    data-free check (SCENARIOS: the 居民身份证's, always allowed), which answers whether the applicant is who they say
    without giving any of the card's data. The fields stay the listing matters'."""
    issued_at_birth: bool = False
    """Whether a license of the type is issued at its holder's birth (a 出生医学证明): its ``valid_from``, which every
    answer that shows a license states (a verification's summary, ``GetLicenseData``, the console), is the birth date
    or a few days after. It is taken as a field stating the holder's birth date (``gateway.domain.sharing``, rule 10):
    beside it a 公民身份号码 masked to its city and last four had been rebuilt from a verification alone (a reviewer,
    prefill R1)."""

    def __post_init__(self) -> None:
        if (same := _twice(self.fields, lambda f: f.key)) is not None:
            key = same[0].key
            raise ValueError(
                f"证照类型 {self.code}（{self.name}）的信息项 key {key} 写了两次：每个信息项的 key 须各不相同，"
                f"请删去重复的信息项或改正其 key（license type {self.code}: duplicate field key {key}）"
            )
        for spec in self.fields:
            if spec.sharing_class is not None and spec.sharing_class.looser_than(self.sharing_class):
                # a field may keep more back than its type, never let out more: a type made 不予共享 had still shared
                # a field marked UNCONDITIONAL (a catalog author tester)
                raise ValueError(
                    f"证照类型 {self.code}（{self.name}）为“{self.sharing_class.words}”，其信息项 {spec.key}"
                    f"（{spec.label}）却标为更宽的“{spec.sharing_class.words}”：信息项的共享类别只能与证照类型相同或"
                    f"更严，请删去该信息项的 sharing_class 或把它改严（field {spec.key} of license type {self.code} is "
                    f"{spec.sharing_class.value}, looser than the type's {self.sharing_class.value}）"
                )
        where = _Where(f"证照类型 {self.code}（{self.name}）", f"license type {self.code}")
        if problem := type_code_problem(self.code):
            raise where.refused(f"的 code 不能用：{_type_code_words(problem)}，请改正", problem)
        for issuer in self.issuers:
            if problem := uscc_problem(issuer):
                raise where.refused(
                    f"的 issuers 中的 {issuer} 不是有效的统一社会信用代码：{_USCC_WORDS.get(problem, problem)}，"
                    "请按发证部门的统一社会信用代码改正",
                    f"issuer {issuer}: {problem}",
                )
        for code_type in self.holder_code_types:
            if code_type not in HOLDER_CODE_TYPES:
                raise where.refused(
                    f"的 holder_code_types 中的 {code_type} 不是持证主体代码类型：须为 "
                    f"{'、'.join(HOLDER_CODE_TYPES)} 之一（GB/T 36903，见 docs/catalog.md），请改正或删去",
                    f"unknown holder code type {code_type}",
                )
            if (kind := KIND_OF_CODE_TYPE.get(code_type)) is not None and kind is not self.holder_kind:
                # a verifier is shown an organisation's name and code whole (public registration), a person's
                # masked: a person's type with a credit code would show a person whole (a reviewer)
                raise where.refused(
                    f"的 holder_code_types 中的 {code_type}（{HOLDER_CODE_TYPES[code_type]}）是{_KIND_WORDS[kind]}的"
                    f"代码类型，而其 holder_kind 为 {self.holder_kind.value}（{_KIND_WORDS[self.holder_kind]}）："
                    "请删去该代码类型或改正 holder_kind",
                    f"holder code type {code_type} is a {kind.value} code, and its holders are of kind "
                    f"{self.holder_kind.value}",
                )
        if guardians := [f for f in self.fields if f.guardian_of_holder]:
            first = guardians[0]
            guardian = (
                f"信息项 {first.key}（{first.label}）标为 guardian_of_holder（持证人的父母，可代未成年持证人授权）"
            )
            if self.holder_kind is not HolderKind.PERSON:
                raise where.refused(
                    f"的{guardian}，而其 holder_kind 为 {self.holder_kind.value}：只有个人持有的证照可有监护人，"
                    "请把 holder_kind 改为 PERSON 或删去该信息项的 guardian_of_holder",
                    "guardian_of_holder needs a holder_kind PERSON",
                )
            births = [f for f in self.fields if f.of_holder is OfHolder.BIRTH_DATE and f.required]
            if not births and self.holder_code_types != ("111",):
                raise where.refused(
                    f"的{guardian}，却说不出持证人的出生日期（监护人只能为未成年的持证人授权）：请把一个必填的 DATE "
                    "信息项标为 of_holder birth_date，或使 holder_code_types 只含 111（公民身份号码）",
                    "guardian_of_holder needs the holder's birth date: a required field of_holder birth_date, or "
                    "holder_code_types 111 only",
                )
        if self.issued_at_birth and self.holder_kind is not HolderKind.PERSON:
            raise where.refused(
                f"标为 issued_at_birth（持证人出生时签发），而其 holder_kind 为 {self.holder_kind.value}："
                "只有个人持有的证照在持证人出生时签发，请把 holder_kind 改为 PERSON 或删去 issued_at_birth",
                "issued_at_birth needs a holder_kind PERSON",
            )

        for spec in self.fields:
            if spec.person_birth_date:
                dated = next((f for f in self.fields if f.key == spec.person_birth_date), None)
                if dated is None or dated.value_type is not ValueType.DATE:
                    raise where.refused(
                        f"的信息项 {spec.key}（{spec.label}）的 person_birth_date {spec.person_birth_date!r} 不是本类"
                        "证照的 DATE 信息项的 key：请改为写明此人出生日期的 DATE 信息项的 key，"
                        "或删去 person_birth_date",
                        f"field {spec.key}: person_birth_date must name a DATE field of the type, not "
                        f"{spec.person_birth_date!r}",
                    )
            if spec.person_name:
                named = next((f for f in self.fields if f.key == spec.person_name), None)
                if named is None or named.value_type is not ValueType.STRING:
                    raise where.refused(
                        f"的信息项 {spec.key}（{spec.label}）的 person_name {spec.person_name!r} 不是本类证照的 "
                        "STRING 信息项的 key：请改为写明此人姓名的 STRING 信息项的 key，或删去 person_name",
                        f"field {spec.key}: person_name must name a STRING field of the type, not {spec.person_name!r}",
                    )

        for key in self.holder_among:
            among = next((f for f in self.fields if f.key == key), None)
            if among is None or among.value_type is not ValueType.CITIZEN_ID or among.of_holder is not None:
                raise where.refused(
                    f"的 holder_among 中的 {key!r} 不是本类证照的、没有 of_holder 的 CITIZEN_ID 信息项的 key："
                    "请改为写明某人公民身份号码的信息项的 key（持证人须是其中一人），或删去它",
                    f"holder_among must name CITIZEN_ID fields of the type not of_holder, not {key!r}",
                )
        if self.holder_among and (self.holder_kind is not HolderKind.PERSON or "111" not in self.holder_code_types):
            raise where.refused(
                "的 holder_among 要求持证人是所列信息项中的一人，须与持证人的公民身份号码比对：请使 holder_kind 为 "
                "PERSON、holder_code_types 含 111（公民身份号码），或删去 holder_among",
                "holder_among needs a holder_kind PERSON with the holder code type 111",
            )
        # a holder is found among the fields by its 公民身份号码 only: one named by a passport's (414) or a permit's
        # number would not be checked, and a third person so named would hold the license (a reviewer, R1)
        if self.holder_among and (others := [code for code in self.holder_code_types if code != "111"]):
            raise where.refused(
                "的 holder_among 要求持证人是所列信息项中的一人，只有公民身份号码（111）能在 CITIZEN_ID 信息项中找到，"
                f"以其他证件号码（{'、'.join(others)}）登记的持证人无从比对：请使 holder_code_types 只含 111，或删去 "
                "holder_among",
                "holder_among needs holder_code_types of 111 alone: only a 公民身份号码 can be found among CITIZEN_ID "
                f"fields, and a holder named by {', '.join(others)} could not be checked",
            )

    def field_spec(self, key: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.key == key:
                return spec
        return None

    @property
    def person_names(self) -> Mapping[str, str]:
        """Each ``CITIZEN_ID`` field with a ``person_name``: its key → the key of the field naming that person."""
        return {spec.key: spec.person_name for spec in self.fields if spec.person_name}

    def field_sharing_class(self, key: str) -> SharingClass:
        spec = self.field_spec(key)
        return spec.sharing_class if spec and spec.sharing_class else self.sharing_class


@dataclass(frozen=True, slots=True, kw_only=True)
class Material:
    """A material (材料) a matter needs: a license type and the fields of it that the matter uses."""

    type_code: str
    fields: tuple[str, ...]
    full_fields: tuple[str, ...] = ()
    """Sensitive fields the matter needs unmasked."""
    required: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Matter:
    """A government matter (事项) that consumes licenses."""

    code: str
    name: str
    purpose: str
    """The default use (用证事由)."""
    department: str
    """Name of the department that handles it."""
    materials: tuple[Material, ...]

    def __post_init__(self) -> None:
        if (same := _twice(self.materials, lambda m: m.type_code)) is not None:
            code = same[0].type_code
            # with two field lists for one type it is unclear which applies (a catalog author tester)
            raise ValueError(
                f"事项 {self.code}（{self.name}）的材料中证照类型 {code} 写了两次：每类证照只写一次，把所需的信息项合在"
                f"一处（matter {self.code}: license type {code} is listed twice in materials: list it once, with every "
                "field the matter needs）"
            )

    @property
    def region(self) -> str:
        """The administrative division (行政区划代码) the matter's code starts with, e.g. 370100 for
        ``370100-QYKZ-001``; empty when the code does not start with one."""
        head, dash, _ = self.code.partition("-")
        return head if dash and len(head) == 6 and head.isascii() and head.isdigit() else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Bundle:
    """A bundle of matters handled as one (一件事), e.g. 企业开办."""

    code: str
    name: str
    matter_codes: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldNeverRead:
    """A field a matter's materials list that no read under the matter ever gives (``Catalog.fields_never_read``):
    never shared (不予共享, its own class or its type's), or secret."""

    matter: Matter
    license_type: LicenseType
    field: FieldSpec

    @property
    def secret(self) -> bool:
        return self.field.sensitivity is Sensitivity.SECRET

    @property
    def words(self) -> str:
        """What it means and what to do, in Chinese first, for the catalog author."""
        matter, license_type, spec = self.matter, self.license_type, self.field
        why, reason, why_en = (
            ("是保密信息", "SECRET", "secret") if self.secret else ("不予共享", "NOT_SHARED", "never shared")
        )
        return (
            f"事项 {matter.code}（{matter.name}）的材料列出了{license_type.name}的信息项 {spec.key}（{spec.label}），"
            f"它{why}：该事项永远读不到它（{reason}），信息比对也不能确认它（NOT_CLAIMABLE），办理时只能核验持证人出示的"
            f"证照；该事项若不需要它，请从 fields 中删去（matter {matter.code} lists field {spec.key} of license type "
            f"{license_type.code}, which is {why_en}: the matter never reads it, nor can a claim confirm it）"
        )


@dataclass(frozen=True, slots=True)
class Catalog:
    """License types, matters and bundles, checked for consistency when built."""

    license_types: Mapping[str, LicenseType]
    matters: Mapping[str, Matter] = field(default_factory=dict)
    bundles: Mapping[str, Bundle] = field(default_factory=dict)
    fingerprint: str = field(default="", compare=False)
    """SHA-256 (hex) of the canonical form of the JSON it was built from (``fingerprint_of``); empty for one built in
    code. The store records the fingerprint of the catalog its gateways serve (ADR 0013)."""

    def __post_init__(self) -> None:
        types = list(self.license_types.values())
        for same in (_twice(types, lambda t: t.name),
                     _twice([t for t in types if t.name_en], lambda t: t.name_en.casefold())):  # fmt: skip
            if same is not None:
                # a type is chosen by its name too (`zzgw verify --type 营业执照` takes the first), and people tell
                # types apart by it (a catalog author tester)
                first, second = same
                name = first.name if first.name == second.name else first.name_en
                raise ValueError(
                    f"证照类型 {first.code} 与 {second.code} 同名“{name}”：证照类型的名称（name、name_en）须各不相同，"
                    f"请改正其中一个（license types {first.code} and {second.code} have the same name {name!r}）"
                )
        for matter in self.matters.values():
            where = _Where(f"事项 {matter.code}（{matter.name}）", f"matter {matter.code}")
            for material in matter.materials:
                license_type = self.license_types.get(material.type_code)
                if license_type is None:
                    raise where.refused(
                        f"的材料中的证照类型代码 {material.type_code} 不是本文件 license_types 中的任何一类："
                        "请改正为其中一类的 code，或先在 license_types 中写上这类证照",
                        f"unknown license type {material.type_code}",
                    )
                for key in (*material.fields, *material.full_fields):
                    if license_type.field_spec(key) is None:
                        raise where.refused(
                            f"的材料 {material.type_code}（{license_type.name}）列出的信息项 {key} 不是这类证照的"
                            "信息项：请按该证照类型 fields 中的 key 改正或删去",
                            f"type {material.type_code} has no field {key}",
                        )
        folded = {code.lower(): code for code in self.matters}
        for bundle in self.bundles.values():
            for code in bundle.matter_codes:
                if code not in self.matters:
                    # matter codes are told apart ignoring case, and named exactly: one in another case is a slip
                    where = _Where(f"一件事 {bundle.code}（{bundle.name}）", f"bundle {bundle.code}")
                    if (meant := folded.get(code.lower())) is not None:
                        raise where.refused(
                            f"的 matters 中的 {code} 与本文件的事项编码 {meant} 只差大小写：事项编码须照写，请改为 "
                            f"{meant}",
                            f"unknown matter {code}: did you mean {meant}?",
                        )
                    raise where.refused(
                        f"的 matters 中的 {code} 不是本文件 matters 中的事项编码：请改正，或先在 matters 中写上该事项",
                        f"unknown matter {code}",
                    )

    def license_type(self, code: str) -> LicenseType:
        try:
            return self.license_types[code]
        except KeyError:
            raise NotFoundError(
                f"{unknown_type_words(code[:64])}（unknown license type {code[:64]!r}）",
                reason="LICENSE_TYPE_NOT_FOUND",
            ) from None

    def matter(self, code: str) -> Matter:
        try:
            return self.matters[code]
        except KeyError:
            raise NotFoundError(
                f"{unknown_matter_words(code[:64])}（unknown matter {code[:64]!r}）", reason="MATTER_NOT_FOUND"
            ) from None

    def fields_never_read(self) -> tuple[FieldNeverRead, ...]:
        """The fields the matters' materials list that no read under the matter ever gives: never shared (不予共享,
        the field's own class, else its type's) or secret. A catalog listing one loads: a matter may name what it
        needs of a license its holder presents (a 护照's fields, 不予共享), and a field made stricter since a matter
        listed it is held back at once (docs/catalog.md, What a change does), not refused at the next restart.
        ``zzgw catalog check`` and ``zzgw init`` warn of each: a catalog designer tester had listed a 不予共享 field
        without a word, its department then reading nothing of it."""
        found = []
        for matter in self.matters.values():
            for material in matter.materials:
                license_type = self.license_types[material.type_code]
                for spec in (license_type.field_spec(key) for key in material.fields):
                    if spec is None:  # none: refused when the catalog is built
                        continue
                    never_shared = license_type.field_sharing_class(spec.key) is SharingClass.NOT_SHARED
                    if never_shared or spec.sensitivity is Sensitivity.SECRET:
                        found.append(FieldNeverRead(matter=matter, license_type=license_type, field=spec))
        return tuple(found)

    def unseen_text(self) -> str:
        """Why the catalog may not be adopted, or empty: a name or label holding a character that does not print or
        prints as nothing (``validation.unseen_characters``, the rule of members' names; a zero-width space U+200B,
        a byte order mark U+FEFF, a direction control), in a type's ``name``, ``name_en`` or
        ``license_number_label``, a field's ``label`` or ``form_labels``, a matter's ``name`` or ``department``, or a
        bundle's ``name``: 法定代表人\u200b printed as 法定代表人 while PrefillForm could not find 法定代表人, two types
        printed with one name, a department matched no member and nothing said why (a reviewer, catalogrev R2).
        Spaces of every width are spaces. Not refused where the catalog is loaded: a store may serve one adopted
        before, which its gateways must go on serving after an upgrade; `zzgw catalog check` and the `zzgw init`
        that adopts a catalog refuse it, and a gateway serving one warns."""
        for license_type in self.license_types.values():
            where = _Where(f"证照类型 {license_type.code}", f"license type {license_type.code}")
            texts = [(where, key, getattr(license_type, key)) for key in ("name", "name_en", "license_number_label")]
            for spec in license_type.fields:
                at = _Where(f"{where.zh} 的信息项 {spec.key}", f"field {spec.key} of {license_type.code}")
                texts += [(at, "label", spec.label), *((at, "form_labels", name) for name in spec.form_labels)]
            if said := _unseen(texts):
                return said
        entries = [
            *((_Where(f"事项 {m.code}", f"matter {m.code}"), ("name", "department"), m) for m in self.matters.values()),
            *((_Where(f"一件事 {b.code}", f"bundle {b.code}"), ("name",), b) for b in self.bundles.values()),
        ]
        for where, keys, entry in entries:
            if said := _unseen([(where, key, getattr(entry, key)) for key in keys]):
                return said
        return ""

    @classmethod
    def from_json(cls, raw: bytes) -> Catalog:
        """Build a catalog from a catalog file's bytes (``ZZGW_CATALOG``, docs/catalog.md): UTF-8 (a byte order mark,
        as Windows Notepad writes, is skipped), JSON in which no object gives a key twice (Python's json would keep
        the last one silently). ValueError says what is wrong and where: the line for the text, the entry for the
        catalog (``from_mapping``)."""
        return cls.from_mapping(catalog_json(raw))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalog:
        """Build a catalog from its JSON form (see ``gateway/bootstrap/catalog.json``). ValueError says what is wrong
        and where: an unknown or missing key, a value of the wrong JSON type (``"false"`` is no boolean), a bad or
        duplicate code, a blank, overlong or unprintable name (a control character; an invisible one is refused
        where a catalog is adopted, not here: ``unseen_text``)."""
        if not isinstance(data, Mapping):
            raise ValueError(
                "证照目录文件须为一个 JSON 对象 { … }，含 license_types、matters 和 bundles（expected an object with "
                "license_types, matters and bundles）"
            )
        _keys(data, CATALOG_KEYS, _CATALOG)
        loaded = [
            _license_type(raw, number)
            for number, raw in enumerate(_list(data, "license_types", dict, _CATALOG, required=True), 1)
        ]
        if (same := _twice(enumerate(loaded, 1), lambda numbered: numbered[1].code)) is not None:
            (first, license_type), (second, _) = same
            code = license_type.code
            raise ValueError(
                f"证照类型代码 {code} 写了两次（license_types 的第 {first} 项和第 {second} 项）：每类证照只写一次，"
                f"请删去重复的一项或改正其代码（license type code {code} is given twice: license types {first} and "
                f"{second}）"
            )
        types = {t.code: t for t in loaded}
        matters = _by_code(
            [_matter(raw, number) for number, raw in enumerate(_list(data, "matters", dict, _CATALOG), 1)], _MATTERS
        )
        bundles = _by_code(
            [_bundle(raw, number) for number, raw in enumerate(_list(data, "bundles", dict, _CATALOG), 1)], _BUNDLES
        )
        return cls(types, matters, bundles, fingerprint_of(data))


def catalog_json(raw: bytes) -> Any:
    """The JSON value of a catalog file's bytes (``Catalog.from_json``); ValueError, in Chinese first, naming the
    line: text that is not UTF-8 (a file saved as GBK), no JSON, or an object with a key twice."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        guess, guessed = "", ""
        try:
            raw.decode("gb18030")
            guess, guessed = "，看来是以 GBK（GB18030）编码保存的", ", GBK it seems"
        except UnicodeDecodeError:
            pass
        raise ValueError(
            f"第 {line} 行不是 UTF-8 编码的文字{guess}：请把文件另存为 UTF-8 编码（not UTF-8 at line {line}{guessed}: "
            "save the file as UTF-8）"
        ) from None
    decoder = json.JSONDecoder(parse_int=_integer)
    decoder.parse_object = _pairs_once  # type: ignore[attr-defined]
    decoder.parse_array = _array  # type: ignore[attr-defined]
    decoder.parse_string = _string  # type: ignore[attr-defined]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]  # the C one takes no hook
    try:
        return decoder.decode(text)
    except _TooManyDigits as exc:  # the file is one number: said where it begins
        raise ValueError(_too_many_digits(text, len(text) - len(text.lstrip()), exc.digits)) from None
    except RecursionError:  # the pure-Python scanner recurses once per list or object within another
        raise ValueError(_nested_too_deeply(text)) from None
    except json.JSONDecodeError as exc:
        if slip := _json_slip(text, exc.pos):
            raise ValueError(slip) from None
        wide = text[exc.pos : exc.pos + 1] if text[exc.pos : exc.pos + 1] in _FULL_WIDTH else ""
        hint = f'：“{wide}”是全角标点，JSON 的引号、冒号和逗号须为半角（" : ,）' if wide else ""
        where = f"第 {exc.lineno} 行第 {exc.colno} 列"
        raise ValueError(f"{where}不是有效的 JSON{hint}，请改正（not JSON: {exc}）") from None


def _json_slip(text: str, at: int) -> str:
    """What a JSON text refused at ``at`` (a ``JSONDecodeError``'s ``pos``) shows of the two slips people used to
    JavaScript, JSON5 or a config file make, Chinese first, at the line and column of the slip itself; empty for
    any other error. A comma after a list's or an object's last item is refused at the ``]`` or ``}`` after it,
    and was said as that next token not being valid JSON, on the line after the comma; a comment (``//``, ``/* */``,
    ``#``) is refused at its first character. Both were said as 第 N 行第 M 列不是有效的 JSON alone (a catalog
    author tester)."""
    if text[at : at + 1] in ("]", "}"):
        comma = len(text[:at].rstrip()) - 1
        if comma >= 0 and text[comma] == ",":
            line, column = _line_and_column(text, comma)
            return (
                f"第 {line} 行第 {column} 列是多余的逗号：JSON 中最后一项之后不能有逗号，请删去它"
                f"（a trailing comma at line {line} column {column}: JSON has no comma after the last item; delete it）"
            )
    if text[at : at + 2] in ("//", "/*") or text[at : at + 1] == "#":
        line, column = _line_and_column(text, at)
        return (
            f"第 {line} 行第 {column} 列是注释：JSON 不能有注释，请删去它"
            f"（a comment at line {line} column {column}: JSON has no comments; delete it）"
        )
    return ""


MAX_DIGITS = 100
"""The most digits an integer of the file may have to be read (a catalog's, ``max_length``, have 10 at most); one with
more is refused where it is: Python's own refusal, beyond 4,300, named no line and advised a call of
``sys.set_int_max_str_digits()`` (a reviewer, R8)."""
MAX_DEPTH = 100
"""How many lists and objects within each other a refusal of a file nested too deeply names the place beyond (a
catalog has six); the loader had crashed with a RecursionError traceback, exit 1, at about 500 (a reviewer, R6)."""
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_STRING_OR_BRACKET_RE = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{}]')


class _TooManyDigits(Exception):
    """An integer of more than ``MAX_DIGITS`` digits, raised as it is read; said with its place by the list or object
    it is in (``_placed``)."""

    def __init__(self, digits: str) -> None:
        super().__init__(digits)
        self.digits = digits


def _integer(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise _TooManyDigits(digits)
    return int(digits)


def _too_many_digits(text: str, at: int, digits: str) -> str:
    line, column = _line_and_column(text, at)
    count = len(digits.lstrip("-"))
    return (
        f"第 {line} 行第 {column} 列的整数有 {count} 位，太长了：证照目录中的整数（如 max_length）至多 10 位，请改正"
        f"（an integer of {count} digits at line {line} column {column}: a catalog's integers (max_length) have 10 "
        "digits at most）"
    )


def _placed(scan_once: Callable[[str, int], tuple[Any, int]]) -> Callable[[str, int], tuple[Any, int]]:
    """``scan_once`` saying an integer too long to read (``_TooManyDigits``) at the place of the value it scans."""

    def scan(string: str, at: int) -> tuple[Any, int]:
        try:
            return scan_once(string, at)
        except _TooManyDigits as exc:
            raise ValueError(_too_many_digits(string, at, exc.digits)) from None

    return scan


def _array(s_and_end: tuple[str, int], scan_once: Callable[[str, int], tuple[Any, int]]) -> tuple[list[Any], int]:
    """A list of the JSON text, parsed by Python's own ``JSONArray``, an item's integer too long said at its place."""
    return json.decoder.JSONArray(s_and_end, _placed(scan_once))  # type: ignore[attr-defined,no-any-return]


def _string(text: str, end: int, strict: bool) -> tuple[str, int]:
    """A string of the JSON text (its opening quote at ``end - 1``), refused when it holds a lone surrogate
    (``\\ud800``, a valid JSON escape no UTF-8 text can hold): it had passed every check of the entries and failed as
    the fingerprint was made, said as a position in a re-serialisation of the file (a reviewer, R8)."""
    value, after = json.decoder.scanstring(text, end, strict)  # type: ignore[attr-defined]
    if found := _SURROGATE_RE.search(value):
        raise ValueError(_surrogate_words(text, end - 1, found.group()))
    return value, after


def _surrogate_words(text: str, at: int, surrogate: str) -> str:
    line, column = _line_and_column(text, at)
    code = f"\\u{ord(surrogate):04x}"
    return (
        f"第 {line} 行第 {column} 列的字符串含有 {code}：这是不成对的 UTF-16 代理项，不是一个字符，请删去或改为"
        f"它所要写的字符（a lone surrogate {code} in the string at line {line} column {column}: it is no character; "
        "delete it or write the character meant）"
    )


def _nested_too_deeply(text: str) -> str:
    """Where the file's lists and objects are first more than ``MAX_DEPTH`` within each other."""
    depth = 0
    for token in _STRING_OR_BRACKET_RE.finditer(text):
        bracket = token.group()
        if bracket in ("[", "{"):
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _line_and_column(text, token.start())
                return (
                    f"第 {line} 行第 {column} 列嵌套过深：列表和对象在此已套了 {MAX_DEPTH} 层以上（证照目录只有几层），"
                    "请改正"
                    f"（nested too deeply at line {line} column {column}: more than {MAX_DEPTH} lists and objects "
                    "within each other, where a catalog has a few）"
                )
        elif bracket in ("]", "}"):
            depth -= 1
    return "列表和对象嵌套过深，请改正（lists and objects nested too deeply）"


def _line_and_column(text: str, at: int) -> tuple[int, int]:
    """The line and column of ``text[at]``, from 1, as Python's json counts them."""
    return text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)


_NAMING_KEYS = ("key", "code", "type_code")
"""The keys that name an entry of the catalog (a field, a type, matter or bundle, a material)."""
_FULL_WIDTH = "“”：，［］｛｝"
"""Full-width punctuation a Chinese input method types where JSON needs its ASCII twin."""


def _pairs_once(
    s_and_end: tuple[str, int], strict: bool, scan_once: Callable[[str, int], tuple[Any, int]], *args: Any
) -> tuple[dict[str, Any], int]:
    """An object of the JSON text, parsed by Python's own ``JSONObject``, refused when it gives a key twice, naming
    the key and its line (``object_pairs_hook`` alone would know the key, not where it is)."""
    text, _ = s_and_end
    values_at: list[int] = []

    placed = _placed(scan_once)

    def scan_value(string: str, at: int) -> tuple[Any, int]:  # called for each value of this object, in order
        values_at.append(at)
        return placed(string, at)

    memo = args[2] if len(args) > 2 else None  # after object_hook and object_pairs_hook, as py_make_scanner passes
    pairs, end = json.decoder.JSONObject(s_and_end, strict, scan_value, None, list, memo)  # type: ignore[attr-defined]
    seen: dict[str, Any] = {}
    for (key, value), at in zip(pairs, values_at, strict=True):
        if found := _SURROGATE_RE.search(key):  # a key is read by ``scanstring`` itself, not ``_string``
            raise ValueError(_surrogate_words(text, text.rfind(":", 0, at), found.group()))
        if key in seen:
            line = text.count("\n", 0, text.rfind(":", 0, at)) + 1  # the line of the key's colon
            named = next(((k, v) for k, v in pairs if k in _NAMING_KEYS and isinstance(v, str)), None)
            where, where_en = (
                (f"（{named[0]} 为 {named[1]} 的一项中）", f" in {named[0]} {named[1]}") if named else ("", "")
            )
            raise ValueError(
                f'第 {line} 行：键 "{key}" 在同一对象{where}写了两次，请删去或改正其中一个'
                f"（duplicate key {key!r} at line {line}{where_en}）"
            )
        seen[key] = value
    return seen, end


def fingerprint_of(data: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a catalog's JSON form in canonical form: keys sorted, no whitespace, UTF-8 unescaped. A file
    only reformatted or with its keys reordered is the same catalog; any change of a value, an item's order or a key
    given its default is another."""
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


MAX_CODE = 40
"""Matter and bundle codes are 1-40 printable ASCII characters without spaces (VARCHAR(40) in the database)."""
MAX_TEXT = 200
"""Names, departments and purposes (a purpose is VARCHAR(200), so is the member name a department is matched with)."""

CATALOG_KEYS: Mapping[str, bool] = {"license_types": True, "matters": False, "bundles": False}
"""The keys of the catalog file's object, each with whether it is required; those of its entries below. The loader
refuses any other key, and docs/catalog.md describes each (``tests/test_docs_catalog.py``)."""
TYPE_KEYS: Mapping[str, bool] = {
    "code": True,
    "name": True,
    "name_en": False,
    "holder_kind": True,
    "holder_code_types": True,
    "sharing_class": True,
    "expires": True,
    "issuers": True,
    "fields": True,
    "license_number_label": False,
    "license_number_of_holder": False,
    "lifelong": False,
    "holder_among": False,
    "claimable_under_any_matter": False,
    "issued_at_birth": False,
}
FIELD_KEYS: Mapping[str, bool] = {
    "key": True,
    "label": True,
    "type": True,
    "required": False,
    "max_length": False,
    "sensitivity": False,
    "sharing_class": False,
    "choices": False,
    "form_labels": False,
    "of_holder": False,
    "masking": False,
    "guardian_of_holder": False,
    "person_sex": False,
    "person_birth_date": False,
    "person_name": False,
    "may_be_future": False,
}
MATTER_KEYS: Mapping[str, bool] = {"code": True, "name": True, "purpose": True, "department": True, "materials": True}
MATERIAL_KEYS: Mapping[str, bool] = {"type_code": True, "fields": False, "full_fields": False, "required": False}
BUNDLE_KEYS: Mapping[str, bool] = {"code": True, "name": True, "matters": True}

_CODE_RE = re.compile(rf"[!-~]{{1,{MAX_CODE}}}")


def code_shaped(code: str) -> bool:
    """Whether ``code`` has the shape every catalog's matter, bundle and type codes have (1–``MAX_CODE``
    printable ASCII characters, no space): a filter naming one a catalog no longer has (requests stay stored under a
    matter taken out) is taken; one no catalog could have (too long, a line break, 汉字) is not."""
    return bool(_CODE_RE.fullmatch(code))


_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_KINDS: dict[type, tuple[str, str]] = {
    bool: ("true 或 false（不加引号）", "true or false"),
    int: ("整数（不加引号）", "an integer"),
    str: ("字符串（加英文双引号）", "a string"),
    list: ("列表 [ … ]", "a list"),
    dict: ("对象 { … }", "an object"),
}
_ITEMS: dict[type, tuple[str, str]] = {str: ("字符串", "strings"), dict: ("对象", "objects")}


@dataclass(frozen=True, slots=True)
class _Where:
    """An entry of the file, as a refusal names it: in Chinese for the 目录管理员 who reads it first (事项
    370100-QYKZ-001（企业印章刻制）), in English after (matter 370100-QYKZ-001)."""

    zh: str
    en: str

    def refused(self, zh: str, en: str) -> ValueError:
        """The refusal of what is wrong here: ``zh`` (what and what to do) follows the Chinese name, ``en`` the
        English one in parentheses, as the license types' refusals read."""
        return ValueError(f"{_spaced(self.zh, zh)}（{self.en}: {en}）")


def _unseen(texts: Sequence[tuple[_Where, str, str]]) -> str:
    """The refusal of the first of ``texts`` (where, key, text) holding a character a name may not hold, or empty
    (``Catalog.unseen_text``)."""
    from gateway.domain.validation import code_points, plain_spaces, unseen_characters  # validation reads catalog

    for where, key, text in texts:
        if found := unseen_characters(plain_spaces(text)):
            zh, en = code_points(found)
            return str(
                where.refused(
                    f"的 {key} 含有不可见字符 {zh}：它显示不出来，却使这一名称与看来相同的名称不同（信息项按标签查找、"
                    "证照类型按名称选择、事项按部门名称对应成员），请删去",
                    f"{key} contains invisible characters: {en}",
                )
            )
    return ""


def _spaced(chinese: str, after: str) -> str:
    """``chinese`` and ``after`` as one text, with a space where a code or key meets a Chinese character (事项
    370100-QYKZ-001 的 name), as the catalog's other refusals write them."""
    last, first = chinese[-1:], after[:1]
    if (_word(last) and _chinese(first)) or (_chinese(last) and _word(first)):
        return f"{chinese} {after}"
    return chinese + after


def _word(character: str) -> bool:
    return character.isascii() and character.isalnum()


def _chinese(character: str) -> bool:
    return bool(character) and not character.isascii() and character not in "（）：，；“”、"


_USCC_WORDS: Mapping[str, str] = {
    "must be 18 characters from 0-9 and A-Y without I, O, S, V, Z": "须为 18 位数字或大写字母（不含 I、O、S、V、Z）",
    "check character does not match (GB 32100)": "校验码不符（GB 32100）",
    "its first two characters are no registration authority and organisation type of GB 32100": (
        "前两位不是 GB 32100 规定的登记管理部门代码和机构类别代码"
    ),
}
"""The Chinese of what ``identifiers.uscc_problem`` finds wrong with a 统一社会信用代码 (its words are English)."""
_KIND_WORDS: Mapping[HolderKind, str] = {HolderKind.PERSON: "个人", HolderKind.ORGANIZATION: "单位"}
_OF_HOLDER_WORDS: Mapping[OfHolder, str] = {
    OfHolder.NAME: "持证主体名称",
    OfHolder.CODE: "持证主体代码",
    OfHolder.BIRTH_DATE: "持证人的出生日期",
    OfHolder.SEX: "持证人的性别",
}


def _type_code_words(problem: str) -> str:
    """What ``identifiers.type_code_problem`` finds wrong with a type code, in Chinese: its form, or the check
    character of the defining authority's credit code it begins with."""
    if problem in _USCC_WORDS:
        return f"其前 18 位（定义该类证照的部门的统一社会信用代码）{_USCC_WORDS[problem]}"
    return "证照类型代码须为 21 位：定义该类证照的部门的统一社会信用代码（18 位）加 3 位数字的顺序号"


_CATALOG = _Where("证照目录文件", "catalog")
_MATTERS = ("matters", "事项编码", "事项", "matter")
_BUNDLES = ("bundles", "一件事编码", "一件事", "bundle")
"""A list of coded entries: its key, what its codes and its entries are called in Chinese, an entry in English."""

_T = TypeVar("_T")
_E = TypeVar("_E", bound=enum.Enum)
_Coded = TypeVar("_Coded", Matter, Bundle)


def _license_type(raw: Mapping[str, Any], number: int) -> LicenseType:
    code = raw.get("code")
    where = (
        _Where(f"证照类型 {code}", f"license type {code}")
        if isinstance(code, str)
        else _Where(f"license_types 的第 {number} 项", f"license type {number}")
    )
    _keys(raw, TYPE_KEYS, where)
    code = _get(raw, "code", str, where)
    holder_code_types = tuple(_list(raw, "holder_code_types", str, where, required=True))
    if not holder_code_types:  # else no license of the type could be issued
        raise where.refused(
            "的 holder_code_types 为空：请列出持证主体代码类型，如 001（统一社会信用代码）",
            "holder_code_types is empty: list the holder code types, e.g. 001",
        )
    _once(holder_code_types, "holder_code_types", "持证主体代码类型", "holder code type", where)
    holder_among = tuple(_list(raw, "holder_among", str, where))
    if "holder_among" in raw and not holder_among:  # a list that says nothing: a slip, as an empty holder_code_types
        raise where.refused(
            "的 holder_among 为空：请列出写明公民身份号码、持证人须是其中一人的信息项"
            "（如结婚证的男方、女方身份证件号），或删去 holder_among",
            "holder_among is empty: list the CITIZEN_ID fields one of which names the holder, or leave it out",
        )
    _once(holder_among, "holder_among", "信息项", "field", where)
    return LicenseType(
        code=code,
        name=_text(raw, "name", where),
        name_en=_text(raw, "name_en", where, ""),
        holder_kind=_enum(raw, "holder_kind", HolderKind, where),
        holder_code_types=holder_code_types,
        sharing_class=_enum(raw, "sharing_class", SharingClass, where),
        expires=_get(raw, "expires", bool, where),
        issuers=frozenset(_list(raw, "issuers", str, where, required=True)),
        fields=_fields(raw, code, where),
        license_number_label=_text(raw, "license_number_label", where, "证照编号"),
        license_number_of_holder=_get(raw, "license_number_of_holder", bool, where, False),
        lifelong=_get(raw, "lifelong", bool, where, False),
        holder_among=holder_among,
        claimable_under_any_matter=_get(raw, "claimable_under_any_matter", bool, where, False),
        issued_at_birth=_get(raw, "issued_at_birth", bool, where, False),
    )


def _field(raw: Mapping[str, Any], type_code: str, number: int) -> FieldSpec:
    """The ``number``th field (from 1) of the type: named by its number until its key is known good, so that a
    misspelt ``"key "`` is said as the unknown key it is, not as a field None."""
    key = raw.get("key")
    placed = _Where(f"证照类型 {type_code} 的第 {number} 个信息项", f"field {number} of {type_code}")
    named = _Where(f"证照类型 {type_code} 的信息项 {key}", f"field {key} of {type_code}")
    _keys(raw, FIELD_KEYS, named if isinstance(key, str) else placed)
    key = _get(raw, "key", str, placed)
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", key):
        raise placed.refused(
            f"的 key {key!r} 不能用：信息项的 key 须为 ASCII 的 snake_case，即小写字母 a–z、数字 0–9 和 _，以字母开头，"
            "至多 64 个字符，请改正",
            "keys are ASCII snake_case (a-z, 0-9, _)",
        )
    where = _Where(f"证照类型 {type_code} 的信息项 {key}", f"field {key} of {type_code}")
    value_type = _enum(raw, "type", ValueType, where)
    choices = tuple(_list(raw, "choices", str, where))
    if value_type is ValueType.ENUM and not choices:
        raise where.refused("的 type 为 ENUM，却没有 choices：请在 choices 中列出它可取的值", "ENUM needs choices")
    if choices and value_type is not ValueType.ENUM:
        raise where.refused(
            f"的 type 为 {value_type.value}，不能有 choices：可选值只用于 ENUM 信息项，请删去 choices 或把 type 改为 "
            "ENUM",
            "choices are for an ENUM field",
        )
    _once(choices, "choices", "可选值", "choice", where)
    max_length = _get(raw, "max_length", int, where, DEFAULT_MAX_LENGTH)
    if max_length < 1:
        raise where.refused(f"的 max_length 为 {max_length}，须至少为 1，请改正", "max_length must be at least 1")
    if max_length > MAX_MAX_LENGTH:  # FieldSpec.max_length: every `zzgw serve` had died building it (R2)
        raise where.refused(
            f"的 max_length 为 {max_length}，至多为 {MAX_MAX_LENGTH}，请改正",
            f"max_length must be at most {MAX_MAX_LENGTH}",
        )
    of_holder = _enum(raw, "of_holder", OfHolder, where) if "of_holder" in raw else None
    if of_holder is not None and value_type not in _OF_HOLDER_TYPES[of_holder]:
        allowed = ", ".join(kind.value for kind in _OF_HOLDER_TYPES[of_holder])
        raise where.refused(
            f"的 of_holder 为 {of_holder.value}（{_OF_HOLDER_WORDS[of_holder]}），其 type 须为 "
            f"{'、'.join(kind.value for kind in _OF_HOLDER_TYPES[of_holder])}，而不是 {value_type.value}："
            "请改正 type 或删去 of_holder",
            f"of_holder {of_holder.value} needs a field of type {allowed}",
        )
    if of_holder is OfHolder.SEX and not {"男", "女"} <= set(choices):
        raise where.refused(
            "的 of_holder 为 sex（持证人的性别），其 choices 须含“男”和“女”（与公民身份号码所载的性别比对），请补上",
            "of_holder sex needs the choices 男 and 女",
        )
    guardian = _get(raw, "guardian_of_holder", bool, where, False)
    if guardian and (value_type is not ValueType.CITIZEN_ID or of_holder is not None):
        raise where.refused(
            "的 guardian_of_holder 只能标在 type 为 CITIZEN_ID、且没有 of_holder 的信息项上（持证人父母的公民身份"
            "号码）：请删去 guardian_of_holder 或改正 type",
            "guardian_of_holder needs a field of type CITIZEN_ID not of_holder",
        )
    person_sex = _get(raw, "person_sex", str, where, "")
    person_birth_date = _get(raw, "person_birth_date", str, where, "")
    person_name = _get(raw, "person_name", str, where, "")
    person = ("person_sex", "person_birth_date", "person_name")
    if (person_sex or person_birth_date or person_name) and (
        value_type is not ValueType.CITIZEN_ID or of_holder is not None
    ):
        given = "、".join(name for name in person if raw.get(name))
        raise where.refused(
            f"的 {given} 只能用于 type 为 CITIZEN_ID、且没有 of_holder 的信息项（所指之人的公民身份号码）：请删去 "
            f"{given} 或改正 type",
            "person_sex, person_birth_date and person_name need a field of type CITIZEN_ID not of_holder",
        )
    if person_sex not in ("", "男", "女"):
        raise where.refused(
            f"的 person_sex 须为“男”或“女”，不能为 {person_sex[:20]!r}，请改正",
            f"person_sex must be 男 or 女, not {person_sex[:20]!r}",
        )
    may_be_future = _get(raw, "may_be_future", bool, where, False)
    if may_be_future and (value_type is not ValueType.DATE or of_holder is not None):
        raise where.refused(
            "的 may_be_future 只能用于 type 为 DATE、且没有 of_holder 的信息项（持证人不会在今后出生）：请删去 "
            "may_be_future 或改正 type",
            "may_be_future needs a field of type DATE not of_holder (nobody is born later)",
        )
    spec = FieldSpec(
        key=raw["key"],
        label=_text(raw, "label", where),
        value_type=value_type,
        required=_get(raw, "required", bool, where, False),
        max_length=max_length,
        sensitivity=_enum(raw, "sensitivity", Sensitivity, where, "NORMAL"),
        sharing_class=_enum(raw, "sharing_class", SharingClass, where) if "sharing_class" in raw else None,
        choices=choices,
        form_labels=tuple(
            _text({"form_labels": name}, "form_labels", where) for name in _list(raw, "form_labels", str, where)
        ),
        of_holder=of_holder,
        masking=_enum(raw, "masking", Masking, where, "whole" if value_type is ValueType.STRING else "ends"),
        guardian_of_holder=guardian,
        person_sex=person_sex,
        person_birth_date=person_birth_date,
        person_name=person_name,
        may_be_future=may_be_future,
    )
    _choices_a_license_can_state(spec, where)
    return spec


def _choices_a_license_can_state(spec: FieldSpec, where: _Where) -> None:
    """Refuse a choice of ``spec`` that no license could state (``validation.choice_problem``): loaded, it had been
    offered to issuers and clerks and refused in every license (a choice with U+2028; a reviewer)."""
    from gateway.domain.validation import choice_problem  # validation reads FieldSpec: imported when used

    for choice in spec.choices:
        if problem := choice_problem(spec, choice):
            raise where.refused(
                f"的 choices 中的可选值 {choice!r} 不能用：{problem}；请改正或删去该可选值",
                f"choice {choice!r} is one no license could state",
            )


_OF_HOLDER_TYPES: Mapping[OfHolder, tuple[ValueType, ...]] = {
    OfHolder.NAME: (ValueType.STRING,),
    OfHolder.CODE: (ValueType.CITIZEN_ID, ValueType.USCC, ValueType.STRING),
    OfHolder.BIRTH_DATE: (ValueType.DATE,),
    OfHolder.SEX: (ValueType.ENUM,),
}


def _fields(raw: Mapping[str, Any], code: str, where: _Where) -> tuple[FieldSpec, ...]:
    """The type's fields; ValueError when a label or form label names two of them (a form key would be ambiguous)."""
    fields = tuple(_field(f, code, n) for n, f in enumerate(_list(raw, "fields", dict, where, required=True), 1))
    named: dict[str, str] = {}
    for spec in fields:
        for name in dict.fromkeys((spec.label, *spec.form_labels)):
            if (other := named.setdefault(name, spec.key)) != spec.key:
                raise where.refused(
                    f"的信息项 {other} 与 {spec.key} 都名为“{name}”（label 或 form_labels）：表单按名称找信息项，"
                    "一个名称只能指一个信息项，请改正其中一个",
                    f"{name!r} names both {other} and {spec.key}",
                )
    return fields


def _matter(raw: Mapping[str, Any], number: int) -> Matter:
    where = _coded(raw, number, _MATTERS)
    _keys(raw, MATTER_KEYS, where)
    return Matter(
        code=raw["code"],
        name=_text(raw, "name", where),
        purpose=_purpose(raw, where),
        department=_text(raw, "department", where),
        materials=_materials(raw, where),
    )


def _purpose(raw: Mapping[str, Any], where: _Where) -> str:
    """The matter's purpose, the clerk's default 用证事由, refused as the use context's check refuses it
    (``verification.check_purpose``): an invisible character, a line separator, a direction control or a number
    that names a person had loaded, and every check sent with the matter's own purpose was refused
    INVALID_ARGUMENT use.purpose, the clerk told of a character they could not see in a text they had not written
    (a reviewer, R5). Checked as on the last day there is (``dt.date.max``): the calls take a region and a date as a
    身份证号 only once the date has passed, and a case number dated later (批复文号370102202612070012) had loaded, been
    adopted and served, then stopped the catalog loading on its day (``zzgw serve`` refused, a replacement worker
    stopping the gateway; a reviewer, R1). Refused now for what the calls refuse on any day, a catalog never flips."""
    from gateway.domain.verification import check_purpose  # verification reads the catalog: imported when used

    purpose = _text(raw, "purpose", where)
    errors: list[FieldViolation] = []
    check_purpose(purpose, errors, today=dt.date.max)
    if errors:
        raise where.refused(
            f"的 purpose（默认用证事由）不能用：{errors[0].description}；以它为用证事由的核验和查阅都会被拒绝，请改正",
            "purpose is one every check under the matter would refuse",
        )
    return purpose


def _materials(raw: Mapping[str, Any], where: _Where) -> tuple[Material, ...]:
    materials = tuple(
        _material(m, where, number) for number, m in enumerate(_list(raw, "materials", dict, where, required=True), 1)
    )
    if not materials:
        raise where.refused(
            "的 materials 为空：请列出该事项所用的证照类型，至少一类",
            "materials must name the license types the matter uses",
        )
    return materials


def _material(raw: Mapping[str, Any], matter: _Where, number: int) -> Material:
    """The ``number``th material (from 1) of the matter: named by its place until its type code is known to be a
    string (事项 370100-QYKZ-001 的第 2 项材料), as a field is; one without a type code had been 材料 None."""
    code = raw.get("type_code")
    placed = _Where(_spaced(matter.zh, f"的第 {number} 项材料"), f"{matter.en}: material {number}")
    if not isinstance(code, str):
        _keys(raw, MATERIAL_KEYS, placed)
        _get(raw, "type_code", str, placed)
    where = _Where(_spaced(matter.zh, f"的材料 {code}"), f"{matter.en}: material {code}")
    _keys(raw, MATERIAL_KEYS, where)
    fields = tuple(_list(raw, "fields", str, where))
    full_fields = tuple(_list(raw, "full_fields", str, where))
    _once(fields, "fields", "信息项", "field", where)
    _once(full_fields, "full_fields", "信息项", "field", where)
    if unlisted := [key for key in full_fields if key not in fields]:
        raise where.refused(
            f"的 full_fields 中的 {'、'.join(unlisted)} 不在其 fields 中：须读取全文的信息项也须列在 fields 中，请补上"
            "或删去",
            f"full_fields must be among its fields, not {', '.join(unlisted)}",
        )
    return Material(
        type_code=_get(raw, "type_code", str, where),
        fields=fields,
        full_fields=full_fields,
        required=_get(raw, "required", bool, where, True),
    )


def _bundle(raw: Mapping[str, Any], number: int) -> Bundle:
    where = _coded(raw, number, _BUNDLES)
    _keys(raw, BUNDLE_KEYS, where)
    matter_codes = tuple(_list(raw, "matters", str, where, required=True))
    if not matter_codes:
        raise where.refused(
            "的 matters 为空：请列出这件事所含事项的编码，至少一个", "matters must name one matter or more"
        )
    if (same := _twice(enumerate(matter_codes, 1), lambda numbered: numbered[1])) is not None:
        (first, code), (second, _) = same
        raise where.refused(
            f"的 matters 中事项编码 {code} 写了两次（第 {first} 项和第 {second} 项）：每个事项只列一次，请删去一个",
            f"matter {code} is listed twice in matters: items {first} and {second}",
        )
    return Bundle(code=raw["code"], name=_text(raw, "name", where), matter_codes=matter_codes)


def _coded(raw: Mapping[str, Any], number: int, entries: tuple[str, str, str, str]) -> _Where:
    """Where the ``number``th matter or bundle (from 1) is (事项 370100-QYKZ-001 / matter 370100-QYKZ-001), once its
    code is checked; named by its place until then."""
    key, code_words, entry_words, entry_en = entries
    place = _Where(f"{key} 的第 {number} 项", f"{entry_en} {number}")
    if "code" not in raw:
        raise place.refused("缺少键 'code'：请写上其编码", "missing 'code'")
    code = raw["code"]
    if not isinstance(code, str) or not _CODE_RE.fullmatch(code):
        raise place.refused(
            f"的 code {code!r} 不能用：{code_words}须为 1–{MAX_CODE} 个可打印的 ASCII 字符（字母、数字、- 等），"
            "不含空格、汉字和全角字符，请改正",
            f"code {code!r} must be a string of 1-{MAX_CODE} printable ASCII characters, no spaces",
        )
    return _Where(f"{entry_words} {code}", f"{entry_en} {code}")


def _by_code(items: Sequence[_Coded], entries: tuple[str, str, str, str]) -> dict[str, _Coded]:
    """``items`` by code, refusing a code given twice, or two that differ only in case, naming both entries."""
    key, code_words, entry_words, entry_en = entries
    by_folded: dict[str, tuple[int, _Coded]] = {}
    for number, item in enumerate(items, 1):
        first, other = by_folded.setdefault(item.code.lower(), (number, item))
        if other is item:
            continue
        if other.code == item.code:
            raise ValueError(
                f"{code_words} {item.code} 写了两次（{key} 的第 {first} 项和第 {number} 项）：每个{entry_words}只写"
                f"一次，请删去重复的一项或改正其编码（{entry_en} code {item.code} is given twice: {key} {first} and "
                f"{number}）"
            )
        raise ValueError(
            f"{code_words} {item.code}（{key} 的第 {number} 项）与 {other.code}（第 {first} 项）只差大小写："
            f"{code_words}不分大小写，须各不相同，请删去重复的一项或改正其编码（{entry_en} {item.code}: code differs "
            f"from {other.code} only in case: {key} {first} and {number}）"
        )
    return {item.code: item for _, item in by_folded.values()}


def _get(raw: Mapping[str, Any], key: str, kind: type[_T], where: _Where, default: _T | None = None) -> _T:
    """``raw[key]``, which must be of JSON type ``kind`` (true and false are no integers); ``default`` when it is
    absent, required without one."""
    if key not in raw:
        if default is None:
            raise _missing(key, where)
        return default
    value = raw[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        zh, en = _KINDS[kind]
        raise where.refused(f"的 {key} {_spaced('须为', zh)}，请改正", f"{key} must be {en}")
    return value


def _missing(key: str, where: _Where) -> ValueError:
    return ValueError(
        f"{_spaced(where.zh, '缺少键')} {key!r}：请按 docs/catalog.md 写上（missing {key!r} in {where.en}）"
    )


def _list(raw: Mapping[str, Any], key: str, kind: type[_T], where: _Where, *, required: bool = False) -> list[_T]:
    """``raw[key]``: a list of strings or of objects (``kind``); empty when absent unless ``required``."""
    items = _get(raw, key, list, where, None if required else [])
    if not all(isinstance(item, kind) for item in items):
        zh, en = _ITEMS[kind]
        raise where.refused(f"的 {key} 须为{zh}的列表，请改正", f"{key} must be a list of {en}")
    return items


def _text(raw: Mapping[str, Any], key: str, where: _Where, default: str | None = None) -> str:
    """``raw[key]``, a string stripped of surrounding whitespace (U+3000 too: a department is matched with a member's
    name, which is stripped), of at most MAX_TEXT characters and none a control character; blank only if
    ``default`` (used when absent) is."""
    value = _get(raw, key, str, where, default).strip()
    if not value and default != "":
        raise where.refused(f"的 {key} 为空，请填写", f"{key} must not be blank")
    if len(value) > MAX_TEXT:
        raise where.refused(f"的 {key} 超过 {MAX_TEXT} 个字符，请缩短", f"{key} is longer than {MAX_TEXT} characters")
    if _CONTROL_RE.search(value):
        raise where.refused(f"的 {key} 含有控制字符（换行、制表符等），请删去", f"{key} contains control characters")
    return value


def _enum(raw: Mapping[str, Any], key: str, kind: type[_E], where: _Where, default: str | None = None) -> _E:
    value = _get(raw, key, str, where, default)
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        raise where.refused(
            f"的 {key} 不能为 {value!r}，须为 {choices} 之一（大小写照写）", f"{key} {value!r} is not one of {choices}"
        ) from None


def _keys(raw: Mapping[str, Any], keys: Mapping[str, bool], where: _Where) -> None:
    """Refuse a key of ``raw`` that ``keys`` does not have (a misspelt one, ``"key "`` with its space too), then one
    that ``keys`` requires and ``raw`` lacks."""
    if unknown := sorted(set(raw) - set(keys)):
        named = "、".join(repr(key) for key in unknown)
        raise ValueError(
            f"{_spaced(where.zh, '没有键')} {named}：请对照 docs/catalog.md 改正其拼写（大小写、多余的空格）或删去"
            f"（{where.en}: unknown keys {unknown}）"
        )
    if missing := next((key for key, required in keys.items() if required and key not in raw), None):
        raise _missing(missing, where)


def _once(values: Iterable[str], key: str, what: str, what_en: str, where: _Where) -> None:
    """Refuse a value listed twice (an ENUM's choice, a material's field): a slip, which would otherwise be kept."""
    if (same := _twice(values, lambda value: value)) is not None:
        raise where.refused(
            f"的 {key} 中{what}“{same[0]}”写了两次，请删去一个", f"{key}: {what_en} {same[0]!r} is listed twice"
        )


def _twice(items: Iterable[_T], key: Callable[[_T], object]) -> tuple[_T, _T] | None:
    """The first two of ``items`` whose ``key`` is the same, or None."""
    seen: dict[object, _T] = {}
    for item in items:
        if (said := key(item)) in seen:  # by value: two equal strings may be one object
            return seen[said], item
        seen[said] = item
    return None
