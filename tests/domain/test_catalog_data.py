"""The bootstrap catalog and members (``gateway/bootstrap/*.json``) load and say what SCENARIOS.md says."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gateway.domain.catalog import (
    HOLDER_CODE_TYPES,
    Catalog,
    HolderKind,
    LicenseType,
    Sensitivity,
    SharingClass,
    ValueType,
)
from gateway.domain.identifiers import region_code_problem, type_code_problem, uscc_problem
from gateway.domain.model import Member, Role
from gateway.domain.verification import matters_of, uses_matter

BOOTSTRAP = Path(__file__).resolve().parent.parent.parent / "gateway" / "bootstrap"
RAW_CATALOG: dict[str, Any] = json.loads((BOOTSTRAP / "catalog.json").read_text(encoding="utf-8"))
RAW_MEMBERS: list[dict[str, Any]] = json.loads((BOOTSTRAP / "members.json").read_text(encoding="utf-8"))["members"]
ROLES = {"ISSUER", "CONSUMER", "HOLDER_PORTAL", "PARTNER", "ADMIN"}

NAMED_TYPES = {
    "居民身份证": SharingClass.CONDITIONAL,
    "护照": SharingClass.NOT_SHARED,
    "机动车驾驶证": SharingClass.CONDITIONAL,
    "营业执照": SharingClass.UNCONDITIONAL,
    "结婚证": SharingClass.CONDITIONAL,
    "社会保障卡": SharingClass.CONDITIONAL,
    "食品生产许可证": SharingClass.UNCONDITIONAL,
    "出生医学证明": SharingClass.CONDITIONAL,
    "不动产权证书": SharingClass.CONDITIONAL,
    "户口簿": SharingClass.CONDITIONAL,
}


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.from_mapping(RAW_CATALOG)


def by_name(catalog: Catalog, name: str) -> LicenseType:
    matches = [t for t in catalog.license_types.values() if t.name == name]
    assert len(matches) == 1, name
    return matches[0]


def member_named(name: str) -> dict[str, Any]:
    matches = [m for m in RAW_MEMBERS if m["name"] == name]
    assert len(matches) == 1, name
    return matches[0]


# --- license types -------------------------------------------------------------------------------------------------


def test_at_least_ten_types_with_every_named_one(catalog: Catalog) -> None:
    assert len(catalog.license_types) >= 10
    names = [t.name for t in catalog.license_types.values()]
    assert len(names) == len(set(names))
    assert set(NAMED_TYPES) <= set(names)


@pytest.mark.parametrize(("name", "sharing_class"), NAMED_TYPES.items())
def test_sharing_classes(catalog: Catalog, name: str, sharing_class: SharingClass) -> None:
    assert by_name(catalog, name).sharing_class is sharing_class


@pytest.mark.parametrize(
    ("name", "key", "label", "sensitivity", "sharing_class"),
    [
        ("居民身份证", "photo", "照片", Sensitivity.SECRET, SharingClass.NOT_SHARED),
        ("居民身份证", "address", "住址", Sensitivity.SENSITIVE, SharingClass.CONDITIONAL),
        ("居民身份证", "name", "姓名", Sensitivity.NORMAL, SharingClass.CONDITIONAL),
        ("户口簿", "household_members", "户内成员", Sensitivity.SENSITIVE, SharingClass.CONDITIONAL),
        ("出生医学证明", "mother_citizen_id", "母亲有效身份证件号码", Sensitivity.SENSITIVE, SharingClass.CONDITIONAL),
        ("出生医学证明", "father_citizen_id", "父亲有效身份证件号码", Sensitivity.SENSITIVE, SharingClass.CONDITIONAL),
        ("社会保障卡", "card_number", "卡号", Sensitivity.SENSITIVE, SharingClass.CONDITIONAL),
        ("营业执照", "legal_representative", "法定代表人", Sensitivity.NORMAL, SharingClass.UNCONDITIONAL),
    ],
)
def test_field_sensitivity_and_sharing(
    catalog: Catalog, name: str, key: str, label: str, sensitivity: Sensitivity, sharing_class: SharingClass
) -> None:
    license_type = by_name(catalog, name)
    spec = license_type.field_spec(key)
    assert spec is not None
    assert spec.label == label
    assert spec.sensitivity is sensitivity
    assert license_type.field_sharing_class(key) is sharing_class


def test_every_photo_is_secret_and_never_shared(catalog: Catalog) -> None:
    photos = [(t, t.field_spec("photo")) for t in catalog.license_types.values() if t.field_spec("photo")]
    assert {t.name for t, _ in photos} >= {"居民身份证", "护照", "机动车驾驶证"}
    for _, spec in photos:
        assert spec is not None
        assert spec.sensitivity is Sensitivity.SECRET
        assert spec.sharing_class is SharingClass.NOT_SHARED


@pytest.mark.parametrize(
    ("name", "holder_kind", "holder_code_types", "expires", "number_label", "issuer"),
    [
        ("居民身份证", HolderKind.PERSON, ("111",), True, "公民身份号码", "济南市公安局"),
        ("护照", HolderKind.PERSON, ("111", "414"), True, "护照号码", "济南市公安局出入境管理支队"),
        ("机动车驾驶证", HolderKind.PERSON, ("111",), True, "证号", "济南市公安局交通警察支队"),
        ("营业执照", HolderKind.ORGANIZATION, ("001",), False, "统一社会信用代码", "济南市市场监督管理局"),
        ("结婚证", HolderKind.PERSON, ("111",), False, "结婚证字号", "济南市民政局"),
        ("社会保障卡", HolderKind.PERSON, ("111",), True, "社会保障号码", "济南市人力资源和社会保障局"),
        ("食品生产许可证", HolderKind.ORGANIZATION, ("001",), True, "许可证编号", "济南市市场监督管理局"),
        ("出生医学证明", HolderKind.PERSON, ("111", "099"), False, "出生医学证明编号", "济南市卫生健康委员会"),
        ("不动产权证书", HolderKind.PERSON, ("111",), False, "不动产权证号", "济南市自然资源和规划局"),
        ("户口簿", HolderKind.PERSON, ("111",), False, "户号", "济南市公安局"),
    ],
)
def test_type_attributes(
    catalog: Catalog,
    name: str,
    holder_kind: HolderKind,
    holder_code_types: tuple[str, ...],
    expires: bool,
    number_label: str,
    issuer: str,
) -> None:
    license_type = by_name(catalog, name)
    assert license_type.holder_kind is holder_kind
    assert license_type.holder_code_types == holder_code_types
    assert license_type.expires is expires
    assert license_type.license_number_label == number_label
    assert license_type.issuers == frozenset({member_named(issuer)["code"]})
    assert license_type.name_en


def test_business_licence_fields(catalog: Catalog) -> None:
    license_type = by_name(catalog, "营业执照")
    expected = {
        "company_name": ("名称", ValueType.STRING),
        "uscc": ("统一社会信用代码", ValueType.USCC),
        "company_type": ("类型", ValueType.STRING),
        "legal_representative": ("法定代表人", ValueType.STRING),
        "registered_capital": ("注册资本", ValueType.STRING),
        "established_on": ("成立日期", ValueType.DATE),
        "business_term": ("营业期限", ValueType.STRING),
        "domicile": ("住所", ValueType.STRING),
        "business_scope": ("经营范围", ValueType.STRING),
    }
    for key, (label, value_type) in expected.items():
        spec = license_type.field_spec(key)
        assert spec is not None, key
        assert (spec.label, spec.value_type) == (label, value_type)


@pytest.mark.parametrize(
    ("name", "key", "choices"),
    [
        ("居民身份证", "gender", ("男", "女")),
        ("户口簿", "household_type", ("家庭户", "集体户")),
        ("不动产权证书", "co_ownership", ("单独所有", "共同共有", "按份共有")),
    ],
)
def test_enum_choices(catalog: Catalog, name: str, key: str, choices: tuple[str, ...]) -> None:
    spec = by_name(catalog, name).field_spec(key)
    assert spec is not None
    assert spec.value_type is ValueType.ENUM
    assert spec.choices == choices


def test_driving_licence_vehicle_classes(catalog: Catalog) -> None:
    spec = by_name(catalog, "机动车驾驶证").field_spec("vehicle_class")
    assert spec is not None
    assert spec.value_type is ValueType.ENUM
    assert {"A1", "A2", "B1", "B2", "C1", "C2", "D", "E"} <= set(spec.choices)


def test_type_codes_are_authority_uscc_plus_sequence(catalog: Catalog) -> None:
    for code, license_type in catalog.license_types.items():
        assert code == license_type.code
        assert type_code_problem(code) is None
        assert len(code) == 21
        assert code[18:].isdigit()
        assert all(c in HOLDER_CODE_TYPES for c in license_type.holder_code_types)
        assert license_type.fields, code
        for spec in license_type.fields:
            assert spec.key.isascii() and spec.key == spec.key.lower(), spec.key
            assert not spec.label.isascii(), spec.label
            assert spec.max_length > 0
            assert (spec.value_type is ValueType.ENUM) == bool(spec.choices), spec.key


# --- members -------------------------------------------------------------------------------------------------------


def test_member_codes_and_regions() -> None:
    codes = [m["code"] for m in RAW_MEMBERS]
    assert len(codes) == len(set(codes))
    for member in RAW_MEMBERS:
        assert set(member) == {"code", "name", "region", "roles"}
        assert uscc_problem(member["code"]) is None, member
        assert region_code_problem(member["region"]) is None, member
        assert member["code"][2:8] == member["region"], member
        assert member["roles"] and set(member["roles"]) <= ROLES, member


def test_every_issuer_is_an_issuing_member(catalog: Catalog) -> None:
    members = {m["code"]: m for m in RAW_MEMBERS}
    for license_type in catalog.license_types.values():
        assert license_type.issuers, license_type.name
        for issuer in license_type.issuers:
            assert issuer in members, (license_type.name, issuer)
            assert "ISSUER" in members[issuer]["roles"], (license_type.name, issuer)


@pytest.mark.parametrize(
    ("name", "roles"),
    [
        ("济南市公安局", {"ISSUER", "CONSUMER"}),
        ("济南市市场监督管理局", {"ISSUER", "CONSUMER"}),
        ("济南市人力资源和社会保障局", {"ISSUER", "CONSUMER"}),
        ("国家税务总局济南市税务局", {"CONSUMER"}),
        ("济南市医疗保障局", {"CONSUMER"}),
        ("济南市不动产登记中心", {"CONSUMER"}),
        ("济南市数字政务服务中心", {"HOLDER_PORTAL"}),
        ("广州市政务服务和数据管理局", {"PARTNER"}),
        ("济南市大数据局", {"ADMIN"}),
    ],
)
def test_member_roles(name: str, roles: set[str]) -> None:
    assert set(member_named(name)["roles"]) == roles


def test_one_partner_outside_shandong() -> None:
    partners = [m for m in RAW_MEMBERS if "PARTNER" in m["roles"]]
    assert [m["region"] for m in partners] == ["440100"]


# --- matters and bundles -------------------------------------------------------------------------------------------


def test_matters_and_bundles(catalog: Catalog) -> None:
    assert len(catalog.matters) >= 6
    for matter in catalog.matters.values():
        assert matter.code.isascii()
        assert matter.name and matter.purpose and matter.department
        assert matter.materials
        for material in matter.materials:
            license_type = catalog.license_type(material.type_code)
            # a type never shared is listed for verification only (SCENARIOS: a 护照 its holder presents), with no
            # field, which the matter would never read
            never_shared = license_type.sharing_class is SharingClass.NOT_SHARED
            assert bool(material.fields) is not never_shared, (matter.code, material.type_code)
            assert set(material.full_fields) <= set(material.fields)
            for key in material.full_fields:
                spec = license_type.field_spec(key)
                assert spec is not None and spec.sensitivity is Sensitivity.SENSITIVE, (matter.code, key)
            for key in material.fields:
                assert license_type.field_sharing_class(key) is not SharingClass.NOT_SHARED, (matter.code, key)
    bundles = {b.name: b for b in catalog.bundles.values()}
    assert set(bundles) >= {"企业开办一件事", "新生儿出生一件事"}
    matter_names = {catalog.matter(code).name for code in bundles["企业开办一件事"].matter_codes}
    assert matter_names >= {"企业印章刻制", "发票申领", "社保登记"}
    matter_names = {catalog.matter(code).name for code in bundles["新生儿出生一件事"].matter_codes}
    assert matter_names >= {"出生登记", "参保登记"}


def test_the_id_cards_holder_alone_is_claimable_under_any_matter(catalog: Catalog) -> None:
    """SCENARIOS: a 居民身份证's data-free claim check is always allowed; it had been refused under every matter not
    listing the card (a reviewer, R4). No other type's holder is confirmed to a matter that needs none of it."""
    claimable = {t.name for t in catalog.license_types.values() if t.claimable_under_any_matter}
    assert claimable == {"居民身份证"}


