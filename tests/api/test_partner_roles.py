"""A partner province's gateway holds PARTNER and no role of this province's own (review partner, R1): neither
HOLDER_PORTAL (a portal grants its holders' consents) nor ISSUER (a partner gateway issues nothing, ADR 0017)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from gateway.config import ConfigError
from gateway.server import initialise
from gateway.services import members as members_module
from protos.zzgw.v1 import authorization_pb2
from tests.api.test_sharing import ID_CARD, PARTNER, SBZY, authorization, id_card, person
from tests.conftest import backend_params, error_details, fresh_database, start_gateway

DEMO_MEMBERS = Path(__file__).resolve().parent.parent.parent / "gateway" / "bootstrap" / "members.json"


def _members_file(tmp_path: Path, *roles: str) -> Path:
    raw = json.loads(DEMO_MEMBERS.read_text(encoding="utf-8"))
    for member in raw["members"]:
        if member["code"] == PARTNER:
            member["roles"] = ["PARTNER", *roles]
    path = tmp_path / f"members-{'-'.join(roles)}.json"
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("role", ["HOLDER_PORTAL", "ISSUER"])
def test_init_refuses_a_partner_holding_a_role_of_this_provinces_own(role: str, tmp_path: Path) -> None:
    """A members file giving the partner HOLDER_PORTAL had been registered without a word, and the partner granted
    itself consents for any holder here and read their data; given ISSUER, it was made a first seal. `zzgw init`
    refuses the file, naming the member and the role, and registers nothing."""
    from tests.conftest import _gateway_settings

    members = str(_members_file(tmp_path, role))
    settings = _gateway_settings(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}", {"members": members})
    with pytest.raises(ConfigError) as refused:
        initialise(settings)
    said = str(refused.value)
    assert f"合作网关 广州市政务服务和数据管理局（{PARTNER}）不得兼任 {role}" in said, said
    assert f"may not hold {role} beside PARTNER" in said and "--adopt-members" in said, said


@pytest.mark.parametrize("backend", backend_params())
def test_a_partner_registered_as_a_holder_portal_before_is_not_honoured_as_one(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that registered such a partner before init refused it: its HOLDER_PORTAL is not honoured, so it cannot
    grant itself a consent (PERMISSION_DENIED / ROLE_NOT_ALLOWED, saying why and how to put it right), while it
    calls as a partner as before."""
    members = _members_file(tmp_path, "HOLDER_PORTAL")
    with fresh_database(backend, tmp_path) as url:
        with monkeypatch.context() as before:  # as an init before the check registered it
            before.setattr(members_module, "partner_roles_said", lambda member: "")
            running = start_gateway(tmp_path / "var", url, members=str(members))
        try:
            holder, born = person()
            id_card(running, holder, born)
            until = Timestamp()
            until.FromDatetime(running.gateway.clock.now() + dt.timedelta(days=7))
            with pytest.raises(grpc.RpcError) as caught:
                authorization(running, PARTNER).GrantConsent(
                    authorization_pb2.GrantConsentRequest(
                        holder_code=holder,
                        grantee_code=PARTNER,
                        matter_code=SBZY.matter_code,
                        type_codes=[ID_CARD],
                        valid_until=until,
                        uses=1,
                    )
                )
            info, _ = error_details(caught.value)
            assert (caught.value.code(), info.reason) == (grpc.StatusCode.PERMISSION_DENIED, "ROLE_NOT_ALLOWED")
            details = caught.value.details() or ""
            assert f"（{PARTNER}）不得兼任 HOLDER_PORTAL" in details and "--adopt-members" in details, details
            # its partner's calls go on
            listed = authorization(running, PARTNER).ListAccessRequests(
                authorization_pb2.ListAccessRequestsRequest(), metadata=[("x-zzgw-operator", "11440100994401040K w")]
            )
            assert listed is not None
        finally:
            running.stop()
