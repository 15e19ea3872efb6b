"""Member credentials for zzgw's own tools: a member this machine holds nothing for is said, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.client import MemberCredentials, NoCredentials
from tests.api.test_refusal_words import chinese_first

MARKET = "11370100993701011T"


def test_dev_token_of_a_listed_member(tmp_path: Path) -> None:
    (tmp_path / "dev-tokens.json").write_text(json.dumps({"tokens": {MARKET: {"token": "t0k"}}}), encoding="utf-8")
    assert MemberCredentials.dev(tmp_path, MARKET) == MemberCredentials(code=MARKET, token="t0k")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no dev tokens at "),
        ('{"tokens": {}}', f"no dev token for member {MARKET} in "),
        ("{not json", "cannot read the dev tokens at "),
        ('{"tokens": {"11370100993701011T": "t0k"}}', f"hold no token for member {MARKET}"),
    ],
)
def test_dev_token_missing(tmp_path: Path, content: str | None, said: str) -> None:
    if content is not None:
        (tmp_path / "dev-tokens.json").write_text(content, encoding="utf-8")
    with pytest.raises(NoCredentials) as caught:
        MemberCredentials.for_mode("dev", tmp_path, MARKET)
    assert said in str(caught.value)
    assert chinese_first(str(caught.value)), caught.value  # as the commands that read them say their messages


def test_client_certificate_missing(tmp_path: Path) -> None:
    with pytest.raises(NoCredentials) as caught:
        MemberCredentials.for_mode("production", tmp_path, MARKET)
    assert str(caught.value).startswith(f"没有成员 {MARKET} 的客户端证书：缺少 ")
    assert f"（no client certificate for member {MARKET}: " in str(caught.value)
    assert str(tmp_path / "pki" / "members" / f"{MARKET}.pem") in str(caught.value)


def test_a_members_key_handed_over_is_said_to_be_the_key_not_the_certificate(tmp_path: Path) -> None:
    """departments.md has the operator delete a member's key once the department has it: a command acting as that
    member had then said its client certificate was missing and pointed to `zzgw members` (a release smoke test)."""
    members = tmp_path / "pki" / "members"
    members.mkdir(parents=True)
    (members / f"{MARKET}.pem").write_bytes(b"certificate")
    with pytest.raises(NoCredentials) as caught:
        MemberCredentials.for_mode("production", tmp_path, MARKET)
    said = str(caught.value)
    assert said.startswith(f"缺少成员 {MARKET} 的私钥 {members / f'{MARKET}.key'}：私钥交付给该部门后即从网关删除")
    assert "client certificate" not in said and "zzgw members" not in said
    assert chinese_first(said), said