def test_the_passport_is_listed_for_verification_only(catalog: Catalog) -> None:
    """SCENARIOS: a 护照, not shared, is used in "verification of a holder-presented document only". No matter had
    listed it, so no department could verify one (a reviewer, R3): 不动产转移登记 takes it, optional, reading none of
    it."""
    listing = {
        matter.name: material
        for matter in catalog.matters.values()
        for material in matter.materials
        if material.type_code == "111000009910000279001"
    }
    assert set(listing) == {"不动产转移登记"}
    assert (listing["不动产转移登记"].fields, listing["不动产转移登记"].required) == ((), False)


def test_matter_departments_match_scenarios(catalog: Catalog) -> None:
    departments = {m.name: m.department for m in catalog.matters.values()}
    assert departments["企业印章刻制"] == "济南市公安局"
    assert departments["发票申领"] == "国家税务总局济南市税务局"
    assert departments["社保登记"] == "济南市人力资源和社会保障局"
    assert departments["出生登记"] == "济南市公安局"
    assert departments["参保登记"] == "济南市医疗保障局"
    assert departments["不动产转移登记"] == "济南市不动产登记中心"


def test_every_matter_has_a_member_to_handle_it(catalog: Catalog) -> None:
    """Departments act only under the matters they handle, matched by name (``uses_matter``), so a matter whose
    department is spelled differently from the member's name could be used by no one: each is a member's name, or
    a matter of another region that region's partner gateway uses."""
    members = [_member(raw) for raw in RAW_MEMBERS]
    for matter in catalog.matters.values():
        users = [m.name for m in members if uses_matter(m, matter) and not m.has(Role.ADMIN)]
        assert users, matter.code
        assert matter.department in users or matter.region != "370100", (matter.code, users)
    assert [m.code for m in matters_of(_named(members, "国家税务总局济南市税务局"), catalog)] == ["370100-FPSL-001"]
    assert [m.code for m in matters_of(_named(members, "广州市政务服务和数据管理局"), catalog)] == ["440100-SBZY-001"]
    assert matters_of(_named(members, "济南市民政局"), catalog) == []  # issues 结婚证, handles no matter here
    assert len(matters_of(_named(members, "济南市大数据局"), catalog)) == len(catalog.matters)


def test_a_matter_region_is_its_code_leading_division(catalog: Catalog) -> None:
    assert catalog.matter("370100-QYKZ-001").region == "370100"
    assert catalog.matter("440100-SBZY-001").region == "440100"
    matter = catalog.matter("370100-QYKZ-001")
    for code in ("QYKZ-001", "37010-QYKZ-001", "３７０１００-QYKZ-001", "370100", "3701000-X"):
        assert dataclasses.replace(matter, code=code).region == "", code
    partner = Member(
        code="11440100994401010G", name="广州市政务服务和数据管理局", region="440100", roles=frozenset({Role.PARTNER})
    )
    assert not uses_matter(partner, dataclasses.replace(matter, code="440100"))  # no region: not the partner's
    assert not uses_matter(
        dataclasses.replace(partner, roles=frozenset({Role.CONSUMER})), catalog.matter("440100-SBZY-001")
    )  # a region's own consumer names its matters by name


def test_a_provinces_partner_names_its_cities_and_counties_matters(catalog: Catalog) -> None:
    """A province's partner gateway (广东, 440000) forwards for its cities: it had been given none of their matters,
    the region compared whole (a partner-gateway tester). A division contains those its code leads: a province the
    codes of its first two digits, a city those of its first four; a county only itself."""
    sbzy = catalog.matter("440100-SBZY-001")
    partner = Member(
        code="114400009944000104", name="广东省政务服务和数据管理局", region="440000", roles=frozenset({Role.PARTNER})
    )

    def named(code: str) -> bool:
        return uses_matter(partner, dataclasses.replace(sbzy, code=code))

    assert [named(c) for c in ("440100-SBZY-001", "440303-X-1", "440000-X-1", "450100-X-1", "370100-X-1")] == [
        True, True, True, False, False
    ]  # fmt: skip
    city = dataclasses.replace(partner, region="440100")
    assert [uses_matter(city, dataclasses.replace(sbzy, code=c)) for c in ("440103-X", "440300-X", "440000-X")] == [
        True, False, False
    ]  # fmt: skip
    county = dataclasses.replace(partner, region="440103")
    assert [uses_matter(county, dataclasses.replace(sbzy, code=c)) for c in ("440103-X", "440100-X")] == [True, False]
    assert not uses_matter(dataclasses.replace(partner, region=""), sbzy)
    assert [m.code for m in matters_of(partner, catalog)] == ["440100-SBZY-001"]


def _member(raw: dict[str, Any]) -> Member:
    return Member(code=raw["code"], name=raw["name"], region=raw["region"], roles=frozenset(map(Role, raw["roles"])))


def _named(members: list[Member], name: str) -> Member:
    (member,) = [m for m in members if m.name == name]
    return member


def test_social_insurance_registration_prefills_four_keys(catalog: Catalog) -> None:
    matter = catalog.matter("370100-SBDJ-001")
    (material,) = matter.materials
    license_type = catalog.license_type(material.type_code)
    assert license_type.name == "营业执照"
    labels = [license_type.field_spec(key).label for key in material.fields]  # type: ignore[union-attr]
    assert labels == ["名称", "统一社会信用代码", "法定代表人", "住所"]
    # the form's 企业名称 (SCENARIOS: 企业名称, 统一社会信用代码, 法定代表人, 住所) is the license's 名称
    assert [f.key for f in license_type.fields if f.named("企业名称")] == ["company_name"]


def test_a_name_that_would_name_two_fields_of_a_type_is_refused() -> None:
    """A form key is matched by label or form label: one naming two fields could fill either."""
    data = raw()
    id_card(data)["fields"][0]["form_labels"] = ["住址"]  # the address field's label
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "证照类型 11100000991000019E001 的信息项 name 与 address 都名为“住址”（label 或 form_labels）："
        "表单按名称找信息项，一个名称只能指一个信息项，请改正其中一个",
        "license type 11100000991000019E001: '住址' names both name and address",
    )
    data = raw()
    id_card(data)["fields"][0]["form_labels"] = ["  "]
    with pytest.raises(ValueError, match="form_labels must not be blank"):
        Catalog.from_mapping(data)


def test_seal_engraving_needs_licence_and_id_card_but_no_photo(catalog: Catalog) -> None:
    matter = catalog.matter("370100-QYKZ-001")
    names = [catalog.license_type(m.type_code).name for m in matter.materials]
    assert names == ["营业执照", "居民身份证"]
    assert all("photo" not in m.fields for m in matter.materials)


