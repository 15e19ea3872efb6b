"""The record form of an issue request (a JSON object, one per line in JSON Lines imports) ⇄ the gRPC request.

>>> issue_request({"request_id": "r1", "type_code": "111000009910000354001", "license_number": "X",
...                "holder": {"name": "某公司", "code_type": "001", "code": "91370100MA3C4K7L6M"},
...                "issue_date": "2024-03-01", "fields": {"company_name": "某公司"}}).holder.code
'91370100MA3C4K7L6M'

Keys: request_id, type_code, license_number, holder {name, code_type, code}, issue_date, valid_from, valid_until,
region_code, serial, fields {key: value}. CSV files use the same names as columns, ``holder.name`` style for the
holder and ``fields.<key>`` for each field. Values are text; a field's value may also be a JSON number (as a database
exports an INTEGER or DECIMAL column, e.g. ``"birth_weight_g": 3250``), taken as its text. A refusal names the value
at fault, in Chinese first.
"""

from __future__ import annotations

import decimal
import difflib
import math
import re
from collections.abc import Callable, Mapping, Sequence
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


def _object_or_empty(value: Any) -> Any:
    """An absent key or ``null`` is an empty object; any other value is judged as what it is (``false``, ``0``, ``""``
    and ``[]`` had been taken for an empty object too, and refused later for the values missing from it)."""
    return {} if value is None else value


def issue_request(record: Mapping[str, Any]) -> issuance_pb2.IssueLicenseRequest:
    if not isinstance(record, Mapping):
        raise RecordError("每条记录须为 JSON 对象（each record must be a JSON object）")
    unknown = set(record) - KEYS
    if unknown:
        listed = ", ".join(sorted(unknown))
        raise RecordError(f"记录中有未知的键：{listed}（unknown keys: {listed}）")
    values: dict[str, Any] = {}
    for key in _SCALARS:
        value = record.get(key, "")
        if not isinstance(value, str):
            raise _not_text(key, value)
        values[key] = value
    holder = _object_or_empty(record.get("holder"))
    raw_fields = _object_or_empty(record.get("fields"))
    if not isinstance(holder, Mapping) or set(holder) - {"name", "code_type", "code"}:
        raise RecordError(
            "holder 须为含 name、code_type、code 的对象（holder must be an object with name, code_type and code）",
            field="holder",
        )
    for key, value in holder.items():
        if not isinstance(value, str):  # a JSON null became the name "None"; a code type 1 is not 001
            raise _not_text(f"holder.{key}", value)
    if not isinstance(raw_fields, Mapping):
        raise RecordError("fields 须为对象（fields must be an object）", field="fields")
    fields = {key: _field_text(f"fields.{key}", value) for key, value in raw_fields.items()}
    for where, text in (
        *values.items(),
        *((f"holder.{k}", v) for k, v in holder.items()),
        *(("fields", k) for k in fields),
        *((f"fields.{k}", v) for k, v in fields.items()),
    ):
        _check_unicode(where, text)
    return issuance_pb2.IssueLicenseRequest(holder=common_pb2.Holder(**holder), fields=dict(fields), **values)


