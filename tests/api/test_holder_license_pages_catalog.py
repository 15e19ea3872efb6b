"""A ``ListHolderLicenses`` page token across a restart: taken under the same catalog, refused under one that
changed the matter's materials. The token had named a material by its index in the matter: after a catalog that
reordered them, it named the other one, so that page 2 skipped licenses (or listed some twice) and ended with no
token, as if the listing were whole (a reviewer, R1)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.config import Settings
from gateway.server import Gateway, build_server, initialise
from protos.zzgw.v1 import issuance_pb2, sharing_pb2, verification_pb2
from tests.api.test_holder_license_pages import permits
from tests.api.test_sharing import BUSINESS_LICENSE, TEST_DEPARTMENT, sharing
from tests.conftest import MARKET, PASSPHRASE, TAX, RunningGateway, backend_params, descriptions, fresh_database

MATTER = "370100-CSSY-099"
USE = verification_pb2.UseContext(matter_code=MATTER, purpose="核验：两种材料")


def catalog_file(path: Path, order: list[str]) -> str:
    """The bootstrap catalog with a matter needing a 营业执照 and a 食品生产许可证, in ``order``."""
    raw = json.loads((Path(samples.__file__).parent / "catalog.json").read_text(encoding="utf-8"))
    fields = {BUSINESS_LICENSE: ["company_name", "uscc"], samples.FOOD_PERMIT: ["producer_name", "uscc"]}
    raw["matters"].append(
        {
            "code": MATTER,
            "name": "两种材料的事项",
            "department": TEST_DEPARTMENT,
            "purpose": "核验",
            "materials": [{"type_code": t, "fields": fields[t]} for t in order],
        }
    )
    path.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")
    return str(path)


@pytest.fixture(params=backend_params())
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with fresh_database(request.param, tmp_path / "db") as url:
        yield url


def settings(tmp_path: Path, url: str, catalog: str) -> Settings:
    return Settings(  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        database_url=url,
        key_passphrase=PASSPHRASE,
        catalog=catalog,
        threads=8,
        max_watchers=4,
    )


class Started:
    """A gateway serving ``settings`` until the ``with`` ends."""

    def __init__(self, settings: Settings):
        self.settings = settings

    def __enter__(self) -> RunningGateway:
        gateway = Gateway.open(self.settings)
        server, port = build_server(gateway, "127.0.0.1:0")
        server.start()
        path = self.settings.dev_tokens_path
        tokens = {c: e["token"] for c, e in json.loads(path.read_text("utf-8"))["tokens"].items()}
        self.running = RunningGateway(gateway, server, port, tokens, self.settings.data_dir)
        return self.running

    def __exit__(self, *_: object) -> None:
        self.running.server.stop(0)
        self.running.gateway.close()


def listing(running: RunningGateway, holder: str, **fields: object) -> sharing_pb2.ListHolderLicensesResponse:
    request = sharing_pb2.ListHolderLicensesRequest(use=USE, holder_code_type="001", holder_code=holder, **fields)
    return sharing(running, TAX).ListHolderLicenses(request)


def test_a_page_token_goes_on_after_a_restart_and_is_refused_after_the_materials_changed(
    tmp_path: Path, database: str
) -> None:
    first = settings(tmp_path, database, catalog_file(tmp_path / "c1.json", [BUSINESS_LICENSE, samples.FOOD_PERMIT]))
    initialise(first)
    n = 600_000 + int(uuid.uuid4().hex[:4], 16)
    holder = samples.uscc(n)
    with Started(first) as running:
        running.issuance(MARKET).IssueLicense(issue_request(samples.business_license(n)))
        batch = issuance_pb2.BatchIssueLicensesRequest(licenses=permits(holder, 8))
        for reply in running.issuance(MARKET).BatchIssueLicenses(iter([batch])):
            assert not any(r.HasField("error") for r in reply.results)
        whole = [e.license_id for e in listing(running, holder).licenses]
        page1 = listing(running, holder, limit=4)
    assert len(whole) == 9 and page1.next_page_token

    with Started(first) as running:  # the same catalog: the token goes on where page 1 ended
        rest = listing(running, holder, limit=50, page_token=page1.next_page_token)
    assert [e.license_id for e in page1.licenses] + [e.license_id for e in rest.licenses] == whole

    second = settings(tmp_path, database, catalog_file(tmp_path / "c2.json", [samples.FOOD_PERMIT, BUSINESS_LICENSE]))
    initialise(second, adopt_catalog=True)
    with Started(second) as running:  # the materials reordered: the token is refused, never read as a place
        with pytest.raises(grpc.RpcError) as refused:
            listing(running, holder, limit=50, page_token=page1.next_page_token)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        said = descriptions(refused.value)
        assert list(said) == [("page_token", "BAD_PAGE_TOKEN")]
        assert "the catalog changed: list again from the start" in said["page_token", "BAD_PAGE_TOKEN"]
        again, token = [], ""
        while True:
            page = listing(running, holder, limit=4, page_token=token)
            again += [e.license_id for e in page.licenses]
            if not (token := page.next_page_token):
                break
    assert sorted(again) == sorted(whole) and again[:8] == whole[1:]
