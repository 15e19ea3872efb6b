"""docs/catalog.md stays true: it lists every key the catalog loader takes at each level, with whether it is required
and its name in the API; every value of each closed set the loader takes (sharing classes, holder kinds and code
types, field types, sensitivity, masking, of_holder), with the API's names; and its worked example loads through the
real loader from a file and issues, verifies and shares a license of the new type in a real gateway.

A key or value added to the loader without a line in the page fails here, as does a row the loader no longer takes."""

from __future__ import annotations

import datetime as dt
import enum
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.descriptor import Descriptor

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain.catalog import (
    BUNDLE_KEYS,
    CATALOG_KEYS,
    DEFAULT_MAX_LENGTH,
    FIELD_KEYS,
    HOLDER_CODE_TYPES,
    KIND_OF_CODE_TYPE,
    MATERIAL_KEYS,
    MATTER_KEYS,
    TYPE_KEYS,
    HolderKind,
    Masking,
    OfHolder,
    Sensitivity,
    SharingClass,
    ValueType,
)
from gateway.services.members import load_catalog
from protos.zzgw.v1 import catalog_pb2, sharing_pb2, sharing_pb2_grpc, verification_pb2, verification_pb2_grpc
from tests.conftest import MARKET, TAX, RunningGateway, start_gateway

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "catalog.md").read_text(encoding="utf-8")
DEMO = json.loads((ROOT / "gateway" / "bootstrap" / "catalog.json").read_text(encoding="utf-8"))

_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", flags=re.M | re.S)
_HEADING = re.compile(r"^#{1,6} (.+)$", flags=re.M)
_CODE = re.compile(r"`([^`]+)`")


def tables(text: str) -> list[list[list[str]]]:
    """The tables of ``text``: each a list of rows (the header first, the rule left out), each a list of cells."""
    found: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip()[1:-1].split("|")]
            if not all(set(cell) <= set("-:") for cell in cells):
                rows.append(cells)
        elif rows:
            found.append(rows)
            rows = []
    return found


def section(title: str) -> str:
    """The page's text under the one heading that begins with ``title``, to the next heading."""
    (start,) = [match.end() for match in _HEADING.finditer(PAGE) if match.group(1).startswith(title)]
    following = _HEADING.search(PAGE, start)
    return PAGE[start : following.start() if following else len(PAGE)]


def table_of(first_cell: str) -> list[list[str]]:
    """The rows (header left out) of the one table whose header begins with ``first_cell``."""
    (found,) = [table for table in tables(PAGE) if table[0][0] == first_cell]
    return found[1:]


def unquoted(cell: str) -> str:
    return cell.strip("`")


LEVELS: list[tuple[str, Mapping[str, bool], Descriptor | None]] = [
    ("The file (", CATALOG_KEYS, None),
    ("License types (", TYPE_KEYS, catalog_pb2.LicenseType.DESCRIPTOR),
    ("Fields (", FIELD_KEYS, catalog_pb2.FieldSpec.DESCRIPTOR),
    ("Matters (", MATTER_KEYS, catalog_pb2.Matter.DESCRIPTOR),
    ("Materials (", MATERIAL_KEYS, catalog_pb2.Material.DESCRIPTOR),
    ("Bundles (", BUNDLE_KEYS, catalog_pb2.Bundle.DESCRIPTOR),
]


@pytest.mark.parametrize(("title", "keys", "message"), LEVELS, ids=[level[0].removesuffix(" (") for level in LEVELS])
def test_every_key_the_loader_takes_is_listed_with_whether_it_is_required_and_its_api_name(
    title: str, keys: Mapping[str, bool], message: Descriptor | None
) -> None:
    (table,) = [table for table in tables(section(title)) if table[0][0] == "key"]
    header, rows = table[0], table[1:]
    assert header[1:3] == ["required", "JSON"], header
    listed = {unquoted(row[0]): row for row in rows}
    assert len(listed) == len(rows), "a key listed twice"
    assert set(listed) == set(keys), f"{title}: the page lists {sorted(listed)}, the loader takes {sorted(keys)}"
    for key, row in listed.items():
        assert row[1] in ("yes", "no") or row[1].endswith(": yes"), row
        assert (row[1] == "yes") is keys[key], f"{title}: {key} is {'' if keys[key] else 'not '}required"
    if message is None:
        return
    named = {key: _CODE.findall(row[-1])[:1] for key, row in listed.items()}
    for key, api in named.items():
        assert not api or api[0] in message.fields_by_name, f"{title}: {key}: no {api} in {message.full_name}"
        assert api or row_says_not_in_the_api(listed[key]), f"{title}: {key}: its API name is not given"
    assert {api[0] for api in named.values() if api} == set(message.fields_by_name), (
        f"{title}: every field of {message.full_name} is named for the key it comes from"
    )


def row_says_not_in_the_api(row: list[str]) -> bool:
    return row[-1] == "not in the API"


def test_the_default_max_length_is_the_loaders() -> None:
    (table,) = [table for table in tables(section("Fields (")) if table[0][0] == "key"]
    (row,) = [row for row in table if row[0] == "`max_length`"]
    assert f"default {DEFAULT_MAX_LENGTH}," in row[3]