def _field_text(where: str, value: object) -> str:
    """A field's value as text: a string as it is, a JSON number (an INTEGER or DECIMAL column of a database export)
    as its digits; anything else (true, null, a list, an object) is refused, naming the field."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):  # a bool is an int to Python: true is no 1
        raise _not_text(where, value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and math.isfinite(value):
        value = decimal.Decimal(repr(value))  # its shortest form: 50.5, not 50.49999…
    if isinstance(value, decimal.Decimal) and value.is_finite():
        # as written (12.50 stays 12.50); an exponent within reach written out (1E+3 is 1000), a far one left to the
        # gateway to refuse rather than written out in its thousands of digits
        return format(value, "f") if abs(value.adjusted()) <= 40 else str(value)
    raise _not_text(where, value)


def _not_text(where: str, value: object) -> RecordError:
    """The refusal of a value that is not text, naming it (``where``) and what it is."""
    chinese, english = _kind(value)
    if where.startswith("fields."):
        return RecordError(
            f"{where} 须为文字或数字，不能是 {chinese}（{where} must be text or a number, not {english}）", field=where
        )
    return RecordError(
        f"{where} 须为文字，不能是 {chinese}（{where} must be text, a string, not {english}）", field=where
    )


def _kind(value: object) -> tuple[str, str]:
    """What a JSON value that is not text is, in Chinese and in English."""
    if value is None or isinstance(value, bool):
        word = "null" if value is None else "true" if value else "false"
        return word, word
    if isinstance(value, float | decimal.Decimal) and not math.isfinite(value):
        return str(value), str(value)  # NaN, Infinity: Python's JSON reads them
    if isinstance(value, int | float | decimal.Decimal):
        return "数字", "a number"
    if isinstance(value, list):
        return "列表", "a list"
    if isinstance(value, Mapping):
        return "对象", "an object"
    return type(value).__name__, type(value).__name__


def _check_unicode(where: str, text: str) -> None:
    """A JSON ``\\ud800``-style escape may stand for half of a UTF-16 pair alone, which is no character: nothing can
    send or store it."""
    lone = _LONE_SURROGATE.search(text)
    if lone:
        escape = f"\\u{ord(lone.group()):04x}"
        raise RecordError(
            f"{where} 含有 {escape}，是 UTF-16 代理对的一半，不是字符：请改正文件中的 \\u 转义"
            f"（{where} holds {escape}, half of a UTF-16 surrogate pair without its other half, which is no character: "
            "correct the \\u escape in the file; a character beyond U+FFFF is written as a pair, e.g. \\ud842\\udfb7 "
            "for 𠮷）",
            field=where,
            reason="BAD_CHARACTERS",
        )


CSV_COLUMNS = (*_SCALARS, "holder.name", "holder.code_type", "holder.code")
"""The columns a CSV header may have, besides ``fields.<key>`` ones (``_FIELD_COLUMN``)."""
_FIELD_COLUMN = re.compile(r"fields\.\S+")


def csv_header_problem(header: Sequence[str]) -> str:
    """Why a CSV header cannot be read as records' columns, naming each column that is a slip of one (``holder.kode``:
    应为 holder.code？; a name with spaces or a byte order mark around it), or empty, Chinese first: the English had
    been inside the Chinese half's brackets (a government-service editor). Said once for the file:
    read row by row, a misspelt column had failed every row, as a holder that is "not an object" (a bulk-import
    tester). A column like no other (an Excel template's 序号) is not refused here: left empty it is ignored; one
    that is a field's label (备注) is said by ``labelled_columns`` once a row fills it."""
    places: dict[str, list[int]] = {}  # a record's columns, each where it is
    for place, name in enumerate(header, start=1):
        if name in CSV_COLUMNS or _FIELD_COLUMN.fullmatch(name):
            places.setdefault(name, []).append(place)
    if twice := {name: [str(n) for n in at] for name, at in places.items() if len(at) > 1}:
        # the last cell had been read, the others dropped without a word (a filled hotline; a reviewer)
        zh = "；".join(f"{name}（第 {'、'.join(at)} 列）" for name, at in twice.items())
        en = "; ".join(f"{name} (columns {', '.join(at[:-1])} and {at[-1]})" for name, at in twice.items())
        said_twice = f"表头中有重复的列：{zh}，每列只能有一个"
        return f"{said_twice}（columns given twice in the header: {en}: a column is read once）"
    said: list[tuple[str, str]] = []  # each column's problem, in Chinese and in English
    for name in header:
        bare = name.strip().lstrip("\ufeff")
        if not bare or (name == bare and (name in CSV_COLUMNS or _FIELD_COLUMN.fullmatch(name))):
            continue
        if bare in CSV_COLUMNS or _FIELD_COLUMN.fullmatch(bare):
            said.append(
                (f"{name!r}（列名前后有空格或字节顺序标记）", f"{name!r}: spaces or a byte order mark around its name")
            )
        elif bare in ("holder", "fields"):
            said.append((f"{name}（每个值一列：{bare}.<键>）", f"{name}: a column per value, {bare}.<key>"))
        elif near := difflib.get_close_matches(bare.lower(), CSV_COLUMNS, n=1, cutoff=0.75):
            said.append((f"{name}（应为 {near[0]}？）", f"{name}: did you mean {near[0]}?"))
        # another column (序号; a label's, 备注, unless the catalog was asked): its rows fail if they fill it (unknown
        # keys), as they did; an empty one is left
    if not said:
        return ""
    return (
        f"表头中有未知的列：{'；'.join(zh for zh, _ in said)}（unknown columns in the header: "
        f"{'; '.join(en for _, en in said)}; the columns are {', '.join(CSV_COLUMNS)} and fields.<key>）"
    )


def known_column(name: str) -> bool:
    """Whether ``name`` is a record's column (spaces or a byte order mark around it or not)."""
    bare = name.strip().lstrip("\ufeff")
    return bare in CSV_COLUMNS or bool(_FIELD_COLUMN.fullmatch(bare))


def labelled_columns(
    header: Sequence[str], labels: Callable[[], Mapping[str, Mapping[str, Sequence[str]]]]
) -> dict[str, Mapping[str, Sequence[str]]]:
    """The columns of ``header`` named by a label of the catalog instead of a key, as is or after ``fields.``
    (生产者名称 or fields.生产者名称 for ``fields.producer_name``), each with the columns its label names (公民身份号码:
    ``fields.citizen_id`` or ``license_number``). A department's export names its columns by label, and each row had
    failed as ``unknown keys: 生产者名称`` (a scenario tester). ``labels`` (label: {column: the types whose label it
    is}) is called only for a header with a column that is not ASCII, as every key is, and no more than once.

    Such a column is not read as the one its label names: a label may name several, and the file's types are not
    known from its header. Nor is it refused for being there: 备注 is a field's label and an Excel template's column,
    which, left empty, the import ignores."""
    found: dict[str, Mapping[str, Sequence[str]]] = {}
    catalog: Mapping[str, Mapping[str, Sequence[str]]] | None = None
    for name in header:
        label = name.strip().lstrip("\ufeff").removeprefix("fields.")
        if label.isascii():
            continue
        catalog = labels() if catalog is None else catalog
        if meant := catalog.get(label):
            found[name] = meant
    return found


def labelled_problem(columns: Mapping[str, Sequence[str]], line: int) -> str:
    """``labelled_columns`` said, Chinese first (生产者名称 是 fields.producer_name 的名称), with the first ``line``
    that fills them."""
    zh = "；".join(f"{name} 是 {' 或 '.join(meant)} 的名称" for name, meant in columns.items())
    en = "; ".join(f"{name} is the label of {' or '.join(meant)}" for name, meant in columns.items())
    return (
        f"表头中有以名称而非键命名的列：{zh}，列名须用键，第 {line} 行已填写"
        f"（columns named by a label, not a key: {en}; line {line} fills them in）"
    )


def from_csv_row(row: Mapping[str, str]) -> dict[str, Any]:
    """A CSV row (``holder.name``, ``fields.<key>`` columns) as a record."""
    record: dict[str, Any] = {"holder": {}, "fields": {}}
    for column, value in row.items():
        if column is None:
            raise RecordError("该行的单元格多于表头的列（the row has more cells than the header has columns）")
        if value in (None, ""):
            continue
        if column.startswith("holder."):
            record["holder"][column[len("holder.") :]] = value
        elif column.startswith("fields."):
            record["fields"][column[len("fields.") :]] = value
        else:
            record[column] = value
    return record
