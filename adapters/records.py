"""The record form of an issue request (a JSON object, one per line in JSON Lines imports) ⇄ the gRPC request.

>>> issue_request({"request_id": "r1", "type_code": "111000009910000354001", "license_number": "X",
...                "holder": {"name": "某公司", "code_type": "001", "code": "91370100MA3C4K7L6M"},
...                "issue_date": "2024-03-01", "fields": {"company_name": "某公司"}}).holder.code
'91370100MA3C4K7L6M'

Keys: request_id, type_code, license_number, holder {name, code_type, code}, issue_date, valid_from, valid_until,
region_code, serial, fields {key: value}. CSV files use the same names as columns, ``holder.name`` style for the
holder and ``fields.<key>`` for each field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from protos.zzgw.v1 import common_pb2, issuance_pb2

_SCALARS = (
    "request_id",
    "type_code",
    "license_number",
    "issue_date",
    "valid_from",
    "valid_until",
    "region_code",
    "serial",
)
KEYS = frozenset((*_SCALARS, "holder", "fields"))
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class RecordError(ValueError):
    """A record that cannot become a request at all (not an object, unknown keys, non-string values, text that is no
    Unicode); ``field`` names the value at fault when it is one, ``reason`` is the import's failure code."""

    def __init__(self, message: str, *, field: str = "", reason: str = "BAD_RECORD") -> None:
        super().__init__(message)
        self.field = field
        self.reason = reason


def issue_request(record: Mapping[str, Any]) -> issuance_pb2.IssueLicenseRequest:
    if not isinstance(record, Mapping):
        raise RecordError("each record must be a JSON object")
    unknown = set(record) - KEYS
    if unknown:
        raise RecordError(f"unknown keys: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for key in _SCALARS:
        value = record.get(key, "")
        if not isinstance(value, str):
            raise RecordError(f"{key} must be a string")
        values[key] = value
    holder = record.get("holder") or {}
    fields = record.get("fields") or {}
    if not isinstance(holder, Mapping) or set(holder) - {"name", "code_type", "code"}:
        raise RecordError("holder must be an object with name, code_type and code")
    if not all(isinstance(v, str) for v in holder.values()):  # a JSON null became the name "None"
        raise RecordError("holder name, code_type and code must be strings")
    if not isinstance(fields, Mapping) or not all(isinstance(v, str) for v in fields.values()):
        raise RecordError("fields must be an object of strings")
    for where, text in (
        *values.items(),
        *((f"holder.{k}", v) for k, v in holder.items()),
        *(("fields", k) for k in fields),
        *((f"fields.{k}", v) for k, v in fields.items()),
    ):
        _check_unicode(where, text)
    return issuance_pb2.IssueLicenseRequest(holder=common_pb2.Holder(**holder), fields=dict(fields), **values)


def _check_unicode(where: str, text: str) -> None:
    """A JSON ``\\ud800``-style escape may stand for half of a UTF-16 pair alone, which is no character: nothing can
    send or store it."""
    lone = _LONE_SURROGATE.search(text)
    if lone:
        raise RecordError(
            f"{where} holds \\u{ord(lone.group()):04x}, half of a UTF-16 surrogate pair without its other half, which "
            "is no character: correct the \\u escape in the file (a character beyond U+FFFF is written as a pair, "
            "e.g. \\ud842\\udfb7 for 𠮷)",
            field=where,
            reason="BAD_CHARACTERS",
        )


def from_csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row (``holder.name``, ``fields.<key>`` columns) as a record."""
    record: dict[str, Any] = {"holder": {}, "fields": {}}
    for column, value in row.items():
        if column is None:
            raise RecordError("the row has more cells than the header has columns")
        if value in (None, ""):
            continue
        if column.startswith("holder."):
            record["holder"][column[len("holder.") :]] = value
        elif column.startswith("fields."):
            record["fields"][column[len("fields.") :]] = value
        else:
            record[column] = value
    return record
