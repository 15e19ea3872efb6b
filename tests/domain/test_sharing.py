"""The sharing policy over the bootstrap catalog: sharing class × caller × matter × approvals and consents × time."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest

from gateway.domain.catalog import (
    FieldSpec,
    LicenseType,
    Masking,
    Material,
    Matter,
    Sensitivity,
    SharingClass,
    ValueType,
)
from gateway.domain.errors import PermissionDeniedError
from gateway.domain.guardianship import guardians_of
from gateway.domain.identifiers import LicenseId
from gateway.domain.model import CHINA_TZ, Holder, License, LicenseContent, LicenseStatus, Member, RecordSeal
from gateway.domain.sharing import (
    Access,
    AccessState,
    Approval,
    ApprovalState,
    Basis,
    Consent,
    ConsentedFields,
    Decision,
    Deny,
    Permit,
    Reason,
    access_state,
    consented_fields,
    decide,
    mask_value,
    request_deadline,
    request_expired,
    said_by_guardian,
    shown_holder_code,
    working_days_after,
)
from gateway.services.members import load_bootstrap_catalog, load_demo_members

NOW = dt.datetime(2024, 6, 3, 10, 0, tzinfo=CHINA_TZ)  # a Monday
SECOND = dt.timedelta(seconds=1)
YEAR = dt.timedelta(days=365)
MONTH = dt.timedelta(days=30)

CATALOG = load_bootstrap_catalog()
_MEMBERS = {m.code: m for m in load_demo_members()}
MARKET = _MEMBERS["11370100993701011T"]  # 市场监督管理局: issues 营业执照; also a consumer
POLICE = _MEMBERS["1137010099370102XJ"]  # 公安局: issues 居民身份证; also a consumer
EXIT = _MEMBERS["11370100993701046D"]  # 出入境管理支队: issues 护照
HEALTH = _MEMBERS["113701009937010623"]  # 卫生健康委员会: issues 出生医学证明
CIVIL = _MEMBERS["113701009937010548"]  # 民政局: issues 结婚证
TAX = _MEMBERS["11370100993701097M"]  # 税务局: consumer only
MEDICAL = _MEMBERS["1137010099370110X6"]  # 医疗保障局: consumer only
PORTAL = _MEMBERS["12370100993701126X"]  # holder portal
ADMIN = _MEMBERS["11370100993701134U"]  # 大数据局: admin
PARTNER = _MEMBERS["11440100994401010G"]  # 广州: partner gateway

C, N = SharingClass.CONDITIONAL, SharingClass.NOT_SHARED


def overridden(license_type: LicenseType, **classes: SharingClass) -> LicenseType:
    """``license_type`` with field-level sharing classes set."""
    fields = tuple(
        dataclasses.replace(f, sharing_class=classes.get(f.key, f.sharing_class)) for f in license_type.fields
    )
    return dataclasses.replace(license_type, fields=fields)


BL = CATALOG.license_type("111000009910000354001")  # 营业执照: unconditional
ID = CATALOG.license_type("11100000991000019E001")  # 居民身份证: conditional, photo secret and not shared
BIRTH = CATALOG.license_type("1110000099100006XH001")  # 出生医学证明: conditional, parents' IDs sensitive
PASSPORT = CATALOG.license_type("111000009910000279001")  # 护照: not shared
BL_STRICT = overridden(BL, legal_representative=C)  # unconditional type, one conditional field
ID_STRICT = overridden(ID, issuing_authority=N)  # conditional type, one field not shared

QYKZ = CATALOG.matter("370100-QYKZ-001")  # 企业印章刻制: 营业执照 (5 fields) and 居民身份证 (4 fields)
CSDJ = CATALOG.matter("370100-CSDJ-001")  # 出生登记: 出生医学证明 with the parents' IDs in full
CBDJ = CATALOG.matter("370100-CBDJ-001")  # 参保登记: neither 营业执照 nor 居民身份证 nor 护照


def matter_of(code: str, *materials: Material) -> Matter:
    return Matter(code=code, name=code, purpose="测试", department="测试", materials=materials)


ID_ADDRESS = matter_of("TEST-ID-ADDRESS", Material(type_code=ID.code, fields=("name", "address", "photo")))
ID_ADDRESS_FULL = matter_of(
    "TEST-ID-ADDRESS-FULL", Material(type_code=ID.code, fields=("name", "address"), full_fields=("address",))
)
BL_NAME = matter_of("TEST-BL-NAME", Material(type_code=BL.code, fields=("company_name",)))
PASSPORT_CHECK = matter_of(
    "TEST-PASSPORT", Material(type_code=PASSPORT.code, fields=("name", "birth_date", "issuing_authority", "photo"))
)
PRESENCE = matter_of(  # materials the matter needs without any of their fields
    "TEST-PRESENCE", *(Material(type_code=t.code, fields=()) for t in (BL, ID, PASSPORT))
)

COMPANY = Holder(name="济南泉城科技有限公司", code_type="001", code="91370102MA3C0A0B12")
ZHANG_SAN = Holder(name="张三", code_type="111", code="370102199003071238")
CHILD = Holder(name="李小宝", code_type="111", code="370102202405200017")
LI_SI = "37010219890101111X"


def make_license(license_type: LicenseType, issuer: Member, holder: Holder, serial: str, **fields: str) -> License:
    license_id = str(LicenseId(type_code=license_type.code, issuer_code=issuer.code, serial=serial, version=1))
    content = LicenseContent(
        license_id=license_id,
        type_code=license_type.code,
        license_number=serial,
        holder=holder,
        issuer_code=issuer.code,
        issue_date=dt.date(2024, 5, 10),
        valid_from=dt.date(2024, 5, 10),
        valid_until=None,
        region_code="370100",
        fields=fields,
        version=1,
    )
    seal = RecordSeal(algorithm="test", key_id="k", signature=b"s", record_digest=b"d", encoding="test")
    at = dt.datetime(2024, 5, 10, tzinfo=CHINA_TZ)
    return License(
        content=content, status=LicenseStatus.ACTIVE, status_reason="", status_changed_at=at, created_at=at, seal=seal
    )


BL_LIC = make_license(
    BL,
    MARKET,
    COMPANY,
    "BL0001",
    company_name="济南泉城科技有限公司",
    uscc=COMPANY.code,
    company_type="有限责任公司",
    legal_representative="张三",
    registered_capital="100万元",
    established_on="2024-05-10",
    business_term="长期",
    domicile="济南市历下区泉城路1号",
    business_scope="软件开发",
    registration_authority="济南市市场监督管理局",
    approved_on="2024-05-10",
)
ID_LIC = make_license(
    ID,
    POLICE,
    ZHANG_SAN,
    "ID0001",
    name="张三",
    gender="男",
    ethnicity="汉",
    birth_date="1990-03-07",
    address="山东省济南市历下区泉城路1号",
    citizen_id=ZHANG_SAN.code,
    issuing_authority="济南市公安局历下分局",
    photo="photo-ref-secret",
)
ID_LIC_AMENDED = dataclasses.replace(  # version 2 of the same card
    ID_LIC,
    content=dataclasses.replace(
        ID_LIC.content, license_id=str(LicenseId.parse(ID_LIC.license_id).next_version()), version=2
    ),
)
OTHER_ID_LICENSE = str(LicenseId(type_code=ID.code, issuer_code=POLICE.code, serial="ID0002", version=1))
BIRTH_LIC = make_license(
    BIRTH,
    HEALTH,
    CHILD,
    "BC0001",
    child_name="李小宝",
    gender="男",
    birth_date="2024-05-20",
    birth_place="370102",
    mother_name="王芳",
    mother_citizen_id="370102199208152226",
    father_name="李四",
    father_citizen_id=LI_SI,
    issuing_institution="济南市妇幼保健院",
)
PASSPORT_LIC = make_license(
    PASSPORT,
    EXIT,
    ZHANG_SAN,
    "PP0001",
    passport_type="普通护照",
    name="张三",
    birth_date="1990-03-07",
    issuing_authority="国家移民管理局",
    photo="photo-ref-secret",
)

ID_KEYS = "name gender citizen_id issuing_authority"
BL_KEYS = "company_name uscc company_type legal_representative domicile"
ID_APPROVAL = Approval(
    approval_id="A1",
    issuer_code=POLICE.code,
    grantee_code=TAX.code,
    type_code=ID.code,
    matter_code=QYKZ.code,
    fields=tuple(ID_KEYS.split()),
    valid_until=NOW + YEAR,
)
ID_CONSENT = Consent(
    consent_id="C1",
    holder_code=ZHANG_SAN.code,
    grantee_code=TAX.code,
    matter_code=QYKZ.code,
    license_ids=(ID_LIC.license_id,),
    valid_until=NOW + MONTH,
    uses_remaining=1,
)


def approval(**changes: Any) -> Approval:
    return dataclasses.replace(ID_APPROVAL, **changes)


def consent(**changes: Any) -> Consent:
    return dataclasses.replace(ID_CONSENT, **changes)


FULL = "<full>"


@dataclass(frozen=True)
class Allowed:
    """A permit: the shared keys in order, each shown raw unless listed in ``masked``."""

    keys: str
    via: Basis = Basis.UNCONDITIONAL
    via_for: Mapping[str, Basis] = field(default_factory=dict)
    masked: Mapping[str, str] = field(default_factory=dict)
    withheld: Mapping[str, Reason] = field(default_factory=dict)
    holder: str = FULL
    approvals: tuple[str, ...] = ()
    consent: str = ""


@dataclass(frozen=True)
class Refused:
    reason: Reason
    withheld: Mapping[str, Reason] = field(default_factory=dict)


@dataclass(frozen=True)
class Case:
    id: str
    caller: Member
    license: License
    license_type: LicenseType
    matter: Matter | None
    want: Allowed | Refused
    approvals: tuple[Approval, ...] = ()
    consents: tuple[Consent, ...] = ()
    now: dt.datetime = NOW
    purpose: str = "办理事项"

    def decide(self) -> Decision:
        return decide(
            caller=self.caller,
            license=self.license,
            license_type=self.license_type,
            matter=self.matter,
            purpose=self.purpose,
            approvals=self.approvals,
            consents=self.consents,
            now=self.now,
        )

    def access(self) -> Access:
        return access_state(
            caller=self.caller,
            license=self.license,
            license_type=self.license_type,
            matter=self.matter,
            purpose=self.purpose,
            approvals=self.approvals,
            consents=self.consents,
            now=self.now,
        )


R = Reason
B = Basis
ALL_NEED = {k: R.NEEDS_AUTHORIZATION for k in ID_KEYS.split()}
MASKED_ZHANG_SAN = "3701**********1238"
MASKED_ADDRESS = "山东省济南市******"  # the province and city; the rest, and its length, hidden
BL_APPROVAL = approval(issuer_code=MARKET.code, type_code=BL.code, fields=("legal_representative",))
BL_CONSENT = consent(holder_code=COMPANY.code, license_ids=(), type_codes=(BL.code,))
PASSPORT_APPROVAL = approval(
    issuer_code=EXIT.code, type_code=PASSPORT.code, matter_code=PASSPORT_CHECK.code, fields=("name", "birth_date")
)
PASSPORT_CONSENT = consent(license_ids=(PASSPORT_LIC.license_id,), matter_code=PASSPORT_CHECK.code)
DAY = dt.timedelta(days=1)
# ended approvals: what a refusal names when several approvals applied and none grants any more
TYPE_WIDE_WITHDRAWN = approval(  # approved 401 days ago for a year, withdrawn the next day
    approval_id="A0", state=ApprovalState.WITHDRAWN, decided_at=NOW - 400 * DAY, valid_until=NOW - 401 * DAY + YEAR
)
LICENSE_EXPIRED = approval(  # approved for this card 399 days ago, for a year: ran out 34 days ago
    license_id=ID_LIC.license_id, decided_at=NOW - 399 * DAY, valid_until=NOW - 399 * DAY + YEAR
)
EXPIRED_A_MONTH_AGO = approval(approval_id="A2", decided_at=NOW - 2 * MONTH, valid_until=NOW - MONTH)
WITHDRAWN_YESTERDAY = approval(
    approval_id="A3", state=ApprovalState.WITHDRAWN, decided_at=NOW - DAY, valid_until=NOW - DAY + YEAR
)
REJECTED_YESTERDAY = approval(
    approval_id="A4", state=ApprovalState.REJECTED, decided_at=NOW - DAY, valid_until=NOW - DAY
)
REJECTED_A_YEAR_AGO = approval(
    approval_id="A5", state=ApprovalState.REJECTED, decided_at=NOW - YEAR, valid_until=NOW - YEAR
)


def all_ended(reason: Reason) -> Refused:
    return Refused(reason, {k: reason for k in ID_KEYS.split()})


CASES = [
    # 无条件共享: 营业执照
    Case("unconditional/consumer/listed", TAX, BL_LIC, BL, QYKZ, Allowed(BL_KEYS)),
    Case("unconditional/partner/listed", PARTNER, BL_LIC, BL, QYKZ, Allowed(BL_KEYS)),
    Case("unconditional/consumer/organisation code in full", TAX, BL_LIC, BL, BL_NAME, Allowed("company_name")),
    Case("unconditional/consumer/matter not for type", TAX, BL_LIC, BL, CBDJ, Refused(R.MATTER_NOT_FOR_TYPE)),
    Case("unconditional/consumer/no matter", TAX, BL_LIC, BL, None, Refused(R.NO_MATTER)),
    Case("unconditional/consumer/blank purpose", TAX, BL_LIC, BL, QYKZ, Refused(R.NO_PURPOSE), purpose=" "),
    Case("unconditional/holder portal", PORTAL, BL_LIC, BL, QYKZ, Refused(R.NOT_A_CONSUMER)),
    Case("unconditional/admin", ADMIN, BL_LIC, BL, QYKZ, Refused(R.NOT_A_CONSUMER)),
    # the issuer is no exception (rule 1, ADR 0011): a matter decides what it reads of its own licenses
    Case("unconditional/issuer/no matter", MARKET, BL_LIC, BL, None, Refused(R.NO_MATTER)),
    Case("unconditional/issuer/listed", MARKET, BL_LIC, BL, QYKZ, Allowed(BL_KEYS)),
    Case(
        "unconditional/consumer/live consent not used", TAX, BL_LIC, BL, QYKZ, Allowed(BL_KEYS), consents=(BL_CONSENT,)
    ),
    Case(
        "unconditional/consumer/used-up consent irrelevant",
        TAX,
        BL_LIC,
        BL,
        QYKZ,
        Allowed(BL_KEYS),
        consents=(dataclasses.replace(BL_CONSENT, uses_remaining=0),),
    ),
    # 无条件共享 type, 有条件 field
    Case(
        "override conditional field/consumer/none",
        TAX,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        Allowed("company_name uscc company_type domicile", withheld={"legal_representative": R.NEEDS_AUTHORIZATION}),
    ),
    Case(
        "override conditional field/consumer/live approval",
        TAX,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        Allowed(BL_KEYS, via_for={"legal_representative": B.CONDITIONAL_APPROVAL}, approvals=("A1",)),
        approvals=(BL_APPROVAL,),
    ),
    Case(
        "override conditional field/consumer/live consent",
        TAX,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        Allowed(BL_KEYS, via_for={"legal_representative": B.CONDITIONAL_CONSENT}, consent="C1"),
        consents=(BL_CONSENT,),
    ),
    Case(
        "override conditional field/consumer/expired approval",
        TAX,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        Allowed("company_name uscc company_type domicile", withheld={"legal_representative": R.APPROVAL_EXPIRED}),
        approvals=(dataclasses.replace(BL_APPROVAL, valid_until=NOW - SECOND),),
    ),
    Case(
        "override conditional field/issuer",
        MARKET,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        Allowed("company_name uscc company_type domicile", withheld={"legal_representative": R.NEEDS_AUTHORIZATION}),
    ),
    # 有条件共享: 居民身份证
    Case("conditional/consumer/none", TAX, ID_LIC, ID, QYKZ, Refused(R.NEEDS_AUTHORIZATION, ALL_NEED)),
    Case(
        "conditional/consumer/live approval",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(ID_APPROVAL,),
    ),
    Case(
        "conditional/partner/live approval",
        PARTNER,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(approval(grantee_code=PARTNER.code),),
    ),
    Case(
        "conditional/consumer/approval for this license",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(approval(license_id=ID_LIC.license_id),),
    ),
    Case(
        "conditional/consumer/approval for the license before its amendment",
        TAX,
        ID_LIC_AMENDED,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(approval(license_id=ID_LIC.license_id),),
    ),
    Case(
        "conditional/consumer/approval for another license",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NEEDS_AUTHORIZATION, ALL_NEED),
        approvals=(approval(license_id=OTHER_ID_LICENSE),),
    ),
    Case(
        "conditional/consumer/approval with fewer fields",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(
            "name gender",
            via=B.CONDITIONAL_APPROVAL,
            withheld={"citizen_id": R.FIELD_NOT_APPROVED, "issuing_authority": R.FIELD_NOT_APPROVED},
            holder=MASKED_ZHANG_SAN,
            approvals=("A1",),
        ),
        approvals=(approval(fields=("name", "gender")),),
    ),
    Case(
        "conditional/consumer/two approvals together",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1", "A2")),
        approvals=(
            approval(fields=("name", "gender")),
            approval(approval_id="A2", fields=("citizen_id", "issuing_authority")),
        ),
    ),
    Case(
        "conditional/consumer/expired approval",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.APPROVAL_EXPIRED),
        approvals=(approval(valid_until=NOW - dt.timedelta(days=1)),),
    ),
    Case(
        "conditional/consumer/approval marked expired",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.APPROVAL_EXPIRED),
        approvals=(approval(state=ApprovalState.EXPIRED),),
    ),
    Case(
        "conditional/consumer/rejected approval",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.APPROVAL_REJECTED),
        approvals=(approval(state=ApprovalState.REJECTED),),
    ),
    Case(
        "conditional/consumer/approval for another matter",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NEEDS_AUTHORIZATION, ALL_NEED),
        approvals=(approval(matter_code=CSDJ.code),),
    ),
    Case(
        "conditional/consumer/approval for another grantee",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NEEDS_AUTHORIZATION, ALL_NEED),
        approvals=(approval(grantee_code=MEDICAL.code),),
    ),
    Case(
        "conditional/consumer/approval by another issuer",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NEEDS_AUTHORIZATION, ALL_NEED),
        approvals=(approval(issuer_code=MARKET.code),),
    ),
    Case(
        "conditional/consumer/live consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(ID_CONSENT,),
    ),
    Case(
        "conditional/consumer/consent for the type",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(consent(license_ids=(), type_codes=(ID.code,)),),
    ),
    Case(
        "conditional/consumer/consent used up",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_USED_UP, {k: R.CONSENT_USED_UP for k in ID_KEYS.split()}),
        consents=(consent(uses_remaining=0),),
    ),
    Case(
        "conditional/consumer/withdrawn consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_WITHDRAWN),
        consents=(consent(withdrawn=True),),
    ),
    Case(
        "conditional/consumer/expired consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_EXPIRED),
        consents=(consent(valid_until=NOW - SECOND),),
    ),
    Case(
        "conditional/consumer/consent for another grantee",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_OTHER_GRANTEE),
        consents=(consent(grantee_code=MEDICAL.code),),
    ),
    Case(
        "conditional/consumer/withdrawn consent for another grantee",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_OTHER_GRANTEE),
        consents=(consent(grantee_code=MEDICAL.code, withdrawn=True),),
    ),
    Case(
        "conditional/consumer/consent for another matter",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_OTHER_MATTER),
        consents=(consent(matter_code=CSDJ.code),),
    ),
    Case(
        "conditional/consumer/consent for the license before its amendment",
        TAX,
        ID_LIC_AMENDED,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(consent(),),
    ),
    Case(
        "conditional/consumer/consent for another license",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_OTHER_LICENSE),
        consents=(consent(license_ids=(OTHER_ID_LICENSE,)),),
    ),
    Case(
        "conditional/consumer/consent of another holder",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_OTHER_HOLDER),
        consents=(consent(holder_code=LI_SI),),
    ),
    Case(
        "conditional/consumer/used-up and live consents",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(consent(consent_id="C0", uses_remaining=0), ID_CONSENT),
    ),
    Case(
        "conditional/consumer/two live consents: the one ending first is used",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C2"),
        consents=(ID_CONSENT, consent(consent_id="C2", valid_until=NOW + dt.timedelta(days=1))),
    ),
    Case(
        "conditional/consumer/approval with fewer fields and live consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(
            ID_KEYS,
            via=B.CONDITIONAL_CONSENT,
            via_for={"name": B.CONDITIONAL_APPROVAL, "gender": B.CONDITIONAL_APPROVAL},
            approvals=("A1",),
            consent="C1",
        ),
        approvals=(approval(fields=("name", "gender")),),
        consents=(ID_CONSENT,),
    ),
    Case(
        "conditional/consumer/approval covers all: consent not used",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(ID_APPROVAL,),
        consents=(ID_CONSENT,),
    ),
    Case(
        "conditional/consumer/approval with fewer fields and withdrawn consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(
            "name gender",
            via=B.CONDITIONAL_APPROVAL,
            withheld={"citizen_id": R.CONSENT_WITHDRAWN, "issuing_authority": R.CONSENT_WITHDRAWN},
            holder=MASKED_ZHANG_SAN,
            approvals=("A1",),
        ),
        approvals=(approval(fields=("name", "gender")),),
        consents=(consent(withdrawn=True),),
    ),
    Case(
        "conditional/consumer/expired approval and used-up consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_USED_UP),
        approvals=(approval(valid_until=NOW - SECOND),),
        consents=(consent(uses_remaining=0),),
    ),
    Case(
        "conditional/consumer/matter not for type",
        TAX,
        ID_LIC,
        ID,
        CBDJ,
        Refused(R.MATTER_NOT_FOR_TYPE),
        approvals=(approval(matter_code=CBDJ.code),),
    ),
    Case("conditional/consumer/no matter", TAX, ID_LIC, ID, None, Refused(R.NO_MATTER), approvals=(ID_APPROVAL,)),
    Case(
        "conditional/issuer",  # the police's 刻章备案 desk: the card it issued is the holder's to lend (journey 1)
        POLICE,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NEEDS_AUTHORIZATION, ALL_NEED),
    ),
    Case(
        "conditional/issuer/the holder's consent",  # the matter's four fields, not the address: the consent is used
        POLICE,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(consent(grantee_code=POLICE.code),),
    ),
    Case(
        "conditional/issuer/its own approval",
        POLICE,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(dataclasses.replace(ID_APPROVAL, grantee_code=POLICE.code),),
    ),
    Case(
        "conditional/holder portal with a consent naming it",
        PORTAL,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NOT_A_CONSUMER),
        consents=(consent(grantee_code=PORTAL.code),),
    ),
    Case(
        "conditional/admin with an approval naming it",
        ADMIN,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.NOT_A_CONSUMER),
        approvals=(approval(grantee_code=ADMIN.code),),
    ),
    Case(
        "conditional/consumer/sensitive field masked, secret withheld",
        TAX,
        ID_LIC,
        ID,
        ID_ADDRESS,
        Allowed(
            "name address",
            via=B.CONDITIONAL_CONSENT,
            masked={"address": MASKED_ADDRESS},
            withheld={"photo": R.SECRET},
            holder=MASKED_ZHANG_SAN,
            consent="C1",
        ),
        consents=(consent(matter_code=ID_ADDRESS.code),),
    ),
    Case(
        "conditional/consumer/sensitive field in full",
        TAX,
        ID_LIC,
        ID,
        ID_ADDRESS_FULL,
        Allowed("name address", via=B.CONDITIONAL_CONSENT, holder=MASKED_ZHANG_SAN, consent="C1"),
        consents=(consent(matter_code=ID_ADDRESS_FULL.code),),
    ),
    Case(
        "conditional/consumer/出生登记 parents' IDs in full",
        POLICE,
        BIRTH_LIC,
        BIRTH,
        CSDJ,
        Allowed(
            "child_name gender birth_date birth_place mother_name mother_citizen_id father_name father_citizen_id",
            via=B.CONDITIONAL_APPROVAL,
            holder="*" * 18,  # beside its birth date and birth place: hidden whole (rule 10)
            approvals=("A1",),
        ),
        approvals=(
            approval(
                issuer_code=HEALTH.code,
                grantee_code=POLICE.code,
                type_code=BIRTH.code,
                matter_code=CSDJ.code,
                fields=CSDJ.materials[0].fields,
            ),
        ),
    ),
    # 有条件共享 type, one field 不予共享 (a field is never looser than its type: the catalog refuses that)
    Case(
        "stricter field/consumer/none",
        TAX,
        ID_LIC,
        ID_STRICT,
        QYKZ,
        Refused(
            R.NEEDS_AUTHORIZATION,
            {
                "name": R.NEEDS_AUTHORIZATION,
                "gender": R.NEEDS_AUTHORIZATION,
                "citizen_id": R.NEEDS_AUTHORIZATION,
                "issuing_authority": R.NOT_SHARED,
            },
        ),
    ),
    Case(
        "stricter field/consumer/live consent",
        TAX,
        ID_LIC,
        ID_STRICT,
        QYKZ,
        Allowed(
            "name gender citizen_id",
            via=B.CONDITIONAL_CONSENT,
            withheld={"issuing_authority": R.NOT_SHARED},
            consent="C1",
        ),
        consents=(ID_CONSENT,),
    ),
    Case(
        "stricter field/consumer/live approval of every field",
        TAX,
        ID_LIC,
        ID_STRICT,
        QYKZ,
        Allowed(
            "name gender citizen_id",
            via=B.CONDITIONAL_APPROVAL,
            withheld={"issuing_authority": R.NOT_SHARED},
            approvals=("A1",),
        ),
        approvals=(ID_APPROVAL,),
    ),
    Case(
        "stricter field/issuer",
        POLICE,
        ID_LIC,
        ID_STRICT,
        QYKZ,
        Refused(
            R.NEEDS_AUTHORIZATION,
            {
                "issuing_authority": R.NOT_SHARED,
                **dict.fromkeys(("name", "gender", "citizen_id"), R.NEEDS_AUTHORIZATION),
            },
        ),
    ),
    # 不予共享: 护照
    Case(
        "not shared/consumer/none",
        TAX,
        PASSPORT_LIC,
        PASSPORT,
        PASSPORT_CHECK,
        Refused(
            R.NOT_SHARED,
            {"name": R.NOT_SHARED, "birth_date": R.NOT_SHARED, "issuing_authority": R.NOT_SHARED, "photo": R.SECRET},
        ),
    ),
    Case(
        "not shared/consumer/live approval",
        TAX,
        PASSPORT_LIC,
        PASSPORT,
        PASSPORT_CHECK,
        Refused(R.NOT_SHARED),
        approvals=(PASSPORT_APPROVAL,),
    ),
    Case(
        "not shared/consumer/live consent",
        TAX,
        PASSPORT_LIC,
        PASSPORT,
        PASSPORT_CHECK,
        Refused(R.NOT_SHARED),
        consents=(PASSPORT_CONSENT,),
    ),
    Case(
        "not shared/consumer/matter not for type",
        TAX,
        PASSPORT_LIC,
        PASSPORT,
        QYKZ,
        Refused(R.MATTER_NOT_FOR_TYPE),
    ),
    Case("not shared/holder portal", PORTAL, PASSPORT_LIC, PASSPORT, PASSPORT_CHECK, Refused(R.NOT_A_CONSUMER)),
    Case(
        "not shared/issuer",  # an issuer only (no matter to name): its registry work reads through GetLicense
        EXIT,
        PASSPORT_LIC,
        PASSPORT,
        None,
        Refused(R.NOT_A_CONSUMER),
    ),
    # materials needed without fields: judged by the type's class
    Case("no fields/unconditional", TAX, BL_LIC, BL, PRESENCE, Allowed("")),
    Case("no fields/conditional/none", TAX, ID_LIC, ID, PRESENCE, Refused(R.NEEDS_AUTHORIZATION)),
    Case(
        "no fields/conditional/live approval",
        TAX,
        ID_LIC,
        ID,
        PRESENCE,
        Allowed("", holder=MASKED_ZHANG_SAN, approvals=("A1",)),
        approvals=(approval(matter_code=PRESENCE.code, fields=()),),
    ),
    Case(
        "no fields/conditional/live consent",
        TAX,
        ID_LIC,
        ID,
        PRESENCE,
        Allowed("", holder=MASKED_ZHANG_SAN, consent="C1"),
        consents=(consent(matter_code=PRESENCE.code),),
    ),
    Case("no fields/not shared", TAX, PASSPORT_LIC, PASSPORT, PRESENCE, Refused(R.NOT_SHARED)),
    # ended approvals: of those that applied, the one that stopped granting last is named (rule 7)
    Case(
        "ended approvals/one for the license expired after one for the type was withdrawn",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_EXPIRED),
        approvals=(TYPE_WIDE_WITHDRAWN, LICENSE_EXPIRED),
    ),
    Case(
        "ended approvals/whatever order they come in",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_EXPIRED),
        approvals=(LICENSE_EXPIRED, TYPE_WIDE_WITHDRAWN),
    ),
    Case(
        "ended approvals/a withdrawal after an expiry",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_WITHDRAWN),
        approvals=(WITHDRAWN_YESTERDAY, EXPIRED_A_MONTH_AGO),
    ),
    Case(
        "ended approvals/a rejection after an expiry",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_REJECTED),
        approvals=(EXPIRED_A_MONTH_AGO, REJECTED_YESTERDAY),
    ),
    Case(
        "ended approvals/an expiry after a rejection",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_EXPIRED),
        approvals=(REJECTED_A_YEAR_AGO, EXPIRED_A_MONTH_AGO),
    ),
    Case(
        "ended approvals/one withdrawn after its end stopped granting at its end",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_EXPIRED),
        approvals=(
            approval(approval_id="A6", state=ApprovalState.WITHDRAWN, decided_at=NOW - DAY, valid_until=NOW - MONTH),
            approval(decided_at=NOW - MONTH, valid_until=NOW - 7 * DAY),
        ),
    ),
    Case(
        "ended approvals/on the same instant withdrawn before expired before rejected",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        all_ended(R.APPROVAL_WITHDRAWN),
        approvals=(
            approval(approval_id="A7", state=ApprovalState.REJECTED, decided_at=NOW - DAY, valid_until=NOW - DAY),
            approval(approval_id="A8", valid_until=NOW - DAY),
            approval(approval_id="A9", state=ApprovalState.WITHDRAWN, decided_at=NOW - DAY, valid_until=NOW + DAY),
        ),
    ),
    Case(
        "ended approvals/each field named by the approval that covered it",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(
            R.APPROVAL_EXPIRED,
            {
                "name": R.APPROVAL_EXPIRED,
                "gender": R.APPROVAL_EXPIRED,
                "citizen_id": R.APPROVAL_WITHDRAWN,
                "issuing_authority": R.APPROVAL_WITHDRAWN,
            },
        ),
        approvals=(
            dataclasses.replace(EXPIRED_A_MONTH_AGO, fields=("name", "gender")),
            dataclasses.replace(WITHDRAWN_YESTERDAY, fields=("citizen_id", "issuing_authority")),
        ),
    ),
    Case(
        "ended approvals/a field none covered by the newest",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(
            R.APPROVAL_REJECTED,
            {
                "name": R.APPROVAL_REJECTED,
                "gender": R.APPROVAL_EXPIRED,
                "citizen_id": R.APPROVAL_REJECTED,
                "issuing_authority": R.APPROVAL_REJECTED,
            },
        ),
        approvals=(
            dataclasses.replace(EXPIRED_A_MONTH_AGO, fields=("gender",)),
            dataclasses.replace(REJECTED_YESTERDAY, fields=("name",)),
        ),
    ),
    Case(
        "ended approvals/a live approval without the field says so",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(
            "name",
            via=B.CONDITIONAL_APPROVAL,
            withheld={k: R.FIELD_NOT_APPROVED for k in ("gender", "citizen_id", "issuing_authority")},
            holder=MASKED_ZHANG_SAN,
            approvals=("A1",),
        ),
        approvals=(approval(fields=("name",)), WITHDRAWN_YESTERDAY),
    ),
    Case(
        "ended approvals/no fields/the last to stop granting",
        TAX,
        ID_LIC,
        ID,
        PRESENCE,
        Refused(R.APPROVAL_EXPIRED),
        approvals=tuple(
            dataclasses.replace(a, matter_code=PRESENCE.code, fields=()) for a in (TYPE_WIDE_WITHDRAWN, LICENSE_EXPIRED)
        ),
    ),
    # time: valid_until is the first instant that is no longer valid
    Case(
        "time/approval a second before its end",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_APPROVAL, approvals=("A1",)),
        approvals=(ID_APPROVAL,),
        now=NOW + YEAR - SECOND,
    ),
    Case(
        "time/approval at its end",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.APPROVAL_EXPIRED),
        approvals=(ID_APPROVAL,),
        now=NOW + YEAR,
    ),
    Case(
        "time/consent a second before its end, in UTC",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Allowed(ID_KEYS, via=B.CONDITIONAL_CONSENT, consent="C1"),
        consents=(ID_CONSENT,),
        now=(NOW + MONTH - SECOND).astimezone(dt.UTC),
    ),
    Case(
        "time/consent at its end, in UTC",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        Refused(R.CONSENT_EXPIRED),
        consents=(ID_CONSENT,),
        now=(NOW + MONTH).astimezone(dt.UTC),
    ),
    Case(
        "time/unconditional ignores time",
        TAX,
        BL_LIC,
        BL,
        QYKZ,
        Allowed(BL_KEYS),
        now=NOW + 10 * YEAR,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_policy(case: Case) -> None:
    decision = case.decide()
    want = case.want
    if isinstance(want, Refused):
        assert isinstance(decision, Deny), decision
        assert decision.reason is want.reason
        if want.withheld:
            assert {w.key: w.reason for w in decision.withheld} == want.withheld
        assert bool(decision.remedy) == want.reason.authorizable
        return
    assert isinstance(decision, Permit), decision
    keys = want.keys.split()
    raw = case.license.content.fields
    assert [f.key for f in decision.fields] == keys
    assert decision.values == {k: want.masked.get(k, raw.get(k, "")) for k in keys}
    assert {f.key for f in decision.fields if f.masked} == set(want.masked)
    assert {f.key: f.basis for f in decision.fields} == {k: want.via_for.get(k, want.via) for k in keys}
    assert {w.key: w.reason for w in decision.withheld} == want.withheld
    holder_code = case.license.content.holder.code
    assert decision.holder_code == (holder_code if want.holder == FULL else want.holder)
    assert decision.approval_ids == want.approvals
    assert decision.consent_id == want.consent
    assert bool(decision.remedy) == any(r.authorizable for r in want.withheld.values())


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_access_state_follows_decide(case: Case) -> None:
    decision = case.decide()
    access = case.access()
    if isinstance(decision, Permit) and not any(w.reason.authorizable for w in decision.withheld):
        assert access == Access(state=AccessState.AVAILABLE)
    elif isinstance(decision, Deny) and not decision.reason.authorizable:
        assert (access.state, access.reason) == (AccessState.NOT_SHARED, decision.reason)
    else:
        assert access.state is AccessState.NEEDS_AUTHORIZATION
        assert access.reason is not None and access.reason.authorizable
        assert access.remedy == decision.remedy != ""


ACCESS_CASES = [
    ("unconditional", TAX, BL_LIC, BL, QYKZ, (), (), AccessState.AVAILABLE, None),
    ("conditional/none", TAX, ID_LIC, ID, QYKZ, (), (), AccessState.NEEDS_AUTHORIZATION, R.NEEDS_AUTHORIZATION),
    ("conditional/live approval", TAX, ID_LIC, ID, QYKZ, (ID_APPROVAL,), (), AccessState.AVAILABLE, None),
    (
        "conditional/approval with fewer fields",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        (approval(fields=("name",)),),
        (),
        AccessState.NEEDS_AUTHORIZATION,
        R.FIELD_NOT_APPROVED,
    ),
    ("conditional/live consent", TAX, ID_LIC, ID, QYKZ, (), (ID_CONSENT,), AccessState.AVAILABLE, None),
    (
        "conditional/used-up consent",
        TAX,
        ID_LIC,
        ID,
        QYKZ,
        (),
        (consent(uses_remaining=0),),
        AccessState.NEEDS_AUTHORIZATION,
        R.CONSENT_USED_UP,
    ),
    (
        "conditional/secret field withheld, the rest available",
        TAX,
        ID_LIC,
        ID,
        ID_ADDRESS,
        (),
        (consent(matter_code=ID_ADDRESS.code),),
        AccessState.AVAILABLE,
        None,
    ),
    (
        "unconditional type, conditional field",
        TAX,
        BL_LIC,
        BL_STRICT,
        QYKZ,
        (),
        (),
        AccessState.NEEDS_AUTHORIZATION,
        R.NEEDS_AUTHORIZATION,
    ),
    ("not shared", TAX, PASSPORT_LIC, PASSPORT, PASSPORT_CHECK, (), (), AccessState.NOT_SHARED, R.NOT_SHARED),
    ("matter not for type", TAX, BL_LIC, BL, CBDJ, (), (), AccessState.NOT_SHARED, R.MATTER_NOT_FOR_TYPE),
    ("admin", ADMIN, BL_LIC, BL, QYKZ, (), (), AccessState.NOT_SHARED, R.NOT_A_CONSUMER),
    ("issuer", POLICE, ID_LIC, ID, QYKZ, (), (), AccessState.NEEDS_AUTHORIZATION, R.NEEDS_AUTHORIZATION),
]


@pytest.mark.parametrize(
    ("caller", "lic", "license_type", "matter", "approvals", "consents", "state", "reason"),
    [pytest.param(*row[1:], id=row[0]) for row in ACCESS_CASES],
)
def test_access_state(
    caller: Member,
    lic: License,
    license_type: LicenseType,
    matter: Matter,
    approvals: tuple[Approval, ...],
    consents: tuple[Consent, ...],
    state: AccessState,
    reason: Reason | None,
) -> None:
    access = access_state(
        caller=caller,
        license=lic,
        license_type=license_type,
        matter=matter,
        purpose="办理事项",
        approvals=approvals,
        consents=consents,
        now=NOW,
    )
    assert (access.state, access.reason) == (state, reason)
    if state is AccessState.NEEDS_AUTHORIZATION:
        assert lic.content.issuer_code in access.remedy
        assert "RequestAccess" in access.remedy and "GrantConsent" in access.remedy


def test_denial_says_how_to_get_authorisation() -> None:
    decision = Case("", TAX, ID_LIC, ID, QYKZ, Refused(R.NEEDS_AUTHORIZATION)).decide()
    assert isinstance(decision, Deny)
    assert decision.detail == (
        "居民身份证：有条件共享，需发证部门审批或用证授权"
        "（conditionally shared: needs the issuer's approval or a consent）"
    )
    assert (
        decision.remedy
        == f"向发证部门 {POLICE.code} 申请审批，或请持证人出具用证码（ask the issuer {POLICE.code} for an approval, "
        "RequestAccess, or the holder for a consent code, GrantConsent）"
    )


def test_the_remedy_names_the_issuer_by_name_and_code() -> None:
    """A clerk asks a department, not a code."""
    decision = decide(
        caller=TAX, license=ID_LIC, license_type=ID, matter=QYKZ, purpose="办理", now=NOW, issuer_name=POLICE.name
    )
    assert isinstance(decision, Deny)
    assert decision.remedy == (
        f"向发证部门济南市公安局（{POLICE.code}）申请审批，或请持证人出具用证码（ask the issuer {POLICE.code} for an "
        "approval, RequestAccess, or the holder for a consent code, GrantConsent）"
    )
    error = decision.error()
    assert isinstance(error, PermissionDeniedError)
    assert (error.reason, error.message, error.metadata) == (
        "NEEDS_AUTHORIZATION",
        decision.detail,
        {"remedy": decision.remedy},
    )


def test_denial_without_remedy_has_no_metadata() -> None:
    decision = Case("", ADMIN, BL_LIC, BL, QYKZ, Refused(R.NOT_A_CONSUMER)).decide()
    assert isinstance(decision, Deny)
    assert (decision.remedy, decision.error().metadata) == ("", {})


def test_decide_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        dataclasses.replace(CASES[0], now=dt.datetime(2024, 6, 3, 10, 0)).decide()


def test_an_approval_that_ran_out_is_named_over_an_older_withdrawn_one() -> None:
    """公安局's approval for one 出生医学证明 ran out; an older one for every 出生医学证明 from 卫健委 had been
    withdrawn. The clerk is told that the approval expired (ask again), not that 卫健委 withdrew it."""
    for_birth = approval(
        issuer_code=HEALTH.code,
        grantee_code=POLICE.code,
        type_code=BIRTH.code,
        matter_code=CSDJ.code,
        fields=CSDJ.materials[0].fields,
    )
    withdrawn = dataclasses.replace(
        for_birth,
        approval_id="A0",
        state=ApprovalState.WITHDRAWN,
        decided_at=NOW - 400 * DAY,
        valid_until=NOW - 401 * DAY + YEAR,
    )
    for_this = dataclasses.replace(
        for_birth, license_id=BIRTH_LIC.license_id, decided_at=NOW - 399 * DAY, valid_until=NOW - 34 * DAY
    )

    def case(*approvals: Approval, now: dt.datetime = NOW) -> Case:
        return Case("", POLICE, BIRTH_LIC, BIRTH, CSDJ, Refused(R.APPROVAL_EXPIRED), approvals=approvals, now=now)

    decision = decide(
        caller=POLICE,
        license=BIRTH_LIC,
        license_type=BIRTH,
        matter=CSDJ,
        purpose="出生登记",
        approvals=(withdrawn, for_this),
        now=NOW,
        issuer_name=HEALTH.name,
    )
    assert isinstance(decision, Deny)
    assert (decision.reason, decision.detail) == (
        R.APPROVAL_EXPIRED,
        "出生医学证明：审批已过期（the approval has expired）",
    )
    assert HEALTH.name in decision.remedy
    access = case(withdrawn, for_this).access()
    assert (access.state, access.reason) == (AccessState.NEEDS_AUTHORIZATION, R.APPROVAL_EXPIRED)
    # a year before, the card's approval granted what the withdrawn one no longer did
    earlier = case(withdrawn, for_this, now=NOW - YEAR).decide()
    assert isinstance(earlier, Permit) and earlier.approval_ids == ("A1",)
    # alone, the withdrawn one is named
    alone = case(withdrawn).decide()
    assert isinstance(alone, Deny) and alone.reason is R.APPROVAL_WITHDRAWN


@pytest.mark.parametrize(
    ("fields", "shown"),
    [
        pytest.param(("child_name", "gender"), "*" * 18, id="issued-at-birth"),
        pytest.param(("child_name", "birth_date"), "*" * 18, id="birth-date"),
        pytest.param(("child_name", "birth_place"), "*" * 18, id="region"),
        pytest.param(("birth_date", "birth_place"), "*" * 18, id="both"),
    ],
)
def test_a_citizen_id_is_hidden_whole_beside_the_birth_date_or_region_it_carries(
    fields: tuple[str, ...], shown: str
) -> None:
    """The mask keeps the first and last four characters of 370102202405200017 and hides the district and the birth
    date: beside a shown birth date (a privacy auditor's D1: about nine candidates, one of them in the city) or
    region it had given the number back, so there it keeps none. A 出生医学证明 is issued at birth: the reply's
    ``valid_from`` states the birth date within days, so beside a name and a sex too (a reviewer, prefill R1)."""
    matter = matter_of("TEST-BIRTH", Material(type_code=BIRTH.code, fields=fields))
    granted = approval(
        issuer_code=HEALTH.code, grantee_code=MEDICAL.code, type_code=BIRTH.code, matter_code=matter.code, fields=fields
    )
    decision = Case("", MEDICAL, BIRTH_LIC, BIRTH, matter, Refused(R.NOT_SHARED), approvals=(granted,)).decide()
    assert isinstance(decision, Permit)
    assert decision.holder_code == shown


def test_a_citizen_id_keeps_its_ends_where_nothing_in_the_reply_states_its_birth_date() -> None:
    """A type not issued at its holder's birth (``issued_at_birth`` false): its ``valid_from`` tells no birth date, so
    beside a name and a sex the code keeps its ends; the 出生医学证明's, issued at birth, states it within days (the
    test above)."""
    later = dataclasses.replace(BIRTH, issued_at_birth=False)
    matter = matter_of("TEST-BIRTH", Material(type_code=BIRTH.code, fields=("child_name", "gender")))
    granted = approval(
        issuer_code=HEALTH.code, grantee_code=MEDICAL.code, type_code=BIRTH.code, matter_code=matter.code,
        fields=("child_name", "gender"),
    )  # fmt: skip
    decision = Case("", MEDICAL, BIRTH_LIC, later, matter, Refused(R.NOT_SHARED), approvals=(granted,)).decide()
    assert isinstance(decision, Permit) and decision.holder_code == "3701**********0017"
    assert shown_holder_code(BIRTH_LIC.content.holder, later) == "3701**********0017"
    assert shown_holder_code(BIRTH_LIC.content.holder, BIRTH) == "*" * 18  # a verification's summary: valid_from
    assert shown_holder_code(BIRTH_LIC.content.holder, None) == "3701**********0017"  # a type the catalog lost


def test_a_birth_date_a_license_states_of_a_person_it_names_hides_the_holders_code_whole() -> None:
    """A 结婚证's 男方出生日期 is its holder's when he holds it (the catalog's ``person_birth_date``): beside it his
    code is hidden whole too; a passport's number, which carries no birth date, keeps its ends beside one."""
    marriage = CATALOG.license_type("11100000991000043Y001")
    husband = Holder(name="李四", code_type="111", code=LI_SI)
    stated = {"holder_name": "李四", "husband_birth_date": "1989-01-01", "registration_date": "2020-01-01"}
    certificate = make_license(marriage, CIVIL, husband, "J0001", **stated)
    matter = matter_of("TEST-MARRIAGE", Material(type_code=marriage.code, fields=("holder_name", "husband_birth_date")))
    granted = approval(
        issuer_code=CIVIL.code, grantee_code=TAX.code, type_code=marriage.code, matter_code=matter.code,
        fields=("holder_name", "husband_birth_date"),
    )  # fmt: skip
    decision = Case("", TAX, certificate, marriage, matter, Refused(R.NOT_SHARED), approvals=(granted,)).decide()
    assert isinstance(decision, Permit) and decision.holder_code == "*" * 18

    traveller = Holder(name="王芳", code_type="414", code="E12345678")
    passport_type = dataclasses.replace(PASSPORT, sharing_class=SharingClass.UNCONDITIONAL)  # read, for the test
    passport = make_license(passport_type, EXIT, traveller, "E12345678", name="王芳", birth_date="1992-08-15")
    matter = matter_of("TEST-PASSPORT", Material(type_code=PASSPORT.code, fields=("name", "birth_date")))
    decision = Case("", TAX, passport, passport_type, matter, Refused(R.NOT_SHARED)).decide()
    assert isinstance(decision, Permit) and decision.holder_code == "E1*****78"


def test_a_co_subjects_citizen_id_is_hidden_whole_beside_her_birth_date() -> None:
    """A 结婚证 the husband holds names his wife by her 公民身份号码: masked to its ends (3701**********0029) beside her
    出生日期 in the same permit, it had left nine numbers passing the check character, hers among them (a reviewer).
    Hidden whole there, as the holder's code is; without a birth date or region shown it keeps its ends."""
    marriage = CATALOG.license_type("11100000991000043Y001")
    husband = Holder(name="李四", code_type="111", code=LI_SI)
    wife = "370102199203150029"
    stated = {
        "holder_name": "李四", "registration_date": "2020-01-01", "wife_name": "王芳", "wife_birth_date": "1992-03-15",
        "wife_citizen_id": wife,
    }  # fmt: skip
    certificate = make_license(marriage, CIVIL, husband, "J0002", **stated)

    def shown(fields: tuple[str, ...]) -> dict[str, str]:
        matter = matter_of("TEST-MARRIAGE-W", Material(type_code=marriage.code, fields=fields))
        granted = approval(
            issuer_code=CIVIL.code, grantee_code=TAX.code, type_code=marriage.code, matter_code=matter.code,
            fields=fields,
        )  # fmt: skip
        decision = Case("", TAX, certificate, marriage, matter, Refused(R.NOT_SHARED), approvals=(granted,)).decide()
        assert isinstance(decision, Permit)
        return {f.key: f.value for f in decision.fields}

    assert shown(("wife_name", "wife_birth_date", "wife_citizen_id"))["wife_citizen_id"] == "*" * 18
    assert shown(("wife_name", "wife_citizen_id"))["wife_citizen_id"] == "3701**********0029"


def test_decide_refuses_a_type_that_is_not_the_license_s() -> None:
    with pytest.raises(ValueError, match="is not of type"):
        Case("", TAX, ID_LIC, BL, QYKZ, Refused(R.NOT_SHARED)).decide()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda: approval(valid_until=dt.datetime(2025, 1, 1)), "timezone-aware", id="approval-naive"),
        pytest.param(lambda: approval(decided_at=dt.datetime(2025, 1, 1)), "timezone-aware", id="decided-at-naive"),
        pytest.param(lambda: consent(valid_until=dt.datetime(2025, 1, 1)), "timezone-aware", id="consent-naive"),
        pytest.param(lambda: consent(uses_remaining=-1), "negative", id="consent-negative-uses"),
        pytest.param(lambda: consent(license_ids=(), type_codes=()), "at least one", id="consent-covers-nothing"),
    ],
)
def test_grants_check_their_invariants(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def spec(sensitivity: Sensitivity, masking: Masking = Masking.ENDS) -> FieldSpec:
    return FieldSpec(key="k", label="k", value_type=ValueType.STRING, sensitivity=sensitivity, masking=masking)


ADDRESS = "山东省济南市历下区泉城路1号3单元501"
SENSITIVE, NORMAL = Sensitivity.SENSITIVE, Sensitivity.NORMAL


@pytest.mark.parametrize(
    ("sensitivity", "masking", "value", "full", "shown"),
    [
        pytest.param(SENSITIVE, Masking.ENDS, "370102199003071234", False, "3701**********1234", id="citizen-id"),
        pytest.param(SENSITIVE, Masking.ENDS, "370102199003071234", True, "370102199003071234", id="citizen-id-full"),
        pytest.param(SENSITIVE, Masking.ENDS, "6217000012345678", False, "6217********5678", id="card-number"),
        pytest.param(SENSITIVE, Masking.ENDS, "王芳", False, "**", id="short-value-all-stars"),
        pytest.param(SENSITIVE, Masking.ENDS, "", False, "", id="empty"),
        # an address keeps its province and city, never the 单元 and room at its end, nor its length
        pytest.param(SENSITIVE, Masking.PREFIX, ADDRESS, False, "山东省济南市******", id="address"),
        pytest.param(SENSITIVE, Masking.PREFIX, "济南市历下区", False, "济南市******", id="short-address-half"),
        pytest.param(SENSITIVE, Masking.PREFIX, ADDRESS, True, ADDRESS, id="address-full"),
        pytest.param(SENSITIVE, Masking.WHOLE, "张伟（户主）；李娜（妻）", False, "******", id="names-whole"),
        pytest.param(SENSITIVE, Masking.WHOLE, "", False, "******", id="whole-empty-same"),
        pytest.param(NORMAL, Masking.ENDS, "370102199003071234", False, "370102199003071234", id="normal-never-masked"),
    ],
)
def test_mask_value(sensitivity: Sensitivity, masking: Masking, value: str, full: bool, shown: str) -> None:
    assert mask_value(spec(sensitivity, masking), value, full=full) == shown


def test_the_catalog_masks_free_text_whole_unless_it_says_otherwise() -> None:
    """A SENSITIVE free-text field whose ends would name a person or a flat is hidden whole by default; the bootstrap
    catalog keeps addresses' province and city and card numbers' ends."""
    catalog = load_bootstrap_catalog()
    maskings = {
        (t.name, f.key): f.masking
        for t in catalog.license_types.values()
        for f in t.fields
        if f.sensitivity is Sensitivity.SENSITIVE
    }
    assert maskings[("居民身份证", "address")] is Masking.PREFIX
    assert maskings[("户口簿", "household_members")] is Masking.WHOLE
    assert maskings[("社会保障卡", "card_number")] is Masking.ENDS
    assert maskings[("出生医学证明", "mother_citizen_id")] is Masking.ENDS


@pytest.mark.parametrize("full", [False, True])
def test_mask_value_refuses_secret_fields(full: bool) -> None:
    with pytest.raises(ValueError, match="secret"):
        mask_value(spec(Sensitivity.SECRET), "photo-ref", full=full)


@pytest.mark.parametrize(
    ("start", "n", "end"),
    [
        pytest.param(dt.date(2024, 6, 3), 0, dt.date(2024, 6, 3), id="mon+0"),
        pytest.param(dt.date(2024, 6, 3), 1, dt.date(2024, 6, 4), id="mon+1"),
        pytest.param(dt.date(2024, 6, 7), 1, dt.date(2024, 6, 10), id="fri+1-skips-weekend"),
        pytest.param(dt.date(2024, 6, 8), 1, dt.date(2024, 6, 10), id="sat+1"),
        pytest.param(dt.date(2024, 6, 9), 0, dt.date(2024, 6, 9), id="sun+0"),
        pytest.param(dt.date(2024, 6, 3), 5, dt.date(2024, 6, 10), id="mon+5"),
        pytest.param(dt.date(2024, 6, 3), 10, dt.date(2024, 6, 17), id="mon+10"),
        pytest.param(dt.date(2024, 6, 7), 10, dt.date(2024, 6, 21), id="fri+10"),
        pytest.param(dt.date(2024, 12, 27), 3, dt.date(2025, 1, 1), id="across-new-year-holiday-not-modelled"),
    ],
)
def test_working_days_after(start: dt.date, n: int, end: dt.date) -> None:
    assert working_days_after(start, n) == end


def test_working_days_after_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        working_days_after(dt.date(2024, 6, 3), -1)


MONDAY_MORNING = dt.datetime(2024, 6, 3, 9, 0, tzinfo=CHINA_TZ)


@pytest.mark.parametrize(
    ("submitted_at", "now", "expired"),
    [
        pytest.param(MONDAY_MORNING, MONDAY_MORNING, False, id="just-submitted"),
        pytest.param(MONDAY_MORNING, dt.datetime(2024, 6, 17, 23, 59, 59, tzinfo=CHINA_TZ), False, id="last-day"),
        pytest.param(MONDAY_MORNING, dt.datetime(2024, 6, 18, 0, 0, tzinfo=CHINA_TZ), True, id="day-after"),
        pytest.param(MONDAY_MORNING, dt.datetime(2024, 6, 17, 16, 0, tzinfo=dt.UTC), True, id="day-after-in-utc"),
        pytest.param(
            dt.datetime(2024, 6, 7, 17, 0, tzinfo=dt.UTC),  # Saturday 01:00 in China
            dt.datetime(2024, 6, 21, 23, 0, tzinfo=CHINA_TZ),
            False,
            id="submitted-saturday-china-time",
        ),
        pytest.param(
            dt.datetime(2024, 6, 7, 17, 0, tzinfo=dt.UTC),
            dt.datetime(2024, 6, 22, 0, 0, tzinfo=CHINA_TZ),
            True,
            id="submitted-saturday-china-time-expired",
        ),
    ],
)
def test_request_expired(submitted_at: dt.datetime, now: dt.datetime, expired: bool) -> None:
    assert request_expired(submitted_at, now) is expired


def test_request_deadline_is_the_end_of_the_tenth_working_day() -> None:
    assert request_deadline(MONDAY_MORNING) == dt.datetime(2024, 6, 18, 0, 0, tzinfo=CHINA_TZ)


def test_request_expired_needs_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        request_expired(dt.datetime(2024, 6, 3, 9, 0), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        request_expired(MONDAY_MORNING, dt.datetime(2024, 6, 3, 9, 0))


# --- a guardian's consent (监护人代为授权) at use ----------------------------------------------------------------

MOTHER_CODE = "370102199208152226"
BIRTH_CONSENT = Consent(
    consent_id="G1",
    holder_code=CHILD.code,
    grantee_code=MEDICAL.code,
    matter_code=CBDJ.code,
    license_ids=(BIRTH_LIC.license_id,),
    valid_until=NOW + MONTH,
    uses_remaining=1,
    guardian_code=LI_SI,  # the father granted it for his son
)
BIRTH_V2_ID = str(LicenseId.parse(BIRTH_LIC.license_id).next_version())


def amended_birth(**fields: str) -> tuple[License, License]:
    """The certificate amended (变更): the superseded version and the one in force, with ``fields`` changed."""
    superseded = dataclasses.replace(BIRTH_LIC, status=LicenseStatus.SUPERSEDED, superseded_by=BIRTH_V2_ID)
    content = dataclasses.replace(
        BIRTH_LIC.content,
        license_id=BIRTH_V2_ID,
        version=2,
        fields={**BIRTH_LIC.content.fields, **fields},
    )
    return superseded, dataclasses.replace(BIRTH_LIC, content=content, supersedes=BIRTH_LIC.license_id)


def read_birth(license: License, *consents: Consent, now: dt.datetime = NOW) -> Decision:
    return decide(
        caller=MEDICAL,
        license=license,
        license_type=BIRTH,
        matter=CBDJ,
        purpose="参保登记",
        consents=consents,
        now=now,
        issuer_name=HEALTH.name,
    )


def reason_of(decision: Decision) -> Reason | None:
    return decision.reason if isinstance(decision, Deny) else None


def test_a_guardians_consent_reads_while_the_license_names_the_guardian() -> None:
    permit = read_birth(BIRTH_LIC, BIRTH_CONSENT)
    assert isinstance(permit, Permit) and permit.consent_id == "G1"
    assert permit.values["father_name"] == "李四"
    assert {f.basis for f in permit.fields} == {Basis.CONDITIONAL_CONSENT}


def test_a_guardians_consent_ends_when_an_amendment_takes_the_guardian_off() -> None:
    """The review's case: 卫健委 corrects the father. The consent the father granted (it covers every version) no
    longer reads the version in force, which names another man, nor the superseded one."""
    superseded, current = amended_birth(father_citizen_id="370102198801011112", father_name="王强")
    for license in (current, superseded):
        denial = read_birth(license, BIRTH_CONSENT)
        assert isinstance(denial, Deny) and denial.reason is R.CONSENT_GUARDIAN_ENDED
        assert denial.detail == f"出生医学证明：{R.CONSENT_GUARDIAN_ENDED.detail}"
        assert denial.detail.startswith("出生医学证明：监护人代为授权已不适用") and HEALTH.name in denial.remedy
        assert {w.reason for w in denial.withheld} == {R.CONSENT_GUARDIAN_ENDED}
    access = access_state(
        caller=MEDICAL, license=current, license_type=BIRTH, matter=CBDJ, purpose="参保登记",
        consents=(BIRTH_CONSENT,), now=NOW,
    )  # fmt: skip
    assert (access.state, access.reason) == (AccessState.NEEDS_AUTHORIZATION, R.CONSENT_GUARDIAN_ENDED)
    assert R.CONSENT_GUARDIAN_ENDED.authorizable

    # the mother, still named, reads the version in force only: the superseded one says nothing of who is now
    hers = dataclasses.replace(BIRTH_CONSENT, consent_id="G2", guardian_code=MOTHER_CODE)
    assert isinstance(read_birth(current, hers), Permit)
    assert reason_of(read_birth(superseded, hers)) is R.CONSENT_GUARDIAN_ENDED
    # the holder's own consent reads no version: the holder, born 2024, is under 14 (个人信息保护法 第三十一条)
    own = dataclasses.replace(BIRTH_CONSENT, consent_id="C9", guardian_code="")
    assert reason_of(read_birth(current, own)) is reason_of(read_birth(superseded, own)) is R.CONSENT_NEEDS_GUARDIAN
    assert R.CONSENT_NEEDS_GUARDIAN.authorizable


def test_a_guardians_consent_ends_when_the_holder_comes_of_age() -> None:
    """李小宝 (born 2024-05-20, by his 公民身份号码) is of age from 00:00 on 20 May 2042, China time; a consent whose
    end lies beyond (the grant caps it at that day, but a corrected birth date can move the day) stops then."""
    of_age = dt.datetime(2042, 5, 20, tzinfo=CHINA_TZ)
    long = dataclasses.replace(BIRTH_CONSENT, valid_until=of_age + MONTH)
    assert isinstance(read_birth(BIRTH_LIC, long, now=of_age - dt.timedelta(minutes=1)), Permit)
    assert reason_of(read_birth(BIRTH_LIC, long, now=of_age)) is R.CONSENT_GUARDIAN_ENDED
    assert reason_of(read_birth(BIRTH_LIC, long, now=of_age.astimezone(dt.UTC))) is R.CONSENT_GUARDIAN_ENDED
    own = dataclasses.replace(long, guardian_code="")
    assert isinstance(read_birth(BIRTH_LIC, own, now=of_age), Permit)  # the holder's own consent: his to give
    # a consent capped as the grant caps it says EXPIRED at the birthday: the end it was given
    capped = dataclasses.replace(BIRTH_CONSENT, valid_until=of_age)
    assert reason_of(read_birth(BIRTH_LIC, capped, now=of_age)) is R.CONSENT_EXPIRED


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        pytest.param({"withdrawn": True}, R.CONSENT_WITHDRAWN, id="withdrawn-first"),
        pytest.param({"valid_until": NOW}, R.CONSENT_EXPIRED, id="expired-first"),
        pytest.param({"uses_remaining": 0}, R.CONSENT_GUARDIAN_ENDED, id="before-used-up"),
        pytest.param({"matter_code": CSDJ.code}, R.CONSENT_OTHER_MATTER, id="identity-before-state"),
        pytest.param({"grantee_code": TAX.code}, R.CONSENT_OTHER_GRANTEE, id="grantee-before-state"),
        pytest.param({"holder_code": ZHANG_SAN.code}, R.CONSENT_OTHER_HOLDER, id="holder-before-state"),
    ],
)
def test_a_guardian_ended_is_weighed_in_the_order_of_rule_7(changes: dict[str, Any], reason: Reason) -> None:
    _, current = amended_birth(father_citizen_id="370102198801011112")
    assert reason_of(read_birth(current, dataclasses.replace(BIRTH_CONSENT, **changes))) is reason


