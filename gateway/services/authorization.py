"""Authorisation of conditional sharing (有条件共享授权): issuers' approvals of access requests, holders' consents.

>>> request = authorization.request_access(tax, use, type_code=ID_CARD, fields=(), duration_days=365)  # doctest: +SKIP
>>> authorization.decide(police, request.request_id, AccessDecision.APPROVE)                        # doctest: +SKIP
>>> consent, code = authorization.grant_consent(portal, holder_code=..., grantee_code=TAX, ...)       # doctest: +SKIP

**Access requests** (统一受理、平台授权): a consumer asks for conditional fields of a license type (or of one license)
for a matter; the request waits in the queue of the issuer that owns the data until that issuer approves it (possibly
fewer fields, a shorter duration) or rejects it with a reason. A request not decided by the end of its 10th working
day expires (``gateway.domain.sharing.request_deadline``). Expiry is applied by every call of this service (an
``UPDATE`` of the overdue rows in the call's own transaction), and the sharing policy reads decisions as they are
stored, so decisions and expiry take effect at the next call; nothing is cached. An approval past its end is
EXPIRED too: stored APPROVED, it is told EXPIRED when read (``request_state``: listed, filtered and answered so, as
of the call's time), and it can no longer be withdrawn.

**Consents** (授权 / 用证码): a holder portal records that its holder lets one consumer use some licenses (by
identifier or by type) for one matter, until a time, a number of times. The code handed to the holder is 120 random
bits in base32 (``XXXX-XXXX-XXXX-XXXX-XXXX-XXXX``); only its SHA-256 is stored, so the store cannot give codes away.
A code is bound to its grantee and matter by the policy, its uses are counted by an atomic ``UPDATE`` in the
transaction that records the use (``gateway.services.sharing``), and a withdrawn or used-up code is refused.

**A guardian's consent** (监护人代为授权): a parent the license names as the holder's guardian (the catalog's
``guardian_of_holder``: a 出生医学证明's mother and father) consents for a minor holder (under 18 on the day of the
grant, China time: ``gateway.domain.guardianship``) with their own 公民身份号码 as ``holder_code``. The consent is the
child's (its ``holder_code``), so the sharing policy applies unchanged, and names the parent (``guardian_code``); it
names licenses, never types (a type would cover licenses of the child that name no guardian), all of the one child,
and ends by the child's 18th birthday (its 00:00, China time). The parent lists and withdraws the consents they
granted; the child's code lists and withdraws them too, while a license they name is stored under a code type that
code tells (``_theirs``). A parent of a holder of age is refused ``NOT_A_GUARDIAN``; anyone else, a co-subject who is
no guardian (a 结婚证's wife) included, ``NOT_THE_HOLDERS_LICENSE``, as before. Guardianship is judged on the
version in force of each license named: a parent an amendment (变更) took off the license is
``NOT_THE_HOLDERS_LICENSE`` even naming the superseded version that still names them. At use, the sharing policy
counts a guardian's consent only on the version in force, while it names the guardian and the holder is a minor
(``CONSENT_GUARDIAN_ENDED`` otherwise: ``gateway.domain.sharing``, rule 6).

Every answered call appends one access record in the transaction of its work. Calls refused before anything was
read or changed (bad input, a license named by an identifier of a type the matter does not use, a request or
consent that is not the caller's) are errors, not uses, and leave none.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import enum
import hashlib
import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from typing import Protocol, TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.exc import IntegrityError

from gateway.domain.audit import PARENTS_REFUSED_GRANTS, AuditAction, AuditEntry, vouched_subjects
from gateway.domain.catalog import (
    HOLDER_CODE_TYPES,
    Catalog,
    HolderKind,
    LicenseType,
    Material,
    Matter,
    OfHolder,
    Sensitivity,
    SharingClass,
    code_shaped,
    unknown_matter_words,
    unknown_type_words,
)
from gateway.domain.errors import (
    MAX_ECHO_DESCRIPTION,
    AlreadyExistsError,
    ConflictError,
    DeadlineExceededError,
    FieldViolation,
    IdempotencyConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    invalid,
)
from gateway.domain.guardianship import (
    AGE_OF_CONSENT,
    AGE_OF_MAJORITY,
    born_under_consent_age,
    citizen_birth_date,
    guardian_of_age,
    guardians_of,
    holder_birth_date,
    is_minor,
    of_age_on,
    under_consent_age,
)
from gateway.domain.identifiers import (
    LicenseId,
    holder_code_types_of,
    license_id_violation,
    normal_number,
    uscc_problem,
)
from gateway.domain.model import CHINA_TZ, Clock, License, LicenseStatus, Member, Role, today
from gateway.domain.paging import Listing, PageTokens
from gateway.domain.sharing import (
    CONSUMER_ROLES,
    ConsentNeed,
    Reason,
    consent_need,
    consented_fields,
    guardian_in_force,
    request_deadline,
    withdrawn_in_person,
)
from gateway.domain.validation import (
    MAX_REASON,
    check_text,
    checked_holder_code,
    member_code_violation,
    too_many,
    unknown_field,
    valid_holder_code,
)
from gateway.domain.verification import (
    Elsewhere,
    MatterNotHandledError,
    UseContext,
    check_decision_reason,
    check_purpose,
    check_type_used,
    checked_operator,
    not_in_this_registry,
    uses_matter,
)
from gateway.services import calls
from gateway.services.audit import AuditTrail, UseTarget, holds_licenses
from gateway.services.members import issuer_elsewhere, of_another_registry
from gateway.store.database import Database, UnitOfWork
from gateway.store.repositories import PRUNE_BATCH, StoredAccessRequest, StoredConsent
from signing.canonical import canonical_json

MAX_DURATION_DAYS = 1095
"""The longest approval (three years)."""
MAX_CONSENT_DAYS = 366
MAX_CONSENT_USES = 100
REFUSED_GRANTS_RECORDED = ("NOT_THE_HOLDERS_LICENSE", "NOT_A_GUARDIAN", *sorted(PARENTS_REFUSED_GRANTS))
"""The refusals of a grant naming a license that are put on the audit trail (``_refused_grant``)."""
_WHOM_SHOWN = 5
"""The most members a refusal of a consent's grantee names as the ones to grant to (``_whom_to_grant``)."""
MAX_CONSENTABLE = 200
"""The licenses a page of ``consentable_licenses`` lists when its ``limit`` is 0 (the most it had listed at all)."""
MAX_CONSENT_ITEMS = 20
"""Licenses or license types one consent may name."""
MAX_LIST = 500
_CODE_BYTES = 15  # 120 bits: 24 base32 characters
_CODE_RE = re.compile(r"^[A-Z2-7]{24}\Z", re.ASCII)


class AccessRequestState(enum.Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    CANCELLED = "CANCELLED"
    """Taken back, pending, by the department that made it (``cancel``): never decided."""


class AccessDecision(enum.Enum):
    APPROVE = "APPROVE"
    REJECT = "REJECT"
    WITHDRAW = "WITHDRAW"


class RequestView(enum.Enum):
    """Whose requests ``list_requests`` shows: the caller's queue as issuer, or what the caller submitted."""

    ISSUER_QUEUE = "ISSUER_QUEUE"
    SUBMITTED = "SUBMITTED"


class ConsentState(enum.Enum):
    ACTIVE = "ACTIVE"
    USED_UP = "USED_UP"
    EXPIRED = "EXPIRED"
    WITHDRAWN = "WITHDRAWN"
    GUARDIAN_ENDED = "GUARDIAN_ENDED"
    """A guardian's consent whose guardian no longer consents for the holder: on the version in force of every
    license it names, the holder is of age or the guardian is no longer named (``gateway.domain.sharing`` refuses
    its use ``CONSENT_GUARDIAN_ENDED``)."""
    NEEDS_GUARDIAN = "NEEDS_GUARDIAN"
    """A holder's own consent while the holder is under 14: its use is refused CONSENT_NEEDS_GUARDIAN (found in
    review: it had been listed ACTIVE)."""


def new_consent_code() -> str:
    """A fresh consent code: 120 random bits, base32 in six groups of four (``7KQ2-…``), easy to read out."""
    raw = base64.b32encode(secrets.token_bytes(_CODE_BYTES)).decode("ascii")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def consent_code_digest(code: str, *, field: str = "consent_code") -> str | None:
    """The SHA-256 (hex) by which a presented code is looked up; None for no code. A code is taken as people type
    it: case, spaces and dashes do not matter, full-width letters, digits and dashes (a Chinese input method's) are
    their ASCII selves, other dashes are dashes, and 0 and 1 are the O and I they were read for (a code has no 0 or
    1). A code of another shape is INVALID_ARGUMENT (``BAD_CONSENT_CODE``).

    >>> consent_code_digest("dy1e－kxq3 6lim—n0fd-ABCD-EFGH") == consent_code_digest("DYIE-KXQ3-6LIM-NOFD-ABCD-EFGH")
    True
    """
    normalised = re.sub(r"[\s\-]", "", unicodedata.normalize("NFKC", code).translate(_CODE_AS_TYPED)).upper()
    if not normalised:
        return None
    if not _CODE_RE.match(normalised):
        raise invalid(field, "BAD_CONSENT_CODE", _MALFORMED_CODE)
    try:
        raw = base64.b32decode(normalised)
    except binascii.Error as exc:
        raise invalid(field, "BAD_CONSENT_CODE", _MALFORMED_CODE) from exc
    return hashlib.sha256(raw).hexdigest()


_CODE_AS_TYPED = str.maketrans({"0": "O", "1": "I", **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-")})
"""After NFKC (which makes the full-width ＡＢ１２ and －, and the small ﹣, ASCII): 0 and 1 as O and I, and the
dashes word processors and Chinese input methods put for '-' (hyphens, en and em dashes, ——, the minus sign)."""
_MALFORMED_CODE = (
    "用证码格式不正确：应为24位字母和数字，每4位一组，用“-”分隔"
    "（a consent code is 24 letters and digits in groups of four: XXXX-XXXX-XXXX-XXXX-XXXX-XXXX）"
)


def request_state(request: StoredAccessRequest, now: dt.datetime) -> AccessRequestState:
    """An access request's state at ``now``: as stored, but an approval past its end (``now >= valid_until``, when
    the policy stops granting it) is EXPIRED, as an undecided request past its deadline is."""
    state = AccessRequestState(request.state)
    if state is AccessRequestState.APPROVED and request.valid_until is not None and now >= request.valid_until:
        return AccessRequestState.EXPIRED
    return state


def as_of(request: StoredAccessRequest, now: dt.datetime) -> StoredAccessRequest:
    """``request`` with its state at ``now`` (``request_state``)."""
    state = request_state(request, now).value
    return request if state == request.state else dataclasses.replace(request, state=state)


_SPENT_STATES = frozenset({ConsentState.WITHDRAWN, ConsentState.EXPIRED, ConsentState.USED_UP})
"""States in which a consent grants nothing and never will again: nothing is left to withdraw."""
_FINAL_STATES = frozenset({ConsentState.WITHDRAWN, ConsentState.EXPIRED})
"""States that nothing but time past them decides: no guardian's standing needs to be read."""


def consent_state(
    consent: StoredConsent, now: dt.datetime, *, guardian_stands: bool = True, of_a_child: bool = False
) -> ConsentState:
    """A consent's state at ``now``, in the order its use is judged (``gateway.domain.sharing``, rule 7): withdrawn,
    expired, its guardian's standing ended (``guardian_stands`` False: see ``AuthorizationService.consent_state``),
    used up, a holder's own while under 14 (``of_a_child``), else active."""
    if consent.withdrawn_at is not None:
        return ConsentState.WITHDRAWN
    if now >= consent.valid_until:
        return ConsentState.EXPIRED
    if consent.guardian_code and not guardian_stands:
        return ConsentState.GUARDIAN_ENDED
    if consent.uses_left <= 0:  # before a child's: used up, it grants nothing, whoever consents again
        return ConsentState.USED_UP
    if not consent.guardian_code and of_a_child:
        return ConsentState.NEEDS_GUARDIAN
    return ConsentState.ACTIVE


MAX_CLIENT_REQUEST_ID = 64
CODE_KEPT_HOURS = 24
"""How long a consent granted with a ``client_request_id`` keeps its code (sealed) for a retry of the grant."""


def checked_client_request_id(client_request_id: str) -> str:
    """A caller's idempotency key, checked: at most ``MAX_CLIENT_REQUEST_ID`` printable ASCII characters."""
    if len(client_request_id) > MAX_CLIENT_REQUEST_ID or not client_request_id.isprintable():
        raise invalid(
            "client_request_id",
            "BAD_FORMAT",
            f"请求编号最多{MAX_CLIENT_REQUEST_ID}个可打印字符（at most {MAX_CLIENT_REQUEST_ID} printable characters）",
        )
    if not client_request_id.isascii():
        raise invalid("client_request_id", "BAD_FORMAT", "请求编号只能含ASCII字符（client_request_id must be ASCII）")
    return client_request_id


class CodeSealer:
    """Consent codes kept for a retry of their grant: AES-256-GCM under a key derived (HKDF-SHA-256) from the key
    store's secret, with the consent's id, portal, key and request digest as associated data, so that a sealed code
    copied to another consent's row, or the row moved under another portal's key, does not open (found in review).
    Whoever holds the database alone learns no code."""

    def __init__(self, secret: bytes):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"zzgw consent codes kept for a retry")
        self._aead = AESGCM(key.derive(secret))

    def seal(self, consent: StoredConsent, code: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, code.encode(), _bound_to(consent))

    def open(self, consent: StoredConsent, sealed: bytes) -> str | None:
        """The code, or None when ``sealed`` does not open (altered, another consent's, another secret's)."""
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], _bound_to(consent)).decode()
        except (InvalidTag, ValueError):
            return None


def _bound_to(consent: StoredConsent) -> bytes:
    """What a sealed code is bound to: the consent, the portal that granted it, its key and its request."""
    return "\n".join((consent.consent_id, consent.portal, consent.client_request_id, consent.client_digest)).encode()


def _room_after(head: str) -> int:
    """The characters left for ``_whom_to_grant`` in a violation's description after its Chinese words ``head``: the
    description is sent cut to ``MAX_ECHO_DESCRIPTION`` with an ellipsis, and the Chinese half is to reach a portal
    whole (the English after it may be cut: review fixrev2, R3)."""
    return MAX_ECHO_DESCRIPTION - 1 - len(head)


