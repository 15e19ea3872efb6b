"""Licenses, members and change events: the values the gateway works with.

>>> holder = Holder(name="张三", code_type="111", code="370102199003077777")
>>> holder.masked_code
'3701**********7777'
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class LicenseStatus(enum.Enum):
    """Stored statuses, plus EXPIRED, which is derived at read time and never stored, and UNSPECIFIED, read for a
    stored status that is none of these (``LicenseStatus.read``)."""

    ACTIVE = "ACTIVE"  # 有效
    SUSPENDED = "SUSPENDED"  # 已暂停使用 (the provincial convention's 受限使用, code 23)
    REVOKED = "REVOKED"  # 已吊销或撤销: one status for both legal acts
    CANCELLED = "CANCELLED"  # 已注销
    SUPERSEDED = "SUPERSEDED"  # 已变更（不再现行）
    EXPIRED = "EXPIRED"  # 已过期 (derived)
    UNSPECIFIED = "UNSPECIFIED"  # read for a stored status that is none of these (edited in the store); never stored

    @property
    def label(self) -> str:
        """The status in the words every surface gives it (the glossary's: 已暂停使用, 已吊销或撤销, …)."""
        return _STATUS_LABELS[self]

    @property
    def english(self) -> str:
        """The status in English, as the English half of a message says it (``suspended``): no Chinese in it."""
        return _STATUS_ENGLISH.get(self, self.value.lower())

    @classmethod
    def read(cls, stored: str) -> LicenseStatus:
        """The status a stored value names; UNSPECIFIED for one that is none of the gateway's (edited in the store),
        which fails its memo (STATUS_ALTERED) instead of failing the read."""
        try:
            return cls(stored)
        except ValueError:
            return cls.UNSPECIFIED


_STATUS_LABELS = {
    LicenseStatus.ACTIVE: "有效",
    LicenseStatus.SUSPENDED: "已暂停使用",
    LicenseStatus.REVOKED: "已吊销或撤销",
    LicenseStatus.CANCELLED: "已注销",
    LicenseStatus.SUPERSEDED: "已变更（不再现行）",
    LicenseStatus.EXPIRED: "已过期",
    LicenseStatus.UNSPECIFIED: "状态无法识别",
}
"""One word per status on every surface (the action is 暂停 and its status 已暂停使用; 吊销 and 撤销, two legal acts,
are one status whose issuer's reason verifiers are not shown). Each had had several: 受限, 已受限, 暂停使用 for one."""
_STATUS_ENGLISH = {LicenseStatus.UNSPECIFIED: "in a status the gateway does not know"}


class Role(enum.Enum):
    ISSUER = "ISSUER"  # 发证部门
    CONSUMER = "CONSUMER"  # 用证部门
    HOLDER_PORTAL = "HOLDER_PORTAL"  # 持证人门户
    PARTNER = "PARTNER"  # 跨省伙伴
    ADMIN = "ADMIN"  # 运维管理


class ChangeKind(enum.Enum):
    ISSUED = "ISSUED"
    AMENDED = "AMENDED"
    STATUS_CHANGED = "STATUS_CHANGED"


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)


CHINA_TZ = dt.timezone(dt.timedelta(hours=8), "CST")
"""Licenses are dated in China Standard Time: "today" for validity checks is the date in UTC+8."""


def today(clock: Clock) -> dt.date:
    return clock.now().astimezone(CHINA_TZ).date()


def china_time(at: dt.datetime) -> str:
    """``at`` (aware) as the tools print a time for people: Beijing time to the second, said so, whatever the
    process's time zone and the time's own (a receipt states UTC).

    >>> china_time(dt.datetime(2026, 12, 2, 22, 19, 41, tzinfo=dt.UTC))
    '2026-12-03 06:19:41 (UTC+8)'
    """
    return f"{at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S} (UTC+8)"


def beijing_time(at: dt.datetime) -> str:
    """``at`` (aware) as a bilingual command line prints a time for people (``zzgw verify``, ``zzgw receipt check``):
    Beijing time to the second, said so in both languages, whatever the process's time zone and the time's own (a
    receipt states UTC). The console says the same time ``2026-12-03 06:19:41（北京时间）``.

    >>> beijing_time(dt.datetime(2026, 12, 2, 22, 19, 41, tzinfo=dt.UTC))
    '2026-12-03 06:19:41（北京时间 UTC+8）'
    """
    return f"{at.astimezone(CHINA_TZ):%Y-%m-%d %H:%M:%S}（北京时间 UTC+8）"