def test_of_several_consents_a_guardian_ended_is_named_before_one_for_another_license() -> None:
    _, current = amended_birth(father_citizen_id="370102198801011112")
    other = dataclasses.replace(BIRTH_CONSENT, consent_id="G3", license_ids=(OTHER_ID_LICENSE,))
    assert reason_of(read_birth(current, other, BIRTH_CONSENT)) is R.CONSENT_GUARDIAN_ENDED
    used_up = dataclasses.replace(BIRTH_CONSENT, consent_id="G4", guardian_code=MOTHER_CODE, uses_remaining=0)
    assert reason_of(read_birth(current, used_up, BIRTH_CONSENT)) is R.CONSENT_GUARDIAN_ENDED


def test_a_guardians_consent_withdrawn_is_said_in_the_words_of_who_withdrew_it() -> None:
    """The father's consent for his son, withdrawn: by the father (or before who withdrew was recorded, schema 0044),
    the guardian's words, as before; by the holder himself, 14 or over on the day, the holder's, which had been the
    guardian's too (review holder, R2); with the holder's code while he was under 14 that day (China time), or with
    no birth date told, the guardian's: a child under 14 does not act in person (review fixrev3, R1); of two
    withdrawn, the guardian's only when neither was the holder's (the record keeps one flag)."""
    at = dt.datetime(2024, 6, 2, 16, 30, tzinfo=dt.UTC)  # 3 June 00:30 in China
    withdrawn = dataclasses.replace(BIRTH_CONSENT, withdrawn=True, withdrawn_at=at)
    by_father = dataclasses.replace(withdrawn, withdrawn_by=LI_SI)
    fourteen_that_day = dt.date(2010, 6, 3)
    by_holder = dataclasses.replace(withdrawn, consent_id="G5", withdrawn_by=CHILD.code, holder_born=fourteen_that_day)
    by_child = dataclasses.replace(by_holder, holder_born=dt.date(2010, 6, 4))  # 14 the next day
    by_newborn = dataclasses.replace(by_holder, holder_born=dt.date(2024, 5, 20))
    told_nothing = dataclasses.replace(by_holder, holder_born=None)
    guardians = "出生医学证明：监护人已撤回代为授权（the guardian withdrew the consent they granted）"
    holders = "出生医学证明：持证人已撤回授权（the holder withdrew the consent）"
    for consents, words, by_guardian in (
        ((by_father,), guardians, True),
        ((withdrawn,), guardians, True),
        ((by_holder,), holders, False),
        ((by_father, by_holder), holders, False),
        ((by_child,), guardians, True),
        ((by_newborn,), guardians, True),
        ((told_nothing,), guardians, True),
        ((by_father, by_newborn), guardians, True),
    ):
        denial = read_birth(BIRTH_LIC, *consents)
        assert isinstance(denial, Deny)
        assert (denial.reason, denial.detail, denial.by_guardian) == (R.CONSENT_WITHDRAWN, words, by_guardian)
    # a holder's own consent is never said to be a guardian's
    own = dataclasses.replace(withdrawn, guardian_code="", holder_code=ZHANG_SAN.code, withdrawn_by=ZHANG_SAN.code)
    assert not said_by_guardian(R.CONSENT_WITHDRAWN, own)
    # the holder's withdrawal changes the words of the withdrawal alone: a guardian's consent is the guardian's
    assert said_by_guardian(R.CONSENT_USED_UP, by_holder)