class AuthorizationService:
    def __init__(
        self,
        db: Database,
        catalog: Catalog,
        clock: Clock,
        audit: AuditTrail,
        *,
        pages: PageTokens,
        ids: Callable[[], str] = lambda: uuid.uuid4().hex,
        codes: Callable[[], str] = new_consent_code,
        record_subjects: Callable[[License], tuple[str, ...]] | None = None,
        kept_codes: CodeSealer | None = None,
    ):
        self._db = db
        self._pages = pages
        """Seals the page tokens of ``list_requests`` and ``list_consents`` to their listing."""
        self._kept_codes = kept_codes
        """Seals the code of a consent granted with a ``client_request_id`` for a retry; without it (no key store
        secret) a retry gets the consent's CONSENT_CODE_NOT_KEPT."""
        self._record_subjects = record_subjects
        """``VerificationService.record_subjects``: the co-subjects of a record its seal vouches for."""
        self._catalog = catalog
        self._clock = clock
        self._audit = audit
        self._ids = ids
        self._codes = codes
        self._holds = partial(holds_licenses, db)
        """Whether licenses are stored under a holder code that fails its form's check (``checked_holder_code``)."""

    # -- access requests -------------------------------------------------------------------------------------------

    def refuse_use(
        self, caller: Member, refused: MatterNotHandledError, action: AuditAction, target: UseTarget | None = None
    ) -> None:
        """Put on the audit trail a call refused because the caller named another department's matter, with the
        license or holder the request named (``AuditTrail.refuse_use``), on the logs of its co-subjects too."""
        self._audit.refuse_use(caller, refused, action, target, subjects=self._subjects)

    def _subjects(self, license: License | None) -> tuple[str, ...]:
        """The co-subjects of ``license`` (``subjects_of``) when its seal vouches for the record: a record about it is
        on their access logs too."""
        if license is None:
            return ()
        return vouched_subjects(license, self._catalog, self._record_subjects)

    def _request_record(
        self,
        request: StoredAccessRequest,
        license: License | None,
        *,
        at: dt.datetime,
        caller: str,
        operator: str,
        action: AuditAction,
        decision: str,
        reason: str,
    ) -> AuditEntry:
        """The record of a call about ``request`` (made, made again, decided): its matter, purpose, license and issuer,
        and the license's holder and co-subjects, on whose access logs it is."""
        return AuditEntry(
            at=at,
            caller=caller,
            operator=operator,
            action=action,
            matter_code=request.matter_code,
            purpose=request.purpose,
            license_id=request.license_id,
            issuer_code=request.issuer_code,
            holder_code=license.content.holder.code if license else "",
            decision=decision,
            reason=reason,
            subjects=self._subjects(license),
        )

    def _whom_to_grant(self, matter: Matter, *, matter_named: bool, room: int) -> str:
        """Whom a consent under ``matter`` may be granted to, as a refusal of its grantee says it (with what goes
        before it), or empty for no one: the registered consumers and partner gateways that may name the matter
        (``uses_matter``), by name and code (organisations: no personal data), at most ``_WHOM_SHOWN``, the matter's
        own department first; the matter's code too unless the refusal names it already (``matter_named``). In the
        Chinese half alone, whose codes need no translating. A matter of a partner's region names a department in its
        catalog entry that is no member here (广州市人力资源和社会保障局 for 440100-SBZY-001): a portal granting to
        that department's code was told only 须为已登记的用证部门或跨省伙伴网关, and no call told it the partner
        gateway to name (review partner, R3).

        At most ``room`` characters (``_room_after``): the Chinese before it takes the others of the violation's
        description, which is sent cut to ``MAX_ECHO_DESCRIPTION``. Whole entries only, as many as fit, the others
        counted (等N个成员): with a few partner gateways the list had been cut mid-code, and the description lost
        its ending and its English half (review fixrev2, R3). Where no name fits, codes alone. A revoked member is
        never named: its calls are refused, and a consent to it was spent on no one (review fixrev2, R4)."""
        with self._db.unit_of_work() as uow:
            revoked = uow.members.revoked()
            members = [
                m
                for m in uow.members.all()
                if m.roles & CONSUMER_ROLES and uses_matter(m, matter) and m.code not in revoked
            ]
        if not members:
            return ""
        members.sort(key=lambda m: (m.has(Role.PARTNER), m.code))
        partners = all(m.has(Role.PARTNER) for m in members)
        subject = "" if matter_named else f"事项 {matter.code} "

        def said(labels: list[str]) -> str:
            more = f"等{len(members)}个成员" if len(members) > len(labels) else ""
            listed = "、".join(labels)
            if partners:
                return f"；{subject}由{listed}{more}代办，请授权给{'它' if len(members) == 1 else '其中之一'}"
            return f"；{subject}可授权给{listed}{more}{'' if len(members) == 1 else '之一'}"

        for label in (
            lambda m: f"{'合作网关 ' if m.has(Role.PARTNER) else ''}{m.name}（{m.code}）",
            lambda m: m.code,
        ):
            labels: list[str] = []
            for member in members[:_WHOM_SHOWN]:
                if len(said([*labels, label(member)])) > room:
                    break
                labels.append(label(member))
            if labels:
                return said(labels)
        return ""

    def _names_issuer_elsewhere(self, issuer_code: str) -> Elsewhere | None:
        """Where a request's ``issuer_code`` is when it is a well-formed USCC of another region's issuer (a code
        mistyped out of form is the type's check's to refuse; one of this gateway's own city, no member's, is
        NOT_AN_ISSUER_OF_TYPE as before: review fixrev2, R5)."""
        if not issuer_code or uscc_problem(issuer_code) is not None:
            return None
        return issuer_elsewhere(self._db, issuer_code)

    def request_access(
        self,
        caller: Member,
        use: UseContext,
        *,
        type_code: str = "",
        license_id: str = "",
        issuer_code: str = "",
        fields: Sequence[str] = (),
        duration_days: int,
        client_request_id: str = "",
        key_unused: bool = False,
    ) -> StoredAccessRequest:
        """Put a request for conditional fields in the owning issuer's queue. With ``client_request_id``, a retry
        of the same request returns the one first made (its record on the audit trail says so): a retry is looked up
        before the use is checked (``request_again``), and here again, in the transaction that would store it, for
        one sent at once with the first. ``key_unused``: ``request_again`` has just found no request with the key,
        so the transaction stores the request without looking again, and looks only once the unique index has
        refused it (one sent at once, committed meanwhile): each look had read under the write lock what the one
        before had just read (a reviewer, R1)."""
        client_request_id = checked_client_request_id(client_request_id)
        asked = _Asked.of(use.matter_code, use.purpose, type_code, license_id, issuer_code, fields, duration_days)
        spelt = _legacy_digest(use.matter_code, use.purpose, type_code, license_id, issuer_code, fields, duration_days)
        matter = self._catalog.matter(use.matter_code)
        if not (type_code or license_id):
            raise invalid(
                "type_code",
                "REQUIRED",
                "请填写证照类型，或某一证照的标识（give type_code, or license_id for one license）",
            )
        if license_id and (violation := license_id_violation("license_id", license_id)):
            raise InvalidRequestError([violation])
        if not 1 <= duration_days <= MAX_DURATION_DAYS:
            raise invalid(
                "duration_days",
                "BAD_DURATION",
                f"申请期限须为1至{MAX_DURATION_DAYS}天（duration_days must be 1-{MAX_DURATION_DAYS}）",
            )
        license: License | None = None
        if license_id:
            # what the identifier says (its type and issuer) is checked before the license is looked up: whether a
            # license of a type the matter does not use exists is not the requester's to learn. Its type first, the
            # refusal on the holder's log: a type_code or issuer_code besides it that does not match had been
            # refused first, with no record, a way to probe outside the matter unseen (a reviewer, R3)
            named = LicenseId.parse(license_id)
            target = UseTarget(license_id=license_id)  # on the holder's log, as a refusal for another's matter is
            refusal = self._audit.recorder(caller, use, AuditAction.REQUEST_ACCESS, target, subjects=self._subjects)
            elsewhere = of_another_registry(self._db, self._catalog, named)
            check_type_used(
                self._catalog, matter, named.type_code, "license_id", on_refusal=refusal, of_another_registry=elsewhere
            )
            if type_code and type_code != named.type_code:
                raise invalid(
                    "type_code", "TYPE_MISMATCH", "该证照不是所填的证照类型（the license is of another type）"
                )
            if issuer_code and issuer_code != named.issuer_code:
                raise invalid(
                    "issuer_code",
                    "ISSUER_MISMATCH",
                    "该证照不是所填的发证部门发放的（the license is from another issuer）",
                )
            with self._db.unit_of_work() as uow:
                license = uow.licenses.get(license_id)
            # another region's license (review partner, R2); not one of this gateway's city (review fixrev2, R5)
            if license is None and (where := issuer_elsewhere(self._db, named.issuer_code)):
                raise not_in_this_registry(named.issuer_code, where, caller)
            if license is None:
                raise NotFoundError("未找到该证照（no such license）", reason="LICENSE_NOT_FOUND")
            content = license.content
            type_code, issuer_code = content.type_code, content.issuer_code
        license_type = self._catalog.license_types.get(type_code)
        # an issuer of another region named by its code, of this catalog's type or of one its region defines: not
        # NOT_AN_ISSUER_OF_TYPE (false of an issuer of the type in its own region) nor UNKNOWN_LICENSE_TYPE, but
        # NOT_IN_THIS_REGISTRY, as VerifyLicense says of an identifier naming it (review partner, R2)
        # (a type of this catalog's after the matter's check of it, as an issuer that does not issue it is)
        if license_type is None and (where := self._names_issuer_elsewhere(issuer_code)):
            raise not_in_this_registry(issuer_code, where, caller)
        if license_type is None:
            raise invalid(
                "type_code",
                "UNKNOWN_LICENSE_TYPE",
                f"{unknown_type_words(type_code[:64])}（unknown license type {type_code[:64]!r}）",
            )
        refusal = self._audit.recorder(caller, use, AuditAction.REQUEST_ACCESS)  # a type: it names no one
        check_type_used(self._catalog, matter, license_type.code, "type_code", on_refusal=refusal)  # before the issuer
        # an issuer asks for its own licenses too, for a matter it handles, and decides in its own queue: its use is
        # authorised as anyone's (ADR 0011), and the approval is on the record
        if issuer_code not in license_type.issuers and (where := self._names_issuer_elsewhere(issuer_code)):
            raise not_in_this_registry(issuer_code, where, caller)
        issuer_code = _owning_issuer(license_type, issuer_code)
        material = _material(matter, license_type)

        def on_the_holders_log(reason: str, license: License) -> None:
            """A refusal of a request asked of one holder's license, on the holder's log, as a type the matter does
            not use is (found by a black-box tester)."""
            self._audit.refuse(
                caller,
                use,
                reason,
                AuditAction.REQUEST_ACCESS,
                UseTarget(license_id=license.license_id),
                subjects=self._subjects,
            )

        try:
            wanted = _requested_fields(license_type, material, fields)
        except (InvalidRequestError, PermissionDeniedError) as refused:
            if license is not None and (logged := _logged_field_refusal(refused)):
                on_the_holders_log(logged, license)
            raise
        now = self._clock.now()
        if license is not None:  # judged by its version in force, as GrantConsent judges a license it names
            with self._db.unit_of_work() as uow:
                current = _in_force(uow, license) or license
            try:
                _check_in_force(current, now.astimezone(CHINA_TZ).date(), "license_id", _TO_REQUEST)
            except ConflictError as refused:
                on_the_holders_log(refused.reason, license)
                raise
        request = StoredAccessRequest(
            request_id=self._ids(),
            requester=caller.code,
            issuer_code=issuer_code,
            type_code=type_code,
            license_id=license_id,
            matter_code=matter.code,
            purpose=use.purpose,
            fields=wanted,
            duration_days=duration_days,
            state=AccessRequestState.PENDING.value,
            submitted_at=now,
            deadline=request_deadline(now),
            client_request_id=client_request_id,
            client_digest=asked.digest() if client_request_id else "",
        )
        entry = self._request_record(
            request,
            license,
            at=now,
            caller=caller.code,
            operator=use.operator,
            action=AuditAction.REQUEST_ACCESS,
            decision="SUBMITTED",
            reason=f"access_request={request.request_id}",
        )
        for attempt in (1, 2):
            try:
                with self._db.unit_of_work(write=True) as uow:
                    uow.access_requests.expire_overdue(now)
                    first = (
                        uow.access_requests.by_client_request_id(caller.code, client_request_id)
                        if client_request_id and not (key_unused and attempt == 1)
                        else None
                    )
                    if first is not None:  # a retry: answer with the request first made
                        self._check_the_first(first, asked, spelt)
                        request = as_of(first, now)
                        entry = dataclasses.replace(
                            entry, license_id=first.license_id, reason=f"access_request={first.request_id} retry"
                        )
                    else:
                        uow.access_requests.add(request)
                    self._audit.append(uow, [entry])
                    uow.commit()
                return request
            except IntegrityError:  # the same key committed by a concurrent retry: the next attempt finds it
                if attempt == 2 or not client_request_id:
                    raise
        raise AssertionError("unreachable")

    def request_again(
        self,
        caller: Member,
        *,
        matter_code: str,
        purpose: str,
        type_code: str = "",
        license_id: str = "",
        issuer_code: str = "",
        fields: Sequence[str] = (),
        duration_days: int,
        client_request_id: str,
        operator: str = "",
    ) -> StoredAccessRequest | None:
        """The request ``caller`` first made with ``client_request_id``, in its state now, when this is a retry of
        it; None when the key is new (or empty), for ``request_access`` to make the request. A retry is answered
        before the use and the request are checked, as GrantConsent's is: the catalog in force may refuse now what it
        took then (its matter taken out), and a retry refused UNKNOWN_MATTER while the first waited in the issuer's
        queue told the client no request was made (a reviewer, R2). It is on the audit trail as a retry.
        ALREADY_EXISTS / REQUEST_ID_REUSED when the key was used for another request (``_check_the_first``)."""
        client_request_id = checked_client_request_id(client_request_id)
        if not client_request_id:
            return None
        with self._db.unit_of_work() as uow:
            if uow.access_requests.by_client_request_id(caller.code, client_request_id) is None:
                return None
        operator = checked_operator(operator)
        purpose = check_purpose(purpose, [])  # trimmed and composed as the use's is; a bad one is not the first's
        asked = _Asked.of(matter_code, purpose, type_code, license_id, issuer_code, fields, duration_days)
        spelt = _legacy_digest(matter_code, purpose, type_code, license_id, issuer_code, fields, duration_days)
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            uow.access_requests.expire_overdue(now)
            first = uow.access_requests.by_client_request_id(caller.code, client_request_id)
            if first is None:  # pruned meanwhile: a new request
                return None
            self._check_the_first(first, asked, spelt)
            license = uow.licenses.get(first.license_id) if first.license_id else None
            entry = self._request_record(
                first,
                license,
                at=now,
                caller=caller.code,
                operator=operator,
                action=AuditAction.REQUEST_ACCESS,
                decision="SUBMITTED",
                reason=f"access_request={first.request_id} retry",
            )
            self._audit.append(uow, [entry])
            uow.commit()
        return as_of(first, now)

    def _check_the_first(self, first: StoredAccessRequest, asked: _Asked, spelt: str) -> None:
        """ALREADY_EXISTS / REQUEST_ID_REUSED unless ``asked`` is the request ``first`` is: spelt as it was, whatever
        its order, repeats, or a type or issuer its license's identifier says anyway (``_Asked``), or asking, under
        the catalog in force, for what ``first`` stored (all the material's fields named where it named none, the
        type's only issuer named where it named none). The digest had been of the fields as spelt: such a retry was
        refused although the request it would store was the same, and a client told so queued it twice (a
        reviewer, R2). A request stored before that has that digest (``_legacy_digest``), which ``spelt`` is, of
        the retry: spelt as it was, it is the first whatever the catalog in force says now (it had been
        REQUEST_ID_REUSED once a catalog took its matter out, as the digest of ``asked`` never matches it; a
        reviewer, R2)."""
        if first.client_digest in (asked.digest(), spelt) or self._asks_as_stored(first, asked):
            return
        raise IdempotencyConflictError(
            "请求编号已用于另一项共享申请（client_request_id was used before for another request）",
            metadata={"access_request_id": first.request_id},
        )

    def _asks_as_stored(self, first: StoredAccessRequest, asked: _Asked) -> bool:
        """Whether ``asked``, resolved as ``request_access`` resolves it under the catalog in force, is ``first``."""
        if (asked.matter_code, asked.purpose, asked.license_id, asked.duration_days, asked.type_code) != (
            first.matter_code,
            first.purpose,
            first.license_id,
            first.duration_days,
            first.type_code,
        ):
            return False
        matter = self._catalog.matters.get(asked.matter_code)
        license_type = self._catalog.license_types.get(asked.type_code)
        if matter is None or license_type is None or all(m.type_code != license_type.code for m in matter.materials):
            return False
        try:
            issuer_code = _owning_issuer(license_type, asked.issuer_code)
            wanted = _requested_fields(license_type, _material(matter, license_type), asked.fields)
        except (InvalidRequestError, PermissionDeniedError):
            return False
        return issuer_code == first.issuer_code and sorted(wanted) == sorted(first.fields)

    def list_requests(
        self,
        caller: Member,
        *,
        view: RequestView | None = None,
        state: AccessRequestState | None = None,
        matter_code: str = "",
        requester: str = "",
        limit: int = 100,
        page_token: str = "",
        operator: str = "",
    ) -> tuple[list[StoredAccessRequest], str]:
        """An issuer's queue or a consumer's submitted requests, newest first, each in its state now
        (``request_state``): overdue requests and approvals past their end show, and filter, as EXPIRED; and the
        next page's token, empty when none follows (a last page had named a next one, which came empty). A token is
        good for this caller's listing with these filters alone (``gateway.domain.paging``). A ``matter_code`` no
        catalog could have (not a code's shape, ``code_shaped``) is INVALID_ARGUMENT / UNKNOWN_MATTER: taken as it
        came, it was put on the audit trail, a line break or any length on SQLite, and on PostgreSQL one longer than
        the column was INTERNAL (a reviewer, R2). One of that shape is taken whether or not the catalog has it now:
        the requests of a matter taken out of it are still stored, and the filter lists them (refused, they could
        not be found by it; a reviewer, R1). A ``requester`` no member could have (``member_code_violation``) is
        INVALID_ARGUMENT on ``requester`` likewise, on either store (a reviewer, R3). The store's query filters by the
        state at ``now`` (``AccessRequestRepository.page``), so a page is one read, in a read-only transaction between
        the overdue requests' expiry and the audit record: filtered after reading, a page of the approvals in force had
        read every ended one newer than them, a page at a time, under the store's write lock (a reviewer, R1)."""
        operator = checked_operator(operator)
        if matter_code and not code_shaped(matter_code):
            raise invalid(
                "matter_code",
                "UNKNOWN_MATTER",
                f"{unknown_matter_words(matter_code[:64])}（unknown matter {matter_code[:64]!r}）",
            )
        if requester and (violation := member_code_violation("requester", requester, "申请部门代码")):
            raise InvalidRequestError([violation])
        view = view or (RequestView.ISSUER_QUEUE if caller.has(Role.ISSUER) else RequestView.SUBMITTED)
        if view is RequestView.ISSUER_QUEUE and not caller.has(Role.ISSUER):
            raise PermissionDeniedError(
                "只有发证部门有待审批的共享申请队列（only issuers have a queue of access requests）",
                reason="NOT_AN_ISSUER",
            )
        if view is RequestView.SUBMITTED and not caller.roles & CONSUMER_ROLES:
            raise PermissionDeniedError(
                "只有用证部门可以提交共享申请（only consumers submit access requests）", reason="NOT_A_CONSUMER"
            )
        listing = Listing(
            "ListAccessRequests",
            caller.code,
            (f"view={view.value}", f"state={state.value if state else ''}", f"matter_code={matter_code}",
             f"requester={requester}"),
        )  # fmt: skip
        before = self._pages.position(page_token, listing)
        limit = max(1, min(limit, MAX_LIST))
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:  # a short transaction of its own, as ListConsents clears codes
            uow.access_requests.expire_overdue(now)
            uow.commit()
        queue = view is RequestView.ISSUER_QUEUE
        with self._db.unit_of_work() as uow:  # a read: on SQLite, no writer waits for it (a reviewer, R1)
            found = uow.access_requests.page(
                issuer_code=caller.code if queue else None,
                requester=(requester or None) if queue else caller.code,
                state=state.value if state else None,
                at=now,  # by the state at ``now`` in the query: one keyset read a page (a reviewer, R1)
                matter_code=matter_code or None,
                before_seq=int(before) if before is not None else None,
                limit=limit + 1,  # one more: whether a page follows
            )
        more, found = len(found) > limit, [as_of(r, now) for r in found[:limit]]
        entry = AuditEntry(
            at=now,
            caller=caller.code,
            operator=operator,
            action=AuditAction.LIST_ACCESS_REQUESTS,
            matter_code=matter_code,
            purpose="",
            decision="LISTED",
            reason=f"{view.value.lower()}={len(found)}",
        )
        with self._db.unit_of_work(write=True) as uow:
            self._audit.append(uow, [entry])
            uow.commit()
        return found, self._pages.token(str(found[-1].seq), listing) if found and more else ""

    def decide(
        self,
        caller: Member,
        request_id: str,
        decision: AccessDecision | None,
        *,
        approved_fields: Sequence[str] = (),
        duration_days: int = 0,
        reason: str = "",
        operator: str = "",
    ) -> StoredAccessRequest:
        """Approve or reject a pending request in the caller's queue, or withdraw an approval given (from the next
        call on, it shares nothing); a withdrawal said again is answered as the first left the request."""
        operator = checked_operator(operator)
        if not request_id:
            raise invalid("request_id", "REQUIRED", "请填写共享申请编号（request_id is required）")
        if decision is None:
            raise invalid(
                "decision", "REQUIRED", "审批决定须为批准、驳回或撤回（decision is APPROVE, REJECT or WITHDRAW）"
            )
        errors: list[FieldViolation] = []
        reason = check_text("reason", reason, MAX_REASON, errors, required=decision is not AccessDecision.APPROVE)
        check_decision_reason(reason, errors)
        if errors:
            raise InvalidRequestError(errors)
        called = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            expired = uow.access_requests.expire_overdue(called)  # first: the order every decision locks rows in
            request = uow.access_requests.lock(request_id)
            if request is None or request.issuer_code != caller.code:
                raise _not_in_queue(request, caller, called)
            # the decision's time, read under the request's lock, as a consent's withdrawal reads its own: taken at
            # the call's start, before the waits for the overdue requests' locks and this one, a withdrawal had been
            # dated before reads that were still permitted by the approval (a reviewer, R2)
            now = self._clock.now()
            if uow.access_requests.expire_overdue(now, request_id=request_id):  # its deadline passed meanwhile
                expired += 1
                request = uow.access_requests.get(request_id)
                assert request is not None
            license_type = self._catalog.license_types.get(request.type_code)
            matter = self._catalog.matters.get(request.matter_code)
            named = uow.licenses.get(request.license_id) if request.license_id else None
            current = (_in_force(uow, named) or named) if decision is AccessDecision.APPROVE else None
            # a withdrawal said again (its answer lost), or another clerk's: answered as the first withdrawal left
            # it, its time and reason kept, as WithdrawConsent and RevokeSeal answer theirs; it had been refused
            # ACCESS_REQUEST_NOT_APPROVED, which a client had to take for success (review sharing, R3)
            repeated = decision is AccessDecision.WITHDRAW and request.state == AccessRequestState.WITHDRAWN.value
            try:
                state = None
                if not repeated:
                    state = _apply(
                        uow,
                        request,
                        matter,
                        license_type,
                        decision,
                        approved_fields,
                        duration_days,
                        reason,
                        now,
                        current,
                    )
            except ConflictError:
                if expired:
                    uow.commit()  # the expiry stands even though this decision comes too late
                raise
            license = named
            self._audit.append(
                uow,
                [
                    self._request_record(
                        request,
                        license,
                        at=now,
                        caller=caller.code,
                        operator=operator,
                        action=AuditAction.DECIDE_ACCESS_REQUEST,
                        decision="REPEATED" if state is None else state.value,
                        reason=f"access_request={request_id}",
                    )
                ],
            )
            decided = uow.access_requests.get(request_id)
            uow.commit()
        assert decided is not None
        return as_of(decided, now)

    def cancel(self, caller: Member, request_id: str, *, reason: str = "", operator: str = "") -> StoredAccessRequest:
        """The requester takes back a pending request of its own (撤回申请): it becomes CANCELLED, dated now, with
        ``reason`` (optional) as its decision reason for the issuer's queue. Said again of a request it cancelled,
        answered as the first call left it (recorded REPEATED), as a withdrawal said again is. A request decided or
        expired is refused as a decision of it is (``_not_pending``); one the caller did not make is NOT_FOUND.
        A department had no way to take back a request filed by mistake: it waited in the issuer's queue for a
        rejection or for its 10 working days to pass (review sharing, s56)."""
        operator = checked_operator(operator)
        if not request_id:
            raise invalid("request_id", "REQUIRED", "请填写共享申请编号（request_id is required）")
        errors: list[FieldViolation] = []
        reason = check_text("reason", reason, MAX_REASON, errors)
        check_decision_reason(reason, errors)
        if errors:
            raise InvalidRequestError(errors)
        with self._db.unit_of_work(write=True) as uow:
            expired = uow.access_requests.expire_overdue(self._clock.now())  # the order every decision locks rows in
            request = uow.access_requests.lock(request_id)
            if request is None or request.requester != caller.code:
                raise _not_submitted(request, caller)
            now = self._clock.now()  # read under the request's lock, as a decision's time is
            if uow.access_requests.expire_overdue(now, request_id=request_id):  # its deadline passed meanwhile
                expired += 1
                request = uow.access_requests.get(request_id)
                assert request is not None
            repeated = request.state == AccessRequestState.CANCELLED.value
            if not repeated and not uow.access_requests.cancel(request_id, at=now, reason=reason):
                if expired:
                    uow.commit()  # the expiry stands even though this cancellation comes too late
                raise _not_cancellable(request, now)
            named = uow.licenses.get(request.license_id) if request.license_id else None
            self._audit.append(
                uow,
                [
                    self._request_record(
                        request,
                        named,
                        at=now,
                        caller=caller.code,
                        operator=operator,
                        action=AuditAction.CANCEL_ACCESS_REQUEST,
                        decision="REPEATED" if repeated else AccessRequestState.CANCELLED.value,
                        reason=f"access_request={request_id}",
                    )
                ],
            )
            cancelled = uow.access_requests.get(request_id)
            uow.commit()
        assert cancelled is not None
        return as_of(cancelled, now)

    # -- consents --------------------------------------------------------------------------------------------------

    def grant_consent(
        self,
        caller: Member,
        *,
        holder_code: str,
        grantee_code: str,
        matter_code: str,
        license_ids: Sequence[str] = (),
        type_codes: Sequence[str] = (),
        valid_until: dt.datetime | None,
        uses: int = 0,
        operator: str = "",
        client_request_id: str = "",
    ) -> tuple[StoredConsent, str]:
        """Record a holder's consent; returns it and its code (shown this once). With ``client_request_id``, a retry
        of the same grant within ``CODE_KEPT_HOURS`` returns the consent first made and its code
        (``_granted_again``)."""
        operator = checked_operator(operator)
        client_request_id = checked_client_request_id(client_request_id)
        holder_code = checked_holder_code(holder_code, held=self._holds)
        asked = {  # the request as granted, whatever its order, repeats or defaults (found in review)
            "holder_code": holder_code,
            "grantee_code": grantee_code,
            "matter_code": matter_code,
            "license_ids": sorted(set(license_ids)),
            "type_codes": sorted(set(type_codes)),
            "valid_until": valid_until.astimezone(dt.UTC).isoformat() if valid_until else "",
            "uses": uses or 1,
        }
        asked_digest = hashlib.sha256(canonical_json(asked)).hexdigest()
        if client_request_id:  # a retry is answered before the checks, which the state now may fail (a lapsed end)
            with self._db.unit_of_work() as uow:
                first = uow.consents.by_client_request_id(caller.code, client_request_id)
            if first is not None:
                return self._granted_again(caller, operator, *first, asked_digest, self._clock.now())
        if not matter_code:
            raise invalid("matter_code", "REQUIRED", "请填写事项编码（matter_code is required）")
        matter = self._catalog.matters.get(matter_code)
        if matter is None:
            raise invalid(
                "matter_code",
                "UNKNOWN_MATTER",
                f"{unknown_matter_words(matter_code[:64])}（unknown matter {matter_code[:64]!r}）",
            )
        license_ids, type_codes = tuple(dict.fromkeys(license_ids)), tuple(dict.fromkeys(type_codes))
        if not (license_ids or type_codes):
            raise invalid(
                "license_ids",
                "REQUIRED",
                "请至少指明一个证照或一类证照（name at least one license or license type）",
            )
        if len(license_ids) > MAX_CONSENT_ITEMS or len(type_codes) > MAX_CONSENT_ITEMS:
            raise invalid(
                "license_ids",
                "TOO_MANY",
                f"一项授权至多指明{MAX_CONSENT_ITEMS}个证照、{MAX_CONSENT_ITEMS}类证照"
                f"（at most {MAX_CONSENT_ITEMS} licenses and types）",
            )
        for i, code in enumerate(type_codes):
            if code not in self._catalog.license_types:
                raise invalid(
                    f"type_codes[{i}]",
                    "UNKNOWN_LICENSE_TYPE",
                    f"{unknown_type_words(code[:64])}（unknown license type {code[:64]!r}）",
                )
            check_type_used(self._catalog, matter, code, f"type_codes[{i}]")
            license_type = self._catalog.license_types[code]
            if not _may_hold(holder_code, license_type):
                # a company consenting to its 居民身份证: a code no license of the type can have covers nothing, and
                # the department it was handed to had been refused at its first use (a holder-portal tester)
                raise invalid(
                    f"type_codes[{i}]",
                    "TYPE_NOT_FOR_HOLDER",
                    f"{license_type.name}不会由这个代码的持有人持有（no license of type {code} is held under a code "
                    f"like holder_code: its holders' code types are {', '.join(license_type.holder_code_types)}）",
                )
            _check_consent_lets_through(matter, license_type, f"type_codes[{i}]")
        for i, license_id in enumerate(license_ids):
            if violation := license_id_violation(f"license_ids[{i}]", license_id):
                raise InvalidRequestError([violation])
        now = self._clock.now()
        if valid_until is None:
            raise invalid("valid_until", "REQUIRED", "请填写授权有效期（valid_until is required）")
        if not now < valid_until <= now + dt.timedelta(days=MAX_CONSENT_DAYS):
            raise invalid(
                "valid_until",
                "BAD_VALIDITY",
                f"授权有效期须在今后{MAX_CONSENT_DAYS}天以内"
                f"（valid_until must be in the next {MAX_CONSENT_DAYS} days）",
            )
        uses = uses or 1
        if not 1 <= uses <= MAX_CONSENT_USES:
            raise invalid(
                "uses", "BAD_USES", f"授权使用次数须为1至{MAX_CONSENT_USES}次（uses must be 1-{MAX_CONSENT_USES}）"
            )
        with self._db.unit_of_work() as uow:
            grantee = uow.members.get(grantee_code) if grantee_code else None
            grantee_revoked = grantee is not None and uow.members.is_revoked(grantee.code)
            licenses = [uow.licenses.get(license_id) for license_id in license_ids]
            in_force = [_in_force(uow, license) for license in licenses]
        if grantee is None or not grantee.roles & CONSUMER_ROLES:
            head = "被授权部门须为已登记的用证部门或跨省伙伴网关"
            tail = "（the grantee must be a registered consuming department or partner gateway）"
            whom = self._whom_to_grant(matter, matter_named=False, room=_room_after(head))
            raise invalid("grantee_code", "UNKNOWN_GRANTEE", f"{head}{whom}{tail}")
        if grantee_revoked:  # its calls are refused CREDENTIAL_REVOKED: the consent had been granted, and never used
            head = f"被授权部门{grantee.name}（{grantee.code}）已被撤销登记，不能再被授权"
            tail = "（the grantee's registration was revoked: it can no longer present a consent）"
            whom = self._whom_to_grant(matter, matter_named=False, room=_room_after(head))
            raise invalid("grantee_code", "UNKNOWN_GRANTEE", f"{head}{whom}{tail}")
        if not uses_matter(grantee, matter):  # it could never present the code: it may not name the matter
            handled = f"事项 {matter.code}（{matter.name}）由{matter.department}办理"
            # a partner's rule is its region's, not a department's, as MatterNotHandledError says it: the
            # department words had told a portal why not in a rule that is not the partner's (a reviewer, R3)
            if grantee.has(Role.PARTNER):
                head = f"合作网关只能被授权本地区（{grantee.region}）的事项，{handled}"
                tail = f"（a partner gateway is granted the matters of its own region {grantee.region} only）"
            else:
                head = f"{handled}，不是被授权部门{grantee.name}的事项"
                tail = f"（matter {matter.code} is handled by another department, not by the grantee {grantee.code}）"
            whom = self._whom_to_grant(matter, matter_named=True, room=_room_after(head))
            raise invalid("matter_code", "NOT_GRANTEES_MATTER", f"{head}{whom}{tail}")
        try:
            guardian, holder_code = self._consenting_for(holder_code, licenses, in_force, type_codes, valid_until, now)
            if not guardian:
                self._check_guardian_types_held(holder_code, type_codes)
        except InvalidRequestError as refused:
            self._refused_grant(caller, operator, matter, refused, license_ids, in_force, holder_code)
            raise
        day = now.astimezone(CHINA_TZ).date()
        for i, license in enumerate(licenses):
            assert license is not None
            check_type_used(self._catalog, matter, license.content.type_code, f"license_ids[{i}]")
            _check_consent_lets_through(
                matter, self._catalog.license_types[license.content.type_code], f"license_ids[{i}]"
            )
            _check_in_force(in_force[i] or license, day, f"license_ids[{i}]")
        code = self._codes()
        digest = consent_code_digest(code)
        assert digest is not None
        consent = StoredConsent(
            consent_id=self._ids(),
            code_sha256=digest,
            holder_code=holder_code,
            guardian_code=guardian,
            portal=caller.code,
            grantee=grantee.code,
            matter_code=matter.code,
            license_ids=license_ids,
            type_codes=type_codes,
            valid_until=valid_until,
            uses_allowed=uses,
            uses_left=uses,
            created_at=now,
            client_request_id=client_request_id,
            client_digest=asked_digest if client_request_id else "",
            granted_fields=granted_fields(
                self._catalog,
                matter.code,
                [*type_codes, *(license.content.type_code for license in licenses if license is not None)],
            ),
        )
        kept = self._kept_codes.seal(consent, code) if client_request_id and self._kept_codes else None
        current = [now_in_force or named for now_in_force, named in zip(in_force, licenses, strict=True)]
        entry = self._consent_entry(caller, operator, consent, AuditAction.GRANT_CONSENT, "GRANTED", now, current)
        try:
            with self._db.unit_of_work(write=True) as uow:
                uow.consents.clear_sealed_codes(now - dt.timedelta(hours=CODE_KEPT_HOURS))
                uow.consents.add(consent, code_sealed=kept)
                self._audit.append(uow, [entry])
                if calls.passed():  # a consent no one would receive the code of: the client has stopped waiting
                    raise DeadlineExceededError(
                        "调用方已停止等待，授权未记录（the caller's deadline passed before the consent was committed: "
                        "none was granted）",
                        reason="CALLER_DEADLINE_PASSED",
                    )
                uow.commit()
        except IntegrityError:  # the same key committed by a concurrent retry: answered as a retry
            if not client_request_id:
                raise
            with self._db.unit_of_work() as uow:
                first = uow.consents.by_client_request_id(caller.code, client_request_id)
            if first is None:
                raise
            return self._granted_again(caller, operator, *first, asked_digest, now)
        return consent, code

    def _granted_again(
        self,
        caller: Member,
        operator: str,
        consent: StoredConsent,
        sealed: bytes | None,
        digest: str,
        now: dt.datetime,
    ) -> tuple[StoredConsent, str]:
        """A retry of a grant (the same portal and ``client_request_id``): the consent first made, as it stands, and
        its code while it is kept (``CODE_KEPT_HOURS``); ALREADY_EXISTS / CONSENT_CODE_NOT_KEPT later, and
        REQUEST_ID_REUSED for another request under the key. The code handed out again is on the holder's log, as
        the grant is (``retry``)."""
        if consent.client_digest != digest:
            raise IdempotencyConflictError(  # naming no consent: it may be another holder's (a security tester)
                "请求编号已用于另一项授权（client_request_id was used before for another consent）"
            )
        fresh = now - consent.created_at < dt.timedelta(hours=CODE_KEPT_HOURS)
        code = self._kept_codes.open(consent, sealed) if fresh and sealed and self._kept_codes else None
        if code is None:
            raise AlreadyExistsError(
                f"此请求编号的授权已于{consent.created_at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}记录，授权码只在"
                f"{CODE_KEPT_HOURS}小时内可再次取得：如未交给持证人，请撤回该授权（{consent.consent_id}）后重新授权"
                f"（the consent of this client_request_id was granted at {consent.created_at:%Y-%m-%d %H:%M} UTC; its "
                f"code is kept for a retry for {CODE_KEPT_HOURS} hours only: withdraw it and grant again）",
                reason="CONSENT_CODE_NOT_KEPT",
                metadata={"consent_id": consent.consent_id},
            )
        with self._db.unit_of_work() as uow:
            licenses = [_current(uow, license_id, at=consent.created_at) for license_id in consent.license_ids[:1]]
        # on the log as a repeat (重复请求), not as a grant: a portal's retries had read as hundreds of grants, and
        # one after a withdrawal as 已授权 after the holder's 已撤回 (found in review and by a holder-portal tester)
        entry = self._consent_entry(caller, operator, consent, AuditAction.GRANT_CONSENT, "REPEATED", now, licenses)
        with self._db.unit_of_work(write=True) as uow:
            self._audit.append(uow, [entry])
            uow.commit()
        return consent, code

    def _refused_grant(
        self,
        caller: Member,
        operator: str,
        matter: Matter,
        refused: InvalidRequestError,
        license_ids: Sequence[str],
        in_force: Sequence[License | None],
        person: str,
    ) -> None:
        """A grant refused because it named another person's license (NOT_THE_HOLDERS_LICENSE, NOT_A_GUARDIAN), or a
        parent's naming their minor child's license that names no parent (LICENSE_NAMES_NO_PARENT), or a parent's
        under 18 naming the child's license that names them (GUARDIAN_NOT_OF_AGE, which had been on no log; review
        holder, R1): these two (``PARENTS_REFUSED_GRANTS``) on ``person``'s, the parent's, log as well: the answer
        tells whom the child's licenses name as parent, and a misused portal credential asking it of any code had
        left no trace (review consentfix, R2). On the logs of that license's holder, co-subjects and issuer, DENIED,
        naming the portal, as a refusal of a department's call about a license is. A leaked or misused portal
        credential tries exactly this; it had left no trace (found by a privacy tester). An identifier no license has
        is recorded alike, on no one's log but the trail's: a write either way (one only for a license that exists
        had answered ~1 ms later on SQLite; review). The record of a license that exists has its co-subjects' rows
        too, a few tenths of a millisecond more."""
        for violation in refused.violations:
            index = violation.field.removeprefix("license_ids[").removesuffix("]")
            if violation.reason not in REFUSED_GRANTS_RECORDED or not index.isdigit():
                continue
            current = in_force[int(index)]  # the version in force names the co-subjects, as the grant's record does
            use = UseContext(matter_code=matter.code, purpose="", operator=operator)
            target = UseTarget(license_id=current.license_id if current else license_ids[int(index)])
            subjects = self._subjects
            if violation.reason in PARENTS_REFUSED_GRANTS:  # on the naming parent's log too: their own try
                subjects = lambda license: (*self._subjects(license), person)  # noqa: E731
            self._audit.refuse(caller, use, violation.reason, AuditAction.GRANT_CONSENT, target, subjects=subjects)

    def _consenting_for(
        self,
        person: str,
        licenses: Sequence[License | None],
        in_force: Sequence[License | None],
        type_codes: Sequence[str],
        valid_until: dt.datetime,
        now: dt.datetime,
    ) -> tuple[str, str]:
        """Who consents, and for whom: ``("", person)`` when ``person`` holds every license named; ``(person,
        child)`` when ``person`` is a guardian the licenses name of their minor holder, the child (监护人代为授权,
        ``gateway.domain.guardianship``). InvalidRequestError otherwise.

        Guardianship is judged on the version in force of each license named (``in_force``, the same index): a
        parent an amendment (变更) took off the license is no guardian through the superseded version that still
        names them (the consent would cover the current version too: ``Consent.covers``). They are told
        NOT_THE_HOLDERS_LICENSE, as a stranger is, so the refusal says nothing of the amendment; a version whose
        version in force cannot be told (a link in the store an amendment did not make) is refused so too. A
        parent the current version still names may name the superseded version: the consent covers every version,
        and is read only on the version in force (``gateway.domain.sharing``, rule 6)."""
        owners: dict[str, None] = {}
        guardian = ""
        for i, license in enumerate(licenses):
            where = f"license_ids[{i}]"
            # one answer for "no such license" and "not this holder's": a portal learns nothing of other holders
            if license is None:
                raise _not_the_holders(where)
            owner = license.content.holder.code
            owners[owner] = None
            if owner == person and license.content.holder.code_type in holder_code_types_of(person):
                continue  # one under 其他 whose code is the person's 公民身份号码 is another's (CODE_TYPE_MISMATCH)
            license_type = self._catalog.license_types.get(license.content.type_code)
            current = in_force[i]
            if (
                license_type is None
                or current is None
                or current.content.holder.code != owner
                or person not in guardians_of(current, license_type)
            ):
                if self._parent_of_holder(person, current, license_type, now):
                    assert current is not None and license_type is not None  # as _parent_of_holder found
                    if under_consent_age(current, license_type, now):
                        raise invalid(
                            where,
                            "LICENSE_NAMES_NO_PARENT",
                            "该证照未载明父母，不能由父母代为授权，须由办理部门向发证部门申请审批（the license names "
                            "no parent: no parent consents for it; the department asks the issuer, RequestAccess）",
                        )
                    # a child of 14 to 17 consents in person: the words had sent the parent to the issuer alone
                    # (within the description's 200 characters)
                    raise invalid(
                        where,
                        "LICENSE_NAMES_NO_PARENT",
                        "该证照未载明父母，父母不能代为授权；持证人已满十四周岁，可本人授权，或由办理部门向发证部门申请审批"
                        "（the license names no parent: the holder, 14 or older, consents in person, or the department "
                        "asks the issuer, RequestAccess）",
                    )
                raise _not_the_holders(where)  # a co-subject who is no guardian (a 结婚证's wife) too
            if not is_minor(current, license_type, now):
                # Kept apart from NOT_THE_HOLDERS_LICENSE on purpose (review finding 7): only a person the version in
                # force names as the holder's parent gets it, and it tells them what the certificate they are named
                # on shows anyway (that it names them, and the holder's birth date); the portal is a member trusted
                # to assert whom it acts for. Told NOT_THE_HOLDERS_LICENSE, the parent of a grown child would not
                # learn that the child now consents in person.
                raise invalid(
                    where, "NOT_A_GUARDIAN", "持证人已成年，须本人授权（the holder is of age and consents in person）"
                )
            if not guardian_of_age(person, now):
                # a parent the license names, told so and recorded as NOT_A_GUARDIAN is (_refused_grant; it had been
                # on no log: review holder, R1): a guardian has full civil capacity, and a parent under 18 had
                # consented for the child though refused their own consent (a reviewer, R3)
                raise invalid(
                    where,
                    "GUARDIAN_NOT_OF_AGE",
                    f"父亲或母亲未满{AGE_OF_MAJORITY}周岁，不能代为授权：请由证照载明的另一位已成年的父亲或母亲授权，"
                    f"或由办理部门申请审批（a parent under {AGE_OF_MAJORITY} does not consent for the child: the other "
                    "parent named, of age, does, or the department asks the issuer, RequestAccess）",
                )
            guardian = person
            born = holder_birth_date(current, license_type)
            assert born is not None  # a minor's birth date is known
            # the holder is of age all of that day (China time), when the policy no longer takes the consent: its
            # end is at that day's 00:00 at the latest, and the words say that instant (they had named the day as
            # the latest, and a portal's end later on it was refused in them; a reviewer, R4)
            of_age = dt.datetime.combine(of_age_on(born), dt.time(), CHINA_TZ)
            if valid_until > of_age:
                raise invalid(
                    "valid_until",
                    "BEYOND_MINORITY",
                    f"监护人代为授权的有效期不能晚于持证人年满18周岁之日的零时，即北京时间{of_age:%Y-%m-%d %H:%M}"
                    f"（a guardian's consent ends by {of_age.isoformat()}, the start of the day the holder turns 18）",
                )
        if len(owners) > 1:
            raise invalid(
                "license_ids",
                "ONE_HOLDER_PER_CONSENT",
                "一项授权只能涵盖同一持证人的证照（one consent covers the licenses of one holder）",
            )
        if not guardian:
            named = [license.license_id for license in licenses if license is not None]
            in_person = consent_names_a_person(self._catalog, named, type_codes)
            self._check_consents_in_person(person, now, by_citizen_id=in_person)
            return "", person
        if type_codes:
            # a type would cover every license of that type the child holds, some of which may name no guardian
            raise invalid(
                "type_codes",
                "GUARDIAN_NAMES_LICENSES",
                "监护人代为授权须逐一指明证照，不能按证照类型授权"
                "（a guardian's consent names licenses, not license types）",
            )
        (child,) = owners
        return guardian, child

    def _parent_of_holder(
        self, person: str, license: License | None, license_type: LicenseType | None, now: dt.datetime
    ) -> bool:
        """Whether ``license`` (the version in force of one a grant names) is of a type that names no guardian (a
        居民身份证, a 社会保障卡) and held by a minor child a current license of whom names ``person`` as a parent
        (``_guardian_of``): such a parent is told LICENSE_NAMES_NO_PARENT, not NOT_THE_HOLDERS_LICENSE as a stranger
        is, nor logged as one. A guardian consents only through a license that names them (``guardians_of``: the
        policy judges a guardian's consent on the license read), and the words of GUARDIAN_MUST_CONSENT had sent the
        mother of a 10-year-old to name the child's 居民身份证, her try then logged on the child's log as a misused
        portal credential's (a reviewer, R2)."""
        if license is None or license_type is None or any(spec.guardian_of_holder for spec in license_type.fields):
            return False
        with self._db.unit_of_work() as uow:
            return self._guardian_of(uow, person, license.content.holder.code, now)

    def _check_guardian_types_held(self, person: str, type_codes: Sequence[str]) -> None:
        """INVALID_ARGUMENT / GUARDIAN_NAMES_LICENSES on ``type_codes[i]`` for a type whose licenses name their
        holder's guardians (a 出生医学证明) that ``person``, consenting for themselves, holds no license of: the
        portal meant a child's, and the consent, the person's own, would let nothing through. It had been granted
        ACTIVE (已授权), and the department's read of the child's license refused CONSENT_OTHER_HOLDER, its remedy
        asking for the holder's code the parent had just tried to give (a journeys tester). Only a newborn gets such
        a license later, and a newborn does not consent in person; a type of any other kind is taken unjudged."""
        guardian_types = self._guardian_types()
        for i, code in enumerate(type_codes):
            if code not in guardian_types:
                continue
            with self._db.unit_of_work() as uow:
                held = uow.holder_licenses.all_current(person, holder_code_types_of(person), limit=1, type_codes=[code])
            if held:
                continue
            name = self._catalog.license_types[code].name
            raise invalid(
                f"type_codes[{i}]",
                "GUARDIAN_NAMES_LICENSES",
                f"持证人本人没有{name}；为孩子授权须指明孩子的证照，以 child_code 调用 ListConsentableLicenses 查得"
                "（the holder has none of their own: for a child, name the child's license, listed by "
                "ListConsentableLicenses with child_code）",
            )

    def withdraw_consent(
        self, caller: Member, consent_id: str, holder_code: str, *, operator: str = ""
    ) -> StoredConsent:
        """Withdraw a consent of the holder, or one that the person of ``holder_code`` granted as a guardian; the
        code is refused from the next call on. One withdrawn already, used up or expired is left as it is and
        answered in that state: it had become WITHDRAWN, so the holder's list no longer said it had been used
        (已用完) or had run out, and each repeat had added a line to the holder's log as if withdrawn again (found by
        a holder-portal tester). Such a call is on the log too, as every answered call is, but as UNCHANGED (无变化)."""
        operator = checked_operator(operator)
        holder_code = checked_holder_code(holder_code, held=self._holds)
        if not consent_id:
            raise invalid("consent_id", "REQUIRED", "请填写授权编号（consent_id is required）")
        called = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:
            # first, as a grant does: locking the consent's row and then those of the codes past their day had
            # deadlocked with a grant locking them in the other order (found in review)
            uow.consents.clear_sealed_codes(called - dt.timedelta(hours=CODE_KEPT_HOURS))
            consent = uow.consents.lock(consent_id)
            if consent is None or not self._theirs(uow, holder_code, consent):
                raise NotFoundError(
                    "此持证人没有这项授权（no such consent of this holder）", reason="CONSENT_NOT_FOUND"
                )
            # the withdrawal's time, read under the consent's lock: when it takes effect. Taken at the call's start,
            # before the waits for the locks above, it had dated the withdrawal before a read that was counted in
            # that wait and was put on the trail after it, a use after the withdrawal on the holder's log (a
            # reviewer, R2). Now a use counted before the lock is dated before this, and one counted after finds the
            # consent withdrawn (``ConsentRepository.use``).
            now = self._clock.now()
            spent = self._state_in(uow, consent, now) in _SPENT_STATES
            changed = not spent and uow.consents.withdraw(consent_id, now, by=holder_code)
            withdrawn = uow.consents.get(consent_id)
            assert withdrawn is not None
            # the co-subjects of the version its grant's record took them from, in force when it was granted: the
            # version in force now had put a father an amendment named since on the withdrawal of the consent of the
            # father it took off, as CO_SUBJECT of a version that does not state him (review holder, R2)
            named = [_current(uow, license_id, at=withdrawn.created_at) for license_id in withdrawn.license_ids[:1]]
            entry = self._consent_entry(
                caller,
                operator,
                withdrawn,
                AuditAction.WITHDRAW_CONSENT,
                "WITHDRAWN" if changed else "UNCHANGED",  # written here, where the decisions' words test reads them
                now,
                named,
                by=self._withdrawer(uow, withdrawn),
            )
            self._audit.append(uow, [entry])
            uow.commit()
        return withdrawn

    def _withdrawer(self, uow: UnitOfWork, consent: StoredConsent) -> str:
        """Who withdrew ``consent``, as its WITHDRAW_CONSENT record says it (`` by=``): HOLDER for the holder's own,
        and for a guardian's the holder withdrew in person (``withdrawn_in_person``: with the holder's code, 14 or
        over on the day), else GUARDIAN, as the words of its refusal are chosen; empty when it is not withdrawn (a
        repeat on one used up or expired). The record had said consent=ID alone: no log told a parent that the child
        withdrew her consent, and only the unhashed ``withdrawn_by`` told whose words a refusal said (review
        fixrev3, R2)."""
        if consent.withdrawn_at is None:
            return ""
        if not consent.guardian_code:
            return "HOLDER"
        in_person = consent_names_a_person(self._catalog, consent.license_ids, consent.type_codes)
        born = self._born(uow, consent.holder_code, by_citizen_id=in_person) if consent.withdrawn_by else None
        by_holder = withdrawn_in_person(consent.holder_code, consent.withdrawn_by, consent.withdrawn_at, born)
        return "HOLDER" if by_holder else "GUARDIAN"

    def list_consents(
        self, caller: Member, holder_code: str, *, limit: int = 100, page_token: str = "", operator: str = ""
    ) -> ConsentPage:
        """The holder's consents and those the person of ``holder_code`` granted as a guardian for a minor holder,
        newest first (their codes are not stored, so never shown), a page at a time."""
        operator = checked_operator(operator)
        holder_code = checked_holder_code(holder_code, held=self._holds)
        listing = Listing("ListConsents", caller.code, (f"holder_code={holder_code}",))
        cursor = _ConsentCursor.parse(self._pages.position(page_token, listing))
        limit = max(1, min(limit, MAX_LIST))
        now = self._clock.now()
        with self._db.unit_of_work(write=True) as uow:  # as a grant does, in a short transaction of its own
            uow.consents.clear_sealed_codes(now - dt.timedelta(hours=CODE_KEPT_HOURS))
            uow.commit()
        with self._db.unit_of_work(write=True) as uow:
            theirs = cache(partial(self._theirs, uow, holder_code))  # once per consent, however wide the window
            found = _consents_after(uow, holder_code, theirs, cursor, limit + 1)  # one more: whether a page follows
            more, found = len(found) > limit, found[:limit]
            states = tuple(self._state_in(uow, consent, now) for consent in found)
            withdrawers = tuple(self._withdrawer(uow, consent) for consent in found)
            self._audit.append(
                uow, [_listed(caller, operator, AuditAction.LIST_CONSENTS, holder_code, f"consents={len(found)}", now)]
            )
            uow.commit()
        ended = _ConsentCursor(key=_newness(found[-1])) if more else None
        return ConsentPage(
            consents=tuple(found),
            states=states,
            withdrawers=withdrawers,
            next_page_token=self._pages.token(str(ended), listing) if ended else "",
        )

    def _theirs(self, uow: UnitOfWork, person: str, consent: StoredConsent) -> bool:
        """Whether ``consent`` is the person's of code ``person`` to list and withdraw: one they granted, in person or
        as a guardian, or a guardian's for them as the holder. A guardian's consent is stored under the code its
        licenses carry, and is that code's person's only when one of them is stored under a code type the code tells
        (``holder_code_types_of``), as the sharing policy and a grant judge a holder: a 出生医学证明 stored under
        其他 (099) with an adult's 公民身份号码 is nobody's by the code alone, and the mother's consent for it had
        been listed to that adult, her 公民身份号码 with it, and withdrawn by them (a reviewer, R1)."""
        if person == consent.guardian_code or (person == consent.holder_code and not consent.guardian_code):
            return True
        if person != consent.holder_code:
            return False
        kinds = holder_code_types_of(person)
        return any(
            (license := _named(uow, license_id)) is not None and license.content.holder.code_type in kinds
            for license_id in consent.license_ids
        )

    def withdrawn_as(self, consent: StoredConsent) -> str:
        """Who withdrew ``consent`` as the gateway judges it (``_withdrawer``: its record's `` by=``, the words of its
        refusal), HOLDER or GUARDIAN; empty while it is not withdrawn. ``withdrawn_by`` is the code used, the holder's
        for a parent's consent withdrawn with a newborn's code, which a portal had shown as the newborn's act (review
        holder, R3)."""
        if consent.withdrawn_at is None:
            return ""
        with self._db.unit_of_work() as uow:
            return self._withdrawer(uow, consent)

    def consent_state(self, consent: StoredConsent) -> ConsentState:
        """``consent``'s state now. A guardian's consent (``guardian_code``) whose use would be refused
        ``CONSENT_GUARDIAN_ENDED`` on every license it names is GUARDIAN_ENDED: read from the store."""
        now = self._clock.now()
        if consent_state(consent, now) in _FINAL_STATES:
            return consent_state(consent, now)
        with self._db.unit_of_work() as uow:
            return self._state_in(uow, consent, now)

    def prune(
        self,
        older_than: dt.timedelta,
        *,
        batch: int = PRUNE_BATCH,
        progress: Callable[[Pruned], object] = lambda so_far: None,
    ) -> Pruned:
        """Remove the consents and access requests that ended more than ``older_than`` ago (the retention `zzgw audit
        prune` applies): a consent ended at its withdrawal, else at the end of its validity (a used-up one too: the
        time of its last use is not kept); a request at the latest of its deadline, its decision and, approved, the
        end of its approval (``ConsentRepository.delete_ended``, ``AccessRequestRepository.delete_ended``). Nothing
        in force, nor a request still pending, is ever removed. At most ``batch`` rows a transaction, found by a read
        before it, so that a prune of millions keeps no writer waiting long.

        What is removed is gone: its code is CONSENT_NOT_FOUND (no longer CONSENT_EXPIRED, …), a refusal no longer
        names the approval that ended (NEEDS_AUTHORIZATION), and a retry with its ``client_request_id`` is taken as a
        new grant or request. ``progress`` is told what is gone so far after each batch's commit: a prune stopped
        midway (Ctrl-C, the store failing) says how many it removed, which it had not, thousands gone for good unsaid
        (a reviewer, R2)."""
        cutoff = self._clock.now() - older_than
        consents = _remove_ended(
            self._db, lambda uow: uow.consents, cutoff, batch, lambda n: progress(Pruned(consents=n, access_requests=0))
        )
        requests = _remove_ended(
            self._db,
            lambda uow: uow.access_requests,
            cutoff,
            batch,
            lambda n: progress(Pruned(consents=consents, access_requests=n)),
        )
        return Pruned(consents=consents, access_requests=requests)

    def consentable_licenses(
        self,
        caller: Member,
        holder_code: str,
        child_code: str = "",
        *,
        limit: int = MAX_CONSENTABLE,
        page_token: str = "",
        operator: str = "",
    ) -> ConsentablePage:
        """The current licenses the holder of ``holder_code`` may name in a consent, in the order the licenses were
        first issued (``HolderLicenseRepository.current_after``: an amended one keeps its place), a page at a time:
        their own; or, with ``child_code``, those of that child that name them as a parent, while the child is a
        minor (what ``GrantConsent`` takes for 监护人代为授权). A portal had no way to learn the identifiers it must
        name (found by a holder-portal tester). On the log of the holder whose licenses are listed (the child's,
        naming the parent while a license of the child names them as its guardian: ``_guardian_of``): a person's
        register, numbers included, is the most a portal reads (found by a security tester).

        Only what a grant takes is listed (a holder-portal tester, D3): a license in force today
        (``_check_in_force``) of a type some matter of the catalog reads with a consent (``consent_matters``, given
        with each); a 护照 no matter reads, and a 营业执照 every matter reads unconditionally, had been listed, and
        their grants refused or changing nothing. The page had stopped at ``MAX_CONSENTABLE`` with no word, leaving
        out the newest of a chain's hundreds of permits (D4): it now pages with a sealed token
        (``gateway.domain.paging``), ``limit`` 0 for ``MAX_CONSENTABLE`` as before."""
        operator = checked_operator(operator)
        holder_code = checked_holder_code(holder_code, held=self._holds)
        owner = checked_holder_code(child_code, field="child_code", held=self._holds) if child_code else holder_code
        listing = Listing(
            "ListConsentableLicenses",
            caller.code,
            # "by=first": a page ends at a license's place (``current_after``), not at a row as before; a token of
            # that order is BAD_PAGE_TOKEN rather than read as a place
            (f"holder_code={holder_code}", f"child_code={child_code and owner}", "by=first"),
        )
        position = self._pages.position(page_token, listing)
        after = int(position) if position is not None else None
        limit = max(1, min(limit or MAX_CONSENTABLE, MAX_LIST))
        now = self._clock.now()
        day = now.astimezone(CHINA_TZ).date()
        if not child_code:  # a child under 14 names none in person: GUARDIAN_MUST_CONSENT, as GrantConsent says
            self._check_consents_in_person(holder_code, now)  # (its listing had offered them; a tester)
        # a child's under any code type: those listed must name the parent, who consents as their guardian
        kinds = list(holder_code_types_of(owner) if not child_code else HOLDER_CODE_TYPES)
        matters = consent_matters(self._catalog)
        # a child's: only the types that can name a guardian (a chain's permits, under child_code, had been read a page
        # at a time to list none)
        types = [code for code in matters if not child_code or code in self._guardian_types()]

        def nameable(license: License) -> bool:
            license_type = self._catalog.license_types.get(license.content.type_code)
            if license_type is None or not matters.get(license_type.code):
                return False
            if license.effective_status(day) is not LicenseStatus.ACTIVE:
                return False
            return not child_code or self._guards(holder_code, license, now)

        listed: list[tuple[int, License]] = []
        with self._db.unit_of_work() as uow:
            while len(listed) <= limit:  # one more than the page: whether another follows
                read = uow.holder_licenses.current_after(
                    owner, kinds, types, status=LicenseStatus.ACTIVE.value, on=day, after=after, limit=limit + 1
                )
                listed += [(place, license) for place, license in read if nameable(license)]
                if len(read) <= limit:
                    break
                after = read[-1][0]
            # the parent is on the listing (on their log, GUARDIAN) only as the child's guardian: an adult naming
            # another's child, listed nothing, had been told GUARDIAN all the same (found in review)
            guardian = bool(child_code) and (bool(listed) or self._guardian_of(uow, holder_code, owner, now))
        more, listed = len(listed) > limit, listed[:limit]
        entry = _listed(
            caller,
            operator,
            AuditAction.LIST_CONSENTABLE_LICENSES,
            owner,
            f"licenses={len(listed)}",
            now,
            subjects=(holder_code,) if guardian else (),
        )
        with self._db.unit_of_work(write=True) as uow:
            self._audit.append(uow, [entry])
            uow.commit()
        licenses = tuple(license for _, license in listed)
        return ConsentablePage(
            licenses=licenses,
            matter_codes=tuple(matters[license.content.type_code] for license in licenses),
            next_page_token=self._pages.token(str(listed[-1][0]), listing) if more else "",
        )

    def _guardian_types(self) -> frozenset[str]:
        """The catalog's license types with a ``guardian_of_holder`` field: the only ones a parent names for a child."""
        return frozenset(
            code
            for code, license_type in self._catalog.license_types.items()
            if any(spec.guardian_of_holder for spec in license_type.fields)
        )

    def _guards(self, person: str, license: License, now: dt.datetime) -> bool:
        """Whether ``license`` names ``person`` as a guardian of its holder, a minor at ``now``."""
        license_type = self._catalog.license_types.get(license.content.type_code)
        return (
            license_type is not None
            and person in guardians_of(license, license_type)
            and guardian_of_age(person, now)
            and is_minor(license, license_type, now)
        )

    def _guardian_of(self, uow: UnitOfWork, person: str, child: str, now: dt.datetime) -> bool:
        """Whether a current license of ``child``, in force or not, names ``person`` as the guardian of a minor
        holder: a parent whose child has nothing to name lists it as their guardian all the same."""
        held = uow.holder_licenses.all_current(
            child, HOLDER_CODE_TYPES, limit=MAX_CONSENTABLE, type_codes=self._guardian_types()
        )
        return any(self._guards(person, license, now) for license in held)

    def effective_status(self, license: License) -> LicenseStatus:
        """The license's status today (an ACTIVE license past its end date is EXPIRED)."""
        return license.effective_status(today(self._clock))

    def _check_consents_in_person(self, person: str, now: dt.datetime, *, by_citizen_id: bool = False) -> None:
        """INVALID_ARGUMENT / GUARDIAN_MUST_CONSENT when ``person``, consenting for themselves, is a child under
        ``AGE_OF_CONSENT`` on the day (China time), by their birth date as ``_born`` tells it (``by_citizen_id``: the
        consent names the holder by a 公民身份号码, ``consent_names_a_person``): a newborn's own code had been taken
        as the newborn's consent, with no guardian on record (found by a holder-portal tester). A holder whose birth
        date cannot be told is not taken for a child (the use judges again)."""
        with self._db.unit_of_work() as uow:
            born = self._born(uow, person, by_citizen_id=by_citizen_id)
        if not born_under_consent_age(born, now):
            return
        raise invalid(
            "holder_code",
            "GUARDIAN_MUST_CONSENT",
            f"持证人未满{AGE_OF_CONSENT}周岁，须由父母以其公民身份号码为载明其为父母的出生医学证明等证照授权，"
            f"其他证照须申请审批（under {AGE_OF_CONSENT}: a parent consents by their citizen ID for a license naming "
            "them, a birth certificate; for others, RequestAccess）",
        )

    def _state_in(self, uow: UnitOfWork, consent: StoredConsent, now: dt.datetime) -> ConsentState:
        if not consent.guardian_code:
            return consent_state(consent, now, of_a_child=self._of_a_child(uow, consent, now))
        return consent_state(consent, now, guardian_stands=self._guardian_stands(uow, consent, now))

    def _of_a_child(self, uow: UnitOfWork, consent: StoredConsent, now: dt.datetime) -> bool:
        """Whether ``consent``, a holder's own, is a child's under 14 now: by the birth date of a citizen ID, else of
        the first of the holder's licenses that tells one (a 099 code's); never an organisation's credit code. As
        its use judges it (``CONSENT_NEEDS_GUARDIAN``, by the same ``holder_born``), once per holder: a page of a
        company's consents had read the store once per consent (found in review)."""
        by_citizen_id = consent_names_a_person(self._catalog, consent.license_ids, consent.type_codes)
        return born_under_consent_age(self._born(uow, consent.holder_code, by_citizen_id=by_citizen_id), now)

    def _born(self, uow: UnitOfWork, holder: str, *, by_citizen_id: bool = False) -> dt.date | None:
        return holder_born(uow, self._catalog, holder, by_citizen_id=by_citizen_id)

    def _guardian_stands(self, uow: UnitOfWork, consent: StoredConsent, now: dt.datetime) -> bool:
        """Whether the guardian of ``consent`` may still consent for its holder through one of the licenses it names:
        the version in force is in force on the day (``guardian_in_force``), names them, and its holder is a minor on
        the day, as the sharing policy judges a use."""
        for license_id in consent.license_ids:
            current = _in_force(uow, _named(uow, license_id))
            license_type = self._catalog.license_types.get(current.content.type_code) if current else None
            if (
                current is not None
                and license_type is not None
                and guardian_in_force(current, now)
                and consent.guardian_code in guardians_of(current, license_type)
                and guardian_of_age(consent.guardian_code, now)
                and is_minor(current, license_type, now)
            ):
                return True
        return False

    def _consent_entry(
        self,
        caller: Member,
        operator: str,
        consent: StoredConsent,
        action: AuditAction,
        decision: str,
        now: dt.datetime,
        licenses: Sequence[License | None],
        *,
        by: str = "",
    ) -> AuditEntry:
        """The record of a consent granted or withdrawn, under its holder (``by``: who withdrew it, ``_withdrawer``,
        `` by=`` after ``consent=ID``); when it names one license (and no type),
        that license with its co-subjects (``licenses``: the consent's licenses, each the version in force when it
        was granted, the first at least: a father an amendment took off the 出生医学证明 had been shown the new
        father's consents, named by the version that still named him; found by a holder-portal tester), and named by
        that version, whose co-subjects they are: a consent naming a version superseded had been recorded naming it,
        its co-subjects those of the version in force, and on a father that version names alone as CO_SUBJECT of a
        version that does not state him (``relation_of`` reads the version a record names; review holder, R2). A
        guardian who granted it is a co-subject too: it is on their access log as on the holder's."""
        one = len(consent.license_ids) == 1 and not consent.type_codes
        subjects = self._subjects(licenses[0]) if one and licenses else ()
        named = licenses[0] if one and licenses else None
        return AuditEntry(
            at=now,
            caller=caller.code,
            operator=operator,
            action=action,
            matter_code=consent.matter_code,
            purpose="",
            license_id=(named.license_id if named is not None else consent.license_ids[0]) if one else "",
            holder_code=consent.holder_code,
            decision=decision,
            reason=f"consent={consent.consent_id} by={by}" if by else f"consent={consent.consent_id}",
            subjects=(*subjects, consent.guardian_code) if consent.guardian_code else subjects,
        )


