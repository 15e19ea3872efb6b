"""Status rules: which actions apply to which stored status.

>>> next_status(LicenseStatus.ACTIVE, StatusAction.SUSPEND)
<LicenseStatus.SUSPENDED: 'SUSPENDED'>
>>> next_status(LicenseStatus.CANCELLED, StatusAction.RESUME)
Traceback (most recent call last):
...
gateway.domain.errors.ConflictError: 该证照已注销，不能恢复（cannot resume a license that is cancelled）

吊销 (revocation) is not always the end: a revoked business license is later cancelled (注销), so REVOKED → CANCELLED
is allowed. CANCELLED and SUPERSEDED are final. Amendment (变更) applies to ACTIVE and SUSPENDED licenses (a suspended
one's new version stays suspended).
"""

from __future__ import annotations

import datetime as dt
import enum

from gateway.domain.errors import ConflictError
from gateway.domain.model import LicenseStatus


class StatusAction(enum.Enum):
    SUSPEND = "SUSPEND"  # 暂停 (to 已暂停使用)
    RESUME = "RESUME"  # 恢复
    REVOKE = "REVOKE"  # 吊销或撤销 (to 已吊销或撤销)
    CANCEL = "CANCEL"  # 注销 (to 已注销)

    @property
    def verb(self) -> str:
        return self.value.lower()

    @property
    def label(self) -> str:
        """The action in Chinese, as refusals name it."""
        return _ACTION_LABELS[self]


_ACTION_LABELS = {
    StatusAction.SUSPEND: "暂停",
    StatusAction.RESUME: "恢复",
    StatusAction.REVOKE: "吊销或撤销",
    StatusAction.CANCEL: "注销",
}


_TRANSITIONS: dict[tuple[LicenseStatus, StatusAction], LicenseStatus] = {
    (LicenseStatus.ACTIVE, StatusAction.SUSPEND): LicenseStatus.SUSPENDED,
    (LicenseStatus.ACTIVE, StatusAction.REVOKE): LicenseStatus.REVOKED,
    (LicenseStatus.ACTIVE, StatusAction.CANCEL): LicenseStatus.CANCELLED,
    (LicenseStatus.SUSPENDED, StatusAction.RESUME): LicenseStatus.ACTIVE,
    (LicenseStatus.SUSPENDED, StatusAction.REVOKE): LicenseStatus.REVOKED,
    (LicenseStatus.SUSPENDED, StatusAction.CANCEL): LicenseStatus.CANCELLED,
    (LicenseStatus.REVOKED, StatusAction.CANCEL): LicenseStatus.CANCELLED,
}


NOT_ENDED = frozenset(status for status, _ in _TRANSITIONS)
"""Statuses a license can still leave (有效, 已暂停使用, and 已吊销或撤销 until it is 注销): its issuer may yet have to
act on it. CANCELLED and SUPERSEDED are final. An expired license (已过期) is stored ACTIVE, expiry being judged at
each check, so it counts until it is cancelled."""


def next_status(
    current: LicenseStatus, action: StatusAction, superseded_by: str = "", *, expired: dt.date | None = None
) -> LicenseStatus:
    """The stored status after ``action``; ConflictError (reason TRANSITION_NOT_ALLOWED) when not allowed. A
    SUPERSEDED version's refusal names the version that replaced it (``superseded_by``), the one to act on instead:
    a status change that lost the race to an amendment had been refused naming none, as final. ``expired``: the
    end of the validity a license stored ACTIVE or SUSPENDED is past (it reads 已过期, EXPIRED, everywhere), which
    its refusal says, with metadata ``effective_status``: resuming such a license had been refused as
    "该证照现为有效状态" (a reviewer, R4)."""
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        pass
    if current is LicenseStatus.ACTIVE and expired is not None:  # only RESUME is refused an ACTIVE license
        said = (
            f"{_this_one(current, expired)}，无需{action.label}；如需延续，请变更其有效期（the license "
            f"{_english(current, expired)}: there is nothing to {action.verb}; to extend it, amend its valid_until）"
        )
    elif current is LicenseStatus.ACTIVE:
        said = f"{_this_one(current)}，无需{action.label}（the license is active: there is nothing to {action.verb}）"
    elif _TRANSITIONS.get((LicenseStatus.ACTIVE, action)) is current:  # the action again
        said = (
            f"{_this_one(current, expired)}，不能再次{action.label}（cannot {action.verb} a license that "
            f"{_english(current, expired)} already）"
        )
    elif superseded_by:
        said = (
            f"{_this_one(current)}，不能{action.label}，请对取代它的 {superseded_by} 操作（cannot {action.verb} a "
            f"license that is {current.english}: act on the version that replaced it (superseded_by)）"
        )
    else:
        said = f"{_this_one(current)}，不能{action.label}（cannot {action.verb} a license that is {current.english}）"
    metadata = {"status": current.value, "action": action.value, **_effective(current, expired)}
    if superseded_by:
        metadata["superseded_by"] = superseded_by
    raise ConflictError(said, reason="TRANSITION_NOT_ALLOWED", metadata=metadata)