def test_birth_registration_needs_parents_ids_in_full(catalog: Catalog) -> None:
    matter = catalog.matter("370100-CSDJ-001")
    birth = next(m for m in matter.materials if catalog.license_type(m.type_code).name == "出生医学证明")
    assert set(birth.full_fields) == {"mother_citizen_id", "father_citizen_id"}


def test_unknown_lookups_raise_not_found(catalog: Catalog) -> None:
    from gateway.domain.errors import NotFoundError

    said = (
        r"^证照目录中没有证照类型代码 11100000000013338W999，请按证照目录填写"
        r"（unknown license type '11100000000013338W999'）$"
    )
    with pytest.raises(NotFoundError, match=said):
        catalog.license_type("11100000000013338W999")
    with pytest.raises(
        NotFoundError, match=r"^事项目录中没有事项编码 NOPE，请按事项目录填写（unknown matter 'NOPE'）$"
    ):
        catalog.matter("NOPE")


# --- the loader refuses bad data -----------------------------------------------------------------------------------


def raw() -> dict[str, Any]:
    return copy.deepcopy(RAW_CATALOG)


def id_card(data: dict[str, Any]) -> dict[str, Any]:
    return next(t for t in data["license_types"] if t["name"] == "居民身份证")


def test_loader_rejects_unknown_type_key() -> None:
    data = raw()
    id_card(data)["colour"] = "red"
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == unknown_keys(
        "证照类型 11100000991000019E001", "license type 11100000991000019E001", "colour"
    )


def test_loader_rejects_unknown_field_key() -> None:
    data = raw()
    id_card(data)["fields"][0]["secret"] = True
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == unknown_keys(
        "证照类型 11100000991000019E001 的信息项 name", "field name of 11100000991000019E001", "secret"
    )


def test_loader_rejects_unknown_matter_key() -> None:
    data = raw()
    data["matters"][0]["fee"] = "0"
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == unknown_keys("事项 370100-QYKZ-001", "matter 370100-QYKZ-001", "fee")


def test_loader_rejects_matter_naming_unknown_type() -> None:
    data = raw()
    data["matters"][0]["materials"][0]["type_code"] = "11100000000013338W999"
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "事项 370100-QYKZ-001（企业印章刻制）的材料中的证照类型代码 11100000000013338W999 不是本文件 license_types 中的"
        "任何一类：请改正为其中一类的 code，或先在 license_types 中写上这类证照",
        "matter 370100-QYKZ-001: unknown license type 11100000000013338W999",
    )


def test_loader_names_a_material_without_a_type_code_by_its_place() -> None:
    """A material whose type code is missing or no string is said by its place in the matter: it had been named
    材料 None (material None)."""
    refused(
        lambda d: matter(d)["materials"][1].pop("type_code"),
        said(
            f"事项 {QYKZ} 的第 2 项材料缺少键 'type_code'：请按 docs/catalog.md 写上",
            f"missing 'type_code' in matter {QYKZ}: material 2",
        ),
    )
    refused(
        lambda d: matter(d)["materials"][0].update(type_code=None),
        said(
            f"事项 {QYKZ} 的第 1 项材料的 type_code 须为字符串（加英文双引号），请改正",
            f"matter {QYKZ}: material 1: type_code must be a string",
        ),
    )


def test_loader_rejects_matter_naming_unknown_field() -> None:
    data = raw()
    data["matters"][0]["materials"][0]["fields"].append("shoe_size")
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "事项 370100-QYKZ-001（企业印章刻制）的材料 1110000099"
        "10000354001（营业执照）列出的信息项 shoe_size 不是这类证照"
        "的信息项：请按该证照类型 fields 中的 key 改正或删去",
        "matter 370100-QYKZ-001: type 111000009910000354001 has no field shoe_size",
    )


def test_loader_rejects_bundle_naming_unknown_matter() -> None:
    data = raw()
    data["bundles"][0]["matters"].append("NOPE")
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "一件事 370100-YJS-QYKB（企业开办一件事）的 matters 中的 NOPE 不是本文件 matters 中的事项编码：请改正，或先在 "
        "matters 中写上该事项",
        "bundle 370100-YJS-QYKB: unknown matter NOPE",
    )


def test_loader_names_the_matter_a_bundle_names_in_another_case() -> None:
    """Matter codes are told apart ignoring case, and a bundle names one exactly: the one meant is named."""
    data = raw()
    data["bundles"][0]["matters"].append("370100-spjc-001")
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "一件事 370100-YJS-QYKB（企业开办一件事）的 matters 中的 3"
        "70100-spjc-001 与本文件的事项编码 370100-SPJC-001 只差"
        "大小写：事项编码须照写，请改为 370100-SPJC-001",
        "bundle 370100-YJS-QYKB: unknown matter 370100-spjc-001: did you mean 370100-SPJC-001?",
    )


def test_loader_names_a_field_whose_key_cannot_be_used_by_its_place() -> None:
    """A key that is no snake_case, or no string, is said where it is (the type's 2nd field) in Chinese first, with
    what a key may be: it had read field 'Sex' of …: keys are ASCII snake_case, in English alone."""
    refused(
        lambda d: id_card(d)["fields"][1].update(key="Sex"),
        said(
            f"证照类型 {ID_CARD} 的第 2 个信息项的 key 'Sex' 不能用：信息项的 key 须为 ASCII 的 snake_case，即小写字母 "
            "a–z、数字 0–9 和 _，以字母开头，至多 64 个字符，请改正",
            f"field 2 of {ID_CARD}: keys are ASCII snake_case (a-z, 0-9, _)",
        ),
    )
    refused(
        lambda d: id_card(d)["fields"][1].update(key=5),
        said(
            f"证照类型 {ID_CARD} 的第 2 个信息项的 key 须为字符串（加英文双引号），请改正",
            f"field 2 of {ID_CARD}: key must be a string",
        ),
    )


def test_loader_rejects_enum_without_choices() -> None:
    data = raw()
    gender = next(f for f in id_card(data)["fields"] if f["key"] == "gender")
    del gender["choices"]
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "证照类型 11100000991000019E001 的信息项 gender 的 type 为 ENUM，却没有 choices：请在 choices 中列出它可取的值",
        "field gender of 11100000991000019E001: ENUM needs choices",
    )


@pytest.mark.parametrize(
    ("key", "of_holder", "chinese", "message"),
    [
        (
            "ethnicity",
            "birth_date",
            "的 of_holder 为 birth_date（持证人的出生日期），其 type 须为 DATE，而不是 STRING",
            "of_holder birth_date needs a field of type DATE",
        ),
        (
            "birth_date",
            "name",
            "的 of_holder 为 name（持证主体名称），其 type 须为 STRING，而不是 DATE",
            "of_holder name needs a field of type STRING",
        ),
        (
            "ethnicity",
            "sex",
            "的 of_holder 为 sex（持证人的性别），其 type 须为 ENUM，而不是 STRING",
            "of_holder sex needs a field of type ENUM",
        ),
    ],
)
def test_loader_rejects_an_of_holder_the_field_cannot_state(
    key: str, of_holder: str, chinese: str, message: str
) -> None:
    data = raw()
    next(f for f in id_card(data)["fields"] if f["key"] == key)["of_holder"] = of_holder
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        f"证照类型 11100000991000019E001 的信息项 {key} {chinese}：请改正 type 或删去 of_holder",
        f"field {key} of 11100000991000019E001: {message}",
    )


def test_loader_rejects_an_of_holder_not_in_its_table() -> None:
    refused(
        lambda d: id_card_field(d, "name").update(of_holder="nickname"),
        said(
            f"证照类型 {ID_CARD} 的信息项 name 的 of_holder 不能为 'nickname'，须为 name, code, birth_date, sex 之一"
            "（大小写照写）",
            f"field name of {ID_CARD}: of_holder 'nickname' is not one of name, code, birth_date, sex",
        ),
    )


@pytest.mark.parametrize(
    "key",
    ["ethnicity", "birth_date"],
)
def test_loader_takes_may_be_future_only_on_a_date_not_of_the_holder(key: str) -> None:
    """A date still to come (a 下次检验日期) may be marked so; a text has no date, and a birth date is never ahead."""
    data = raw()
    next(f for f in id_card(data)["fields"] if f["key"] == key)["may_be_future"] = True
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        f"证照类型 11100000991000019E001 的信息项 {key} 的 may_be_future 只能用于 type 为 DATE、且没有 of_holder 的"
        "信息项（持证人不会在今后出生）：请删去 may_be_future 或改正 type",
        f"field {key} of 11100000991000019E001: may_be_future needs a field of type DATE not of_holder (nobody is born "
        "later)",
    )
    permit = next(t for t in data["license_types"] if t["name"] == "食品生产许可证")
    permit["fields"].append({"key": "next_inspection", "label": "下次检验日期", "type": "DATE", "may_be_future": True})
    next(f for f in id_card(data)["fields"] if f["key"] == key).pop("may_be_future")
    loaded = Catalog.from_mapping(data)
    spec = by_name(loaded, "食品生产许可证").field_spec("next_inspection")
    assert spec is not None and spec.may_be_future
    assert not any(f.may_be_future for t in loaded.license_types.values() for f in t.fields if f is not spec)


def test_loader_rejects_a_sex_field_without_both_choices() -> None:
    data = raw()
    next(f for f in id_card(data)["fields"] if f["key"] == "gender")["choices"] = ["M", "F"]
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "证照类型 11100000991000019E001 的信息项 gender 的 of_holder 为 sex（持证人的性别），其 choices 须含“男”和“女”"
        "（与公民身份号码所载的性别比对），请补上",
        "field gender of 11100000991000019E001: of_holder sex needs the choices 男 and 女",
    )


def test_the_bootstrap_catalog_ties_names_codes_births_and_sexes_to_the_holder(catalog: Catalog) -> None:
    tied = {(t.name, f.key, f.of_holder.value) for t in catalog.license_types.values() for f in t.fields if f.of_holder}
    assert {
        ("居民身份证", "citizen_id", "code"),
        ("营业执照", "company_name", "name"),
        ("出生医学证明", "gender", "sex"),
    } <= tied
    assert len(tied) == 21