# --- what a consent was granted for (review consent, R1) ---------------------------------------------------------

CBDJ_WIDER = dataclasses.replace(
    CBDJ,
    materials=tuple(
        dataclasses.replace(
            m,
            fields=(*m.fields, "mother_citizen_id", "father_citizen_id"),
            full_fields=("mother_citizen_id", "father_citizen_id"),
        )
        if m.type_code == BIRTH.code
        else m
        for m in CBDJ.materials
    ),
)


def read_birth_for(matter: Matter, consent: Consent) -> Decision:
    return decide(
        caller=MEDICAL, license=BIRTH_LIC, license_type=BIRTH, matter=matter, purpose="参保登记",
        consents=(consent,), now=NOW, issuer_name=HEALTH.name,
    )  # fmt: skip


def test_a_consent_lets_through_only_the_fields_it_was_granted_for() -> None:
    """Granted under 参保登记 as the demo catalog has it, the consent does not read the parents' numbers a later
    catalog adds to the matter: withheld CONSENT_OTHER_FIELDS, with the remedy; a consent granted under the wider
    matter reads them in full."""
    granted = consented_fields(CBDJ, BIRTH)
    assert granted == ConsentedFields(fields=("child_name", "gender", "birth_date", "mother_name", "father_name"))
    narrow = dataclasses.replace(BIRTH_CONSENT, granted=((BIRTH.code, granted),))
    permit = read_birth_for(CBDJ_WIDER, narrow)
    assert isinstance(permit, Permit) and permit.consent_id == "G1"
    assert "mother_citizen_id" not in permit.values and "father_citizen_id" not in permit.values
    assert {(w.key, w.reason) for w in permit.withheld} == {
        ("mother_citizen_id", R.CONSENT_OTHER_FIELDS),
        ("father_citizen_id", R.CONSENT_OTHER_FIELDS),
    }
    assert "GrantConsent" in permit.remedy and R.CONSENT_OTHER_FIELDS.authorizable
    wide = dataclasses.replace(BIRTH_CONSENT, granted=((BIRTH.code, consented_fields(CBDJ_WIDER, BIRTH)),))
    full = read_birth_for(CBDJ_WIDER, wide)
    assert isinstance(full, Permit) and not full.withheld
    assert full.values["mother_citizen_id"] == BIRTH_LIC.content.fields["mother_citizen_id"]