def _listed(
    caller: Member,
    operator: str,
    action: AuditAction,
    holder_code: str,
    reason: str,
    now: dt.datetime,
    *,
    subjects: tuple[str, ...] = (),
) -> AuditEntry:
    """The record of a holder portal's listing for a holder (its consents, its licenses), outside any matter."""
    return AuditEntry(
        at=now,
        caller=caller.code,
        operator=operator,
        action=action,
        matter_code="",
        purpose="",
        holder_code=holder_code,
        decision="LISTED",
        reason=reason,
        subjects=subjects,
    )


def _may_hold(code: str, license_type: LicenseType) -> bool:
    """Whether the holder of ``code`` may hold a license of ``license_type``: a valid code of one of its holder code
    types that the code alone names (``holder_code_types_of``: a 公民身份号码 holds no organisation's, a company had
    been granted a consent to its 出生医学证明), and no 统一社会信用代码 a person's, whose 其他 code type takes any
    other code (a company's consent to a person's type covers nothing: a tester). A person whose own code passes the
    credit code's check by chance (one in 31 of 18 characters) consents to such a license by its identifier."""
    told = holder_code_types_of(code)
    if (
        license_type.holder_kind is HolderKind.PERSON
        and "111" not in told
        and uscc_problem(normal_number(code)) is None
    ):
        return False
    return any(kind in told and valid_holder_code(code, kind) for kind in license_type.holder_code_types)