TYPE_CODE_FORM = "证照类型代码须为 21 位：定义该类证照的部门的统一社会信用代码（18 位）加 3 位数字的顺序号"


@pytest.mark.parametrize(
    ("code", "chinese", "message"),
    [
        (
            "11100000991000019E01",
            TYPE_CODE_FORM,
            "must be the defining authority's 18-character USCC followed by 3 digits",
        ),
        (
            "11100000991000019E0011",
            TYPE_CODE_FORM,
            "must be the defining authority's 18-character USCC followed by 3 digits",
        ),
        (
            "11100000991000019EA01",
            TYPE_CODE_FORM,
            "must be the defining authority's 18-character USCC followed by 3 digits",
        ),
        (
            "11100000991000019F001",
            "其前 18 位（定义该类证照的部门的统一社会信用代码）校验码不符（GB 32100）",
            "check character does not match (GB 32100)",
        ),
    ],
)
def test_loader_rejects_bad_type_code(code: str, chinese: str, message: str) -> None:
    data = raw()
    id_card(data)["code"] = code
    for matter in data["matters"]:
        for material in matter["materials"]:
            if material["type_code"] == "11100000991000019E001":
                material["type_code"] = code
    with pytest.raises(ValueError) as excinfo:
        Catalog.from_mapping(data)
    assert str(excinfo.value) == said(
        f"证照类型 {code}（居民身份证）的 code 不能用：{chinese}，请改正", f"license type {code}: {message}"
    )


def test_loader_rejects_bad_issuer() -> None:
    data = raw()
    id_card(data)["issuers"] = ["1137010099370102XK"]
    with pytest.raises(ValueError) as excinfo:
        Catalog.from_mapping(data)
    assert str(excinfo.value) == said(
        "证照类型 11100000991000019E001（居民身份证）的 issuers 中的 1137010099370102XK 不是有效的统一社会信用代码："
        "校验码不符（GB 32100），请按发证部门的统一社会信用代码改正",
        "license type 11100000991000019E001: issuer 1137010099370102XK: check character does not match (GB 32100)",
    )


def test_loader_rejects_unknown_holder_code_type() -> None:
    data = raw()
    id_card(data)["holder_code_types"] = ["111", "999"]
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "证照类型 11100000991000019E001（居民身份证）的 holder_code_types 中的 999 不是持证主体代码类型："
        "须为 111、001、414、516、511、554、099 之一（GB/T 36903，见 docs/catalog.md），请改正或删去",
        "license type 11100000991000019E001: unknown holder code type 999",
    )


def test_loader_rejects_a_holder_code_type_of_the_other_kind_of_holder() -> None:
    """A person's type held under a credit code would show its holders whole to a verifier, as an organisation's
    public registration is shown (a reviewer)."""
    data = raw()
    id_card(data)["holder_code_types"] = ["111", "001"]
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == said(
        "证照类型 11100000991000019E001（居民身份证）的 holder_code_types 中的 001（统一社会信用代码）"
        "是单位的代码类型，而其 holder_kind 为 PERSON（个人）：请删去该代码类型或改正 holder_kind",
        "license type 11100000991000019E001: holder code type 001 is a ORGANIZATION code, and its holders are of kind "
        "PERSON",
    )


def test_loader_rejects_duplicate_field_keys_naming_the_key() -> None:
    data = raw()
    fields = id_card(data)["fields"]
    fields.append({**fields[0], "label": "姓名（二）"})
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == (
        "证照类型 11100000991000019E001（居民身份证）的信息项 key name 写了两次：每个信息项的 key 须各不相同，"
        "请删去重复的信息项或改正其 key（license type 11100000991000019E001: duplicate field key name）"
    )


def test_loader_rejects_duplicate_type_codes_naming_the_code_and_both_entries() -> None:
    data = raw()
    data["license_types"].append({**copy.deepcopy(id_card(data)), "name": "居民身份证（二）"})
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    last = len(data["license_types"])
    assert str(refused.value) == (
        f"证照类型代码 {ID_CARD} 写了两次（license_types 的第 1 项和第 {last} 项）：每类证照只写一次，"
        f"请删去重复的一项或改正其代码（license type code {ID_CARD} is given twice: license types 1 and {last}）"
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [("sharing_class", "SOMETIMES"), ("holder_kind", "ROBOT")],
)
def test_loader_rejects_unknown_enum_values(key: str, value: str) -> None:
    data = raw()
    id_card(data)[key] = value
    with pytest.raises(ValueError, match=rf"^证照类型 11100000991000019E001 的 {key} 不能为 '{value}'，须为 "):
        Catalog.from_mapping(data)


ID_CARD = "11100000991000019E001"
QYKZ = "370100-QYKZ-001"
QYKB = "370100-YJS-QYKB"
Mutation = Callable[[dict[str, Any]], object]


def matter(data: dict[str, Any]) -> dict[str, Any]:
    return data["matters"][0]  # 370100-QYKZ-001


def bundle(data: dict[str, Any]) -> dict[str, Any]:
    return data["bundles"][0]  # 370100-YJS-QYKB


def id_card_field(data: dict[str, Any], key: str) -> dict[str, Any]:
    return next(f for f in id_card(data)["fields"] if f["key"] == key)


def said(chinese: str, english: str) -> str:
    """A refusal of the loader: what is wrong and what to do in Chinese, the entry named, then in English."""
    return f"{chinese}（{english}）"


def unknown_keys(where: str, where_en: str, *keys: str) -> str:
    """The loader's words for ``keys`` that ``where`` (in Chinese, then ``where_en``) may not have."""
    named = "、".join(repr(key) for key in keys)
    return said(
        f"{where}{' ' if where[-1].isascii() else ''}没有键 {named}"
        "：请对照 docs/catalog.md 改正其拼写（大小写、多余的空格）或删去",
        f"{where_en}: unknown keys {list(keys)}",
    )


def refused(mutate: Mutation, message: str) -> None:
    data = raw()
    mutate(data)
    with pytest.raises(ValueError) as excinfo:
        Catalog.from_mapping(data)
    assert str(excinfo.value) == message


