"""Realistic sample licenses for the demo, the tests and the benchmarks, in the JSON Lines import form.

>>> from gateway.domain.identifiers import uscc_problem
>>> sample = business_license(7)
>>> sample["holder"]["code_type"], uscc_problem(sample["holder"]["code"]) is None
('001', True)

Names and codes are fictitious; every citizen ID and USCC passes its check character. Each function is
deterministic in ``n`` so that a run can be repeated (and a repeated import creates nothing new).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from gateway.domain.identifiers import LicenseId, citizen_id_check_char, uscc_check_char
from gateway.domain.model import Holder, LicenseContent

BUSINESS_LICENSE = "111000009910000354001"
FOOD_PERMIT = "111000009910000354002"
ID_CARD = "11100000991000019E001"
MARRIAGE = "11100000991000043Y001"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超"]
_FIRMS = ["泉城", "历下", "趵突", "大明", "千佛", "舜耕", "华山", "黄河", "鹊山", "齐鲁"]
_TRADES = [
    ("科技", "软件开发；信息技术咨询服务"),
    ("食品", "食品生产；食品销售"),
    ("商贸", "日用百货销售"),
    ("建筑", "房屋建筑工程施工"),
    ("餐饮", "餐饮服务"),
]
_USCC_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc(n: int, region: str = "370100") -> str:
    """A check-valid company USCC (登记管理部门 9 工商, 类别 1 企业)."""
    body = ""
    for _ in range(9):
        n, digit = divmod(n, 31)
        body = _USCC_BODY[digit] + body
    first17 = f"91{region}{body}"
    return first17 + uscc_check_char(first17)


def citizen_id(n: int, born: dt.date, region: str = "370102") -> str:
    first17 = f"{region}{born:%Y%m%d}{n % 1000:03d}"
    return first17 + citizen_id_check_char(first17)


def person_name(n: int) -> str:
    return _SURNAMES[n % len(_SURNAMES)] + _GIVEN[(n // len(_SURNAMES)) % len(_GIVEN)]


def _birth(n: int) -> dt.date:
    return dt.date(1960, 1, 1) + dt.timedelta(days=(n * 37) % 15000)


def business_license(n: int, issued: dt.date = dt.date(2024, 3, 1)) -> dict[str, Any]:
    code = uscc(n)
    trade, scope = _TRADES[n % len(_TRADES)]
    name = f"济南{_FIRMS[n % len(_FIRMS)]}{trade}有限公司{n}"
    return {
        "request_id": f"bl-{n}",
        "type_code": BUSINESS_LICENSE,
        "license_number": code,
        "holder": {"name": name, "code_type": "001", "code": code},
        "issue_date": issued.isoformat(),
        "fields": {
            "company_name": name,
            "uscc": code,
            "company_type": "有限责任公司(自然人投资或控股)",
            "legal_representative": person_name(n),
            "registered_capital": f"{(n % 90 + 10) * 10}万元人民币",
            "established_on": issued.isoformat(),
            "business_term": "长期",
            "domicile": f"山东省济南市历下区经十路{n % 20000 + 1}号",
            "business_scope": scope,
            "registration_authority": "济南市市场监督管理局",
        },
    }


def food_permit(n: int, issued: dt.date = dt.date(2024, 5, 10)) -> dict[str, Any]:
    code = uscc(n + 1_000_000)
    name = f"济南{_FIRMS[n % len(_FIRMS)]}食品有限公司{n}"
    return {
        "request_id": f"fp-{n}",
        "type_code": FOOD_PERMIT,
        "license_number": f"SC1063701{n:07d}",
        "holder": {"name": name, "code_type": "001", "code": code},
        "issue_date": issued.isoformat(),
        "valid_until": (issued.replace(year=issued.year + 5) - dt.timedelta(days=1)).isoformat(),
        "fields": {
            "producer_name": name,
            "uscc": code,
            "legal_representative": person_name(n + 3),
            "domicile": f"山东省济南市章丘区工业园{n % 500 + 1}号",
            "production_address": f"山东省济南市章丘区工业园{n % 500 + 1}号",
            "food_category": "糕点；饮料",
            "issuing_authority": "济南市市场监督管理局",
        },
    }


def id_card(n: int, issued: dt.date = dt.date(2020, 6, 1)) -> dict[str, Any]:
    born = _birth(n)
    code = citizen_id(n, born)
    name = person_name(n)
    return {
        "request_id": f"id-{n}",
        "type_code": ID_CARD,
        "license_number": code,
        "holder": {"name": name, "code_type": "111", "code": code},
        "issue_date": issued.isoformat(),
        "valid_until": issued.replace(year=issued.year + 20).isoformat(),
        "fields": {
            "name": name,
            "gender": "男" if int(code[16]) % 2 else "女",
            "ethnicity": "汉",
            "birth_date": born.isoformat(),
            "address": f"山东省济南市历下区文化东路{n % 900 + 1}号",
            "citizen_id": code,
            "issuing_authority": "济南市公安局历下分局",
        },
    }


def marriage_certificate(n: int, issued: dt.date = dt.date(2019, 5, 20)) -> dict[str, Any]:
    husband_born, wife_born = _birth(2 * n), _birth(2 * n + 1)
    # the 17th character of a 公民身份号码 is odd for a man, even for a woman (GB 11643), as 男方 and 女方 must carry
    husband, wife = citizen_id(2 * n + 1, husband_born), citizen_id(2 * n, wife_born, "370103")
    return {
        "request_id": f"mc-{n}",
        "type_code": MARRIAGE,
        "license_number": f"J370102-{issued.year}-{n:06d}",
        "holder": {"name": person_name(2 * n), "code_type": "111", "code": husband},
        "issue_date": issued.isoformat(),
        "fields": {
            "holder_name": person_name(2 * n),
            "registration_date": issued.isoformat(),
            "husband_name": person_name(2 * n),
            "husband_nationality": "中国",
            "husband_birth_date": husband_born.isoformat(),
            "husband_citizen_id": husband,
            "wife_name": person_name(2 * n + 1),
            "wife_nationality": "中国",
            "wife_birth_date": wife_born.isoformat(),
            "wife_citizen_id": wife,
            "registration_authority": "济南市历下区民政局",
        },
    }


def license_content(
    record: dict[str, Any], issuer_code: str, *, serial: str = "2024000001", region_code: str = "370100"
) -> LicenseContent:
    """A sample record as the stored license content it would become (version 1), for tests and benchmarks that
    need a license without going through a gateway."""
    issued = dt.date.fromisoformat(record["issue_date"])
    until = record.get("valid_until")
    license_id = LicenseId(type_code=record["type_code"], issuer_code=issuer_code, serial=serial, version=1)
    return LicenseContent(
        license_id=str(license_id),
        type_code=record["type_code"],
        license_number=record["license_number"],
        holder=Holder(**record["holder"]),
        issuer_code=issuer_code,
        issue_date=issued,
        valid_from=issued,
        valid_until=dt.date.fromisoformat(until) if until else None,
        region_code=region_code,
        fields=dict(record["fields"]),
        version=1,
    )