def _lapsed(current: LicenseStatus, expired: dt.date | None) -> bool:
    """Whether a license stored as ``current`` reads 已过期: past the end of its validity (``expired``), stored
    ACTIVE or SUSPENDED (``License.effective_status``); the other statuses are final and read as they are."""
    return expired is not None and current in (LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED)


def _this_one(current: LicenseStatus, expired: dt.date | None = None) -> str:
    """The license's status as a refusal opens with it: 该证照已暂停使用, 该证照现为有效状态; one past its validity
    (``expired``) is said 已过期 with its end date, as every read of it says, suspended too when it is."""
    if _lapsed(current, expired):
        assert expired is not None
        suspended = "，且已暂停使用" if current is LicenseStatus.SUSPENDED else ""
        return f"该证照已过期，有效期至 {expired.isoformat()}{suspended}"
    if current is LicenseStatus.ACTIVE:
        return "该证照现为有效状态"
    if current is LicenseStatus.UNSPECIFIED:
        return "该证照的状态无法识别"
    return f"该证照{current.label}"


def _english(current: LicenseStatus, expired: dt.date | None) -> str:
    """The English of ``_this_one`` after "the license" or "a license that": "is suspended", "expired (valid until
    2021-01-01) and is suspended"."""
    if _lapsed(current, expired):
        assert expired is not None
        suspended = " and is suspended" if current is LicenseStatus.SUSPENDED else ""
        return f"expired (valid until {expired.isoformat()}){suspended}"
    return f"is {current.english}"


def _effective(current: LicenseStatus, expired: dt.date | None) -> dict[str, str]:
    """A refusal's metadata ``effective_status``, of a license past its validity only: its ``status`` is as stored."""
    return {"effective_status": LicenseStatus.EXPIRED.value} if _lapsed(current, expired) else {}


AMENDABLE = frozenset({LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED})
"""What an amendment takes: a license that has not ended and is no other's version. A SUSPENDED one's new version is
written SUSPENDED, its suspension carried over (``IssuanceService.amend``): it had been refused, and the only way round
(resume, amend, suspend again) showed it in force to every verifier meanwhile (a reviewer, R3)."""


def check_amendable(current: LicenseStatus, superseded_by: str = "", *, expired: dt.date | None = None) -> None:
    """Only an ACTIVE or SUSPENDED version is amended (``AMENDABLE``), past its validity too (with new dates); a
    SUPERSEDED one's refusal names the version that replaced it (``superseded_by``), the one to amend instead."""
    if current not in AMENDABLE:
        instead = f"，请变更取代它的 {superseded_by}" if superseded_by else ""
        english = ": amend the version that replaced it (superseded_by)" if superseded_by else ""
        raise ConflictError(
            f"只有有效或已暂停使用的证照可以变更，{_this_one(current, expired)}{instead}"
            f"（only an active or suspended license can be amended; this one {_english(current, expired)}{english}）",
            reason="NOT_AMENDABLE",
            metadata={
                "status": current.value,
                **_effective(current, expired),
                **({"superseded_by": superseded_by} if superseded_by else {}),
            },
        )