def another_id_card(data: dict[str, Any], **changes: object) -> None:
    """A second type like the 居民身份证, under another code (another sequence of the same authority)."""
    data["license_types"].append({**copy.deepcopy(id_card(data)), "code": ID_CARD[:-3] + "009", **changes})


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: another_id_card(d, name_en="Resident Card"),
            f"证照类型 {ID_CARD} 与 {ID_CARD[:-3]}009 同名“居民身份证”：证照类型的名称（name、name_en）须各不相同，"
            f"请改正其中一个（license types {ID_CARD} and {ID_CARD[:-3]}009 have the same name '居民身份证'）",
        ),
        (  # English names are told apart whatever their case, as `zzgw verify --type` matches them
            lambda d: another_id_card(d, name="居民身份证（临时）", name_en="resident IDENTITY card"),
            f"证照类型 {ID_CARD} 与 {ID_CARD[:-3]}009 同名“Resident Identity Card”：证照类型的名称（name、name_en）"
            f"须各不相同，请改正其中一个（license types {ID_CARD} and {ID_CARD[:-3]}009 have the same name "
            "'Resident Identity Card'）",
        ),
        (
            lambda d: id_card(d)["holder_code_types"].append("111"),
            said(
                f"证照类型 {ID_CARD} 的 holder_code_types 中持证主体代码类型“111”写了两次，请删去一个",
                f"license type {ID_CARD}: holder_code_types: holder code type '111' is listed twice",
            ),
        ),
        (  # no license of the type could be issued
            lambda d: id_card(d).update(holder_code_types=[]),
            said(
                f"证照类型 {ID_CARD} 的 holder_code_types 为空：请列出持证主体代码类型，如 001（统一社会信用代码）",
                f"license type {ID_CARD}: holder_code_types is empty: list the holder code types, e.g. 001",
            ),
        ),
        (
            lambda d: id_card_field(d, "gender")["choices"].append("男"),
            said(
                f"证照类型 {ID_CARD} 的信息项 gender 的 choices 中可选值“男”写了两次，请删去一个",
                f"field gender of {ID_CARD}: choices: choice '男' is listed twice",
            ),
        ),
        (
            lambda d: matter(d)["materials"][1]["fields"].append("name"),
            said(
                f"事项 {QYKZ} 的材料 {ID_CARD} 的 fields 中信息项“name”写了两次，请删去一个",
                f"matter {QYKZ}: material {ID_CARD}: fields: field 'name' is listed twice",
            ),
        ),
        (
            lambda d: matter(d)["materials"].append({"type_code": ID_CARD, "fields": ["address"]}),
            f"事项 {QYKZ}（企业印章刻制）的材料中证照类型 {ID_CARD} 写了两次：每类证照只写一次，把所需的信息项合在一处"
            f"（matter {QYKZ}: license type {ID_CARD} is listed twice in materials: list it once, with every field "
            "the matter needs）",
        ),
    ],
)
def test_loader_refuses_what_is_given_twice(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


@pytest.mark.parametrize(
    ("choice", "problem"),
    [
        ("男\u2028性", "性别含有控制字符 U+2028（fields.gender contains control characters: U+2028）"),
        ("未\u200b知", "性别含有不可见字符 U+200B（fields.gender contains invisible characters: U+200B）"),
        ("\u202e女男", "性别含有文字方向控制符 U+202E（fields.gender contains bidirectional controls: U+202E）"),
        ("\u3000", "可选值不能为空（a choice must not be blank）"),
        (" 未知", "可选值须写作“未知”：证照信息按此保存（a value is kept as '未知': write the choice so）"),
        ("Rene\u0301e", "可选值须写作“Renée”：证照信息按此保存（a value is kept as 'Renée': write the choice so）"),
        ("未" * 65, "性别不得超过64个字符（fields.gender must be at most 64 characters）"),
    ],
)
def test_loader_refuses_a_choice_no_license_could_state(choice: str, problem: str) -> None:
    """A choice is checked as a license's value is: one with a line separator had been loaded, offered to issuers,
    and every license stating it refused as holding a control character (a reviewer)."""

    def listed(data: dict[str, Any]) -> None:
        id_card_field(data, "gender").update(choices=["男", "女", choice], max_length=64)

    refused(
        listed,
        said(
            f"证照类型 {ID_CARD} 的信息项 gender 的 choices 中的可选值 {choice!r} 不能用：{problem}；"
            "请改正或删去该可选值",
            f"field gender of {ID_CARD}: choice {choice!r} is one no license could state",
        ),
    )


def test_loader_takes_types_without_an_english_name() -> None:
    data = raw()
    another_id_card(data, name="居民身份证（临时）", name_en="")
    id_card(data)["name_en"] = ""
    assert len(Catalog.from_mapping(data).license_types) == len(RAW_CATALOG["license_types"]) + 1


@pytest.mark.parametrize(
    ("type_class", "field_class"),
    [("CONDITIONAL", "UNCONDITIONAL"), ("NOT_SHARED", "UNCONDITIONAL"), ("NOT_SHARED", "CONDITIONAL")],
)
def test_loader_refuses_a_field_looser_than_its_type(type_class: str, field_class: str) -> None:
    """A type made 不予共享 had still shared a field marked UNCONDITIONAL: a field may only keep more back."""
    data = raw()
    id_card(data)["sharing_class"] = type_class
    id_card_field(data, "name")["sharing_class"] = field_class
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    words = {"UNCONDITIONAL": "无条件共享", "CONDITIONAL": "有条件共享", "NOT_SHARED": "不予共享"}
    assert str(refused.value) == (
        f"证照类型 {ID_CARD}（居民身份证）为“{words[type_class]}”，其信息项 name（姓名）却标为更宽的"
        f"“{words[field_class]}”：信息项的共享类别只能与证照类型相同或更严，请删去该信息项的 sharing_class 或把它改严"
        "（field name of license "
        f"type {ID_CARD} is {field_class}, looser than the type's {type_class}）"
    )


@pytest.mark.parametrize("type_class", ["UNCONDITIONAL", "CONDITIONAL", "NOT_SHARED"])
def test_loader_takes_a_field_as_strict_as_its_type_or_stricter(type_class: str) -> None:
    order = ["UNCONDITIONAL", "CONDITIONAL", "NOT_SHARED"]
    for field_class in order[order.index(type_class) :]:
        data = raw()
        id_card(data)["sharing_class"] = type_class
        id_card_field(data, "name")["sharing_class"] = field_class
        loaded = Catalog.from_mapping(data).license_type(ID_CARD)
        assert loaded.field_sharing_class("name") is SharingClass(field_class)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (  # the demo has 9 matters and 2 bundles: the copy is the 10th, the 3rd
            lambda d: d["matters"].append(copy.deepcopy(matter(d))),
            said(
                f"事项编码 {QYKZ} 写了两次（matters 的第 1 项"
                "和第 10 项）：每个事项只写一次，请删去重复的一项或改正其编码",
                f"matter code {QYKZ} is given twice: matters 1 and 10",
            ),
        ),
        (
            lambda d: d["bundles"].append(copy.deepcopy(bundle(d))),
            said(
                f"一件事编码 {QYKB} 写了两次（bundles 的第 1 项和第 3 项）：每个一件事只写一次，请删去重复的一项或改正"
                "其编码",
                f"bundle code {QYKB} is given twice: bundles 1 and 3",
            ),
        ),
        (
            lambda d: d["matters"].append({**copy.deepcopy(matter(d)), "code": QYKZ.lower()}),
            said(
                f"事项编码 {QYKZ.lower()}（matters 的第 10 项）与 {QYKZ}（第 1 项）只差大小写：事项编码不分大小写，"
                "须各不相同，请删去重复的一项或改正其编码",
                f"matter {QYKZ.lower()}: code differs from {QYKZ} only in case: matters 1 and 10",
            ),
        ),
        (
            lambda d: d["bundles"].append({**copy.deepcopy(bundle(d)), "code": "370100-yjs-qykb"}),
            said(
                f"一件事编码 370100-yjs-qykb（bundles 的第 3 项）与 {QYKB}（第 1 项）只差大小写：一件事编码不分大小写，"
                "须各不相同，请删去重复的一项或改正其编码",
                f"bundle 370100-yjs-qykb: code differs from {QYKB} only in case: bundles 1 and 3",
            ),
        ),
    ],
)
def test_loader_rejects_duplicate_codes(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


@pytest.mark.parametrize(("what", "words"), [("matter", "事项编码"), ("bundle", "一件事编码")])
@pytest.mark.parametrize(
    "code",
    ["", "X" * 41, " 370100-QYKZ-001", "370100-QYKZ-001 ", "370100 QYKZ", "370100-QYKZ\n001", "事项-001", 370100, None],
)
def test_loader_rejects_bad_matter_and_bundle_codes(what: str, words: str, code: object) -> None:
    refused(
        lambda d: d[f"{what}s"][0].update(code=code),
        said(
            f"{what}s 的第 1 项的 code {code!r} 不能用：{words}须为 1–40 个可打印的 ASCII 字符（字母、数字、- 等），"
            "不含空格、汉字和全角字符，请改正",
            f"{what} 1: code {code!r} must be a string of 1-40 printable ASCII characters, no spaces",
        ),
    )


@pytest.mark.parametrize(("what", "where"), [("matter", "matters 的第 1 项"), ("bundle", "bundles 的第 1 项")])
def test_loader_names_a_matter_or_bundle_without_a_code_by_its_place(what: str, where: str) -> None:
    refused(
        lambda d: d[f"{what}s"][0].pop("code"), said(f"{where}缺少键 'code'：请写上其编码", f"{what} 1: missing 'code'")
    )


def test_loader_takes_a_40_character_code() -> None:
    data = raw()
    matter(data)["code"] = bundle(data)["matters"][0] = "370100-" + "X" * 33
    assert "370100-" + "X" * 33 in Catalog.from_mapping(data).matters


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: matter(d).update(department=""),
            said(f"事项 {QYKZ} 的 department 为空，请填写", f"matter {QYKZ}: department must not be blank"),
        ),
        (
            lambda d: matter(d).update(department=" \u3000"),
            said(f"事项 {QYKZ} 的 department 为空，请填写", f"matter {QYKZ}: department must not be blank"),
        ),
        (
            lambda d: matter(d).update(department=None),
            said(
                f"事项 {QYKZ} 的 department 须为字符串（加英文双引号），请改正",
                f"matter {QYKZ}: department must be a string",
            ),
        ),
        (
            lambda d: matter(d).update(department=["济南市公安局"]),
            said(
                f"事项 {QYKZ} 的 department 须为字符串（加英文双引号），请改正",
                f"matter {QYKZ}: department must be a string",
            ),
        ),
        (
            lambda d: matter(d).pop("department"),
            said(
                f"事项 {QYKZ} 缺少键 'department'：请按 docs/catalog.md 写上", f"missing 'department' in matter {QYKZ}"
            ),
        ),
        (
            lambda d: matter(d).update(department="济南市\t公安局"),
            said(
                f"事项 {QYKZ} 的 department 含有控制字符（换行、制表符等），请删去",
                f"matter {QYKZ}: department contains control characters",
            ),
        ),
        (
            lambda d: matter(d).update(department="济" * 201),
            said(
                f"事项 {QYKZ} 的 department 超过 200 个字符，请缩短",
                f"matter {QYKZ}: department is longer than 200 characters",
            ),
        ),
        (
            lambda d: matter(d).update(name=""),
            said(f"事项 {QYKZ} 的 name 为空，请填写", f"matter {QYKZ}: name must not be blank"),
        ),
        (
            lambda d: matter(d).update(name=42),
            said(f"事项 {QYKZ} 的 name 须为字符串（加英文双引号），请改正", f"matter {QYKZ}: name must be a string"),
        ),
        (
            lambda d: matter(d).update(purpose="  "),
            said(f"事项 {QYKZ} 的 purpose 为空，请填写", f"matter {QYKZ}: purpose must not be blank"),
        ),
        (
            lambda d: matter(d).update(purpose="事" * 201),
            said(
                f"事项 {QYKZ} 的 purpose 超过 200 个字符，请缩短",
                f"matter {QYKZ}: purpose is longer than 200 characters",
            ),
        ),
        (
            lambda d: matter(d).update(purpose="刻章\x00"),
            said(
                f"事项 {QYKZ} 的 purpose 含有控制字符（换行、制表符等），请删去",
                f"matter {QYKZ}: purpose contains control characters",
            ),
        ),
        (
            lambda d: bundle(d).update(name=""),
            said(f"一件事 {QYKB} 的 name 为空，请填写", f"bundle {QYKB}: name must not be blank"),
        ),
        (
            lambda d: bundle(d).update(name=None),
            said(f"一件事 {QYKB} 的 name 须为字符串（加英文双引号），请改正", f"bundle {QYKB}: name must be a string"),
        ),
        (
            lambda d: bundle(d).update(name="企业\n开办"),
            said(
                f"一件事 {QYKB} 的 name 含有控制字符（换行、制表符等），请删去",
                f"bundle {QYKB}: name contains control characters",
            ),
        ),
        (
            lambda d: id_card(d).update(name=" "),
            said(f"证照类型 {ID_CARD} 的 name 为空，请填写", f"license type {ID_CARD}: name must not be blank"),
        ),
        (
            lambda d: id_card(d).update(name_en=5),
            said(
                f"证照类型 {ID_CARD} 的 name_en 须为字符串（加英文双引号），请改正",
                f"license type {ID_CARD}: name_en must be a string",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(label=""),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 label 为空，请填写",
                f"field name of {ID_CARD}: label must not be blank",
            ),
        ),
    ],
)
def test_loader_rejects_bad_names(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


def test_loader_strips_departments_and_purposes() -> None:
    data = raw()
    matter(data)["department"] = " \u3000济南市公安局\u3000 "
    matter(data)["purpose"] = "  " + "事" * 200 + "\u3000"
    loaded = Catalog.from_mapping(data).matter(QYKZ)
    assert loaded.department == "济南市公安局"
    assert loaded.purpose == "事" * 200


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update({"$comment": "济南"}), unknown_keys("证照目录文件", "catalog", "$comment")),
        (
            lambda d: matter(d)["materials"][0].update(optional=True),
            unknown_keys(
                f"事项 {QYKZ} 的材料 111000009910000354001",
                f"matter {QYKZ}: material 111000009910000354001",
                "optional",
            ),
        ),
        (lambda d: bundle(d).update(region="370100"), unknown_keys(f"一件事 {QYKB}", f"bundle {QYKB}", "region")),
        (  # a key misspelt with a space: said as such, the field named by its place (it has no key then)
            lambda d: id_card(d)["fields"][2].update({"key ": id_card(d)["fields"][2].pop("key")}),
            unknown_keys(f"证照类型 {ID_CARD} 的第 3 个信息项", f"field 3 of {ID_CARD}", "key "),
        ),
        (
            lambda d: id_card(d)["fields"][2].update({"Key": 1, "label ": "民族"}),
            unknown_keys(f"证照类型 {ID_CARD} 的信息项 ethnicity", f"field ethnicity of {ID_CARD}", "Key", "label "),
        ),
    ],
)
def test_loader_rejects_unknown_keys_everywhere(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: id_card(d).update(expires="false"),
            said(
                f"证照类型 {ID_CARD} 的 expires 须为 true 或 false（不加引号），请改正",
                f"license type {ID_CARD}: expires must be true or false",
            ),
        ),
        (
            lambda d: id_card(d).update(expires=0),
            said(
                f"证照类型 {ID_CARD} 的 expires 须为 true 或 false（不加引号），请改正",
                f"license type {ID_CARD}: expires must be true or false",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(required="false"),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 required 须为 true 或 false（不加引号），请改正",
                f"field name of {ID_CARD}: required must be true or false",
            ),
        ),
        (
            lambda d: matter(d)["materials"][1].update(required="false"),
            said(
                f"事项 {QYKZ} 的材料 {ID_CARD} 的 required 须为 true 或 false（不加引号），请改正",
                f"matter {QYKZ}: material {ID_CARD}: required must be true or false",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(max_length="50"),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 max_length 须为整数（不加引号），请改正",
                f"field name of {ID_CARD}: max_length must be an integer",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(max_length=True),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 max_length 须为整数（不加引号），请改正",
                f"field name of {ID_CARD}: max_length must be an integer",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(max_length=50.0),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 max_length 须为整数（不加引号），请改正",
                f"field name of {ID_CARD}: max_length must be an integer",
            ),
        ),
        (
            lambda d: id_card_field(d, "name").update(max_length=0),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 max_length 为 0，须至少为 1，请改正",
                f"field name of {ID_CARD}: max_length must be at least 1",
            ),
        ),
        (
            lambda d: id_card(d).update(holder_code_types="111"),
            said(
                f"证照类型 {ID_CARD} 的 holder_code_types 须为列表 [ … ]，请改正",
                f"license type {ID_CARD}: holder_code_types must be a list",
            ),
        ),
        (
            lambda d: id_card(d).update(issuers="1137010099370102XJ"),
            said(
                f"证照类型 {ID_CARD} 的 issuers 须为列表 [ … ]，请改正",
                f"license type {ID_CARD}: issuers must be a list",
            ),
        ),
        (
            lambda d: id_card(d).update(issuers=[None]),
            said(
                f"证照类型 {ID_CARD} 的 issuers 须为字符串的列表，请改正",
                f"license type {ID_CARD}: issuers must be a list of strings",
            ),
        ),
        (
            lambda d: id_card(d).update(fields={}),
            said(
                f"证照类型 {ID_CARD} 的 fields 须为列表 [ … ]，请改正", f"license type {ID_CARD}: fields must be a list"
            ),
        ),
        (
            lambda d: id_card_field(d, "gender").update(choices="男女"),
            said(
                f"证照类型 {ID_CARD} 的信息项 gender 的 choices 须为列表 [ … ]，请改正",
                f"field gender of {ID_CARD}: choices must be a list",
            ),
        ),
        (
            lambda d: id_card_field(d, "gender").update(choices=["男", 2]),
            said(
                f"证照类型 {ID_CARD} 的信息项 gender 的 choices 须为字符串的列表，请改正",
                f"field gender of {ID_CARD}: choices must be a list of strings",
            ),
        ),
        (
            lambda d: id_card_field(d, "photo").update(sharing_class=None),
            said(
                f"证照类型 {ID_CARD} 的信息项 photo 的 sharing_class 须为字符串（加英文双引号），请改正",
                f"field photo of {ID_CARD}: sharing_class must be a string",
            ),
        ),
        (
            lambda d: id_card_field(d, "photo").update(sharing_class=""),
            said(
                f"证照类型 {ID_CARD} 的信息项 photo 的 sharing_class 不能为 ''，须为 UNCONDITIONAL, CONDITIONAL, "
                "NOT_SHARED 之一（大小写照写）",
                f"field photo of {ID_CARD}: sharing_class '' is not one of UNCONDITIONAL, CONDITIONAL, NOT_SHARED",
            ),
        ),
        (
            lambda d: matter(d)["materials"][1].update(fields="name"),
            said(
                f"事项 {QYKZ} 的材料 {ID_CARD} 的 fields 须为列表 [ … ]，请改正",
                f"matter {QYKZ}: material {ID_CARD}: fields must be a list",
            ),
        ),
        (
            lambda d: matter(d)["materials"][1].update(full_fields=[["name"]]),
            said(
                f"事项 {QYKZ} 的材料 {ID_CARD} 的 full_fields 须为字符串的列表，请改正",
                f"matter {QYKZ}: material {ID_CARD}: full_fields must be a list of strings",
            ),
        ),
        (
            lambda d: matter(d).update(materials=[ID_CARD]),
            said(
                f"事项 {QYKZ} 的 materials 须为对象的列表，请改正",
                f"matter {QYKZ}: materials must be a list of objects",
            ),
        ),
        (
            lambda d: bundle(d).update(matters=QYKZ),
            said(f"一件事 {QYKB} 的 matters 须为列表 [ … ]，请改正", f"bundle {QYKB}: matters must be a list"),
        ),
        (
            lambda d: d.update(matters={}),
            said("证照目录文件的 matters 须为列表 [ … ]，请改正", "catalog: matters must be a list"),
        ),
        (
            lambda d: d.update(license_types=[[]]),
            said(
                "证照目录文件的 license_types 须为对象的列表，请改正",
                "catalog: license_types must be a list of objects",
            ),
        ),
    ],
)
def test_loader_rejects_values_of_the_wrong_type(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: matter(d)["materials"][0].update(full_fields=["photo"]),
            said(
                f"事项 {QYKZ} 的材料 111000009910000354001 的 full_fields 中的 photo 不在其 fields 中：须读取全文的"
                "信息项也须列在 fields 中，请补上或删去",
                f"matter {QYKZ}: material 111000009910000354001: full_fields must be among its fields, not photo",
            ),
        ),
        (
            lambda d: matter(d).update(materials=[]),
            said(
                f"事项 {QYKZ} 的 materials 为空：请列出该事项所用的证照类型，至少一类",
                f"matter {QYKZ}: materials must name the license types the matter uses",
            ),
        ),
        (
            lambda d: bundle(d).update(matters=[]),
            said(
                f"一件事 {QYKB} 的 matters 为空：请列出这件事所含事项的编码，至少一个",
                f"bundle {QYKB}: matters must name one matter or more",
            ),
        ),
        (
            lambda d: bundle(d)["matters"].append(QYKZ),
            said(  # the duplicate named, with its places
                f"一件事 {QYKB} 的 matters 中事项编码 {QYKZ}"
                " 写了两次（第 1 项和第 4 项）：每个事项只列一次，请删去一个",
                f"bundle {QYKB}: matter {QYKZ} is listed twice in matters: items 1 and 4",
            ),
        ),
        (
            lambda d: d["license_types"][0]["fields"][0].update(choices=["甲"]),
            said(
                f"证照类型 {ID_CARD} 的信息项 name 的 type 为 STRING，不能有 choices：可选值只用于 ENUM 信息项，请删去 "
                "choices 或把 type 改为 ENUM",
                f"field name of {ID_CARD}: choices are for an ENUM field",
            ),
        ),
    ],
)
def test_loader_rejects_what_would_be_ignored(mutate: Mutation, message: str) -> None:
    refused(mutate, message)