API_ENUMS: dict[type[enum.Enum], str] = {
    SharingClass: "SHARING_CLASS_",
    HolderKind: "HOLDER_KIND_",
    Sensitivity: "SENSITIVITY_",
}
"""The closed sets whose values the API gives as an enum of its own, by their prefix there."""


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("sharing_class", SharingClass),
        ("holder_kind", HolderKind),
        ("type", ValueType),
        ("sensitivity", Sensitivity),
        ("masking", Masking),
        ("of_holder", OfHolder),
    ],
)
def test_every_value_the_loader_takes_is_listed(key: str, kind: type[enum.Enum]) -> None:
    rows = table_of(f"`{key}`")
    listed = {unquoted(row[0]): row for row in rows}
    assert set(listed) == {str(member.value) for member in kind}, f"{key}: the page and the loader differ"
    for member in kind:
        row = listed[str(member.value)]
        if kind in API_ENUMS:
            api = f"{API_ENUMS[kind]}{member.value}"
            getattr(catalog_pb2, kind.__name__).Value(api)  # the API has it
            assert f"`{api}`" in row, row
        if isinstance(member, SharingClass):
            assert row[1] == member.words, row


def test_every_holder_code_type_is_listed_with_its_name_and_kind() -> None:
    listed = {unquoted(row[0]): row[1:] for row in table_of("`holder_code_types`")}
    assert listed == {
        code: [name, KIND_OF_CODE_TYPE[code].value if code in KIND_OF_CODE_TYPE else "either"]
        for code, name in HOLDER_CODE_TYPES.items()
    }


# --- the worked example --------------------------------------------------------------------------------------------

PERMIT = "111000009910000354003"
SWDJ = verification_pb2.UseContext(matter_code="370100-SWDJ-002", purpose="核验食品经营许可证")


def worked_example() -> dict[str, Any]:
    """The demo catalog with the worked example's type, matter and bundle appended, as the page says."""
    lists = {"holder_kind": "license_types", "materials": "matters", "matters": "bundles"}
    blocks = [json.loads(block) for language, block in _FENCE.findall(section("A worked example")) if
              language == "json"]  # fmt: skip
    assert len(blocks) == 3
    catalog = json.loads(json.dumps(DEMO))
    for block in blocks:
        (into,) = [name for key, name in lists.items() if key in block]
        catalog[into].append(block)
    return catalog


@pytest.fixture(scope="module")
def example_gateway(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    """A gateway serving the worked example, read from a file as ``ZZGW_CATALOG`` names it."""
    directory = tmp_path_factory.mktemp("catalog-example")
    file = directory / "catalog.json"
    file.write_text(json.dumps(worked_example(), ensure_ascii=False, indent=2), encoding="utf-8")
    running = start_gateway(directory / "var", database_url, catalog=str(file))
    try:
        yield running
    finally:
        running.stop()


def test_the_worked_example_loads_as_the_page_says(tmp_path: Path) -> None:
    file = tmp_path / "catalog.json"
    file.write_text(json.dumps(worked_example(), ensure_ascii=False), encoding="utf-8")
    catalog = load_catalog(str(file))
    permit = catalog.license_type(PERMIT)
    assert (permit.name, permit.sharing_class, permit.expires) == ("食品经营许可证", SharingClass.UNCONDITIONAL, True)
    assert permit.field_sharing_class("legal_representative") is SharingClass.CONDITIONAL
    assert [m.type_code for m in catalog.matter(SWDJ.matter_code).materials] == [PERMIT]
    assert catalog.bundles["370100-YJS-CYKD"].matter_codes == ("370100-QYKZ-001", SWDJ.matter_code)


def test_the_worked_example_issues_verifies_and_shares_as_the_page_says(example_gateway: RunningGateway) -> None:
    holder = samples.uscc(7_654_321)
    issued = dt.date(2024, 5, 10)
    record: dict[str, Any] = {
        "request_id": "docs-catalog-1",
        "type_code": PERMIT,
        "license_number": "JY13701020000001",
        "holder": {"name": "济南泉城餐饮有限公司", "code_type": "001", "code": holder},
        "issue_date": issued.isoformat(),
        "valid_until": (issued.replace(year=issued.year + 5) - dt.timedelta(days=1)).isoformat(),
        "fields": {
            "operator_name": "济南泉城餐饮有限公司",
            "uscc": holder,
            "legal_representative": "王伟",
            "business_premises": "山东省济南市历下区泉城路1号",
            "main_business_form": "餐饮服务经营者",
            "business_items": "热食类食品制售",
            "issuing_authority": "济南市市场监督管理局",
        },
    }
    license_id = example_gateway.issuance(MARKET).IssueLicense(issue_request(record)).license.license_id

    verify = verification_pb2_grpc.VerificationServiceStub(example_gateway.channel(TAX)).VerifyLicense
    report = verify(verification_pb2.VerifyLicenseRequest(use=SWDJ, license_id=license_id)).report
    assert report.verdict == verification_pb2.CHECK_RESULT_PASSED, report

    data = sharing_pb2_grpc.SharingServiceStub(example_gateway.channel(TAX)).GetLicenseData(
        sharing_pb2.GetLicenseDataRequest(use=SWDJ, license_id=license_id)
    )
    assert [(f.label, f.value, f.basis) for f in data.fields] == [
        (label, record["fields"][key], sharing_pb2.SHARING_BASIS_UNCONDITIONAL)
        for key, label in [
            ("operator_name", "经营者名称"),
            ("uscc", "社会信用代码"),
            ("business_premises", "经营场所"),
            ("main_business_form", "主体业态"),
        ]
    ]
    assert [(w.label, w.reason) for w in data.withheld] == [("法定代表人（负责人）", "NEEDS_AUTHORIZATION")]

    listed = example_gateway.catalog(TAX).ListMatters(catalog_pb2.ListMattersRequest(bundle_code="370100-YJS-CYKD"))
    assert [m.matter_code for m in listed.matters] == ["370100-QYKZ-001", SWDJ.matter_code]
