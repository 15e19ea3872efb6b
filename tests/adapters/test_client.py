"""Member credentials for zzgw's own tools: a member this machine holds nothing for is said, never a traceback."""

from __future__ import annotations

import json
from concurrent import futures
from pathlib import Path

import grpc
import pytest

from adapters.client import HandedOver, MemberCredentials, NoCredentials, connect
from tests.api.test_refusal_words import chinese_first

MARKET = "11370100993701011T"


def test_dev_token_of_a_listed_member(tmp_path: Path) -> None:
    (tmp_path / "dev-tokens.json").write_text(json.dumps({"tokens": {MARKET: {"token": "t0k"}}}), encoding="utf-8")
    assert MemberCredentials.dev(tmp_path, MARKET) == MemberCredentials(code=MARKET, token="t0k")


@pytest.mark.parametrize(
    ("content", "said"),
    [
        (None, "no dev tokens at "),
        (None, "; or, if this data directory's gateway is in production mode, set ZZGW_MODE=production"),
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
    # the department's own files are given by options, which it names (it had named none: a reviewer, R1)
    assert "--cert USCC.pem --key USCC.key --ca ca.pem（docs/import.md，生产模式）" in said
    assert chinese_first(said), said


def test_a_file_the_options_name_is_said_missing_as_that_option(tmp_path: Path) -> None:
    handed = HandedOver(cert=tmp_path / "USCC.pem", key=tmp_path / "USCC.key", ca=tmp_path / "ca.pem")
    for present in ("USCC.pem", "USCC.key"):
        (tmp_path / present).write_bytes(b"x")
        with pytest.raises(NoCredentials) as caught:
            MemberCredentials.for_mode("production", tmp_path / "var", MARKET, handed)
        missing = tmp_path / ("USCC.key" if present == "USCC.pem" else "ca.pem")
        option = "--key" if present == "USCC.pem" else "--ca"
        assert str(caught.value) == f"找不到 {option} 给出的文件 {missing}（no such file {missing}, given as {option}）"


def test_the_options_are_for_production_mode(tmp_path: Path) -> None:
    """A dev gateway takes plain TCP and a token: a certificate given to a command in dev mode is said unused, not
    dropped silently for the token."""
    (tmp_path / "dev-tokens.json").write_text(json.dumps({"tokens": {MARKET: {"token": "t0k"}}}), encoding="utf-8")
    with pytest.raises(NoCredentials) as caught:
        MemberCredentials.for_mode("dev", tmp_path, MARKET, HandedOver(ca=tmp_path / "ca.pem"))
    assert str(caught.value).startswith("--cert、--key、--ca 仅用于生产模式的证照网关（ZZGW_MODE=production）")
    given_none = MemberCredentials.for_mode("dev", tmp_path, MARKET, HandedOver())
    assert given_none == MemberCredentials(code=MARKET, token="t0k")


def test_a_reply_past_grpcs_default_4_mib_is_received(tmp_path: Path) -> None:
    """A gateway may be given a message limit up to 256 MiB (``ZZGW_MAX_MESSAGE_BYTES``), and the start-up refusal
    of a catalog too large to list says to raise it: zzgw's own tools (``zzgw verify``, ``zzgw import``) then read
    its ListLicenseTypes reply past 4 MiB. Their channel had kept gRPC's default receive limit of 4 MiB, so the reply
    the gateway logged as OK failed in the client with RESOURCE_EXHAUSTED, and ``zzgw verify`` called it temporary (a
    reviewer, R2). Here a server of that limit answers 5 MiB over a real socket."""
    big = b"z" * (5 * 1024 * 1024)
    handler = grpc.method_handlers_generic_handler(
        "test.Big", {"Get": grpc.unary_unary_rpc_method_handler(lambda request, context: big)}
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.max_send_message_length", 8 * 1024 * 1024)]
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with connect(f"127.0.0.1:{port}", MemberCredentials(code=MARKET, token="t0k")) as channel:
            assert channel.unary_unary("/test.Big/Get")(b"", timeout=30) == big
    finally:
        server.stop(0)