def test_loader_says_what_is_missing() -> None:
    with pytest.raises(ValueError) as missing:
        Catalog.from_mapping({"matters": []})
    assert str(missing.value) == said(
        "证照目录文件缺少键 'license_types'：请按 docs/catalog.md 写上", "missing 'license_types' in catalog"
    )
    with pytest.raises(ValueError) as missing:
        Catalog.from_mapping({"license_types": [{"code": "111"}]})
    assert str(missing.value) == said(
        "证照类型 111 缺少键 'name'：请按 docs/catalog.md 写上", "missing 'name' in license type 111"
    )
    with pytest.raises(ValueError) as missing:
        Catalog.from_mapping({"license_types": [{"name": "营业执照"}]})
    assert str(missing.value) == said(
        "license_types 的第 1 项缺少键 'code'：请按 docs/catalog.md 写上", "missing 'code' in license type 1"
    )
    with pytest.raises(ValueError) as missing:
        Catalog.from_mapping([])  # type: ignore[arg-type]
    assert str(missing.value) == said(
        "证照目录文件须为一个 JSON 对象 { … }，含 license_types、matters 和 bundles",
        "expected an object with license_types, matters and bundles",
    )


# --- the file's text (Catalog.from_json) ---------------------------------------------------------------------------

CATALOG_TEXT = (BOOTSTRAP / "catalog.json").read_text(encoding="utf-8")