def _named(uow: UnitOfWork, license_id: str) -> License | None:
    """The stored license ``license_id`` names (any version, any status), read once in the unit of work
    (``uow.named``): whose a guardian's consent is (``_theirs``) and whether its guardian stands
    (``_guardian_stands``) read the same row."""
    if license_id not in uow.named:
        uow.named[license_id] = uow.licenses.get(license_id)
    return uow.named[license_id]


def _read_named(uow: UnitOfWork, consents: Sequence[StoredConsent]) -> None:
    """The licenses that the guardians' consents among ``consents`` name and ``uow.named`` lacks, read in one go and
    kept there (those not stored as None): a page of a child's consents had read each twice, one at a time."""
    wanted = {i for c in consents if c.guardian_code for i in c.license_ids if i not in uow.named}
    if wanted:
        found = uow.licenses.get_many(sorted(wanted))
        uow.named.update({license_id: found.get(license_id) for license_id in wanted})


def _current(uow: UnitOfWork, license_id: str, *, at: dt.datetime | None = None) -> License | None:
    """The license ``license_id`` names, as the version in force (``_in_force``; at ``at`` when given) when that can
    be told."""
    named = uow.licenses.get(license_id)
    return _in_force(uow, named, at=at) or named


def holder_born(uow: UnitOfWork, catalog: Catalog, holder: str, *, by_citizen_id: bool = False) -> dt.date | None:
    """The birth date of the holder of ``holder``, if anything tells it: its citizen ID, else the latest that its
    current licenses tell (a 099 code's; a code that is both a citizen ID and a valid credit code is judged by its
    licenses, a company's telling none: the code's digits had made a company a child, found rereading the change);
    kept for the unit of work's time, so that a page of consents reads the store once. With ``by_citizen_id`` (the
    call names the holder by a 公民身份号码, code type 111: ``consent_names_a_person``), a citizen ID's own birth
    date, whatever else its digits pass: one child's number in 31 is a valid credit code too, and a 10-year-old
    holding no license yet had consented to their 居民身份证 in person, listed ACTIVE (a reviewer, R3). The latest,
    so that any record telling a child makes one: the oldest license's, a 出生医学证明 revoked for a wrong date, had
    let a week-old's own consent through (a reviewer, R1). Only the types that can tell one are read (a company's
    licenses never do: its every consented read had fetched up to 200 rows for nothing). A consent's listing
    (``CONSENT_STATE_NEEDS_GUARDIAN``), a holder's grant (``GUARDIAN_MUST_CONSENT``) and a use of the consent
    (``CONSENT_NEEDS_GUARDIAN``, ``Consent.holder_born``) all judge the holder's age by it."""
    if by_citizen_id and (told_by_code := citizen_birth_date(holder)) is not None:
        return told_by_code
    memo = uow.births
    if holder not in memo:
        born = citizen_birth_date(holder) if uscc_problem(holder) is not None else None
        if born is None:
            code_types = holder_code_types_of(holder)
            telling = None if "111" in code_types else _types_telling_birth(catalog)
            held = uow.holder_licenses.all_current(holder, code_types, limit=MAX_CONSENTABLE, type_codes=telling)
            told = [
                date
                for license in held
                if (license_type := catalog.license_types.get(license.content.type_code)) is not None
                and (date := holder_birth_date(license, license_type)) is not None
            ]
            born = max(told, default=None)
        memo[holder] = born
    return memo[holder]


