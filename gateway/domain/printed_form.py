"""The printed form of a license type as a license was issued under it: what its document prints, kept with a license
whose document is drawn later (a batch-issued one, ADR 0003).

>>> form = PrintedForm.of(catalog.license_type(code))  # doctest: +SKIP
>>> PrintedForm.from_json(form.to_json()) == form  # doctest: +SKIP

A batch-issued license's document is drawn the first time it is asked for, perhaps years later. Drawn from the catalog
in force then, it had left off a field taken out of the type since, printed labels renamed since, and could not be
drawn at all once the type was taken out (NOT_FOUND, telling the issuer to correct a type code it never sent): a
reviewer. The form the type had at issue (its name, the label of its number, whether it prints a validity, its fields'
keys, labels, value types and secrecy) is stored with the license's issue (``license_events.form``, its SHA-256, the
form itself once in ``printed_forms``), and the document is drawn from it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from gateway.domain.catalog import LicenseType, Sensitivity, ValueType


@dataclass(frozen=True, slots=True)
class PrintedField:
    key: str
    label: str
    value_type: ValueType
    sensitivity: Sensitivity


@dataclass(frozen=True, slots=True)
class PrintedForm:
    """What ``signing.render`` reads of a license type, as the type was when a license was issued."""

    code: str
    name: str
    name_en: str
    license_number_label: str
    expires: bool
    license_number_of_holder: bool
    fields: tuple[PrintedField, ...]

    @classmethod
    def of(cls, license_type: LicenseType) -> PrintedForm:
        return cls(
            code=license_type.code,
            name=license_type.name,
            name_en=license_type.name_en,
            license_number_label=license_type.license_number_label,
            expires=license_type.expires,
            license_number_of_holder=license_type.license_number_of_holder,
            fields=tuple(PrintedField(f.key, f.label, f.value_type, f.sensitivity) for f in license_type.fields),
        )

    def to_json(self) -> str:
        """The form as canonical JSON (its keys sorted, no spaces): the same form, the same text and digest."""
        mapping: dict[str, Any] = {
            "code": self.code,
            "name": self.name,
            "name_en": self.name_en,
            "license_number_label": self.license_number_label,
            "expires": self.expires,
            "license_number_of_holder": self.license_number_of_holder,
            "fields": [
                {"key": f.key, "label": f.label, "value_type": f.value_type.value, "sensitivity": f.sensitivity.value}
                for f in self.fields
            ],
        }
        return json.dumps(mapping, ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    @property
    def sha256(self) -> str:
        return form_digest(self.to_json())

    @classmethod
    def from_json(cls, text: str) -> PrintedForm:
        raw = json.loads(text)
        return cls(
            code=str(raw["code"]),
            name=str(raw["name"]),
            name_en=str(raw["name_en"]),
            license_number_label=str(raw["license_number_label"]),
            expires=bool(raw["expires"]),
            license_number_of_holder=bool(raw["license_number_of_holder"]),
            fields=tuple(
                PrintedField(
                    key=str(f["key"]),
                    label=str(f["label"]),
                    value_type=ValueType(f["value_type"]),
                    sensitivity=Sensitivity(f["sensitivity"]),
                )
                for f in raw["fields"]
            ),
        )

    def secret_now(self, license_type: LicenseType | None) -> PrintedForm:
        """The form with the fields that ``license_type`` (the catalog's now) makes SECRET marked so too: a value the
        catalog keeps in the gateway now is not printed, whatever it was at issue."""
        secret = {f.key for f in license_type.fields if f.sensitivity is Sensitivity.SECRET} if license_type else set()
        if not secret & {f.key for f in self.fields}:
            return self
        fields = tuple(
            PrintedField(f.key, f.label, f.value_type, Sensitivity.SECRET) if f.key in secret else f
            for f in self.fields
        )
        return PrintedForm(
            self.code,
            self.name,
            self.name_en,
            self.license_number_label,
            self.expires,
            self.license_number_of_holder,
            fields,
        )


def form_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
