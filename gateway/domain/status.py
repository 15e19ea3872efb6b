"""Status rules: which actions apply to which stored status.

>>> next_status(LicenseStatus.ACTIVE, StatusAction.SUSPEND)
<LicenseStatus.SUSPENDED: 'SUSPENDED'>
>>> next_status(LicenseStatus.CANCELLED, StatusAction.RESUME)
Traceback (most recent call last):
...
gateway.domain.errors.ConflictError: 该证照已注销，不能恢复（cannot resume a license that is cancelled）

吊销 (revocation) is not always the end: a revoked business license is later cancelled (注销), so REVOKED → CANCELLED
is allowed. CANCELLED and SUPERSEDED are final. Amendment (变更) applies to ACTIVE licenses only.
"""

from __future__ import annotations

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


def next_status(current: LicenseStatus, action: StatusAction, superseded_by: str = "") -> LicenseStatus:
    """The stored status after ``action``; ConflictError (reason TRANSITION_NOT_ALLOWED) when not allowed. A
    SUPERSEDED version's refusal names the version that replaced it (``superseded_by``), the one to act on instead:
    a status change that lost the race to an amendment had been refused naming none, as final."""
    try:
        return _TRANSITIONS[(current, action)]
    except KeyError:
        pass
    if current is LicenseStatus.ACTIVE:  # only RESUME is refused an ACTIVE license
        said = f"{_this_one(current)}，无需{action.label}（the license is active: there is nothing to {action.verb}）"
    elif _TRANSITIONS.get((LicenseStatus.ACTIVE, action)) is current:  # the action again
        said = (
            f"{_this_one(current)}，不能再次{action.label}（cannot {action.verb} a license that is {current.english} "
            "already）"
        )
    elif superseded_by:
        said = (
            f"{_this_one(current)}，不能{action.label}，请对取代它的 {superseded_by} 操作（cannot {action.verb} a "
            f"license that is {current.english}: act on the version that replaced it (superseded_by)）"
        )
    else:
        said = f"{_this_one(current)}，不能{action.label}（cannot {action.verb} a license that is {current.english}）"
    metadata = {"status": current.value, "action": action.value}
    if superseded_by:
        metadata["superseded_by"] = superseded_by
    raise ConflictError(said, reason="TRANSITION_NOT_ALLOWED", metadata=metadata)


def _this_one(current: LicenseStatus) -> str:
    """The license's status as a refusal opens with it: 该证照已暂停使用, 该证照现为有效状态."""
    if current is LicenseStatus.ACTIVE:
        return "该证照现为有效状态"
    if current is LicenseStatus.UNSPECIFIED:
        return "该证照的状态无法识别"
    return f"该证照{current.label}"


def check_amendable(current: LicenseStatus, superseded_by: str = "") -> None:
    """Only an ACTIVE version is amended; a SUPERSEDED one's refusal names the version that replaced it
    (``superseded_by``), the one to amend instead."""
    if current is not LicenseStatus.ACTIVE:
        instead = f"，请变更取代它的 {superseded_by}" if superseded_by else ""
        english = ": amend the version that replaced it (superseded_by)" if superseded_by else ""
        raise ConflictError(
            f"只有有效的证照可以变更，{_this_one(current)}{instead}"
            f"（only an active license can be amended; this one is {current.english}{english}）",
            reason="NOT_AMENDABLE",
            metadata={"status": current.value, **({"superseded_by": superseded_by} if superseded_by else {})},
        )