def test_a_consent_reads_masked_what_it_read_masked_when_granted() -> None:
    masked_then = ConsentedFields(fields=consented_fields(CBDJ_WIDER, BIRTH).fields)  # no full_fields then
    permit = read_birth_for(CBDJ_WIDER, dataclasses.replace(BIRTH_CONSENT, granted=((BIRTH.code, masked_then),)))
    assert isinstance(permit, Permit) and not permit.withheld
    shown = {f.key: f for f in permit.fields}
    assert shown["mother_citizen_id"].masked and shown["father_citizen_id"].masked


def test_a_consent_that_records_nothing_reads_what_the_material_in_force_lists() -> None:
    """One granted before schema 0039 whose fields the upgrade could not record (``granted`` None): as before."""
    permit = read_birth_for(CBDJ_WIDER, BIRTH_CONSENT)
    assert isinstance(permit, Permit) and not permit.withheld
    assert permit.values["father_citizen_id"] == BIRTH_LIC.content.fields["father_citizen_id"]


def test_of_several_consents_the_one_granted_for_more_is_used() -> None:
    narrow = dataclasses.replace(
        BIRTH_CONSENT, consent_id="N", valid_until=NOW + SECOND, granted=((BIRTH.code, consented_fields(CBDJ, BIRTH)),)
    )
    wide = dataclasses.replace(
        BIRTH_CONSENT, consent_id="W", granted=((BIRTH.code, consented_fields(CBDJ_WIDER, BIRTH)),)
    )
    permit = decide(
        caller=MEDICAL, license=BIRTH_LIC, license_type=BIRTH, matter=CBDJ_WIDER, purpose="参保登记",
        consents=(narrow, wide), now=NOW,
    )  # fmt: skip
    assert isinstance(permit, Permit) and permit.consent_id == "W" and not permit.withheld


def test_a_consent_a_parent_under_18_granted_does_not_read() -> None:
    """Granted before the grant refused it (review consent, R3): at use, a parent under 18 is no guardian."""
    young = "370102201001010220"  # a girl born 2010-01-01: 14 at NOW
    license = dataclasses.replace(
        BIRTH_LIC, content=dataclasses.replace(BIRTH_LIC.content, fields={**BIRTH_LIC.content.fields,
                                                                          "mother_citizen_id": young})
    )  # fmt: skip
    assert young in guardians_of(license, BIRTH)
    theirs = dataclasses.replace(BIRTH_CONSENT, guardian_code=young)
    assert reason_of(read_birth(license, theirs)) is R.CONSENT_GUARDIAN_ENDED
    assert isinstance(read_birth(license, BIRTH_CONSENT), Permit)  # the father, of age, still consents