def granted_fields(
    catalog: Catalog, matter_code: str, type_codes: Iterable[str]
) -> tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...]:
    """What a consent for ``matter_code`` naming licenses of ``type_codes`` (or those types) is granted for under
    ``catalog`` (``StoredConsent.granted_fields``, ``gateway.domain.sharing.consented_fields``): by type, the
    material's conditional fields and those of them it reads in full. Nothing for a type or matter the catalog lacks:
    such a consent lets nothing through."""
    matter = catalog.matters.get(matter_code)
    found: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    for code in dict.fromkeys(filter(None, type_codes)):
        license_type = catalog.license_types.get(code)
        if matter is None or license_type is None:
            found.append((code, (), ()))
            continue
        granted = consented_fields(matter, license_type)
        found.append((code, granted.fields, granted.full_fields))
    return tuple(found)


def approved_full_fields(material: Material, fields: Sequence[str]) -> tuple[str, ...]:
    """Which of ``fields``, approved under ``material`` (the matter's material of the request's type in the catalog
    in force), are approved unmasked: those it names in ``full_fields`` (``StoredAccessRequest.approved_full_fields``,
    ``gateway.domain.sharing.Approval.full_fields``). A catalog adopted later that unmasks another does not unmask it
    for this approval (a reviewer, access R1)."""
    return tuple(key for key in fields if key in material.full_fields)


