"""Counts in English words (``gateway.domain.counts``): singular for one, plural otherwise."""

from __future__ import annotations

import pytest

from gateway.domain.counts import counted


@pytest.mark.parametrize(
    ("n", "words", "said"),
    [
        (0, ("license",), "0 licenses"),
        (1, ("license",), "1 license"),
        (2, ("license type",), "2 license types"),
        (1, ("license type",), "1 license type"),
        (1204, ("license",), "1,204 licenses"),
        (1, ("issuer has", "issuers have"), "1 issuer has"),
        (3, ("issuer has", "issuers have"), "3 issuers have"),
        (1, ("other gateway process is", "other gateway processes are"), "1 other gateway process is"),
    ],
)
def test_a_count_is_singular_for_one_and_plural_otherwise(n: int, words: tuple[str, ...], said: str) -> None:
    assert counted(n, *words) == said