def china_iso(at: dt.datetime) -> str:
    """``at`` (aware) as the tools print a time for scripts, in a column: Beijing time to the second with its
    offset, which ``datetime.fromisoformat`` reads back.

    >>> china_iso(dt.datetime(2026, 12, 2, 22, 19, 41, tzinfo=dt.UTC))
    '2026-12-03 06:19:41+08:00'
    """
    return at.astimezone(CHINA_TZ).isoformat(sep=" ", timespec="seconds")


def beijing_day(at: dt.datetime) -> str:
    """The day of ``at`` (aware) in Beijing time, as the departments' people read dates: a certificate's end, a
    seal's. A UTC day is the day before from 16:00 UTC.

    >>> beijing_day(dt.datetime(2027, 3, 9, 17, 0, tzinfo=dt.UTC))
    '2027-03-10'
    """
    return at.astimezone(CHINA_TZ).date().isoformat()


@dataclass(frozen=True, slots=True, kw_only=True)
class Member:
    """A registered caller: an issuing or consuming department, a holder portal, a partner or an admin."""

    code: str
    """统一社会信用代码 of the member."""
    name: str
    region: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles

    @property
    def administrator_only(self) -> bool:
        """Whether ``ADMIN`` is the member's only role. The administrator's exceptions (any matter, ADR 0008; every
        receipt of a case, ADR 0012; every change event whole) rest on its role giving it no data to read, which holds
        of no other role: a member with ``ADMIN`` beside ``CONSUMER`` or ``PARTNER`` reads data, an ``ISSUER`` its
        registry and a ``HOLDER_PORTAL`` its holders' licenses, so such a member names matters as its other roles
        allow. It had been any member with ``ADMIN``, and a 大数据局 with ``ADMIN`` and ``CONSUMER`` read data, was
        granted consents and filed access requests under every department's matter (a reviewer, R1)."""
        return self.roles == frozenset({Role.ADMIN})

    @property
    def portal_only(self) -> bool:
        """Whether ``HOLDER_PORTAL`` is the member's only role. A holder portal's exception at a receipt read (its
        holder's own look, on no log, with no clerk named) holds for such a member only, as the administrator's do
        (``administrator_only``): a member with a department's role beside it reads as that department, naming its
        clerk, the read recorded. Access records are listed as an issuer by any member with ``ISSUER``
        (``gateway.services.audit._lists_as_issuer``; a reviewer, R3)."""
        return self.roles == frozenset({Role.HOLDER_PORTAL})

    @property
    def partner_roles_refused(self) -> frozenset[Role]:
        """The roles a partner gateway holds beside ``PARTNER`` that no partner may hold (``NOT_FOR_PARTNERS``), empty
        for any other member."""
        return self.roles & NOT_FOR_PARTNERS if self.has(Role.PARTNER) else frozenset()


NOT_FOR_PARTNERS = frozenset({Role.HOLDER_PORTAL, Role.ISSUER})
"""The roles a partner gateway (``PARTNER``) may not hold beside its own: a holder portal is the province's own
(api.md, Holder portals), and a partner gateway issues nothing (ADR 0017). Given ``HOLDER_PORTAL``, a partner granted
itself consents for any holder here and read their data, no holder or issuer taking part; given ``ISSUER``, it was
made a first seal (review partner, R1). A members file giving one is refused (``members_from``); a store that
registered one before is warned of at the start of `zzgw serve`, and the interceptor does not honour the role
(``ROLE_NOT_ALLOWED``)."""


def partner_console_words(member: Member) -> str:
    """Why a partner gateway has no console here, Chinese first: its province's departments call the forwarder the
    province runs, which names the acting department and clerk on each call, and hold no credential of the
    partner's; a console token would be one for the whole province, and the access records would name no department
    (review partner, R2). Said by `zzgw console-token` and by the console to a token issued before."""
    return (
        f"{member.name}（{member.code}）是合作网关，不使用本网关的控制台：合作省份的部门经该省自建的转发系统调用，由其"
        "每次写明办理部门和窗口人员（a partner gateway has no console here: its province's departments call through "
        "the province's forwarder, which names the department and clerk on each call; docs/departments.md）"
    )