def line_of(text: str, part: str) -> int:
    """The line (from 1) on which ``part`` first begins in ``text``."""
    return text[: text.index(part)].count("\n") + 1


def test_a_file_with_a_byte_order_mark_is_the_same_catalog() -> None:
    """Windows Notepad saves UTF-8 with a BOM: it changes nothing of the JSON, nor the fingerprint."""
    plain = Catalog.from_json(CATALOG_TEXT.encode("utf-8"))
    marked = Catalog.from_json(CATALOG_TEXT.encode("utf-8-sig"))
    assert marked == plain and marked.fingerprint == plain.fingerprint == Catalog.from_mapping(RAW_CATALOG).fingerprint


def test_a_file_saved_as_gbk_is_refused_naming_the_line_and_what_to_do() -> None:
    line = line_of(CATALOG_TEXT, "居民身份证")
    with pytest.raises(ValueError) as refused:
        Catalog.from_json(CATALOG_TEXT.encode("gbk"))
    assert str(refused.value) == (
        f"第 {line} 行不是 UTF-8 编码的文字，看来是以 GBK（GB18030）编码保存的：请把文件另存为 UTF-8 编码"
        f"（not UTF-8 at line {line}, GBK it seems: save the file as UTF-8）"
    )
    with pytest.raises(ValueError) as refused:  # neither: no guess
        Catalog.from_json(b'{\n"license_types": [\n"\xff\xfe"]}')
    assert (
        str(refused.value)
        == "第 3 行不是 UTF-8 编码的文字：请把文件另存为 UTF-8 编码（not UTF-8 at line 3: save the file as UTF-8）"
    )


@pytest.mark.parametrize(
    ("edit", "second", "message"),
    [
        (  # the last one had won silently
            ('"name": "护照",', '"name": "护照", "name": "护照（新版）",'),
            '"name": "护照（新版）"',
            '键 "name" 在同一对象（code 为 111000009910000279001 的一项中）写了两次，请删去或改正其中一个'
            "（duplicate key 'name' at line {line} in code 111000009910000279001）",
        ),
        (
            ('"key": "ethnicity",', '"key": "ethnicity",\n          "required": false,'),
            '"required": true',
            '键 "required" 在同一对象（key 为 ethnicity 的一项中）写了两次，请删去或改正其中一个'
            "（duplicate key 'required' at line {line} in key ethnicity）",
        ),
        (
            ('{\n  "license_types": [', '{\n  "bundles": [],\n  "license_types": ['),
            '"bundles": [\n',
            "键 \"bundles\" 在同一对象写了两次，请删去或改正其中一个（duplicate key 'bundles' at line {line}）",
        ),
    ],
)
def test_a_key_given_twice_in_one_object_is_refused_naming_it_and_its_line(
    edit: tuple[str, str], second: str, message: str
) -> None:
    """The second of the two is named (the one Python's json would have kept)."""
    text = CATALOG_TEXT.replace(*edit, 1)
    line = text.count("\n", 0, text.index(second, text.index(edit[1]) + 1)) + 1
    with pytest.raises(ValueError) as refused:
        Catalog.from_json(text.encode("utf-8"))
    assert str(refused.value) == f"第 {line} 行：" + message.format(line=line)


@pytest.mark.parametrize(
    ("edit", "slip", "said"),
    [
        (('"111"\n      ],', '"111",\n      ],'), '"111",', "多余的逗号"),  # a list's last item
        (('"111"\n      ],', '"111" ,\n\n      ],'), '"111" ,', "多余的逗号"),  # the comma lines above the ]
        (("\n  ]\n}", "\n  ],\n}"), "\n  ],\n}", "多余的逗号"),  # an object's last member
        (('      "sharing_class": "NOT_SHARED",', '      // 护照不予共享\n      "sharing_class": "NOT_SHARED",'),
         "// 护照", "注释"),
        (('"name": "护照",', '"name": "护照" /* 旧称 */,'), "/* 旧称", "注释"),
        (("{\n", "# 证照目录\n{\n"), "# 证照目录", "注释"),
    ],
)  # fmt: skip
def test_a_trailing_comma_or_a_comment_is_said_so_at_its_own_line_and_column(
    edit: tuple[str, str], slip: str, said: str
) -> None:
    """A comma after a list's or an object's last item, and a comment, had been said as the next token's 第 N 行第 M
    列不是有效的 JSON, the comma's on the line after it (a catalog author tester): each is said as what it is, at its
    own place."""
    text = CATALOG_TEXT.replace(*edit, 1)
    at = text.index(slip) + (slip.index(",") if said == "多余的逗号" else 0)
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    with pytest.raises(ValueError) as refused:
        Catalog.from_json(text.encode("utf-8"))
    if said == "多余的逗号":
        assert str(refused.value) == (
            f"第 {line} 行第 {column} 列是多余的逗号：JSON 中最后一项之后不能有逗号，请删去它"
            f"（a trailing comma at line {line} column {column}: JSON has no comma after the last item; delete it）"
        )
    else:
        assert str(refused.value) == (
            f"第 {line} 行第 {column} 列是注释：JSON 不能有注释，请删去它（a comment at line {line} column {column}: "
            "JSON has no comments; delete it）"
        )


@pytest.mark.parametrize(
    ("edit", "wide"),
    [
        (('"name": "护照"', '"name"："护照"'), "："),
        (('"name": "护照"', '"name": “护照”'), "“"),
        (('"护照",', '"护照"，'), "，"),
    ],
)
def test_full_width_punctuation_is_said_so(edit: tuple[str, str], wide: str) -> None:
    text = CATALOG_TEXT.replace(*edit, 1)
    line = line_of(text, edit[1])
    with pytest.raises(ValueError) as refused:
        Catalog.from_json(text.encode("utf-8"))
    said = str(refused.value)
    assert said.startswith(f"第 {line} 行第 ") and f"列不是有效的 JSON：“{wide}”是全角标点" in said
    assert "（not JSON: " in said and f": line {line} column " in said


# --- what loaded and then failed at the start or at every call (a catalog reviewer: R2, R5, R6, R8) ---------------


def test_a_max_length_the_api_cannot_carry_is_refused_naming_the_field() -> None:
    """``FieldSpec.max_length`` is an int32: 2^31 had loaded, been checked and adopted, and every `zzgw serve` of the
    store had then died with a traceback building the catalog's messages (R2)."""
    from gateway.api.convert import license_type_message

    refused(
        lambda d: id_card_field(d, "name").update(max_length=2**31),
        said(
            f"证照类型 {ID_CARD} 的信息项 name 的 max_length 为 2147483648，至多为 2147483647，请改正",
            f"field name of {ID_CARD}: max_length must be at most 2147483647",
        ),
    )
    data = raw()
    id_card_field(data, "name").update(max_length=2**31 - 1)
    loaded = Catalog.from_mapping(data).license_types[ID_CARD]
    assert license_type_message(loaded).fields[[f.key for f in loaded.fields].index("name")].max_length == 2**31 - 1


@pytest.mark.parametrize(
    ("purpose", "problem"),
    [
        ("新办纳税人首次申领发票\u200b", "用证事由含有不可见字符 U+200B"),
        ("新办纳税人\u2028首次申领发票", "用证事由含有控制字符 U+2028"),
        ("\u202e票发领申次首人税纳办新", "用证事由含有文字方向控制符 U+202E"),
        ("首次申领发票（咨询 13800138000）", "用证事由中不能填写手机号码"),
        ("首次申领发票（370102199003077777）", "用证事由中不能填写公民身份号码"),
    ],
)
def test_a_purpose_every_call_would_refuse_is_refused_naming_the_matter(purpose: str, problem: str) -> None:
    """A matter's purpose is the clerk's default 用证事由: one the use context's check refuses had loaded, and every
    check sent with it was refused INVALID_ARGUMENT use.purpose (R5). Refused by the same check, naming the matter."""
    from gateway.domain.model import Member, Role
    from gateway.domain.verification import check_use

    data = raw()
    matter(data)["purpose"] = purpose
    with pytest.raises(ValueError) as excinfo:
        Catalog.from_mapping(data)
    said_ = str(excinfo.value)
    assert said_.startswith(f"事项 {QYKZ} 的 purpose（默认用证事由）不能用：{problem}"), said_
    assert said_.endswith(f"（matter {QYKZ}: purpose is one every check under the matter would refuse）"), said_
    # and the check the calls make refuses it indeed
    catalog = Catalog.from_mapping(raw())
    handler = Member(code="113701000044125710", name=catalog.matter(QYKZ).department, region="370100",
                     roles=frozenset({Role.CONSUMER}))  # fmt: skip
    with pytest.raises(Exception) as refused_call:
        check_use(QYKZ, purpose, catalog, caller=handler)
    assert problem in str(getattr(refused_call.value, "violations", refused_call.value))


def test_a_purpose_the_calls_take_is_loaded() -> None:
    """What the use context's check takes: a full-width space inside (a plain one to the check), a date."""
    data = raw()
    matter(data)["purpose"] = "企业开办\u3000刻章（2026年12月6日起）"
    assert Catalog.from_mapping(data).matter(QYKZ).purpose == "企业开办\u3000刻章（2026年12月6日起）"


