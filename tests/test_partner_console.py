"""A partner province's gateway has no console here (review partner, R2): its departments call the forwarder the
province runs, which names the acting department and clerk on each call, and hold no credential of the partner's."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from tests.api.test_sharing import PARTNER, TAX
from tests.commands import DEMO_FILES, command_env, zzgw
from tests.conftest import RunningGateway, http_side

PARTNER_WORDS = "是合作网关，不使用本网关的控制台"


def test_console_token_is_refused_for_a_partner_gateway(tmp_path: Path) -> None:
    """`zzgw console-token 11440100994401010G` had issued a token that signed a clerk of the partner province in to
    this gateway's console as the whole province, every department's, the access records naming a free-text clerk
    and no department. Refused (exit 2, no token), saying why, the department's and a clerk's own alike."""
    production = {**command_env(tmp_path / "var", ZZGW_KEY_PASSPHRASE="cli-test-passphrase"), "ZZGW_MODE": "production"}
    production.update(DEMO_FILES)
    made = zzgw(production, "init")
    assert made.returncode == 0, made.stderr
    for extra in ((), ("--clerk", "窗口王五")):
        refused = zzgw(production, "console-token", PARTNER, *extra)
        assert refused.returncode == 2 and not refused.stdout, (extra, refused.stdout, refused.stderr)
        assert f"广州市政务服务和数据管理局（{PARTNER}）{PARTNER_WORDS}" in refused.stderr, refused.stderr
        assert "a partner gateway has no console here" in refused.stderr and "Traceback" not in refused.stderr
    assert zzgw(production, "console-token", TAX).returncode == 0  # a department's, as before


def test_console_token_in_dev_mode_refuses_a_partner_rather_than_point_it_at_its_dev_token(tmp_path: Path) -> None:
    """In dev mode `zzgw console-token 11440100994401010G` said the console takes the member's dev bearer token,
    which the console refuses for a partner (review console2, R4): the partner's refusal is said first, as with
    --clerk; a department is still pointed at its dev token."""
    env = command_env(tmp_path / "var", ZZGW_KEY_PASSPHRASE="cli-test-passphrase")
    assert zzgw(env, "init").returncode == 0
    refused = zzgw(env, "console-token", PARTNER)
    assert refused.returncode == 2 and not refused.stdout, (refused.stdout, refused.stderr)
    assert f"（{PARTNER}）{PARTNER_WORDS}" in refused.stderr and "dev bearer token" not in refused.stderr
    department = zzgw(env, "console-token", TAX)
    assert department.returncode == 2 and "the console takes the member's dev bearer token" in department.stderr


def test_the_console_refuses_a_partner_gateways_token(running: RunningGateway) -> None:
    """A token of the partner's that signs in still (a console token issued before, or the dev bearer token) is
    refused at every console call, FORBIDDEN / ROLE_NOT_ALLOWED in the same words; a department's signs in."""
    with http_side(running) as http:

        def session(member: str) -> tuple[int, dict[str, object]]:
            request = urllib.request.Request(
                f"{http}/console/api/session", headers={"Authorization": f"Bearer {running.tokens[member]}"}
            )
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    return answer.status, json.loads(answer.read())
            except urllib.error.HTTPError as error:
                return error.code, json.loads(error.read())

        status, body = session(PARTNER)
        assert status == 403, body
        assert body["error"]["reason"] == "ROLE_NOT_ALLOWED", body
        assert (
            f"{PARTNER}）{PARTNER_WORDS}" in body["error"]["message"]
            and "docs/departments.md）" in body["error"]["message"]
        )
        assert session(TAX)[0] == 200


def test_serve_warns_of_a_partner_registered_with_a_role_of_this_provinces_own(tmp_path: Path) -> None:
    """A store whose partner was registered with HOLDER_PORTAL before `zzgw init` refused it (review partner, R1):
    `zzgw serve` says so at its start, naming the member, the role and the way out."""
    import sqlite3
    import subprocess
    import sys

    from benchmarks.common import wait_serving

    env = command_env(tmp_path / "var", ZZGW_KEY_PASSPHRASE="cli-test-passphrase")
    assert zzgw(env, "init").returncode == 0
    with sqlite3.connect(tmp_path / "var" / "zzgw.db") as store:  # as an init before the check left it
        store.execute("UPDATE members SET roles = 'HOLDER_PORTAL,PARTNER' WHERE code = ?", (PARTNER,))
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
    finally:
        server.terminate()
        _, err = server.communicate(timeout=60)
    assert f"合作网关 广州市政务服务和数据管理局（{PARTNER}）不得兼任 HOLDER_PORTAL" in err, err
    assert "zzgw init --adopt-members" in err and "does not honour the role (ROLE_NOT_ALLOWED)" in err, err