def partner_roles_said(member: Member) -> str:
    """Why ``member``'s roles will not do for a partner gateway, Chinese first, naming the member and the roles; empty
    when they will (``Member.partner_roles_refused``)."""
    refused = sorted(role.value for role in member.partner_roles_refused)
    if not refused:
        return ""
    roles = "、".join(refused)
    return (
        f"合作网关 {member.name}（{member.code}）不得兼任 {roles}：持证人门户只能是本省的门户，合作网关不签发证照；"
        f"请在成员文件中去掉该角色，只留 PARTNER（a partner gateway may not hold {' or '.join(refused)} beside "
        "PARTNER: holder portals are the province's own, and a partner gateway issues nothing (ADR 0017); take the "
        "role out of the members file, then `zzgw init --adopt-members`）"
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    """持证主体."""

    name: str
    code_type: str
    code: str

    @property
    def masked_code(self) -> str:
        """The code with all but the first and last four characters hidden (``3701**********1234``)."""
        return mask(self.code)

    @property
    def masked_name(self) -> str:
        """The name with all but its first character hidden (``张**``), as a license's verification code states it."""
        return mask_name(self.name)

    @property
    def publicly_registered(self) -> bool:
        """Whether the holder is an organisation under its 统一社会信用代码, whose name and code are public registration
        data (企业信息公示): nothing masking them would protect, and a clerk must compare them whole."""
        return self.code_type in PUBLIC_HOLDER_CODE_TYPES

    @property
    def shown_name(self) -> str:
        """The name as a verifier is shown it: an organisation's whole (``publicly_registered``), a person's masked
        (``张**``)."""
        return self.name if self.publicly_registered else self.masked_name

    @property
    def shown_code(self) -> str:
        """The code as a verifier is shown it: an organisation's whole (``publicly_registered``), a person's masked
        (``3701**********1234``)."""
        return self.code if self.publicly_registered else self.masked_code


PUBLIC_HOLDER_CODE_TYPES = frozenset({"001"})
"""Holder code types whose holders' name and code are public: 统一社会信用代码, an organisation's registration, which
anyone may look up (国家企业信用信息公示系统) and which the organisation's own licenses print for all to read."""


MASKED_NAME_TAIL = "**"
"""What stands for a name's hidden characters, however many: a surname and a name's length narrow a person down
(and make guessing a name for a claim cheaper), so the length is not told, as the sharing masks do not tell it."""


def mask_name(name: str) -> str:
    """A name with all but its first character hidden, its length too (``张三``, ``张三丰`` → ``张**``); a
    one-character name is hidden whole (``**``), an empty one stays empty."""
    if not name:
        return ""
    return (name[0] if len(name) > 1 else "") + MASKED_NAME_TAIL


def mask(value: str, keep: int = 4) -> str:
    """``value`` with its middle hidden, its length kept: each end shows at most ``keep`` characters and at most a
    quarter of the value, so that at least half is hidden (``370102199003077777`` → ``3701**********7777``, a
    passport's ``P37860972`` → ``P3*****72``); ``2 * keep`` characters or fewer are hidden whole. Four at each end
    had hidden one character of a nine-character passport number (a privacy auditor)."""
    if len(value) <= 2 * keep:
        return "*" * len(value)
    shown = min(keep, len(value) // 4)
    return value[:shown] + "*" * (len(value) - 2 * shown) + value[-shown:]


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseContent:
    """What an issuer states in one license version: the part the record seal covers."""

    license_id: str
    type_code: str
    license_number: str
    holder: Holder
    issuer_code: str
    issue_date: dt.date
    valid_from: dt.date
    valid_until: dt.date | None
    region_code: str
    fields: Mapping[str, str]
    version: int

    def record_mapping(self) -> dict[str, object]:
        """The record as plain strings and integers, the input of the canonical encoding (see signing.canonical)."""
        return {
            "license_id": self.license_id,
            "type_code": self.type_code,
            "license_number": self.license_number,
            "holder": {"name": self.holder.name, "code_type": self.holder.code_type, "code": self.holder.code},
            "issuer_code": self.issuer_code,
            "issue_date": self.issue_date.isoformat(),
            "valid_from": self.valid_from.isoformat(),
            "valid_until": self.valid_until.isoformat() if self.valid_until else "",
            "region_code": self.region_code,
            "fields": dict(self.fields),
            "version": self.version,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class RecordSeal:
    """A signature over the canonical encoding of a license version."""

    algorithm: str
    key_id: str
    signature: bytes
    record_digest: bytes
    encoding: str


@dataclass(frozen=True, slots=True, kw_only=True)
class License:
    """A stored license version with its status."""

    content: LicenseContent
    status: LicenseStatus
    """The stored status (never EXPIRED; see ``effective_status``)."""
    status_reason: str
    status_changed_at: dt.datetime
    created_at: dt.datetime
    seal: RecordSeal
    supersedes: str = ""
    superseded_by: str = ""
    request_id: str = field(default="", compare=False)
    seal_memo: bytes = field(default=b"", compare=False)
    """The gateway's memo of ``seal`` (``signing.record.SealMemos``); empty when it was stored without one."""
    status_memo: bytes = field(default=b"", compare=False)
    """The gateway's memo of the stored status (``SealMemos.status``), written with every status it stores."""
    unreadable: bool = False
    """Whether its stored row could not be read as the gateway writes it (fields that are no JSON map of strings, a
    text column that holds a number: edited behind the gateway's back). Its fields are then read as none, and the
    record fails its seal check (``RECORD_ALTERED``) whatever its digest: nobody is answered its content."""

    @property
    def license_id(self) -> str:
        return self.content.license_id

    def effective_status(self, on: dt.date) -> LicenseStatus:
        """The status as of ``on``: ACTIVE or SUSPENDED past its validity end reads as EXPIRED (a suspension is
        temporary, 暂时失效, but a license past its end cannot become valid again by being resumed)."""
        if self.status in _LAPSING and self.content.valid_until and on > self.content.valid_until:
            return LicenseStatus.EXPIRED
        return self.status


_LAPSING = frozenset({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED})
"""The statuses that the end of the validity turns into EXPIRED; the others are final already."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseDraft:
    """An issue request as the issuer sent it, before validation (every value still a string)."""

    request_id: str
    type_code: str
    license_number: str
    holder_name: str
    holder_code_type: str
    holder_code: str
    issue_date: str
    valid_from: str
    valid_until: str
    region_code: str
    fields: Mapping[str, str]
    serial: str = ""

    def digest_mapping(self) -> dict[str, object]:
        """What makes two requests with the same request_id the same request (of the draft as sent, or as stored:
        ``gateway.domain.validation.kept_draft``)."""
        return {
            "type_code": self.type_code,
            "license_number": self.license_number,
            "holder": [self.holder_name, self.holder_code_type, self.holder_code],
            "dates": [self.issue_date, self.valid_from, self.valid_until],
            "region_code": self.region_code,
            "fields": dict(self.fields),
            "serial": self.serial,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class LicenseChange:
    """A change event (issued, amended, status changed); carries no holder data."""

    seq: int
    kind: ChangeKind
    license_id: str
    type_code: str
    issuer_code: str
    version: int
    status: LicenseStatus
    reason: str
    occurred_at: dt.datetime
    previous_license_id: str = ""
    tag: str = ""
    """The event's random tag (``ChangeCursor``); empty for an event stored before schema 0030."""

    @property
    def cursor(self) -> ChangeCursor:
        return ChangeCursor(seq=self.seq, tag=self.tag)


EVENT_TAG_DIGITS = 16
"""The hexadecimal digits of an event's tag: 64 random bits, so a cursor of another store's, or of an event lost in a
restore, names an event of this store by chance about once in 2⁶⁴."""

_MAX_SEQ = 2**63 - 1
"""The largest event number a store can hold (a signed 64-bit key)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeCursor:
    """Where a change stream resumes: after the event numbered ``seq`` whose tag is ``tag`` (ADR 0015). Written
    ``SEQ.TAG``, or ``SEQ`` for an event stored before schema 0030 (its cursor as it was given then); clients hold it
    as an opaque string.

    >>> str(ChangeCursor(seq=218, tag="9f3c2a1b7d4e6f05"))
    '218.9f3c2a1b7d4e6f05'
    >>> ChangeCursor.parse("217")
    ChangeCursor(seq=217, tag='')
    >>> ChangeCursor.parse("218.9F3C") is None
    True
    """

    seq: int
    tag: str

    def __str__(self) -> str:
        return f"{self.seq}.{self.tag}" if self.tag else str(self.seq)

    @classmethod
    def parse(cls, text: str) -> ChangeCursor | None:
        """The cursor ``text`` writes, or None when it is not of a cursor's form. Digits are ASCII only: ``str.isdigit``
        also takes "²" and "٣", which ``int`` reads as no number or as 3."""
        number, dot, tag = text.partition(".")
        if not (number and len(number) <= 19 and all("0" <= c <= "9" for c in number)) or int(number) > _MAX_SEQ:
            return None
        if dot and not (len(tag) == EVENT_TAG_DIGITS and all(c in "0123456789abcdef" for c in tag)):
            return None
        return cls(seq=int(number), tag=tag)