def recorded_full_fields(catalog: Catalog, request: StoredAccessRequest) -> tuple[str, ...]:
    """``approved_full_fields`` of ``request``, an approval given before schema 0040, under ``catalog``: nothing when
    the catalog lacks its matter, its type, or the matter's material of it (then nothing of it is read anyway)."""
    matter = catalog.matters.get(request.matter_code)
    material = next((m for m in matter.materials if m.type_code == request.type_code), None) if matter else None
    return approved_full_fields(material, request.approved_fields) if material is not None else ()


def consent_names_a_person(catalog: Catalog, license_ids: Sequence[str], type_codes: Sequence[str]) -> bool:
    """Whether a consent naming ``license_ids`` and ``type_codes`` names its holder by a 公民身份号码 when the code is
    one (``holder_born``'s ``by_citizen_id``): it names a person's license type, or a license of one. A person's type
    takes a 公民身份号码 under code type 111 alone (``CODE_TYPE_MISMATCH``), so such a code is the holder's citizen ID
    here, though its digits pass the credit code's check too; a company's 营业执照 under a credit code that reads as a
    child's number names an organisation, judged by its licenses as before."""
    named = [*type_codes, *(type_named(license_id) for license_id in license_ids)]
    return any(
        (license_type := catalog.license_types.get(code)) is not None and license_type.holder_kind is HolderKind.PERSON
        for code in named
    )


def type_named(license_id: str) -> str:
    """The license type an identifier names; empty for one that is no identifier."""
    try:
        return LicenseId.parse(license_id).type_code
    except ValueError:
        return ""


def _types_telling_birth(catalog: Catalog) -> list[str]:
    """The license types with a field that states the holder's birth date (``of_holder: birth_date``)."""
    return [
        code
        for code, license_type in catalog.license_types.items()
        if any(spec.of_holder is OfHolder.BIRTH_DATE for spec in license_type.fields)
    ]


def _in_force(uow: UnitOfWork, license: License | None, *, at: dt.datetime | None = None) -> License | None:
    """The version in force of ``license``: itself when it is not superseded, else the version its ``superseded_by``
    names, followed to the chain's end (with ``at``, to the last version recorded by then). None for None, and when a
    link is not one an amendment made (the next version's identifier, whose record ``supersedes`` this one) or leads
    nowhere: ``superseded_by`` is not sealed, and a link changed in the store must not lend a license another
    license's guardians."""
    while license is not None and (license.status is LicenseStatus.SUPERSEDED or license.superseded_by):
        try:
            successor_id = str(LicenseId.parse(license.license_id).next_version())
        except ValueError:  # a malformed identifier, or the 999th version: no next one
            return None
        if license.superseded_by != successor_id:
            return None
        successor = uow.licenses.get(successor_id)
        if successor is None or successor.supersedes != license.license_id:
            return None
        if at is not None and successor.created_at > at:
            return license  # amended after ``at``
        license = successor  # the version rises at each step: at most 998 of them
    return license


def _check_consent_lets_through(matter: Matter, license_type: LicenseType, field: str) -> None:
    """INVALID_ARGUMENT when a consent naming ``license_type`` (``field``: by type, or a license of it) would let
    nothing through under ``matter`` (``consent_need``): NO_CONSENT_NEEDED where the matter reads it unconditionally
    (a 营业执照), NEVER_SHARED where nothing it lists is ever shared. Such a consent had been granted, listed ACTIVE
    and withdrawn while changing nothing, the holder told 已授权 and 已撤回 (a holder-portal tester, D1), where
    ``RequestAccess`` refuses the same case (NOTHING_TO_APPROVE, NOT_SHARED). A material with one conditional field
    among unconditional or unshared ones needs the consent for that field, and takes it."""
    need = consent_need(license_type, _material(matter, license_type))
    if need is ConsentNeed.NOT_NEEDED:
        raise invalid(
            field,
            "NO_CONSENT_NEEDED",
            f"事项 {matter.code}（{matter.name}）所用的{license_type.name}信息无条件共享，无需授权，办理部门可直接调取"
            "（no consent is needed: the matter reads this license type unconditionally）",
        )
    if need is ConsentNeed.NEVER_SHARED:
        raise invalid(
            field,
            "NEVER_SHARED",
            f"事项 {matter.code}（{matter.name}）所用的{license_type.name}信息不予共享，授权也不能调取，"
            "请持证人出示证照供核验（nothing to consent to: the matter is never given this license type; the holder "
            "shows the license to be verified）",
        )


