"""Whether a later signer's certificate names the license's issuer (``names_the_issuer``): an invisible signature in
the issuer's name after its seal is CHANGED_AFTER_SEAL, another organisation's signature is not."""

from __future__ import annotations

import pytest

from gateway.domain.verification import names_the_issuer

ISSUER = ["济南市市场监督管理局", "11370100993701011T"]


@pytest.mark.parametrize(
    "subject",
    [
        ["济南市市场监督管理局"],
        ["济南市市场监督管理局 "],
        ["济南市市场监督管理局电子证照专用章"],
        ["济南市市场监督管理局（电子证照）"],
        ["济南市\u200b市场监督管理局"],
        ["某申请人", "NTRCN-11370100993701011T"],
    ],
)
def test_the_issuers_name_or_its_seals_is_the_issuer(subject: list[str]) -> None:
    assert names_the_issuer(subject, ISSUER)


@pytest.mark.parametrize(
    "subject",
    [
        ["济南市市场监督管理局历下分局"],
        ["济南市市场监督管理局机关服务中心"],
        ["某申请人", "91370100MA3C0000XY"],
    ],
)
def test_another_organisation_whose_name_begins_with_the_issuers_is_not(subject: list[str]) -> None:
    """A branch or a service centre of the issuer is another organisation: its co-signature had been taken for one in
    the issuer's name, CHANGED_AFTER_SEAL (a review of 9da6aed, R3)."""
    assert not names_the_issuer(subject, ISSUER)