def _born_later(check_holds: bool) -> str:
    """A 身份证号's shape born a year and a day from today in China (region 370102, sequence 001): its check
    character the right one, or one that does not hold (a case number's last digit, a mistyped one)."""
    import datetime as dt

    from gateway.domain.identifiers import citizen_id_check_char
    from gateway.domain.model import CHINA_TZ

    first17 = "370102" + (dt.datetime.now(CHINA_TZ).date() + dt.timedelta(days=366)).strftime("%Y%m%d") + "001"
    right = citizen_id_check_char(first17)
    return first17 + (right if check_holds else "X" if right != "X" else "0")


@pytest.mark.parametrize("check_holds", [True, False], ids=["check-character-holds", "check-character-does-not"])
def test_a_purpose_refused_once_a_date_in_it_has_passed_is_refused_now(check_holds: bool) -> None:
    """The calls' purpose check takes a region and a birth date only up to today as a 身份证号: a case number of that
    shape dated later (批复文号370102202612070012) passed it, and the catalog, checked, adopted and served, stopped
    loading once the date had passed (`zzgw serve` exit 2, a replacement worker stopping the gateway; a reviewer, R1).
    The loader takes any day as a birth date; the calls take it as before, and refuse it once that day has come."""
    import datetime as dt

    from gateway.domain.verification import check_purpose

    code = _born_later(check_holds)
    purpose = f"企业开办：批复文号{code}"
    day = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
    today: list[Any] = []
    check_purpose(purpose, today)
    assert today == []  # the calls take it today
    on_the_day: list[Any] = []
    check_purpose(purpose, on_the_day, today=day)
    assert [v.reason for v in on_the_day] == ["PERSONAL_DATA"]  # and refuse it on the day
    data = raw()
    matter(data)["purpose"] = purpose
    with pytest.raises(ValueError) as excinfo:
        Catalog.from_mapping(data)
    said_ = str(excinfo.value)
    assert said_.startswith(f"事项 {QYKZ} 的 purpose（默认用证事由）不能用：用证事由中不能填写公民身份号码"), said_


def test_a_purpose_with_a_number_no_day_can_make_an_id_is_loaded() -> None:
    """A region code and digits that are no day (a 13th month) are no 身份证号 on any day: loaded."""
    data = raw()
    matter(data)["purpose"] = "企业开办：批复文号370102202613070012"
    assert Catalog.from_mapping(data).matter(QYKZ).purpose == "企业开办：批复文号370102202613070012"


@pytest.mark.parametrize("depth", [500, 5000])
def test_a_file_nested_too_deeply_is_refused_naming_the_line(depth: int) -> None:
    """``"matters": [[[…]]]`` 500 deep had crashed the loader with a RecursionError traceback, exit 1 (R6)."""
    text = CATALOG_TEXT.replace('"matters": [', '"matters": [\n' + "[" * depth + "]" * depth + ",", 1)
    line = line_of(text, '"matters": [') + 1
    with pytest.raises(ValueError) as refused_:
        Catalog.from_json(text.encode("utf-8"))
    said_ = str(refused_.value)
    assert said_.startswith(f"第 {line} 行第 "), said_
    assert "嵌套过深" in said_ and f"nested too deeply at line {line} column " in said_, said_


def test_a_lone_surrogate_is_refused_naming_its_line() -> None:
    """A lone surrogate escape (valid JSON) passed every check and failed as the fingerprint was made, said as a
    position in a re-serialisation of the file (R8)."""
    text = CATALOG_TEXT.replace('"name": "护照",', '"name": "护照\\ud800",', 1)
    line = line_of(text, "\\ud800")
    with pytest.raises(ValueError) as refused_:
        Catalog.from_json(text.encode("utf-8"))
    said_ = str(refused_.value)
    assert said_.startswith(f"第 {line} 行第 "), said_
    assert "\\ud800" in said_ and f"at line {line} column " in said_ and "surrogates not allowed" not in said_, said_


def test_a_number_too_long_to_read_is_refused_naming_its_line() -> None:
    """5,000 digits had been said with Python's own advice to call ``sys.set_int_max_str_digits()`` (R8)."""
    text = CATALOG_TEXT.replace('"max_length": 500', '"max_length": ' + "9" * 5000, 1)
    line = line_of(text, "9" * 5000)
    with pytest.raises(ValueError) as refused_:
        Catalog.from_json(text.encode("utf-8"))
    said_ = str(refused_.value)
    assert said_.startswith(f"第 {line} 行第 "), said_
    assert "5000 位" in said_ and "set_int_max_str_digits" not in said_, said_
    assert len(said_) < 400, said_


def test_a_marriage_certificates_holder_is_one_of_the_spouses(catalog: Catalog) -> None:
    """The 结婚证's holder is its 男方 or its 女方 (a reviewer had one issued to a third person); a 出生医学证明's is
    the child, neither parent, and a 不动产权证书 names one person, not some of whom one holds it."""
    among = {t.name: t.holder_among for t in catalog.license_types.values() if t.holder_among}
    assert among == {"结婚证": ("husband_citizen_id", "wife_citizen_id")}


def _type_named(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in data["license_types"] if t["name"] == name)


_NOT_A_PERSONS_FIELD = (
    "证照类型 {code}（{name}）的 holder_among 中的 {key!r} 不是本类证照的、没有 of_holder 的 CITIZEN_ID 信息项的 key："
    "请改为写明某人公民身份号码的信息项的 key（持证人须是其中一人），或删去它（license type {code}: holder_among must "
    "name CITIZEN_ID fields of the type not of_holder, not {key!r}）"
)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: _type_named(d, "结婚证").update(holder_among=["husband_citizen_id", "bride_citizen_id"]),
            _NOT_A_PERSONS_FIELD.format(code="11100000991000043Y001", name="结婚证", key="bride_citizen_id"),
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_among=["husband_name", "wife_citizen_id"]),
            _NOT_A_PERSONS_FIELD.format(code="11100000991000043Y001", name="结婚证", key="husband_name"),
        ),
        (
            lambda d: _type_named(d, "居民身份证").update(holder_among=["citizen_id"]),
            _NOT_A_PERSONS_FIELD.format(code="11100000991000019E001", name="居民身份证", key="citizen_id"),
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_among=[]),
            "证照类型 11100000991000043Y001 的 holder_among 为空：请列出写明公民身份号码、持证人须是其中一人的信息项"
            "（如结婚证的男方、女方身份证件号），或删去 holder_among（license type 11100000991000043Y001: holder_among "
            "is empty: list the CITIZEN_ID fields one of which names the holder, or leave it out）",
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_among=["wife_citizen_id", "wife_citizen_id"]),
            "证照类型 11100000991000043Y001 的 holder_among 中信息项“wife_citizen_id”写了两次，请删去一个"
            "（license type 11100000991000043Y001: holder_among: field 'wife_citizen_id' is listed twice）",
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_among="wife_citizen_id"),
            "证照类型 11100000991000043Y001 的 holder_among 须为列表 [ … ]，请改正"
            "（license type 11100000991000043Y001: holder_among must be a list）",
        ),
        (
            lambda d: _type_named(d, "出生医学证明").update(
                holder_among=["mother_citizen_id"], holder_code_types=["099"]
            ),
            "证照类型 1110000099100006XH001（出生医学证明）的 holder_among 要求持证人是所列信息项中的一人，须与持证人"
            "的公民身份号码比对：请使 holder_kind 为 PERSON、holder_code_types 含 111（公民身份号码），或删去 "
            "holder_among（license type 1110000099100006XH001: holder_among needs a holder_kind PERSON with the "
            "holder code type 111）",
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_code_types=["111", "414"]),
            "证照类型 11100000991000043Y001（结婚证）的 holder_among 要求持证人是所列信息项中的一人，只有公民身份号码"
            "（111）能在 CITIZEN_ID 信息项中找到，以其他证件号码（414）登记的持证人无从比对：请使 holder_code_types "
            "只含 111，或删去 holder_among（license type 11100000991000043Y001: holder_among needs holder_code_types "
            "of 111 alone: only a 公民身份号码 can be found among CITIZEN_ID fields, and a holder named by 414 could "
            "not be checked）",
        ),
        (
            lambda d: _type_named(d, "结婚证").update(holder_code_types=["516", "111", "554", "414"]),
            "证照类型 11100000991000043Y001（结婚证）的 holder_among 要求持证人是所列信息项中的一人，只有公民身份号码"
            "（111）能在 CITIZEN_ID 信息项中找到，以其他证件号码（516、554、414）登记的持证人无从比对：请使 "
            "holder_code_types 只含 111，或删去 holder_among（license type 11100000991000043Y001: holder_among needs "
            "holder_code_types of 111 alone: only a 公民身份号码 can be found among CITIZEN_ID fields, and a holder "
            "named by 516, 554, 414 could not be checked）",
        ),
    ],
    ids=["unknown key", "not a CITIZEN_ID", "of_holder", "empty", "twice", "not a list", "no 111", "414", "others"],
)
def test_holder_among_names_citizen_id_fields_of_a_persons_type(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = raw()
    change(data)
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == message


def test_a_type_issued_at_birth_holds_persons() -> None:
    """``issued_at_birth`` (a 出生医学证明's: its valid_from is the holder's birth date) hides a person's code whole
    beside it; it is refused on a type an organisation holds, which has no birth date."""
    data = raw()
    assert {t.name for t in Catalog.from_mapping(data).license_types.values() if t.issued_at_birth} == {"出生医学证明"}
    _type_named(data, "营业执照").update(issued_at_birth=True)
    with pytest.raises(ValueError) as refused:
        Catalog.from_mapping(data)
    assert str(refused.value) == (
        "证照类型 111000009910000354001（营业执照）标为 issued_at_birth（持证人出生时签发），而其 holder_kind 为 "
        "ORGANIZATION：只有个人持有的证照在持证人出生时签发，请把 holder_kind 改为 PERSON 或删去 issued_at_birth"
        "（license type 111000009910000354001: issued_at_birth needs a holder_kind PERSON）"
    )