@dataclass(frozen=True, slots=True)
class _NotInForceWords:
    """What ``_check_in_force`` says for a grant, a request or an approval: the Chinese, then the English."""

    chinese: str
    english: str


_TO_CONSENT = _NotInForceWords("不能授权，请指明持证人现行有效的证照", "a consent names a license in force")
_TO_REQUEST = _NotInForceWords("不能申请共享，请指明持证人现行有效的证照", "an access request names a license in force")
_TO_APPROVE = _NotInForceWords("不能批准，请驳回此申请", "an approval is for a license in force: reject the request")


def _check_in_force(license: License, day: dt.date, field: str, words: _NotInForceWords = _TO_CONSENT) -> None:
    """FAILED_PRECONDITION / LICENSE_NOT_IN_FORCE when ``license`` (the version in force of the one named) is not in
    force on ``day`` (China time): suspended, revoked, cancelled, past its end, or a superseded version whose
    successor cannot be told. A consent naming a revoked 居民身份证 had been granted without a word, and its code
    then released the card's data, its number in full (a holder-portal tester, D5): the holder means the card in
    force, and is told so. Naming a superseded version is taken, judged by the version in force, as a guardian's
    consent is: a consent stays with a license through its amendments. ACTIVE before its ``valid_from`` (尚未生效)
    is taken: the consent is for when it is. An access request naming a license (``RequestAccess``), and its
    approval, are judged so too (``words``): one for a revoked card had been queued, approved without a word and its
    data then released (a reviewer, access R2)."""
    status = license.effective_status(day)
    if status is LicenseStatus.ACTIVE:
        return
    raise ConflictError(
        f"{field}：该证照{status.label}，{words.chinese}（{field}: the license is {status.english}: {words.english}）",
        reason="LICENSE_NOT_IN_FORCE",
        metadata={"field": field, "status": status.value},
    )


def _not_the_holders(field: str) -> InvalidRequestError:
    return invalid(field, "NOT_THE_HOLDERS_LICENSE", "该证照不属于此持证人（the license is not this holder's）")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pruned:
    """What a prune removed (``AuthorizationService.prune``)."""

    consents: int
    """Consents that ended more than the retention ago."""
    access_requests: int
    """Access requests that ended more than the retention ago."""


_K = TypeVar("_K", int, str)


class _EndedRows(Protocol[_K]):
    """Rows removed once they have ended (``ConsentRepository``, ``AccessRequestRepository``), by their keys."""

    def ended(self, cutoff: dt.datetime, *, after: _K | None, limit: int) -> list[_K]: ...

    def delete_ended(self, cutoff: dt.datetime, *, after: _K | None, through: _K) -> int: ...


def _remove_ended(
    db: Database,
    rows: Callable[[UnitOfWork], _EndedRows[_K]],
    cutoff: dt.datetime,
    batch: int,
    told: Callable[[int], object] = lambda removed: None,
) -> int:
    """Remove the ``rows`` that ended before ``cutoff``, ``batch`` at a time in key order: each batch read first, then
    removed in a transaction of its own, ``told`` how many so far once it commits; how many."""
    removed = 0
    after: _K | None = None
    while True:
        with db.unit_of_work() as uow:
            found = rows(uow).ended(cutoff, after=after, limit=batch)
        if not found:
            return removed
        with db.unit_of_work(write=True) as uow:
            removed += rows(uow).delete_ended(cutoff, after=after, through=found[-1])
            uow.commit()
        told(removed)
        if len(found) < batch:
            return removed
        after = found[-1]


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentablePage:
    """A page of the licenses a holder may name in a consent (``consentable_licenses``)."""

    licenses: tuple[License, ...]
    """In the order the licenses were first issued, each the current version."""
    matter_codes: tuple[tuple[str, ...], ...]
    """For each license, the matters under which a consent naming it lets something through (``consent_matters``)."""
    next_page_token: str
    """For the next page; empty when there is none."""


