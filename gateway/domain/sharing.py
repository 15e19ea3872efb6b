"""The sharing policy (共享策略): who may read which fields of a license, for which matter, and why not.

>>> decision = decide(caller=tax, license=business_license, license_type=catalog.license_type(BL),  # doctest: +SKIP
...                   matter=catalog.matter("370100-FPSL-001"), purpose="首次申领发票", now=clock.now())
>>> decision.values["company_name"]  # doctest: +SKIP
'济南泉城科技有限公司'

``decide`` is the one function every sharing path goes through; ``access_state`` (ListHolderLicenses) derives its
answer from ``decide``. Both are pure: approvals, consents and the time come in as arguments.

The rules, in the order they apply:

1. The issuer of a license is no exception: used for a matter, its own license is read by the rules below as
   anyone's (a matter decides what is read, whoever reads it, and a holder's consent or an approval — its own,
   decided in its own queue — lifts a conditional field for it as for anyone). Its registry work reads the whole
   record through ``IssuanceService.GetLicense`` instead. It had read every field but the SECRET ones under any
   matter, so the 刻章备案 desk of the police, which issues the ID card, read a card's full address under 企业印章刻制
   and ignored the consent the holder had handed over (ADR 0011).
2. Only consumers read data: members with the CONSUMER role, or PARTNER (a partner gateway fetches for its
   region's departments under its own code, so approvals and consents name the partner as grantee). A holder portal
   or an admin without one of those roles is refused with NOT_A_CONSUMER: portals act for holders through consents
   and the holder view, and admins administer the gateway; neither reads personal data here.
3. A consumer needs a matter (NO_MATTER), a purpose that is not blank (NO_PURPOSE), and a matter whose materials
   include the license's type (MATTER_NOT_FOR_TYPE).
4. Least privilege: only the fields the matter's material lists are considered; nothing else is returned.
5. Each listed field is judged by its own sharing class (the field's, else the type's; never looser than the type's):
   SECRET sensitivity → withheld (SECRET), for everyone, the issuer included: such values never leave the gateway;
   NOT_SHARED → withheld (NOT_SHARED) whatever the approvals or consents (a holder-presented document can still be
   verified); UNCONDITIONAL → shared; CONDITIONAL → shared when a live approval lists the field, else when a live
   consent covers the license, else withheld with the reason of rule 7.
   A material that lists no fields is judged once by the type's class and yields a permit without fields.
6. Live approval: state APPROVED, ``now < valid_until``, granted by the license's issuer to the caller, for this
   matter, for the license's type (and, when ``license_id`` is set, for this very license, in any of its versions:
   an amendment does not end it). Approvals that do not name this caller, matter, issuer and license are not about
   this request and are ignored.
   Live consent: for this holder, this caller, this matter, covering the license (by id, any of its versions, or by
   type), not withdrawn, ``now < valid_until`` and uses left; a guardian's consent (监护人代为授权, ``guardian_code``
   set) moreover only while the license read is the version in force (not SUPERSEDED) and in force on the day (not
   suspended, revoked, cancelled or past its end), that version still names the guardian
   (``gateway.domain.guardianship.guardians_of``) and its holder is still a minor on the day (China time): a parent
   an amendment took off the license or a revocation left unnamed, or a holder of age, no longer consents through it.
   A consent is presented by the caller, so a mismatch is reported; identity is checked before state, so a caller
   holding someone else's code learns nothing about its state. When several consents are live, the one that covers
   the most of the material's conditional fields is used, of those the one that expires first.
   Approvals are preferred: a consent is used (and its use reported in ``Permit.consent_id`` for the service to
   count) only when some field needs it. A consent lets through only the fields it was granted for
   (``Consent.granted``: the material's conditional fields then); another conditional field the material lists now is
   withheld CONSENT_OTHER_FIELDS (the catalog changed since the grant: the holder consents again).
7. The reason for a withheld conditional field: the best consent failure if consents were presented (in the order
   CONSENT_WITHDRAWN, CONSENT_EXPIRED, CONSENT_GUARDIAN_ENDED, CONSENT_NEEDS_GUARDIAN, CONSENT_USED_UP,
   CONSENT_OTHER_LICENSE, CONSENT_OTHER_MATTER, CONSENT_OTHER_GRANTEE, CONSENT_OTHER_HOLDER); else FIELD_NOT_APPROVED
   when a live approval exists without the field; else the fate of the most relevant approval that applies (rule 6)
   but no longer grants: of those that name the field (all of them for a material without fields), else of all, the
   one that stopped granting last decides: APPROVAL_WITHDRAWN (stopped when withdrawn, or at its end if that came
   first), APPROVAL_EXPIRED (at its end), APPROVAL_REJECTED (when rejected); on the same instant in that order. So an
   approval that ran out is reported as expired even when an older one for the type was withdrawn, and a withdrawal
   or rejection after an expiry is reported as such; else NEEDS_AUTHORIZATION. All of these carry a remedy: ask the
   issuer (RequestAccess) or whoever may consent for the holder (GrantConsent): the holder; a parent the license
   names (a 出生医学证明), instead of a holder under 14 or beside one of 14 to 17; no one for a holder under 14 whom
   the license names no parent of (a child's 居民身份证), the issuer's approval alone (``_remedy``).
8. Partial results: a ``Permit`` as soon as one field is shared, listing the withheld fields with their reasons;
   a ``Deny`` when none is, whose reason is the conditional fields' reason if any, else NOT_SHARED, else SECRET.
9. Masking: SENSITIVE fields are masked (``3701**********1234``) unless the material's ``full_fields`` names them;
   one a consent lets through, unless it named them when the consent was granted too (``ConsentedFields``); one an
   approval lets through, unless it named them when the approval was given too (``Approval.full_fields``).
10. The holder's code (持证主体代码) is shown in full for organisations (a USCC is public registration data), and
    when a field shown unmasked in the same permit carries the same value (showing it then discloses
    nothing more); otherwise it is masked (``3701**********1234``), and hidden whole (``******************``) when
    it has a 公民身份号码's form and the permit shows a field that states a birth date it may carry or a region
    (``rebuilds_holder_code``): the mask keeps the first and last four, and what it hides is two region digits and
    the birth date, so the two together had given the number back (a privacy auditor). A type ``issued_at_birth``
    (a 出生医学证明) states the birth date in its ``valid_from``, which every answer showing a license gives: its
    holder's code of that form is hidden whole wherever it is shown, a verification's summary too
    (``shown_holder_code``).

Deadlines: an access request not decided within 10 working days expires. Working days skip Saturdays and Sundays;
public holidays and make-up working days (调休) are not modelled. The day of submission is not counted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gateway.domain.catalog import (
    FieldSpec,
    LicenseType,
    Masking,
    Material,
    Matter,
    OfHolder,
    Sensitivity,
    SharingClass,
    ValueType,
)
from gateway.domain.errors import PermissionDeniedError
from gateway.domain.guardianship import (
    born_under_consent_age,
    guardian_of_age,
    guardians_of,
    is_minor,
    under_consent_age,
)
from gateway.domain.identifiers import carries_birth_date, holder_code_types_of, same_license
from gateway.domain.model import CHINA_TZ, Holder, License, LicenseContent, LicenseStatus, Member, Role, mask

MASKED = "******"
"""What stands for the hidden part of a value masked ``PREFIX`` or ``WHOLE``: always six, so its length is not told."""
MASK_PREFIX = 6
"""Characters a ``PREFIX`` mask keeps at most (an address's 山东省济南市), and never more than half the value."""
CONSUMER_ROLES = frozenset({Role.CONSUMER, Role.PARTNER})
"""Roles that may read license data for a matter."""

DECISION_WORKING_DAYS = 10
"""Working days an issuer has to decide an access request before it expires."""


class Reason(enum.StrEnum):
    """Why a field is withheld or a request denied: stable codes for clients, logs and the audit trail."""

    NOT_A_CONSUMER = "NOT_A_CONSUMER"
    NO_MATTER = "NO_MATTER"
    NO_PURPOSE = "NO_PURPOSE"
    MATTER_NOT_FOR_TYPE = "MATTER_NOT_FOR_TYPE"
    NOT_SHARED = "NOT_SHARED"
    SECRET = "SECRET"
    NEEDS_AUTHORIZATION = "NEEDS_AUTHORIZATION"
    FIELD_NOT_APPROVED = "FIELD_NOT_APPROVED"
    APPROVAL_WITHDRAWN = "APPROVAL_WITHDRAWN"
    APPROVAL_EXPIRED = "APPROVAL_EXPIRED"
    APPROVAL_REJECTED = "APPROVAL_REJECTED"
    CONSENT_WITHDRAWN = "CONSENT_WITHDRAWN"
    CONSENT_EXPIRED = "CONSENT_EXPIRED"
    CONSENT_GUARDIAN_ENDED = "CONSENT_GUARDIAN_ENDED"
    CONSENT_NEEDS_GUARDIAN = "CONSENT_NEEDS_GUARDIAN"
    CONSENT_USED_UP = "CONSENT_USED_UP"
    CONSENT_OTHER_FIELDS = "CONSENT_OTHER_FIELDS"
    CONSENT_OTHER_LICENSE = "CONSENT_OTHER_LICENSE"
    CONSENT_OTHER_MATTER = "CONSENT_OTHER_MATTER"
    CONSENT_OTHER_GRANTEE = "CONSENT_OTHER_GRANTEE"
    CONSENT_OTHER_HOLDER = "CONSENT_OTHER_HOLDER"
    RECORD_NOT_INTACT = "RECORD_NOT_INTACT"

    @property
    def detail(self) -> str:
        """What the reason means, in Chinese for clerks."""
        return _DETAILS[self]

    @property
    def authorizable(self) -> bool:
        """Whether an approval or a consent would lift it."""
        return self in _AUTHORIZABLE


_DETAILS = {
    Reason.NOT_A_CONSUMER: "调用方不是用证部门，不能读取证照数据（the caller is no consumer: it reads no data）",
    Reason.NO_MATTER: "未指明办理事项，不能读取证照数据（no matter named: no data is read without one）",
    Reason.NO_PURPOSE: "未说明用证事由（no purpose given）",
    Reason.MATTER_NOT_FOR_TYPE: "该事项的材料清单不包含此类证照（the matter's materials list no license of this type）",
    Reason.NOT_SHARED: "不予共享；持证人出示的证照仍可核验（not shared; a license its holder shows can be verified）",
    Reason.RECORD_NOT_INTACT: (
        "登记记录未通过校验（可能在库中被改动），不予共享"
        "（the stored record fails its check, and may have been changed in the store: not shared）"
    ),
    Reason.SECRET: "该信息项不对外提供（this field is never given out）",
    Reason.NEEDS_AUTHORIZATION: (
        "有条件共享，需发证部门审批或用证授权（conditionally shared: needs the issuer's approval or a consent）"
    ),
    Reason.FIELD_NOT_APPROVED: "审批未包含该信息项（the approval does not include this field）",
    Reason.APPROVAL_WITHDRAWN: "发证部门已撤回审批（the issuer withdrew its approval）",
    Reason.APPROVAL_EXPIRED: "审批已过期（the approval has expired）",
    Reason.APPROVAL_REJECTED: "申请已被发证部门拒绝（the issuer rejected the request）",
    Reason.CONSENT_WITHDRAWN: "持证人已撤回授权（the holder withdrew the consent）",
    Reason.CONSENT_EXPIRED: "持证人授权已过期（the holder's consent has expired）",
    Reason.CONSENT_GUARDIAN_ENDED: (
        "监护人代为授权已不适用：授权人不是此证照现行版本载明的监护人，或未满18周岁，或现行版本已不在有效状态"
        "（暂停使用、吊销或撤销、注销），或持证人已成年；请读取现行版本，或请现行有效版本载明的已成年监护人重新授权"
        "（持证人年满14周岁的，也可本人授权）"
        "（a guardian's consent no longer applies: whoever granted it is no guardian "
        "the version in force names, or is under 18, that version is not in force (suspended, revoked, cancelled), or "
        "the holder is of age; read the version in force, or ask a guardian of age a license in force names to "
        "consent again, or the holder from 14 on）"
    ),
    Reason.CONSENT_NEEDS_GUARDIAN: (
        "持证人未满14周岁，本人授权不适用：载明父母的出生医学证明等证照由其父亲或母亲代为授权，"
        "其他证照须向发证部门申请审批（the holder is under 14: their own consent does not apply; a parent a license "
        "names consents for that license, a birth certificate; for others, ask the issuer, RequestAccess）"
    ),
    Reason.CONSENT_USED_UP: "持证人授权次数已用完（the holder's consent is used up）",
    Reason.CONSENT_OTHER_FIELDS: (
        "持证人授权时该事项不读取此信息项（证照目录已变更），授权不涵盖它，请持证人重新授权"
        "（the holder's consent was granted when the matter did not read this field: the catalog changed since; ask "
        "the holder to consent again）"
    ),
    Reason.CONSENT_OTHER_LICENSE: "用证码不涵盖此证照（the consent code does not cover this license）",
    Reason.CONSENT_OTHER_MATTER: "用证码授权的是其他事项（the consent code is for another matter）",
    Reason.CONSENT_OTHER_GRANTEE: "用证码授予的是其他部门（the consent code was granted to another department）",
    Reason.CONSENT_OTHER_HOLDER: "用证码不是此证照的持证人出具的（the consent code is not this license's holder's）",
}
_GUARDIAN_DETAILS = {
    Reason.CONSENT_WITHDRAWN: "监护人已撤回代为授权（the guardian withdrew the consent they granted）",
    Reason.CONSENT_EXPIRED: "监护人代为授权已过期（the guardian's consent has expired）",
    Reason.CONSENT_USED_UP: "监护人代为授权次数已用完（the guardian's consent is used up）",
    Reason.CONSENT_OTHER_FIELDS: (
        "监护人代为授权时该事项不读取此信息项（证照目录已变更），授权不涵盖它，请监护人重新授权"
        "（the guardian's consent was granted when the matter did not read this field: the catalog changed since; ask "
        "the guardian to consent again）"
    ),
}


def said_by_guardian(reason: Reason, consent: Consent) -> bool:
    """Whether ``consent``, refused for ``reason``, is said in the guardian's words (``guardian_words``): a consent a
    parent granted for the holder, unless the reason is its withdrawal and the holder withdrew it in person
    (``withdrawn_in_person``; one withdrawn before who withdrew was recorded is said to be the guardian's, as it
    was)."""
    if not consent.guardian_code:
        return False
    return reason is not Reason.CONSENT_WITHDRAWN or not withdrawn_in_person(
        consent.holder_code, consent.withdrawn_by, consent.withdrawn_at, consent.holder_born
    )


def withdrawn_in_person(
    holder_code: str, withdrawn_by: str, withdrawn_at: dt.datetime | None, holder_born: dt.date | None
) -> bool:
    """Whether a consent a parent granted for the holder was withdrawn by the holder in person: with the holder's
    code (``withdrawn_by``, schema 0044) by a holder of 14 or over on the day of the withdrawal (``withdrawn_at``,
    China time), as a grant judges a holder's own act (``GUARDIAN_MUST_CONSENT``). A child under 14 does not act in
    person, so a withdrawal with a newborn's or a 10-year-old's code (WithdrawConsent takes it) is a parent's, and
    is said in the guardian's words: it had been said as the holder's, 持证人已撤回授权, to departments and on the
    trail, as if a week-old baby had withdrawn it (review fixrev3, R1). False too when the holder's birth date
    cannot be told (``holder_born``): the guardian's words, as before who withdrew was recorded."""
    return (
        bool(withdrawn_by)
        and withdrawn_by == holder_code
        and withdrawn_at is not None
        and holder_born is not None
        and not born_under_consent_age(holder_born, withdrawn_at)
    )


def guardian_words(reason: Reason) -> str:
    """The words of ``reason`` for a consent a parent granted for the holder (监护人代为授权,
    ``Consent.guardian_code``): the guardian's, not the holder's, for the reasons whose words name who granted it;
    else ``reason.detail``. A mother's one-use consent for her newborn had been refused as 持证人授权次数已用完, and
    one she withdrew as 持证人已撤回授权, as if the newborn had used it up or withdrawn it (a reviewer, scen1 R2)."""
    return _GUARDIAN_DETAILS.get(reason, reason.detail)


_CONSENT_FAILURES = (
    Reason.CONSENT_WITHDRAWN,
    Reason.CONSENT_EXPIRED,
    Reason.CONSENT_GUARDIAN_ENDED,
    Reason.CONSENT_NEEDS_GUARDIAN,
    Reason.CONSENT_USED_UP,
    Reason.CONSENT_OTHER_FIELDS,
    Reason.CONSENT_OTHER_LICENSE,
    Reason.CONSENT_OTHER_MATTER,
    Reason.CONSENT_OTHER_GRANTEE,
    Reason.CONSENT_OTHER_HOLDER,
)
_APPROVAL_FAILURES = (Reason.APPROVAL_WITHDRAWN, Reason.APPROVAL_EXPIRED, Reason.APPROVAL_REJECTED)
_AUTHORIZABLE = frozenset(
    {Reason.NEEDS_AUTHORIZATION, Reason.FIELD_NOT_APPROVED, *_APPROVAL_FAILURES, *_CONSENT_FAILURES}
)


class ApprovalState(enum.Enum):
    """The outcome of an access request (审批) as far as the policy cares."""

    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"  # marked expired by the service; a past ``valid_until`` counts the same
    WITHDRAWN = "WITHDRAWN"  # approved, then withdrawn by the issuer


@dataclass(frozen=True, slots=True, kw_only=True)
class Approval:
    """An issuer's decision on an access request (有条件共享审批)."""

    approval_id: str
    issuer_code: str
    """The issuer that decided; it covers only that issuer's licenses."""
    grantee_code: str
    """The member the approval is for."""
    type_code: str
    license_id: str = ""
    """One license of the type, or every license of the type from the issuer when empty."""
    matter_code: str
    fields: tuple[str, ...]
    """Approved field keys, possibly fewer than requested (kept when withdrawn); for a rejection, the keys refused."""
    full_fields: tuple[str, ...] | None = None
    """Those of ``fields`` the matter's material showed unmasked (named in its ``full_fields``) when they were
    approved: one approved masked stays masked, whatever a catalog adopted later says, as for a consent
    (``ConsentedFields.full_fields``). A later catalog had unmasked it, which the issuer never approved (a reviewer,
    access R1). None for an approval given before these were recorded (schema 0040) that the upgrade could not record
    them for: masked as the material in force says, as every approval was before."""
    valid_until: dt.datetime
    """The end of the approval as given (kept when withdrawn); for a rejection, when it was rejected."""
    state: ApprovalState = ApprovalState.APPROVED
    decided_at: dt.datetime | None = None
    """The issuer's latest decision on it: when it was approved or rejected, or withdrawn. With WITHDRAWN, it says
    when the approval stopped granting (rule 7 weighs approvals by that); unknown, ``valid_until`` stands for it."""

    def __post_init__(self) -> None:
        _require_aware("valid_until", self.valid_until)
        if self.decided_at is not None:
            _require_aware("decided_at", self.decided_at)

    def failure(self, now: dt.datetime) -> tuple[Reason, dt.datetime] | None:
        """Why the approval no longer grants at ``now``, and since when; None while it is live."""
        if self.state is ApprovalState.REJECTED:
            return Reason.APPROVAL_REJECTED, self.decided_at or self.valid_until
        if self.state is ApprovalState.WITHDRAWN:
            withdrawn = self.decided_at or self.valid_until
            return Reason.APPROVAL_WITHDRAWN, min(withdrawn, self.valid_until)
        if self.state is ApprovalState.EXPIRED or now >= self.valid_until:
            return Reason.APPROVAL_EXPIRED, self.valid_until
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentedFields:
    """What a consent was granted for under its matter, for one license type: what the matter's material of that type
    read then that only a consent (or an approval) lets through, and which of those it read unmasked. Recorded at the
    grant (``consented_fields``), as an approval records its fields: a catalog adopted later that widens the material
    (more conditional fields, a sensitive one unmasked) does not widen the consent (个人信息保护法 第十四条: a change
    in what is processed needs a new consent). It had, and the mother's consent for her newborn's 出生医学证明 under
    参保登记 then released both parents' 公民身份号码 in full (a reviewer, R1)."""

    fields: tuple[str, ...]
    """The material's ``CONDITIONAL`` fields at the grant (none for a material that listed no fields)."""
    full_fields: tuple[str, ...] = ()
    """Those of ``fields`` the material named in ``full_fields`` at the grant."""


def consented_fields(matter: Matter, license_type: LicenseType) -> ConsentedFields:
    """What a consent naming ``license_type`` (or a license of it) granted now under ``matter`` covers
    (``ConsentedFields``): the fields of its material that are ``CONDITIONAL`` now and not secret, as ``decide``
    judges them (rule 5)."""
    material = next((m for m in matter.materials if m.type_code == license_type.code), None)
    if material is None:
        return ConsentedFields(fields=())
    fields = tuple(
        key
        for key in material.fields
        if license_type.field_sharing_class(key) is SharingClass.CONDITIONAL
        and (spec := license_type.field_spec(key)) is not None
        and spec.sensitivity is not Sensitivity.SECRET
    )
    return ConsentedFields(fields=fields, full_fields=tuple(k for k in fields if k in material.full_fields))


@dataclass(frozen=True, slots=True, kw_only=True)
class Consent:
    """A holder's authorisation (授权 / 用证码), created through a holder portal."""

    consent_id: str
    holder_code: str
    grantee_code: str
    matter_code: str
    license_ids: tuple[str, ...] = ()
    type_codes: tuple[str, ...] = ()
    """Every license of these types held by the holder."""
    valid_until: dt.datetime
    uses_remaining: int
    withdrawn: bool = False
    guardian_code: str = ""
    """The 公民身份号码 of the parent who granted it for a minor holder (监护人代为授权); empty when the holder did.
    Such a consent counts only while the version read names that parent and its holder is a minor (rule 6)."""
    withdrawn_by: str = ""
    """Who withdrew it, by the code used: ``holder_code`` (the holder's code withdraws a parent's consent too) or
    ``guardian_code``; empty when not withdrawn, or withdrawn before the store's upgrade to schema 0044. A withdrawal
    is said to be the guardian's (``guardian_words``) unless the holder withdrew it in person
    (``withdrawn_in_person``: with the holder's code, 14 or over on the day): a 15-year-old's had been refused to
    departments as 监护人已撤回代为授权, the guardian withdrew it (review holder, R2), and one with a newborn's code
    is a parent's act (review fixrev3, R1)."""
    withdrawn_at: dt.datetime | None = None
    """When it was withdrawn (``withdrawn``); None when it was not, or it was not looked up."""
    holder_born: dt.date | None = None
    """The holder's birth date as the gateway's records tell it when the consent is presented: their citizen ID's,
    else the latest their current licenses tell (``holder_born`` of the authorisation service, which lists the
    consent by it); None when nothing tells it or it was not looked up (a guardian's consent's is looked up only when
    the holder's code withdrew it, ``withdrawn_in_person``). The license read is judged too, the later
    date deciding (``under_consent_age``). A
    holder's own consent counts only while they are 14 or over: a newborn's own consent listed NEEDS_GUARDIAN by the
    birth certificate had been honoured for a license of a type with no birth date (a reviewer, R3)."""
    granted: tuple[tuple[str, ConsentedFields], ...] | None = None
    """What it was granted for, by license type code (``ConsentedFields``; pairs, so that a consent hashes): a
    conditional field it did not cover then is withheld ``CONSENT_OTHER_FIELDS``, and a field it covered masked then
    is masked still. None for a consent granted
    before these were recorded (schema 0039) that the upgrade could not record them for: it reads what the matter's
    material in force lists, as every consent did before."""

    def __post_init__(self) -> None:
        _require_aware("valid_until", self.valid_until)
        if self.uses_remaining < 0:
            raise ValueError("uses_remaining must not be negative")
        if not self.license_ids and not self.type_codes:
            raise ValueError("a consent covers at least one license or license type")

    def covers(self, content: LicenseContent) -> bool:
        """Whether the consent names the license (any of its versions: it stays with the license through amendments)
        or its type."""
        return content.type_code in self.type_codes or any(
            same_license(named, content.license_id) for named in self.license_ids
        )


class Basis(enum.Enum):
    """Why a field is shared."""

    UNCONDITIONAL = "UNCONDITIONAL"
    CONDITIONAL_APPROVAL = "CONDITIONAL_APPROVAL"
    CONDITIONAL_CONSENT = "CONDITIONAL_CONSENT"


@dataclass(frozen=True, slots=True, kw_only=True)
class SharedField:
    """A field the caller may see."""

    key: str
    label: str
    value: str
    """The value as shown: masked when ``masked``; empty when the license does not carry the field."""
    masked: bool
    basis: Basis


@dataclass(frozen=True, slots=True, kw_only=True)
class WithheldField:
    """A field the matter lists that the caller may not see."""

    key: str
    label: str
    reason: Reason
    said: str = ""
    """The reason's words when they are not ``Reason.detail``: a consent a parent granted for the holder is said to
    be the guardian's (``guardian_words``)."""

    @property
    def detail(self) -> str:
        """What the reason means here, for clerks."""
        return self.said or self.reason.detail


@dataclass(frozen=True, slots=True, kw_only=True)
class Permit:
    """At least one field may be read (or, for a material without fields, the license may be used)."""

    fields: tuple[SharedField, ...]
    """In the material's order."""
    withheld: tuple[WithheldField, ...] = ()
    holder_code: str
    """The holder's code as shown (see rule 10)."""
    approval_ids: tuple[str, ...] = ()
    """Approvals that granted a shared field: every live one that covers it (of a material without fields, every
    live one), in the order given, so the access record names each one the read relied on (a reviewer, access R3)."""
    consent_id: str = ""
    """The consent that granted a shared field: the service counts one use of it. Empty when none was used."""
    remedy: str = ""
    """How to get the withheld fields, when an approval or a consent would lift them."""

    @property
    def values(self) -> Mapping[str, str]:
        return {f.key: f.value for f in self.fields}


@dataclass(frozen=True, slots=True, kw_only=True)
class Deny:
    """Nothing may be read."""

    reason: Reason
    detail: str
    """What happened, for people."""
    withheld: tuple[WithheldField, ...] = ()
    """The fields the matter lists, each with its reason (empty when the request failed before fields were judged)."""
    remedy: str = ""
    """How to get access, when an approval or a consent would give it."""
    by_guardian: bool = False
    """Whether ``reason`` is about a consent a parent granted for the holder, said in the guardian's words
    (``guardian_words``): the access record keeps it (``AuditEntry.by_guardian``), so the trail says it alike."""

    def error(self) -> PermissionDeniedError:
        """The error a service raises for this denial (the remedy travels as metadata)."""
        return PermissionDeniedError(
            self.detail, reason=self.reason.value, metadata={"remedy": self.remedy} if self.remedy else None
        )


Decision = Permit | Deny


class AccessState(enum.Enum):
    """A license's state in ListHolderLicenses."""

    AVAILABLE = "AVAILABLE"
    NEEDS_AUTHORIZATION = "NEEDS_AUTHORIZATION"
    NOT_SHARED = "NOT_SHARED"


@dataclass(frozen=True, slots=True, kw_only=True)
class Access:
    """What a consumer may do with a license for a matter."""

    state: AccessState
    reason: Reason | None = None
    """Why it is not AVAILABLE."""
    detail: str = ""
    remedy: str = ""
    """How to get authorisation, for NEEDS_AUTHORIZATION."""


def decide(
    *,
    caller: Member,
    license: License,
    license_type: LicenseType,
    matter: Matter | None,
    purpose: str,
    approvals: Sequence[Approval] = (),
    consents: Sequence[Consent] = (),
    now: dt.datetime,
    issuer_name: str = "",
    holder_named: bool = False,
) -> Decision:
    """Decide what ``caller`` may read of ``license`` for ``matter`` (rules in the module docstring). ``issuer_name``
    is the license's issuer's name, for the remedy that tells the clerk whom to ask."""
    _require_aware("now", now)
    content = license.content
    if license_type.code != content.type_code:
        raise ValueError(f"license {content.license_id} is not of type {license_type.code}")
    if not caller.roles & CONSUMER_ROLES:
        return _deny(Reason.NOT_A_CONSUMER, license_type)
    if matter is None:
        return _deny(Reason.NO_MATTER, license_type)
    if not purpose.strip():
        return _deny(Reason.NO_PURPOSE, license_type)
    material = next((m for m in matter.materials if m.type_code == license_type.code), None)
    if material is None:
        return _deny(Reason.MATTER_NOT_FOR_TYPE, license_type, f"事项 {matter.code} 不需要{license_type.name}")
    grants = _grants(caller, license, license_type, matter, material, approvals, consents, now)
    tells_age = holder_named or _reads_age(license_type, material)
    remedy = _remedy(license, license_type, issuer_name, now, consents, tells_age=tells_age)
    if not material.fields:
        verdict = _judge(license_type.sharing_class, Sensitivity.NORMAL, None, grants)
        if isinstance(verdict, Reason):
            return _deny(
                verdict, license_type, remedy=remedy if verdict.authorizable else "", said=grants.words(verdict)
            )
        return Permit(
            fields=(),
            holder_code=shown_holder_code(content.holder, license_type),
            approval_ids=tuple(a.approval_id for a in grants.approvals) if verdict is _Via.APPROVAL else (),
            consent_id=grants.consent.consent_id if grants.consent and verdict is _Via.CONSENT else "",
        )
    return _judge_fields(content, license_type, material, grants, remedy)


def access_state(
    *,
    caller: Member,
    license: License,
    license_type: LicenseType,
    matter: Matter | None,
    purpose: str,
    approvals: Sequence[Approval] = (),
    consents: Sequence[Consent] = (),
    now: dt.datetime,
    issuer_name: str = "",
    holder_named: bool = False,
) -> Access:
    """The access state of ``license`` for ``matter`` (ListHolderLicenses), derived from ``decide``.

    AVAILABLE when every field the matter lists that could be shared at all is permitted now; NEEDS_AUTHORIZATION when
    an approval or a consent would lift a denial or a withheld field; NOT_SHARED otherwise. Nothing is consumed: a
    consent that would be used is not counted here.
    """
    decision = decide(
        caller=caller,
        license=license,
        license_type=license_type,
        matter=matter,
        purpose=purpose,
        approvals=approvals,
        consents=consents,
        now=now,
        issuer_name=issuer_name,
        holder_named=holder_named,
    )
    if isinstance(decision, Deny):
        state = AccessState.NEEDS_AUTHORIZATION if decision.reason.authorizable else AccessState.NOT_SHARED
        return Access(state=state, reason=decision.reason, detail=decision.detail, remedy=decision.remedy)
    pending = next((w for w in decision.withheld if w.reason.authorizable), None)
    if pending is None:
        return Access(state=AccessState.AVAILABLE)
    return Access(
        state=AccessState.NEEDS_AUTHORIZATION,
        reason=pending.reason,
        detail=f"{license_type.name} {pending.label}：{pending.detail}",
        remedy=decision.remedy,
    )


class ConsentNeed(enum.Enum):
    """What a holder's consent to a license type would change under a matter (``consent_need``)."""

    NEEDED = "NEEDED"
    """Some field the matter lists (or, listing none, the type) is conditional: a consent lets it through."""
    NOT_NEEDED = "NOT_NEEDED"
    """Everything the matter lists that is ever shared is shared unconditionally: read without a consent."""
    NEVER_SHARED = "NEVER_SHARED"
    """Nothing the matter lists is ever shared (不予共享, or secret): no consent lets it through."""


def consent_need(license_type: LicenseType, material: Material) -> ConsentNeed:
    """Whether a consent naming ``license_type`` (or a license of it) lets anything through under the matter whose
    ``material`` it is: judged field by field as ``decide`` judges them (rule 5), a material without fields by the
    type's class. A consent only ever lifts a CONDITIONAL field: one granted for a 营业执照 (无条件共享) had been listed
    ACTIVE, withdrawn, and changed nothing either way, while the holder was told 已授权, 已撤回 (a holder-portal
    tester, D1)."""
    if not material.fields:
        judged = [(license_type.sharing_class, Sensitivity.NORMAL)]
    else:
        judged = []
        for key in material.fields:
            spec = license_type.field_spec(key)
            judged.append((license_type.field_sharing_class(key), spec.sensitivity if spec else Sensitivity.NORMAL))
    shared = [sharing for sharing, sensitivity in judged if sensitivity is not Sensitivity.SECRET]
    if SharingClass.CONDITIONAL in shared:
        return ConsentNeed.NEEDED
    if SharingClass.UNCONDITIONAL in shared:
        return ConsentNeed.NOT_NEEDED
    return ConsentNeed.NEVER_SHARED


def mask_value(spec: FieldSpec, value: str, *, full: bool) -> str:
    """``value`` as shown: SENSITIVE values masked unless ``full``; SECRET values are never shown (ValueError)."""
    if spec.sensitivity is Sensitivity.SECRET:
        raise ValueError(f"field {spec.key} is secret and never leaves the gateway")
    if spec.sensitivity is Sensitivity.SENSITIVE and not full:
        if spec.masking is Masking.PREFIX:
            return value[: min(MASK_PREFIX, len(value) // 2)] + MASKED
        return mask(value) if spec.masking is Masking.ENDS else MASKED
    return value


def working_days_after(start: dt.date, n: int) -> dt.date:
    """The date ``n`` working days after ``start`` (Monday to Friday; holidays and 调休 are not modelled)."""
    if n < 0:
        raise ValueError("n must not be negative")
    day = start
    while n:
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            n -= 1
    return day


def request_deadline(submitted_at: dt.datetime) -> dt.datetime:
    """When an access request submitted at ``submitted_at`` expires: the end of its 10th working day (China time)."""
    _require_aware("submitted_at", submitted_at)
    last_day = working_days_after(submitted_at.astimezone(CHINA_TZ).date(), DECISION_WORKING_DAYS)
    return dt.datetime.combine(last_day + dt.timedelta(days=1), dt.time(), CHINA_TZ)


def request_expired(submitted_at: dt.datetime, now: dt.datetime) -> bool:
    """Whether an access request submitted at ``submitted_at`` and still undecided has expired by ``now``."""
    _require_aware("now", now)
    return now >= request_deadline(submitted_at)


class _Via(enum.Enum):
    APPROVAL = "APPROVAL"
    CONSENT = "CONSENT"


@dataclass(frozen=True, slots=True, kw_only=True)
class _Ended:
    """An approval that applies to the request but no longer grants: why, and since when."""

    fields: tuple[str, ...]
    reason: Reason
    since: dt.datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class _Grants:
    """The approvals and consent that apply to one request, and what to say when they do not suffice."""

    approvals: tuple[Approval, ...]
    consent: Consent | None
    consent_fields: ConsentedFields | None
    """What ``consent`` was granted for under the license's type; None: whatever the material lists now."""
    consent_failure: Reason | None
    failure_by_guardian: bool = False
    """Whether every consent that failed with ``consent_failure`` is said in the guardian's words
    (``said_by_guardian``): one a parent granted for the holder, not withdrawn by the holder."""
    ended: tuple[_Ended, ...]
    """Newest first: the one that stopped granting last, on the same instant in the order of rule 7."""

    def failure(self, key: str | None) -> Reason:
        """The reason to withhold field ``key`` (None: a material without fields) that no grant lets through."""
        if self.consent_failure is not None:
            return self.consent_failure
        if self.approvals:
            return Reason.FIELD_NOT_APPROVED
        naming = [e for e in self.ended if key is None or key in e.fields]
        relevant = naming or self.ended
        return relevant[0].reason if relevant else Reason.NEEDS_AUTHORIZATION

    def words(self, reason: Reason) -> str:
        """The words of ``reason`` when the consent it is about is a guardian's (``guardian_words``); else empty (the
        reason's own)."""
        if reason is self.consent_failure and self.failure_by_guardian:
            return guardian_words(reason)
        if reason is Reason.CONSENT_OTHER_FIELDS and self.consent is not None and self.consent.guardian_code:
            return guardian_words(reason)
        return ""


def _grants(
    caller: Member,
    license: License,
    license_type: LicenseType,
    matter: Matter,
    material: Material,
    approvals: Iterable[Approval],
    consents: Iterable[Consent],
    now: dt.datetime,
) -> _Grants:
    content = license.content
    live_approvals: list[Approval] = []
    ended: list[_Ended] = []
    for approval in approvals:
        if not _approval_applies(approval, caller, content, matter):
            continue
        failure = approval.failure(now)
        if failure is None:
            live_approvals.append(approval)
        else:
            reason, since = failure
            ended.append(_Ended(fields=approval.fields, reason=reason, since=since))
    live_consents: list[Consent] = []
    failed: list[tuple[Reason, Consent]] = []
    for consent in consents:
        problem = _consent_problem(consent, caller, license, license_type, matter, now)
        if problem is None:
            live_consents.append(consent)
        else:
            failed.append((problem, consent))
    consent_failures = {problem for problem, _ in failed}
    consent_failure = _first(_CONSENT_FAILURES, consent_failures) if consent_failures else None
    ended.sort(key=lambda e: _APPROVAL_FAILURES.index(e.reason))
    ended.sort(key=lambda e: e.since, reverse=True)  # stable: on the same instant, in the order of rule 7
    conditional = [key for key in material.fields if license_type.field_sharing_class(key) is SharingClass.CONDITIONAL]

    def uncovered(consent: Consent) -> int:  # the conditional fields it was not granted for: fewest first
        granted = _granted_for(consent, license_type)
        return 0 if granted is None else sum(key not in granted.fields for key in conditional)

    chosen = min(live_consents, key=lambda c: (uncovered(c), c.valid_until)) if live_consents else None
    return _Grants(
        approvals=tuple(live_approvals),
        consent=chosen,
        consent_fields=_granted_for(chosen, license_type) if chosen else None,
        consent_failure=consent_failure,
        failure_by_guardian=all(said_by_guardian(problem, c) for problem, c in failed if problem is consent_failure),
        ended=tuple(ended),
    )


def _granted_for(consent: Consent, license_type: LicenseType) -> ConsentedFields | None:
    """What ``consent`` was granted for under ``license_type``: None when that was not recorded (read as the material
    in force lists it); nothing when it records no such type (a consent that covers the license names its type)."""
    if consent.granted is None:
        return None
    return next((fields for code, fields in consent.granted if code == license_type.code), ConsentedFields(fields=()))


def _approval_applies(approval: Approval, caller: Member, content: LicenseContent, matter: Matter) -> bool:
    return (
        approval.grantee_code == caller.code
        and approval.matter_code == matter.code
        and approval.issuer_code == content.issuer_code
        and approval.type_code == content.type_code
        and (not approval.license_id or same_license(approval.license_id, content.license_id))
    )


def _consent_problem(
    consent: Consent,
    caller: Member,
    license: License,
    license_type: LicenseType,
    matter: Matter,
    now: dt.datetime,
) -> Reason | None:
    # Identity before state: a caller presenting another party's code learns nothing about that consent's state.
    content = license.content
    if consent.holder_code != content.holder.code:
        return Reason.CONSENT_OTHER_HOLDER
    if not consent.guardian_code and content.holder.code_type not in holder_code_types_of(consent.holder_code):
        # a holder's own consent names them by the code alone: a license under 其他 (099) whose code is a 公民身份号码
        # is another person's (a guardian's names the licenses it covers, and its guardian is judged below)
        return Reason.CONSENT_OTHER_HOLDER
    if consent.grantee_code != caller.code:
        return Reason.CONSENT_OTHER_GRANTEE
    if consent.matter_code != matter.code:
        return Reason.CONSENT_OTHER_MATTER
    if not consent.covers(content):
        return Reason.CONSENT_OTHER_LICENSE
    if consent.withdrawn:
        return Reason.CONSENT_WITHDRAWN
    if now >= consent.valid_until:
        return Reason.CONSENT_EXPIRED
    if consent.guardian_code and not _still_guardian(consent.guardian_code, license, license_type, now):
        return Reason.CONSENT_GUARDIAN_ENDED
    if not consent.guardian_code and under_consent_age(license, license_type, now, born=consent.holder_born):
        # judged again at use: a consent by type under a code that told no age when granted (a newborn's 099 code
        # before its certificate was issued) had let a department read the newborn's (found by a security tester)
        return Reason.CONSENT_NEEDS_GUARDIAN
    if consent.uses_remaining <= 0:
        return Reason.CONSENT_USED_UP
    return None


def _still_guardian(guardian_code: str, license: License, license_type: LicenseType, now: dt.datetime) -> bool:
    """Whether a consent ``guardian_code`` granted for the holder of ``license`` still stands for reading it at
    ``now``: ``license`` is the version in force (a superseded version says nothing of who the guardians are now, and
    this pure check cannot see the current one, so a guardian's consent reads only the version in force), in force on
    the day (China time; ``guardian_in_force``), it names the guardian, who is of age (``guardian_of_age``), and its
    holder is a minor on the day. The
    grant checked all of them on the version in force then; an amendment (变更) may since have taken the parent off,
    or corrected the birth date, and a revocation (作废: a certificate found false) taken away what named them."""
    if license.status is LicenseStatus.SUPERSEDED or license.superseded_by:
        return False
    return (
        guardian_in_force(license, now)
        and guardian_code in guardians_of(license, license_type)
        and guardian_of_age(guardian_code, now)
        and is_minor(license, license_type, now)
    )


def guardian_in_force(license: License, now: dt.datetime) -> bool:
    """Whether ``license``, the version in force of one a guardian's consent names, is in force on the day of ``now``
    (China time), as a grant naming it is judged (``LICENSE_NOT_IN_FORCE``): neither suspended (until resumed),
    revoked, cancelled nor past its end. A guardian is one through what the license says, and a license no longer in
    force says it no more: the man a 出生医学证明 revoked as false named had kept consenting for the child, his consent
    listed ACTIVE and read, the other parent unable to withdraw it (a reviewer, R4)."""
    return license.effective_status(now.astimezone(CHINA_TZ).date()) is LicenseStatus.ACTIVE


def _first(order: Sequence[Reason], found: set[Reason]) -> Reason:
    return next(reason for reason in order if reason in found)


def _judge(sharing: SharingClass, sensitivity: Sensitivity, key: str | None, grants: _Grants) -> Reason | _Via | None:
    """A field's verdict: a reason to withhold it, the grant that lets it through, or None when it is unconditional.

    ``key`` None judges a material without fields: any live approval for the license suffices.
    """
    if sensitivity is Sensitivity.SECRET:
        return Reason.SECRET
    if sharing is SharingClass.NOT_SHARED:
        return Reason.NOT_SHARED
    if sharing is SharingClass.UNCONDITIONAL:
        return None
    if any(key is None or key in approval.fields for approval in grants.approvals):
        return _Via.APPROVAL
    if grants.consent is not None:
        if key is None or grants.consent_fields is None or key in grants.consent_fields.fields:
            return _Via.CONSENT
        return Reason.CONSENT_OTHER_FIELDS  # the matter did not read it when the consent was granted
    return grants.failure(key)


def _judge_fields(
    content: LicenseContent, license_type: LicenseType, material: Material, grants: _Grants, remedy: str
) -> Decision:
    shared: list[SharedField] = []
    withheld: list[WithheldField] = []
    approval_ids: list[str] = []
    consent_used = False
    for key in material.fields:
        spec = license_type.field_spec(key)
        if spec is None:
            raise ValueError(f"matter material names unknown field {key} of {license_type.code}")
        verdict = _judge(license_type.field_sharing_class(key), spec.sensitivity, key, grants)
        if isinstance(verdict, Reason):
            withheld.append(WithheldField(key=key, label=spec.label, reason=verdict, said=grants.words(verdict)))
            continue
        full = key in material.full_fields
        if verdict is _Via.APPROVAL:
            basis = Basis.CONDITIONAL_APPROVAL
            covering = [a for a in grants.approvals if key in a.fields]
            unmasked = [a for a in covering if a.full_fields is None or key in a.full_fields]
            full = full and bool(unmasked)  # unmasked only if an approval gave it so (a reviewer, access R1)
            for approval in covering:  # every one that lets it through: its withdrawal ends this read too
                if approval.approval_id not in approval_ids:
                    approval_ids.append(approval.approval_id)
        elif verdict is _Via.CONSENT:
            basis = Basis.CONDITIONAL_CONSENT
            # a consent is spent on what it lets through: a field the license leaves blank gives nothing (EMPTY)
            consent_used = consent_used or bool(content.fields.get(key, ""))
        else:
            basis = Basis.UNCONDITIONAL
        if verdict is _Via.CONSENT and grants.consent_fields is not None:
            full = full and key in grants.consent_fields.full_fields  # unmasked only if it was when granted
        shared.append(_shared(spec, content, full=full, basis=basis))
    authorizable = any(w.reason.authorizable for w in withheld)
    if not shared:
        reasons = [w.reason for w in withheld]
        reason = next((r for r in reasons if r.authorizable), None) or (
            Reason.NOT_SHARED if Reason.NOT_SHARED in reasons else Reason.SECRET
        )
        said = next((w.said for w in withheld if w.reason is reason), "")
        return _deny(reason, license_type, withheld=tuple(withheld), remedy=remedy if authorizable else "", said=said)
    if any(rebuilds_holder_code(license_type, f) for f in shared):
        shared = [_hidden_whole(f, content, license_type) for f in shared]
    return Permit(
        fields=tuple(shared),
        withheld=tuple(withheld),
        holder_code=shown_holder_code(content.holder, license_type, shared),
        approval_ids=tuple(approval_ids),
        consent_id=grants.consent.consent_id if consent_used and grants.consent else "",
        remedy=remedy if authorizable else "",
    )


def _shared(spec: FieldSpec, content: LicenseContent, *, full: bool, basis: Basis) -> SharedField:
    """``spec``'s field as shared, masked as the catalog says; one the license leaves blank stays empty, which the
    answers state as EMPTY (证照未载明): masked ``whole`` or ``prefix`` it had been ``******``, shared by
    GetLicenseData and filled by PrefillForm as a value hidden (a reviewer, prefill R2)."""
    value = content.fields.get(spec.key, "")
    return SharedField(
        key=spec.key,
        label=spec.label,
        value=mask_value(spec, value, full=full) if value else "",
        masked=spec.sensitivity is Sensitivity.SENSITIVE and not full,
        basis=basis,
    )


def shown_holder_code(holder: Holder, license_type: LicenseType | None, shared: Sequence[SharedField] = ()) -> str:
    """The holder's code as an answer that shows a license shows it beside ``shared`` (rule 10): a permit's
    (``GetLicenseData``, ``PrefillForm``), and with no field a verification's summary (gRPC and the console's, a
    receipt looked up or listed). Every such answer states the license's ``valid_from``, which for a type
    ``issued_at_birth`` (a 出生医学证明) is the holder's birth date or a few days after: it counts as a field that
    states the birth date, so the summary had given the code masked beside it, from which a department with no consent
    rebuilt a child's number that ``GetLicenseData`` hides whole (a reviewer, prefill R1). ``license_type`` None (a
    type the catalog no longer has): the code masked."""
    if holder.publicly_registered or any(not f.masked and f.value == holder.code for f in shared):
        return holder.code
    if license_type is None or not carries_birth_date(holder.code):
        return holder.masked_code
    if license_type.issued_at_birth or any(rebuilds_holder_code(license_type, f) for f in shared):
        return HIDDEN_CHARACTER * len(holder.code)
    return holder.masked_code


def _hidden_whole(field: SharedField, content: LicenseContent, license_type: LicenseType) -> SharedField:
    """``field`` hidden whole when it is a masked 公民身份号码 (a 结婚证's 女方身份证号 where the husband holds it), for
    a permit that shows what would give it back (``rebuilds_holder_code``: a birth date, a region), as the holder's
    code is: masked to its ends beside her 出生日期, it had left nine numbers, hers among them (a reviewer)."""
    spec = license_type.field_spec(field.key)
    raw = content.fields.get(field.key, "")
    if not field.masked or spec is None or spec.value_type is not ValueType.CITIZEN_ID or not carries_birth_date(raw):
        return field
    return dataclasses.replace(field, value=HIDDEN_CHARACTER * len(raw))


HIDDEN_CHARACTER = "*"
"""What stands for each character of a holder's code hidden whole: its length is told, as the code type tells it."""


def rebuilds_holder_code(license_type: LicenseType, field: SharedField) -> bool:
    """Whether ``field``, shown as it is, would give back a 公民身份号码 the holder's code is masked to: a field
    that states the holder's birth date (``of_holder: birth_date``), a birth date of a person the license names
    (a ``CITIZEN_ID`` field's ``person_birth_date``: a 结婚证's 男方出生日期 is its holder's when he holds it), or a
    region (a ``REGION`` field: a 出生地点, a 户籍地), shown unmasked and not empty. Judged by the catalog, never by
    the value: a mask that changed with whether the region is the number's own would tell that it is.

    Beside such a field the code is hidden whole, and no character of it kept. A 公民身份号码 is six region digits,
    the eight of the birth date, three of a sequence (the last odd for a man) and a check character. The usual mask
    (``3701**********5736``) keeps the city and the sequence with the check character and hides the district and
    the birth date: with the birth date shown, the check character leaves about nine of the hundred district pairs,
    one of them in the city, and with a region shown too none at all. Keeping less does not help: with the birth
    date and the region known, the first four say nothing more, the last four close the number, and the check
    character alone still cuts the thousand sequences to about ninety (forty-five once the sex, often shown, is
    known). Hidden whole, the code adds nothing to what the fields say: a thousand numbers, five hundred of a sex."""
    if not field.value or field.masked:
        return False
    spec = license_type.field_spec(field.key)
    if spec is None:
        return False
    return (
        spec.of_holder is OfHolder.BIRTH_DATE
        or spec.value_type is ValueType.REGION
        or any(other.person_birth_date == spec.key for other in license_type.fields)
    )


def _reads_age(license_type: LicenseType, material: Material) -> bool:
    """Whether ``material`` lists a field that tells the holder's age: one stating the birth date or the holder's code
    (``of_holder``: a 居民身份证's 公民身份号码 carries the birth date), or one of the 公民身份号码 one of which is the
    holder's (``holder_among``: a 结婚证's two). Another person's number does not: any ``CITIZEN_ID`` field had
    counted, and a matter reading only the mother's number on a 出生医学证明 was told the child's age band (left alone
    in session 53)."""
    specs = (license_type.field_spec(key) for key in material.fields)
    return any(
        spec is not None
        and (spec.of_holder in (OfHolder.BIRTH_DATE, OfHolder.CODE) or spec.key in license_type.holder_among)
        for spec in specs
    )


def _remedy(
    license: License,
    license_type: LicenseType,
    issuer_name: str,
    now: dt.datetime,
    consents: Sequence[Consent],
    *,
    tells_age: bool = True,
) -> str:
    """Whom to ask: the issuer by name and code (济南市卫生健康委员会（113701009937010623）), by code alone when its
    name is not known; or whoever may consent for this license's holder (``gateway.domain.guardianship``). A holder
    under 14 consents only through a parent, and a parent only through a license that names them as such
    (``guardians_of``: a 出生医学证明) while it is the version in force and in force (``_still_guardian``): for such
    a license the words name the parents, for any other (a child's 居民身份证, which names no parent, or a version
    superseded or not in force) the issuer's approval alone. A holder
    of 14 to 17 consents in person, or through such a parent. The words had told every clerk to ask the holder for a
    consent code, a newborn's or a 10-year-old's too, whose own consent is refused GUARDIAN_MUST_CONSENT (a
    reviewer, scen1 R1). The age is told as the policy tells it (``under_consent_age``), by the license read and the
    birth date a presented consent's holder was looked up with."""
    content = license.content
    issuer = f"{issuer_name}（{content.issuer_code}）" if issuer_name else f" {content.issuer_code} "
    ask = f"向发证部门{issuer}申请审批"
    approval = f"ask the issuer {content.issuer_code} for an approval, RequestAccess"
    if not tells_age and (carries_birth_date(content.holder.code) or license_type.issued_at_birth):
        # a matter that reads neither the birth date nor the holder's code, asking by license_id, is not told the
        # holder's age band by whom the words name: one sentence for every person (a reviewer, fixrevshare R3)
        return (
            f"{ask}，或请有权授权的人（持证人本人，或未成年持证人的监护人）出具用证码"
            f"（{approval}, or whoever may consent for the holder for a consent code, GrantConsent）"
        )
    told = [c.holder_born for c in consents if c.holder_born is not None and c.holder_code == content.holder.code]
    child = under_consent_age(license, license_type, now, born=max(told, default=None))
    minor = child or is_minor(license, license_type, now)
    named = guardians_of(license, license_type) if minor else ()
    standing = [code for code in named if _still_guardian(code, license, license_type, now)]
    parents = bool(standing)
    zh_who, en_who = _which_parents(license, license_type, standing, "或")
    if child and parents:
        return (
            f"{ask}，或请持证人的{zh_who}（{license_type.name}载明的监护人）代为出具用证码"
            f"（{approval}, or {en_who} this license names for a consent code, GrantConsent: the holder is under 14）"
        )
    if child and named:
        zh, en = _parents_cannot_now(license, now)
        return f"{ask}；持证人未满14周岁，不能本人授权，{zh}（{approval}: the holder is under 14; {en}）"
    if child:
        return (
            f"{ask}；持证人未满14周岁，不能本人授权，此类证照也不能由父母代为授权"
            f"（{approval}: the holder is under 14 and cannot consent, nor can a parent for this type of license）"
        )
    if parents:
        return (
            f"{ask}，或请持证人本人或其{_which_parents(license, license_type, standing, '、')[0]}"
            f"（{license_type.name}载明的监护人）出具用证码"
            f"（{approval}, or the holder or {en_who} this license names for a consent code, GrantConsent）"
        )
    return f"{ask}，或请持证人出具用证码（{approval}, or the holder for a consent code, GrantConsent）"


def _which_parents(
    license: License, license_type: LicenseType, standing: Sequence[str], joined: str
) -> tuple[str, str]:
    """The parents of ``standing`` (the guardians who may consent for this read) by the field that names them, in
    Chinese (父亲, 母亲, both joined by ``joined``) and English (the father, the mother, a parent), never by their
    code. The words had named both parents when only one was of age: the 16-year-old mother a newborn's certificate
    names is refused GUARDIAN_NOT_OF_AGE (a reviewer, fixrevshare R5)."""
    sexes = {
        spec.person_sex
        for spec in license_type.fields
        if spec.guardian_of_holder and license.content.fields.get(spec.key, "").strip().upper() in standing
    }
    if sexes == {"女"}:
        return "母亲", "the mother"
    if sexes == {"男"}:
        return "父亲", "the father"
    return f"父亲{joined}母亲", "a parent"


def _parents_cannot_now(license: License, now: dt.datetime) -> tuple[str, str]:
    """Why the parents a minor's ``license`` names cannot consent for this read, ``_remedy``'s words for a child
    under 14: this version is superseded (a guardian's consent reads the version in force only), the license is not
    in force on the day, or no parent it names is of age. The words had said the license names no parent at all
    (此证照也无父母可代为授权) for a 出生医学证明 amended since, which names both, and sent the clerk to RequestAccess
    where the mother's consent code on the version in force would have done (a reviewer, fixrevshare R1)."""
    if license.status is LicenseStatus.SUPERSEDED or license.superseded_by:
        return (
            "此为旧版本，父母可对现行版本代为出具用证码",
            "this version is superseded: a parent consents for the version in force",
        )
    if not guardian_in_force(license, now):
        return (
            "此证照现不在有效状态，父母不能代为授权",
            "this license is not in force: no parent may consent for it now",
        )
    return "载明的父母均未满18周岁，不能代为授权", "no parent this license names is of age to consent"


def _deny(
    reason: Reason,
    license_type: LicenseType,
    detail: str = "",
    *,
    withheld: tuple[WithheldField, ...] = (),
    remedy: str = "",
    said: str = "",
) -> Deny:
    return Deny(
        reason=reason,
        detail=detail or f"{license_type.name}：{said or reason.detail}",
        withheld=withheld,
        remedy=remedy,
        by_guardian=bool(said),  # only a guardian's consent is said in words other than the reason's
    )


def _require_aware(name: str, value: dt.datetime) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
