"""Status rules: every (stored status × action) pair, and which statuses may be amended."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest

from gateway.domain.errors import ConflictError
from gateway.domain.model import LicenseStatus
from gateway.domain.status import StatusAction, check_amendable, next_status
from gateway.domain.verification import status_since
from tests.domain.test_sharing import BL_LIC

S, A = LicenseStatus, StatusAction

STORED = [s for s in LicenseStatus if s not in (LicenseStatus.EXPIRED, LicenseStatus.UNSPECIFIED)]  # never stored
"""EXPIRED is derived at read time and never stored, so no action ever starts from it; it is tested on its own."""

ALLOWED = {
    (S.ACTIVE, A.SUSPEND): S.SUSPENDED,
    (S.ACTIVE, A.REVOKE): S.REVOKED,
    (S.ACTIVE, A.CANCEL): S.CANCELLED,
    (S.SUSPENDED, A.RESUME): S.ACTIVE,
    (S.SUSPENDED, A.REVOKE): S.REVOKED,
    (S.SUSPENDED, A.CANCEL): S.CANCELLED,
    (S.REVOKED, A.CANCEL): S.CANCELLED,  # 吊销 then 注销
}

REFUSED = [pair for pair in itertools.product(STORED, StatusAction) if pair not in ALLOWED]


def test_the_tables_cover_every_pair() -> None:
    assert len(ALLOWED) + len(REFUSED) == len(STORED) * len(StatusAction) == 20


@pytest.mark.parametrize(("current", "action"), list(ALLOWED), ids=lambda v: v.value)
def test_allowed_transition_gives_the_next_status(current: LicenseStatus, action: StatusAction) -> None:
    assert next_status(current, action) is ALLOWED[(current, action)]


WORDS = {  # the glossary's: one word per status on every surface, the English half without Chinese
    S.ACTIVE: ("该证照现为有效状态", "active"),
    S.SUSPENDED: ("该证照已暂停使用", "suspended"),
    S.REVOKED: ("该证照已吊销或撤销", "revoked"),
    S.CANCELLED: ("该证照已注销", "cancelled"),
    S.SUPERSEDED: ("该证照已变更（不再现行）", "superseded"),
    S.EXPIRED: ("该证照已过期", "expired"),
    S.UNSPECIFIED: ("该证照的状态无法识别", "in a status the gateway does not know"),
}
VERBS = {A.SUSPEND: "暂停", A.RESUME: "恢复", A.REVOKE: "吊销或撤销", A.CANCEL: "注销"}


@pytest.mark.parametrize(("current", "action"),
                         [*REFUSED, *((s, a) for s in (S.EXPIRED, S.UNSPECIFIED) for a in StatusAction)],
                         ids=lambda v: v.value)  # fmt: skip
def test_other_transitions_are_refused(current: LicenseStatus, action: StatusAction) -> None:
    with pytest.raises(ConflictError) as caught:
        next_status(current, action)
    error = caught.value
    assert error.reason == "TRANSITION_NOT_ALLOWED"
    assert error.metadata == {"status": current.value, "action": action.value}
    status, english = WORDS[current]
    # said in Chinese first, as the issuer's clerk reads it, the English after; the action again is said so
    again = ALLOWED.get((S.ACTIVE, action)) is current
    if current is S.ACTIVE:  # only RESUME: nothing to resume
        assert error.message == "该证照现为有效状态，无需恢复（the license is active: there is nothing to resume）"
        return
    assert error.message == (
        f"{status}，不能{'再次' if again else ''}{VERBS[action]}"
        f"（cannot {action.value.lower()} a license that is {english}{' already' if again else ''}）"
    )


def test_refusals_name_the_status_as_the_action_makes_it() -> None:
    """The action is 暂停 and its status 已暂停使用 (it had been "已受限的证照不能暂停（… that is 已受限）"); a license
    in force is not "resumed"; a cancelled one is not revoked, in one word for 吊销 and 撤销 (a reviewer)."""
    said = {pair: _refusal(*pair) for pair in [(S.SUSPENDED, A.SUSPEND), (S.ACTIVE, A.RESUME), (S.CANCELLED, A.REVOKE)]}
    assert said == {
        (S.SUSPENDED, A.SUSPEND): (
            "该证照已暂停使用，不能再次暂停（cannot suspend a license that is suspended already）"
        ),
        (S.ACTIVE, A.RESUME): "该证照现为有效状态，无需恢复（the license is active: there is nothing to resume）",
        (S.CANCELLED, A.REVOKE): "该证照已注销，不能吊销或撤销（cannot revoke a license that is cancelled）",
    }


def _refusal(current: LicenseStatus, action: StatusAction) -> str:
    with pytest.raises(ConflictError) as caught:
        next_status(current, action)
    return caught.value.message


def test_final_statuses_allow_nothing() -> None:
    for final in (S.CANCELLED, S.SUPERSEDED):
        assert all((final, a) not in ALLOWED for a in StatusAction)


def test_only_an_active_or_suspended_license_is_amendable() -> None:
    assert check_amendable(S.ACTIVE) is None
    assert check_amendable(S.SUSPENDED) is None  # its new version stays suspended (review lifecycle, R3)


@pytest.mark.parametrize(
    "current", [s for s in LicenseStatus if s not in (S.ACTIVE, S.SUSPENDED)], ids=lambda s: s.value
)
def test_amending_any_other_status_is_refused(current: LicenseStatus) -> None:
    with pytest.raises(ConflictError) as caught:
        check_amendable(current)
    assert caught.value.reason == "NOT_AMENDABLE"
    assert caught.value.metadata == {"status": current.value}
    status, english = WORDS[current]
    assert caught.value.message == (
        f"只有有效或已暂停使用的证照可以变更，{status}（only an active or suspended license can be amended; this one "
        f"is {english}）"
    )


def test_a_superseded_version_s_refusal_names_the_version_to_amend_once() -> None:
    newer = "1.2.156.3005.2.111000009910000354001.11370100993701011T.0A1B2C3D4E5F6G7H8J9K.002.X"
    with pytest.raises(ConflictError) as caught:
        check_amendable(S.SUPERSEDED, newer)
    assert caught.value.metadata == {"status": "SUPERSEDED", "superseded_by": newer}
    assert caught.value.message == (
        f"只有有效或已暂停使用的证照可以变更，该证照已变更（不再现行），请变更取代它的 {newer}"
        "（only an active or suspended license can be amended; this one is superseded: amend the version that "
        "replaced it (superseded_by)）"
    )


def test_a_status_is_dated_from_its_change_or_the_day_after_the_validity_ended() -> None:
    changed = dt.datetime(2026, 11, 1, 17, 30, tzinfo=dt.UTC)  # 01:30 on 2 November in China
    base = BL_LIC
    content = dataclasses.replace(base.content, valid_until=dt.date(2027, 5, 9))
    license = dataclasses.replace(base, content=content, status=LicenseStatus.CANCELLED, status_changed_at=changed)
    assert status_since(license, dt.date(2026, 12, 2)) == dt.date(2026, 11, 2)
    active = dataclasses.replace(license, status=LicenseStatus.ACTIVE)
    assert status_since(active, dt.date(2026, 12, 2)) is None
    assert status_since(active, dt.date(2027, 5, 10)) == dt.date(2027, 5, 10)  # expired: the day after the end
    suspended = dataclasses.replace(license, status=LicenseStatus.SUSPENDED)
    assert status_since(suspended, dt.date(2027, 6, 1)) == dt.date(2027, 5, 10)  # a suspension lapses too


@pytest.mark.parametrize("action", list(StatusAction), ids=lambda a: a.value)
def test_a_superseded_versions_refusal_names_the_version_that_replaced_it(action: StatusAction) -> None:
    with pytest.raises(ConflictError) as caught:
        next_status(S.SUPERSEDED, action, "NEXT")
    assert caught.value.reason == "TRANSITION_NOT_ALLOWED"
    assert caught.value.metadata == {"status": "SUPERSEDED", "action": action.value, "superseded_by": "NEXT"}
    assert "请对取代它的 NEXT 操作" in caught.value.message
    assert "act on the version that replaced it (superseded_by)" in caught.value.message


ENDED = dt.date(2021, 1, 1)


def test_a_license_past_its_validity_is_refused_as_expired_not_as_active() -> None:
    """Found in review (R4): RESUME of a license that every read says is 已过期 (stored ACTIVE, past its valid_until)
    was refused as "该证照现为有效状态": the clerk was told the expired license is valid. A refusal worded from the
    status says 已过期 with the end date, and what to do; the metadata keeps ``status`` as stored and adds
    ``effective_status``."""
    with pytest.raises(ConflictError) as caught:
        next_status(S.ACTIVE, A.RESUME, expired=ENDED)
    assert caught.value.message == (
        "该证照已过期，有效期至 2021-01-01，无需恢复；如需延续，请变更其有效期（the license expired (valid until "
        "2021-01-01): there is nothing to resume; to extend it, amend its valid_until）"
    )
    assert caught.value.metadata == {"status": "ACTIVE", "action": "RESUME", "effective_status": "EXPIRED"}
    with pytest.raises(ConflictError) as caught:
        next_status(S.SUSPENDED, A.SUSPEND, expired=ENDED)
    assert caught.value.message == (
        "该证照已过期，有效期至 2021-01-01，且已暂停使用，不能再次暂停（cannot suspend a license that expired (valid "
        "until 2021-01-01) and is suspended already）"
    )
    assert caught.value.metadata == {"status": "SUSPENDED", "action": "SUSPEND", "effective_status": "EXPIRED"}
    assert check_amendable(S.SUSPENDED, expired=ENDED) is None  # with new dates, as an active one (lifecycle, R3)
    # what past its validity still allows (an ACTIVE one amended with new dates, resumed, revoked) is allowed
    assert check_amendable(S.ACTIVE, expired=ENDED) is None
    assert next_status(S.SUSPENDED, A.RESUME, expired=ENDED) is S.ACTIVE
    assert next_status(S.ACTIVE, A.REVOKE, expired=ENDED) is S.REVOKED
    # a final status reads as it is, past the validity or not
    assert _refusal_past(S.CANCELLED, A.RESUME) == "该证照已注销，不能恢复（cannot resume a license that is cancelled）"


def _refusal_past(current: LicenseStatus, action: StatusAction) -> str:
    with pytest.raises(ConflictError) as caught:
        next_status(current, action, expired=ENDED)
    assert "effective_status" not in caught.value.metadata
    return caught.value.message