def consent_matters(catalog: Catalog) -> dict[str, tuple[str, ...]]:
    """By license type, the catalog's matters under which a consent naming it lets something through
    (``consent_need``: NEEDED), in the catalog's order; a type none reads with a consent is left out."""
    found: dict[str, list[str]] = {}
    for matter in catalog.matters.values():
        for material in matter.materials:
            license_type = catalog.license_types.get(material.type_code)
            if license_type is not None and consent_need(license_type, material) is ConsentNeed.NEEDED:
                found.setdefault(license_type.code, []).append(matter.code)
    return {code: tuple(dict.fromkeys(codes)) for code, codes in found.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class ConsentPage:
    """A page of a holder's consents (``list_consents``)."""

    consents: tuple[StoredConsent, ...]
    """Newest first."""
    states: tuple[ConsentState, ...]
    """Each consent's state when listed (``AuthorizationService.consent_state``)."""
    withdrawers: tuple[str, ...]
    """Who withdrew each, HOLDER or GUARDIAN (``AuthorizationService.withdrawn_as``); empty for one not withdrawn."""
    next_page_token: str
    """For the next page; empty when there is none."""


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND = dt.timedelta(microseconds=1)


def _newness(consent: StoredConsent) -> tuple[dt.datetime, str]:
    """The order consents are listed in, newest first: by the time granted, then (for one time) by id."""
    return consent.created_at, consent.consent_id


@dataclass(frozen=True, slots=True, kw_only=True)
class _ConsentCursor:
    """Where a page of consents ends: the last consent listed (``_newness``), the next page's keyset."""

    key: tuple[dt.datetime, str]

    def __str__(self) -> str:
        """The position a page token holds, "0.micros.id". The count of consents listed up to it, which the release
        before ea838a2 wrote first, is written as 0, for a replica of that release serving the same store (a rolling
        update, or a rollback on one of them) to read the token: it reads "count.micros.id" alone, and "micros.id"
        had been INTERNAL for the portal there (a reviewer, R3). That release takes 0 as it takes any count (it only
        sized its first read, which it widens as needed) and this one ignores it; once no replica runs that release,
        the count may be left out, as ``parse`` reads both forms."""
        created_at, consent_id = self.key
        return f"0.{(created_at - _EPOCH) // _MICROSECOND}.{consent_id}"

    @classmethod
    def parse(cls, position: str | None) -> _ConsentCursor | None:
        """The cursor ``str`` wrote, from a page token's position (``PageTokens.position``, which refuses any token
        it did not seal for this listing): "count.micros.id", the count ignored (before the listing read by keyset,
        how many consents had been listed up to it; 0 since), or "micros.id", which ea838a2 wrote, so a portal
        paging across an upgrade goes on where it was."""
        if position is None:
            return None
        *_, micros, consent_id = position.split(".")
        return cls(key=(_EPOCH + int(micros) * _MICROSECOND, consent_id))


def _consents_after(
    uow: UnitOfWork,
    holder_code: str,
    theirs: Callable[[StoredConsent], bool],
    cursor: _ConsentCursor | None,
    limit: int,
) -> list[StoredConsent]:
    """Up to ``limit`` of the holder's consents after ``cursor`` that are ``theirs``, newest first (``_newness``),
    each listed once across pages however many share a time. The repository reads from the cursor on, by time and
    id (``of_holder``, a keyset on each of its indexes), so a page reads about ``limit`` rows however deep it is;
    consents not theirs are read past, a read more from the last one read. Each page had read every consent before
    its cursor again (a window of all listed and a page more), so page 50 cost 20-30 times page 2 (a reviewer, R3).
    The licenses the guardians' consents read name are read at once (``_read_named``), for ``theirs`` and the
    page's states: read one by one, by each, a child's page of 60 had taken 127 statements, where its mother's took
    67 (a reviewer, R2)."""
    found: list[StoredConsent] = []
    before = cursor.key if cursor else None
    while True:
        read = uow.consents.of_holder(holder_code, limit=limit, before=before)
        _read_named(uow, read)
        found += [c for c in read if theirs(c)]
        if len(read) < limit or len(found) >= limit:  # all of them, or a page
            return found[:limit]
        before = _newness(read[-1])


@dataclass(frozen=True, slots=True, kw_only=True)
class _Asked:
    """An access request as asked, the same however it is spelt (``of``): what its idempotency key is checked
    against (``AuthorizationService._check_the_first``)."""

    matter_code: str
    purpose: str
    type_code: str
    license_id: str
    issuer_code: str
    fields: tuple[str, ...]
    duration_days: int

    @classmethod
    def of(
        cls,
        matter_code: str,
        purpose: str,
        type_code: str,
        license_id: str,
        issuer_code: str,
        fields: Sequence[str],
        duration_days: int,
    ) -> _Asked:
        """The request with the type and issuer its license's identifier says when they are not named (a license's
        own, named or not, is one request), and the fields without order or repeats (a repeated key is its first)."""
        named = LicenseId.parse(license_id) if license_id and not license_id_violation("", license_id) else None
        return cls(
            matter_code=matter_code,
            purpose=purpose,
            type_code=type_code or (named.type_code if named else ""),
            license_id=license_id,
            issuer_code=issuer_code or (named.issuer_code if named else ""),
            fields=tuple(sorted(set(fields))),
            duration_days=duration_days,
        )

    def digest(self) -> str:
        """SHA-256 (hex) of the request as asked, stored with the request as its ``client_digest``."""
        asked = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return hashlib.sha256(canonical_json({**asked, "fields": list(self.fields)})).hexdigest()


def _legacy_digest(
    matter_code: str,
    purpose: str,
    type_code: str,
    license_id: str,
    issuer_code: str,
    fields: Sequence[str],
    duration_days: int,
) -> str:
    """SHA-256 (hex) of a request as spelt, its fields sorted (repeats kept): the ``client_digest`` of requests
    stored before 638a498, which their retries are checked against too (``_check_the_first``); new requests store
    ``_Asked.digest``."""
    spelt = [matter_code, purpose, type_code, license_id, issuer_code, *sorted(fields), str(duration_days)]
    return hashlib.sha256("\x1f".join(spelt).encode()).hexdigest()


def _owning_issuer(license_type: LicenseType, issuer_code: str) -> str:
    """The issuer whose queue a request for ``license_type`` goes to (一数一源: one of the type's issuers)."""
    if issuer_code:
        if issuer_code not in license_type.issuers:
            raise invalid(
                "issuer_code",
                "NOT_AN_ISSUER_OF_TYPE",
                f"{issuer_code} 不发放{license_type.name}（{issuer_code} does not issue {license_type.name}）",
            )
        return issuer_code
    if len(license_type.issuers) != 1:
        raise invalid(
            "issuer_code",
            "ISSUER_REQUIRED",
            f"{license_type.name}有多个发证部门，请指明向哪一个申请"
            f"（{license_type.name} has several issuers: name one）",
        )
    (only,) = license_type.issuers
    return only


_LOGGED_FIELD_REFUSALS = frozenset(("FIELD_NOT_NEEDED", "FIELD_NOT_SHARED", "NOT_SHARED", "SECRET"))
"""Refusals of the fields a request for one license asks for that are put on its holder's log (not a typing slip
such as an empty list: an attempt at data beyond the matter, or data that is never shared)."""


def _logged_field_refusal(refused: InvalidRequestError | PermissionDeniedError) -> str:
    """The reason a refusal of the fields asked for is on the holder's log with (``_LOGGED_FIELD_REFUSALS``), or "":
    of a refusal of several fields, the first such field's. A typing slip before it (an empty key, REQUIRED, or one
    the type does not have, UNKNOWN_FIELD) names no data, and does not keep a field beyond the matter beside it off
    the log (review sharing, R2)."""
    if isinstance(refused, InvalidRequestError):
        return next((v.reason for v in refused.violations if v.reason in _LOGGED_FIELD_REFUSALS), "")
    return refused.reason if refused.reason in _LOGGED_FIELD_REFUSALS else ""


def _material(matter: Matter, license_type: LicenseType) -> Material:
    """The matter's material of ``license_type``, which ``check_type_used`` made sure it lists."""
    return next(m for m in matter.materials if m.type_code == license_type.code)


def _requested_fields(license_type: LicenseType, material: Material, fields: Sequence[str]) -> tuple[str, ...]:
    """The conditional fields asked for: the material's (all of them when none are named); only these need approval.
    Asking for all of them when the matter may read none, ever, is refused as a read of them is (NOT_SHARED, or
    SECRET when every one is secret): it had been NOTHING_TO_APPROVE, whose remedy, reading them, was then refused
    NOT_SHARED (found by a partner-gateway tester). Every bad field named is refused, REQUIRED (empty),
    UNKNOWN_FIELD (no field of the type), FIELD_NOT_NEEDED (not the material's) or FIELD_NOT_SHARED on ``fields[i]``
    (its place in the request, a repeated one's first), one violation per field as PrefillForm's keys are: only the
    first had been named, at its place among the fields left once repeated ones were dropped, so a partner's form
    marked the wrong one (a partner-province tester, D3)."""
    if not material.fields:
        if fields:
            raise invalid(
                "fields",
                "FIELD_NOT_NEEDED",
                "事项材料清单未列此类证照的信息项（the matter lists no fields of this license type）",
            )
        if license_type.sharing_class is SharingClass.NOT_SHARED:
            raise _never_shared(license_type, secret=False)
        if license_type.sharing_class is not SharingClass.CONDITIONAL:
            raise invalid(
                "type_code",
                "NOTHING_TO_APPROVE",
                f"{license_type.name}不是有条件共享的证照，无需审批（{license_type.name} is not conditionally shared）",
            )
        return ()
    first_place: dict[str, int] = {}  # each key's first place in the request, in the order asked
    for i, key in enumerate(fields):
        first_place.setdefault(key, i)
    if violation := too_many("fields", len(first_place), len(material.fields)):
        raise InvalidRequestError([violation])  # before any is looked at (a reviewer, R2)
    asked = tuple(first_place) or material.fields
    wanted = []
    never: list[Sensitivity] = []  # the sensitivity of each field asked for that is never shared
    bad: list[FieldViolation] = []
    for key in asked:
        spec = license_type.field_spec(key)
        where = f"fields[{first_place.get(key, 0)}]"
        if not key:  # an empty key had been FIELD_NOT_NEEDED, with nothing where its name goes (review sharing, R2)
            said = "请填写信息项，不能为空（a field key must not be empty）"
            bad.append(FieldViolation(field=where, reason="REQUIRED", description=said))
            continue
        if spec is None:  # a misspelt key, said as PrefillForm and the issue calls say it (review sharing, R2)
            bad.append(unknown_field(where, license_type, key))
            continue
        if key not in material.fields:
            said = f"事项材料清单不包含信息项 {key[:64]}（the matter's materials list no field {key[:64]!r}）"
            bad.append(FieldViolation(field=where, reason="FIELD_NOT_NEEDED", description=said))
            continue
        sharing = license_type.field_sharing_class(key)
        if spec.sensitivity is Sensitivity.SECRET or sharing is SharingClass.NOT_SHARED:
            if fields:
                said = f"信息项 {spec.label} 不予共享（{key} is not shared）"
                bad.append(FieldViolation(field=where, reason="FIELD_NOT_SHARED", description=said))
                continue
            never.append(spec.sensitivity)
            continue
        if sharing is SharingClass.CONDITIONAL:
            wanted.append(key)
    if bad:
        raise InvalidRequestError(bad)
    if len(never) == len(asked):
        raise _never_shared(license_type, secret=all(s is Sensitivity.SECRET for s in never))
    if not wanted:
        raise invalid("fields", "NOTHING_TO_APPROVE", "这些信息项都无需审批（none of these fields needs an approval）")
    return tuple(wanted)


def _never_shared(license_type: LicenseType, *, secret: bool) -> PermissionDeniedError:
    """The refusal of a request for every field of a material none of which is ever shared: PERMISSION_DENIED with
    the reason and words a read of them gets (``gateway.domain.sharing``: a secret field is withheld as SECRET,
    a field not shared as NOT_SHARED)."""
    reason = Reason.SECRET if secret else Reason.NOT_SHARED
    return PermissionDeniedError(f"{license_type.name}：{reason.detail}", reason="SECRET" if secret else "NOT_SHARED")


def _approved_fields(request: StoredAccessRequest, approved: Sequence[str]) -> tuple[str, ...]:
    if not approved:
        return request.fields
    for i, key in enumerate(approved):
        if key not in request.fields:
            raise invalid(
                f"approved_fields[{i}]",
                "FIELD_NOT_REQUESTED",
                f"申请中没有信息项 {key}，不能批准（field {key} was not requested）",
            )
    return tuple(dict.fromkeys(approved))


def _apply(
    uow: UnitOfWork,
    request: StoredAccessRequest,
    matter: Matter | None,
    license_type: LicenseType | None,
    decision: AccessDecision,
    approved_fields: Sequence[str],
    duration_days: int,
    reason: str,
    now: dt.datetime,
    license: License | None = None,
) -> AccessRequestState:
    """Store a decision on ``request``: approve or reject it while it is pending, withdraw it once approved.
    ``matter`` and ``license_type`` are the request's matter and type as the catalog has them now (None: no longer
    in it); an approval is judged by them (``_check_needed_now``, ``_check_shared_now``). ``license``: the version in
    force of the license the request names, if it names one; an approval of one not in force is refused
    (``_check_in_force``)."""
    if decision is AccessDecision.WITHDRAW:
        state_now = request_state(request, now).value  # an approval past its end shares nothing already
        if state_now != AccessRequestState.APPROVED.value:
            raise ConflictError(
                f"只能撤回已获批准的共享申请，该共享申请{_STATE_LABELS[state_now]}"
                f"（only an approval can be withdrawn; the request is {state_now.lower()}）",
                reason="ACCESS_REQUEST_NOT_APPROVED",
            )
        if not uow.access_requests.withdraw(request.request_id, at=now, reason=reason):
            raise ConflictError(
                "该共享申请刚被另一操作改变，请刷新后再试（the request was changed meanwhile）",
                reason="ACCESS_REQUEST_DECIDED",
            )
        return AccessRequestState.WITHDRAWN
    if request.state != AccessRequestState.PENDING.value:
        raise _not_pending(request, now)
    if decision is AccessDecision.APPROVE:
        fields = _approved_fields(request, approved_fields)
        license_type = _check_needed_now(matter, license_type, request, fields, approved_fields)
        _check_shared_now(license_type, request, fields, approved_fields)
        if license is not None:
            _check_in_force(license, now.astimezone(CHINA_TZ).date(), "request_id", _TO_APPROVE)
        days = duration_days or request.duration_days
        if not 0 < days <= request.duration_days:
            raise invalid(
                "duration_days",
                "BAD_DURATION",
                f"批准期限须为1至{request.duration_days}天，不超过申请的期限"
                f"（duration_days must be 1-{request.duration_days} (requested)）",
            )
        state, valid_until = AccessRequestState.APPROVED, now + dt.timedelta(days=days)
        assert matter is not None  # _check_needed_now
        full: tuple[str, ...] | None = approved_full_fields(_material(matter, license_type), fields)
    else:
        fields, full, state, valid_until = (), None, AccessRequestState.REJECTED, None
    if not uow.access_requests.decide(
        request.request_id,
        state=state.value,
        at=now,
        approved_fields=fields,
        approved_full_fields=full,
        valid_until=valid_until,
        reason=reason,
    ):
        raise ConflictError(
            "该共享申请刚被另一操作审批，请刷新后再试（the request was decided meanwhile）",
            reason="ACCESS_REQUEST_DECIDED",
        )
    return state


def _check_needed_now(
    matter: Matter | None,
    license_type: LicenseType | None,
    request: StoredAccessRequest,
    fields: tuple[str, ...],
    named: Sequence[str],
) -> LicenseType:
    """The request's type, when the catalog in force still has the request's matter, the matter still lists the type
    and its material the fields approved (``fields``, those ``named`` in ``approved_fields`` or all the request's).
    A catalog adopted since the request came may have taken any of them out: such an approval had been given
    unjudged (with the type gone, not even checked for ``_check_shared_now``), shared nothing while the catalog
    stayed so, and let the data out the day a later catalog put the matter back (a rollback of a bad catalog; a
    reviewer, R1). INVALID_ARGUMENT: UNKNOWN_MATTER or NOT_USED_BY_MATTER on ``request_id``, and FIELD_NOT_NEEDED on
    ``request_id`` when none of the fields the request asks for is still listed, else on each field approved that is
    not, at ``approved_fields[i]`` as named (a repeated one's first) or ``approved_fields`` when none is named. The
    request stays pending, to be rejected, or approved for the fields still listed."""
    if matter is None:
        raise invalid(
            "request_id",
            "UNKNOWN_MATTER",
            f"事项目录中现已没有事项 {request.matter_code}（事项目录已变更），不能批准，请驳回此申请"
            f"（the catalog no longer has matter {request.matter_code}: the request cannot be approved; reject it）",
        )
    if license_type is None or not any(m.type_code == license_type.code for m in matter.materials):
        used = license_type.name if license_type else f"证照类型 {request.type_code}"
        raise invalid(
            "request_id",
            "NOT_USED_BY_MATTER",
            f"事项 {matter.code}（{matter.name}）现已不使用{used}（证照目录已变更），不能批准，请驳回此申请"
            f"（matter {matter.code} no longer uses license type {request.type_code} since the catalog changed: "
            "the request cannot be approved; reject it）",
        )
    listed = _material(matter, license_type).fields
    unlisted = [key for key in request.fields if key not in listed]
    if not unlisted:
        return license_type
    if len(unlisted) == len(request.fields):
        raise invalid(
            "request_id",
            "FIELD_NOT_NEEDED",
            f"事项 {matter.code}（{matter.name}）现已不需要所申请的{license_type.name}信息项（证照目录已变更），"
            f"不能批准，请驳回此申请（matter {matter.code} no longer lists the fields the request asks for since the "
            "catalog changed: it cannot be approved; reject it）",
        )
    at = _approved_at(named)
    bad = [
        FieldViolation(
            field=at(key),
            reason="FIELD_NOT_NEEDED",
            description=f"事项 {matter.code}（{matter.name}）现已不需要{license_type.name}的信息项 "
            f"{_label(license_type, key)}（证照目录已变更），不能批准；请只批准其余信息项，或驳回此申请（matter "
            f"{matter.code} no longer lists {key} since the catalog changed: approve only the other fields, or "
            "reject the request）",
        )
        for key in fields
        if key in unlisted
    ]
    if bad:
        raise InvalidRequestError(bad)
    return license_type


def _approved_at(named: Sequence[str]) -> Callable[[str], str]:
    """Where a violation about an approved field is said: ``approved_fields[i]``, its first place as named (a repeated
    one's first, as RequestAccess says ``fields[i]``), or ``approved_fields`` when none was named (all the
    request's)."""
    first_place: dict[str, int] = {}
    for i, key in enumerate(named):
        first_place.setdefault(key, i)
    return lambda key: f"approved_fields[{first_place[key]}]" if named else "approved_fields"


def _check_shared_now(
    license_type: LicenseType, request: StoredAccessRequest, fields: tuple[str, ...], named: Sequence[str]
) -> None:
    """INVALID_ARGUMENT / NEVER_SHARED when an approval of ``fields`` (those ``named`` in ``approved_fields``, or all
    the request's when none is) would be for what the catalog now never shares (不予共享, or secret): a catalog
    adopted since the request came made the type or a field so. Such an approval had been given without a word,
    withheld while the catalog stayed so, and let the data out the day the type was loosened again (a catalog
    author tester), where ``RequestAccess`` and ``GrantConsent`` refuse what a matter never gets. Nothing shared
    is left of the request (its type not shared, when it names no field; or every field it names): one violation
    on ``request_id``, to reject it. Otherwise one per field not shared, at ``approved_fields[i]``, its place as
    named (a repeated one's first, as RequestAccess says ``fields[i]``), or on ``approved_fields`` when none was
    named (all of the request's), to approve the others. The request stays pending either way."""
    if not request.fields:
        if license_type.sharing_class is SharingClass.NOT_SHARED:
            raise _not_shared_now(license_type)
        return
    never = [key for key in request.fields if _never_shared_now(license_type, key)]
    if not never:
        return
    if len(never) == len(request.fields):
        raise _not_shared_now(license_type)
    at = _approved_at(named)
    bad = [
        FieldViolation(
            field=at(key),
            reason="NEVER_SHARED",
            description=f"{license_type.name}的信息项 {_label(license_type, key)} 现已不予共享（证照目录已变更），"
            f"不能批准；请只批准其余信息项，或驳回此申请（{key} is no longer shared since the catalog changed: "
            "approve only the other fields, or reject the request）",
        )
        for key in fields
        if key in never
    ]
    if bad:
        raise InvalidRequestError(bad)


def _never_shared_now(license_type: LicenseType, key: str) -> bool:
    """Whether the catalog now never shares field ``key`` of ``license_type`` (不予共享, or secret). A field no longer
    in the type is not said so: nothing of it is read."""
    spec = license_type.field_spec(key)
    if spec is None:
        return False
    return spec.sensitivity is Sensitivity.SECRET or license_type.field_sharing_class(key) is SharingClass.NOT_SHARED


def _label(license_type: LicenseType, key: str) -> str:
    spec = license_type.field_spec(key)
    return spec.label if spec else key


def _not_shared_now(license_type: LicenseType) -> InvalidRequestError:
    return invalid(
        "request_id",
        "NEVER_SHARED",
        f"所申请的{license_type.name}信息现已不予共享（证照目录已变更），不能批准，请驳回此申请"
        f"（what the request asks of {license_type.name} is no longer shared since the catalog changed: it cannot "
        "be approved; reject it）",
    )


def _not_pending(request: StoredAccessRequest, now: dt.datetime) -> ConflictError:
    """Why ``request``, decided, cannot be decided again, in its state at ``now`` (``request_state``) as it is listed:
    an approval past its end had been said to be approved already, which the clerk's queue shows EXPIRED (a
    reviewer, R3). Its reason stays ACCESS_REQUEST_DECIDED: REQUEST_EXPIRED says a request was never decided."""
    if request.state == AccessRequestState.EXPIRED.value:
        return ConflictError(
            "该共享申请未在10个工作日内审批，已过期"
            "（the request was not decided within 10 working days and has expired）",
            reason="REQUEST_EXPIRED",
        )
    state = request_state(request, now).value
    return ConflictError(
        f"该共享申请{_STATE_LABELS[state]}，不能再次审批（the request is {state.lower()} already）",
        reason="ACCESS_REQUEST_DECIDED",
    )


_STATE_LABELS = {
    AccessRequestState.PENDING.value: "尚待审批",
    AccessRequestState.APPROVED.value: "已获批准",
    AccessRequestState.REJECTED.value: "已被驳回",
    AccessRequestState.EXPIRED.value: "已过期",
    AccessRequestState.WITHDRAWN.value: "已撤回",
    AccessRequestState.CANCELLED.value: "已由申请部门撤回",
}
"""An access request's state as a clerk reads it in a refusal."""


def _not_in_queue(request: StoredAccessRequest | None, caller: Member, now: dt.datetime) -> NotFoundError:
    """The refusal of a decision on a request not in the caller's queue: NOT_FOUND / ACCESS_REQUEST_NOT_FOUND. To
    the department that made the request (one that is an issuer too, and so may call DecideAccessRequest), in words
    that say only the issuer decides, that the requester takes back a pending request with CancelAccessRequest, and
    what became of the request: pending, until the end of its deadline's day. It had been told 本部门的待审批队列中
    没有这个共享申请 as anyone is, as if its request did not exist, while it stayed pending in the issuer's queue
    (review sharing, R1). The code stays the one such a call always had (ADR 0014, rule 5)."""
    if request is None or request.requester != caller.code:
        return NotFoundError(
            "本部门的待审批队列中没有这个共享申请（no such access request in your queue）",
            reason="ACCESS_REQUEST_NOT_FOUND",
        )
    state = request_state(request, now).value
    said = (
        "共享申请只能由发证部门审批、驳回或撤回批准；申请部门撤回尚待审批的申请，请用“撤回共享申请”"
        "（CancelAccessRequest）；本部门提交的这项申请"
    )
    told = "only the issuer decides an access request; its requester takes back a pending one with CancelAccessRequest"
    if state == AccessRequestState.PENDING.value:
        last_day = (request.deadline - dt.timedelta(seconds=1)).astimezone(CHINA_TZ).date().isoformat()
        return NotFoundError(
            f"{said}尚待审批，发证部门未在 {last_day} 当日结束前审批的，申请即失效（{told}: yours is still pending, "
            f"and lapses undecided at the end of {last_day}, China time）",
            reason="ACCESS_REQUEST_NOT_FOUND",
        )
    return NotFoundError(
        f"{said}{_STATE_LABELS[state]}（{told}: yours is {state.lower()}）", reason="ACCESS_REQUEST_NOT_FOUND"
    )


def _not_submitted(request: StoredAccessRequest | None, caller: Member) -> NotFoundError:
    """The refusal of a cancellation of a request the caller did not make: NOT_FOUND / ACCESS_REQUEST_NOT_FOUND, as
    one that does not exist; to the issuer whose queue holds it (a department that is a consumer too), in words that
    say the issuer rejects, not cancels."""
    if request is not None and request.issuer_code == caller.code:
        return NotFoundError(
            "共享申请只能由提交它的部门撤回；发证部门不同意的，请驳回（DecideAccessRequest REJECT）"
            "（only the department that made an access request cancels it: as its issuer, reject it）",
            reason="ACCESS_REQUEST_NOT_FOUND",
        )
    return NotFoundError(
        "本部门提交的共享申请中没有这一项（no such access request among those you submitted）",
        reason="ACCESS_REQUEST_NOT_FOUND",
    )


def _not_cancellable(request: StoredAccessRequest, now: dt.datetime) -> ConflictError:
    """Why the requester cannot take back ``request``, no longer pending, in its state at ``now`` as it is listed:
    REQUEST_EXPIRED for one never decided, else ACCESS_REQUEST_DECIDED; an approval is withdrawn by its issuer."""
    if request.state == AccessRequestState.EXPIRED.value:
        return ConflictError(
            "该共享申请未在10个工作日内审批，已过期，无需撤回（the request was not decided within 10 working days and "
            "has expired: there is nothing to cancel）",
            reason="REQUEST_EXPIRED",
        )
    state = request_state(request, now).value
    approved = state == AccessRequestState.APPROVED.value
    return ConflictError(
        f"该共享申请{_STATE_LABELS[state]}，不能撤回申请"
        + ("；不再需要的，请联系发证部门撤回批准" if approved else "")
        + f"（the request is {state.lower()} already: only a pending one is cancelled"
        + ("; ask the issuer to withdraw an approval no longer needed" if approved else "")
        + "）",
        reason="ACCESS_REQUEST_DECIDED",
    )
