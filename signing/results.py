"""The shape every check in ``signing`` answers in: findings that are PASSED, FAILED or INDETERMINATE with a reason.

>>> Finding(result=CheckResult.FAILED, reason="SIGNATURE_INVALID").reason
'SIGNATURE_INVALID'
>>> decisive([Finding(result=CheckResult.PASSED), Finding(result=CheckResult.INDETERMINATE, reason="NO_TIMESTAMP")])
Finding(result=<CheckResult.INDETERMINATE: 'INDETERMINATE'>, reason='NO_TIMESTAMP', detail='')
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass


class CheckResult(enum.Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    INDETERMINATE = "INDETERMINATE"
    """Could not be judged (no usable CRL, no trusted time, …): ask again with better data."""


MAX_DETAIL = 600
"""Characters of a finding's detail: it travels in replies, access records and signed receipts, whose statements
are bounded (``signing.receipts.MAX_STATEMENT``), and some details quote what the checked input says of itself."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """The answer to one of a verification's questions."""

    result: CheckResult
    """PASSED, FAILED or INDETERMINATE."""
    reason: str | None = None
    """Stable machine-readable code when not PASSED, e.g. ``SIGNATURE_INVALID``; None when PASSED."""
    detail: str = ""
    """Human-readable explanation, for logs and clerks; empty when PASSED."""

    def __post_init__(self) -> None:
        if (self.result is CheckResult.PASSED) != (self.reason is None):
            raise ValueError("a finding has a reason exactly when it did not pass")
        if len(self.detail) > MAX_DETAIL:  # it names what a forger chose (a CA's name of 600 attributes)
            object.__setattr__(self, "detail", self.detail[: MAX_DETAIL - 1] + "…")


PASSED = Finding(result=CheckResult.PASSED)
CLOCK_SKEW = dt.timedelta(minutes=5)
"""How far in the future a seal's signing time may lie before it is refused (``SIGNING_TIME_IN_FUTURE``): clocks
differ, a GB/T 38540 stamp's and a PDF seal's alike."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SealCheck:
    """What checking one seal (a record seal or a verification code's signature) found."""

    result: CheckResult
    """FAILED if any finding failed; else INDETERMINATE if integrity or identity is; else PASSED (a missing
    timestamp alone does not make a seal indeterminate)."""
    reason: str | None
    """The deciding finding's reason, in the order integrity, identity, timestamp; None when PASSED."""
    integrity: Finding
    issuer_identity: Finding
    timestamp: Finding
    subject_name: str | None
    """The organisation that owns the seal (certificate subject O)."""
    seal_name: str | None
    """The seal's name (subject CN)."""
    uscc: str | None
    """The owner's 统一社会信用代码."""
    serial: int
    """The seal certificate's serial number."""
    signing_time: dt.datetime | None
    signing_time_trusted: bool

    def __post_init__(self) -> None:
        if (self.result is CheckResult.PASSED) != (self.reason is None):
            raise ValueError("a check has a reason exactly when it did not pass")


def decisive(findings: Sequence[Finding]) -> Finding:
    """The finding that decides the overall result: the first FAILED, else the first INDETERMINATE, else PASSED."""
    for result in (CheckResult.FAILED, CheckResult.INDETERMINATE):
        for finding in findings:
            if finding.result is result:
                return finding
    return PASSED


def overall(integrity: Finding, identity: Finding, timestamp: Finding) -> tuple[CheckResult, str | None]:
    """The result of three findings: any FAILED fails; an INDETERMINATE timestamp alone still passes."""
    for finding in (integrity, identity, timestamp):
        if finding.result is CheckResult.FAILED:
            return CheckResult.FAILED, finding.reason
    for finding in (integrity, identity):
        if finding.result is CheckResult.INDETERMINATE:
            return CheckResult.INDETERMINATE, finding.reason
    return CheckResult.PASSED, None
