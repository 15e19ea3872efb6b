"""The catalog (证照目录): license types with their fields, matters (事项) and bundles (一件事).

>>> catalog = Catalog.from_mapping(json.loads(Path("gateway/bootstrap/catalog.json").read_text()))  # doctest: +SKIP
>>> catalog.license_type("111000009910000354001").name  # doctest: +SKIP
'营业执照'

The catalog is data, never code: ``gateway/bootstrap/catalog.json`` holds the bootstrap catalog and
``Catalog.from_mapping`` checks it when it is loaded (unknown keys, bad codes, duplicate fields and matters that
name unknown types all fail loudly at start-up, not at the first request).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.domain.errors import NotFoundError
from gateway.domain.identifiers import type_code_problem, uscc_problem


class SharingClass(enum.Enum):
    """State Council sharing classes (国发〔2016〕51号, 国务院令第809号)."""

    UNCONDITIONAL = "UNCONDITIONAL"  # 无条件共享
    CONDITIONAL = "CONDITIONAL"  # 有条件共享
    NOT_SHARED = "NOT_SHARED"  # 不予共享


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


class Sensitivity(enum.Enum):
    NORMAL = "NORMAL"
    SENSITIVE = "SENSITIVE"  # masked unless a matter needs it in full
    SECRET = "SECRET"  # never leaves the gateway in a data response (e.g. a photo reference)


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


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldSpec:
    """One field (照面信息项) of a license type."""

    key: str
    """Stable key used in the API, e.g. ``legal_representative``."""
    label: str
    """Chinese label shown to people, e.g. ``法定代表人``."""
    value_type: ValueType
    required: bool = False
    max_length: int = 200
    sensitivity: Sensitivity = Sensitivity.NORMAL
    sharing_class: SharingClass | None = None
    """Overrides the type's sharing class for this field when set."""
    choices: tuple[str, ...] = ()


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

    def __post_init__(self) -> None:
        keys = [f.key for f in self.fields]
        if len(set(keys)) != len(keys):
            raise ValueError(f"license type {self.code}: duplicate field keys")
        if problem := type_code_problem(self.code):
            raise ValueError(f"license type {self.code}: {problem}")
        for issuer in self.issuers:
            if problem := uscc_problem(issuer):
                raise ValueError(f"license type {self.code}: issuer {issuer}: {problem}")
        for code_type in self.holder_code_types:
            if code_type not in HOLDER_CODE_TYPES:
                raise ValueError(f"license type {self.code}: unknown holder code type {code_type}")

    def field_spec(self, key: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.key == key:
                return spec
        return None

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


@dataclass(frozen=True, slots=True)
class Catalog:
    """License types, matters and bundles, checked for consistency when built."""

    license_types: Mapping[str, LicenseType]
    matters: Mapping[str, Matter] = field(default_factory=dict)
    bundles: Mapping[str, Bundle] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for matter in self.matters.values():
            for material in matter.materials:
                license_type = self.license_types.get(material.type_code)
                if license_type is None:
                    raise ValueError(f"matter {matter.code}: unknown license type {material.type_code}")
                for key in (*material.fields, *material.full_fields):
                    if license_type.field_spec(key) is None:
                        raise ValueError(f"matter {matter.code}: type {material.type_code} has no field {key}")
        for bundle in self.bundles.values():
            for code in bundle.matter_codes:
                if code not in self.matters:
                    raise ValueError(f"bundle {bundle.code}: unknown matter {code}")

    def license_type(self, code: str) -> LicenseType:
        try:
            return self.license_types[code]
        except KeyError:
            raise NotFoundError(f"unknown license type {code}", reason="LICENSE_TYPE_NOT_FOUND") from None

    def matter(self, code: str) -> Matter:
        try:
            return self.matters[code]
        except KeyError:
            raise NotFoundError(f"unknown matter {code}", reason="MATTER_NOT_FOUND") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalog:
        """Build a catalog from its JSON form (see ``gateway/bootstrap/catalog.json``)."""
        types = {t.code: t for t in map(_license_type, data["license_types"])}
        if len(types) != len(data["license_types"]):
            raise ValueError("duplicate license type codes")
        matters = {m.code: m for m in map(_matter, data.get("matters", ()))}
        bundles = {
            b["code"]: Bundle(code=b["code"], name=b["name"], matter_codes=tuple(b["matters"]))
            for b in data.get("bundles", ())
        }
        return cls(types, matters, bundles)


def _license_type(raw: Mapping[str, Any]) -> LicenseType:
    _only(
        raw,
        {
            "code",
            "name",
            "name_en",
            "holder_kind",
            "holder_code_types",
            "sharing_class",
            "expires",
            "issuers",
            "fields",
            "license_number_label",
        },
        f"license type {raw.get('code')}",
    )
    return LicenseType(
        code=raw["code"],
        name=raw["name"],
        name_en=raw.get("name_en", ""),
        holder_kind=HolderKind(raw["holder_kind"]),
        holder_code_types=tuple(raw["holder_code_types"]),
        sharing_class=SharingClass(raw["sharing_class"]),
        expires=bool(raw["expires"]),
        issuers=frozenset(raw["issuers"]),
        fields=tuple(_field(f, raw["code"]) for f in raw["fields"]),
        license_number_label=raw.get("license_number_label", "证照编号"),
    )


def _field(raw: Mapping[str, Any], type_code: str) -> FieldSpec:
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", str(raw.get("key", ""))):
        raise ValueError(f"field {raw.get('key')!r} of {type_code}: keys are ASCII snake_case (a-z, 0-9, _)")
    _only(
        raw,
        {"key", "label", "type", "required", "max_length", "sensitivity", "sharing_class", "choices"},
        f"field {raw.get('key')} of {type_code}",
    )
    value_type = ValueType(raw["type"])
    choices = tuple(raw.get("choices", ()))
    if value_type is ValueType.ENUM and not choices:
        raise ValueError(f"field {raw['key']} of {type_code}: ENUM needs choices")
    return FieldSpec(
        key=raw["key"],
        label=raw["label"],
        value_type=value_type,
        required=bool(raw.get("required", False)),
        max_length=int(raw.get("max_length", 200)),
        sensitivity=Sensitivity(raw.get("sensitivity", "NORMAL")),
        sharing_class=SharingClass(raw["sharing_class"]) if raw.get("sharing_class") else None,
        choices=choices,
    )


def _matter(raw: Mapping[str, Any]) -> Matter:
    _only(raw, {"code", "name", "purpose", "department", "materials"}, f"matter {raw.get('code')}")
    return Matter(
        code=raw["code"],
        name=raw["name"],
        purpose=raw["purpose"],
        department=raw["department"],
        materials=tuple(
            Material(
                type_code=m["type_code"],
                fields=tuple(m.get("fields", ())),
                full_fields=tuple(m.get("full_fields", ())),
                required=bool(m.get("required", True)),
            )
            for m in raw["materials"]
        ),
    )


def _only(raw: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    unknown = set(raw) - set(allowed)
    if unknown:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}")
