"""``ListHolderLicenses`` of a holder with thousands of licenses of a type: every one within the message limit as before
paging, else REPLY_TOO_LARGE and nothing on the trail as listed; a page at a time, each license once.

A chain's 食品生产许可证 under one USCC had been listed whole: past the message limit gRPC failed the reply with a bare
RESOURCE_EXHAUSTED (which api.md says to retry), the access log said OK, and the holder's log had a LISTED record for
a reply never given, one more each retry (a reviewer)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.config import Settings
from gateway.domain.model import License
from gateway.domain.verification import UseContext
from gateway.server import Gateway, build_server, initialise
from gateway.services.sharing import _PROBE
from gateway.store.repositories import HolderLicenseRepository
from protos.zzgw.v1 import issuance_pb2, sharing_pb2, verification_pb2
from signing.results import Finding
from tests.api.test_sharing import BUSINESS_LICENSE, COMPANY_FIELDS, SPJC, extended_catalog, sharing
from tests.conftest import (
    MARKET,
    PASSPHRASE,
    TAX,
    RunningGateway,
    backend_params,
    error_details,
    fresh_database,
    trail_rows,
)

SMALLEST_LIMIT = 2 * 1024 * 1024
"""The smallest ``ZZGW_MAX_MESSAGE_BYTES`` a gateway takes: about 3,300 entries that need authorisation fill it."""
PERMITS = 3_400


@dataclass
class Chain:
    running: RunningGateway
    holder: str
    license_ids: list[str]


def permits(holder: str, n: int) -> list[issuance_pb2.IssueLicenseRequest]:
    """``n`` 食品生产许可证 of the company ``holder``."""
    name = "济南连锁食品有限公司"
    requests = []
    for i in range(n):
        tag = uuid.uuid4().hex[:10].upper()
        record = {**samples.food_permit(i), "request_id": f"chain-{tag}", "license_number": f"SC10637{i:07d}{tag}"}
        record["holder"] = {"name": name, "code_type": "001", "code": holder}
        record["fields"] = {**record["fields"], "uscc": holder, "producer_name": name}
        requests.append(issue_request(record))
    return requests


@pytest.fixture(scope="module", params=backend_params())
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A gateway of the smallest message limit whose one company holds ``PERMITS`` food permits."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        data_dir = tmp_path_factory.mktemp("var")
        settings = Settings(  # type: ignore[arg-type]
            data_dir=data_dir,
            database_url=url,
            key_passphrase=PASSPHRASE,
            threads=8,
            max_watchers=4,
            max_message_bytes=SMALLEST_LIMIT,
        )
        initialise(settings)
        gateway = Gateway.open(settings, catalog=extended_catalog())
        server, port = build_server(gateway, "127.0.0.1:0")
        server.start()
        tokens = {c: e["token"] for c, e in json.loads(settings.dev_tokens_path.read_text("utf-8"))["tokens"].items()}
        running = RunningGateway(gateway=gateway, server=server, port=port, tokens=tokens, data_dir=data_dir)
        try:
            holder = samples.uscc(400_000 + int(uuid.uuid4().hex[:4], 16))
            requests = permits(holder, PERMITS)
            license_ids = []
            for start in range(0, PERMITS, 500):
                batch = issuance_pb2.BatchIssueLicensesRequest(licenses=requests[start : start + 500])
                for reply in running.issuance(MARKET).BatchIssueLicenses(iter([batch]), timeout=300):
                    assert not any(r.HasField("error") for r in reply.results)
                    license_ids += [r.license.license_id for r in reply.results]
            yield Chain(running, holder, license_ids)
        finally:
            server.stop(0)
            gateway.close()


def listing(
    chain: Chain, use: verification_pb2.UseContext = COMPANY_FIELDS, member: str = TAX, **fields: object
) -> sharing_pb2.ListHolderLicensesResponse:
    request = sharing_pb2.ListHolderLicensesRequest(use=use, holder_code_type="001", holder_code=chain.holder, **fields)
    return sharing(chain.running, member).ListHolderLicenses(request, timeout=120)


def recorded(chain: Chain, use: verification_pb2.UseContext) -> list[tuple[str, str]]:
    """The holder's LIST_HOLDER_LICENSES records under ``use``'s purpose: (decision, reason), oldest first."""
    rows = trail_rows(
        chain.running,
        "decision, reason",
        "action = 'LIST_HOLDER_LICENSES' AND holder_code = :h AND purpose = :p",
        h=chain.holder,
        p=use.purpose,
    )
    return [(str(decision), str(reason)) for decision, reason in rows]


def test_every_license_past_the_message_limit_is_refused_saying_to_page_and_not_recorded_as_listed(
    chain: Chain,
) -> None:
    use = verification_pb2.UseContext(matter_code=COMPANY_FIELDS.matter_code, purpose=f"逐一列出{uuid.uuid4().hex}")
    with pytest.raises(grpc.RpcError) as refused:
        listing(chain, use)  # limit 0, as a client before paging: each entry needs authorisation, ~650 bytes
    assert refused.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    info, _ = error_details(refused.value)
    assert info.reason == "REPLY_TOO_LARGE"
    assert "page_token" in (refused.value.details() or "") and f"{PERMITS}本证照" in (refused.value.details() or "")
    assert recorded(chain, use) == [("DENY", "REPLY_TOO_LARGE")]  # the refusal, never a LISTED for nothing


def test_a_client_without_paging_is_given_every_license_that_fits(chain: Chain) -> None:
    listed = listing(chain, SPJC, MARKET)  # AVAILABLE entries, ~200 bytes: all fit
    assert sorted(e.license_id for e in listed.licenses) == sorted(chain.license_ids)
    assert not listed.next_page_token and listed.ByteSize() <= SMALLEST_LIMIT


def test_pages_list_each_license_once_in_the_order_first_issued(chain: Chain) -> None:
    use = verification_pb2.UseContext(matter_code=COMPANY_FIELDS.matter_code, purpose=f"分页列出{uuid.uuid4().hex}")
    pages, token = [], ""
    while True:
        page = listing(chain, use, limit=2000 if not token else 700, page_token=token)  # more than 500 taken as 500
        pages.append(page)
        assert [m.type_code for m in page.missing] == [BUSINESS_LICENSE]  # over every page's licenses, on each
        if not (token := page.next_page_token):
            break
    listed = [e.license_id for p in pages for e in p.licenses]
    assert listed == chain.license_ids  # issued in this order, each batch's in its order
    assert [len(p.licenses) for p in pages] == [500] * 6 + [PERMITS - 3000]
    assert all(e.access_state == sharing_pb2.ACCESS_STATE_NEEDS_AUTHORIZATION for p in pages for e in p.licenses)
    assert recorded(chain, use) == [("LISTED", f"licenses={len(p.licenses)}") for p in pages]


def test_a_page_ends_before_the_message_limit_and_the_next_goes_on_after_it(chain: Chain) -> None:
    """The gateway's smallest limit holds 500 entries: the service is given a smaller one, as a reply's measure."""
    gateway = chain.running.gateway
    assert gateway.sharing is not None
    tax = gateway.authenticator.by_token(chain.running.tokens[TAX])
    use = UseContext(matter_code=COMPANY_FIELDS.matter_code, purpose=f"按大小分页{uuid.uuid4().hex}")
    listed, token, sizes = [], "", []
    while True:
        page = gateway.sharing.list_holder_licenses(
            tax,
            use,
            holder_code_type="001",
            holder_code=chain.holder,
            limit=500,
            page_token=token,
            reply_size=lambda p: 1000 * len(p.entries) + 100,
            max_bytes=300_100,
        )
        listed += [e.license.license_id for e in page.entries]
        sizes.append(len(page.entries))
        if not (token := page.next_page_token):
            break
    assert listed == chain.license_ids
    assert sizes == [300] * 11 + [PERMITS - 3300]
    wrapped = verification_pb2.UseContext(matter_code=use.matter_code, purpose=use.purpose)
    assert recorded(chain, wrapped) == [("LISTED", f"licenses={n}") for n in sizes]


def test_a_page_token_is_good_only_for_its_listing(chain: Chain) -> None:
    token = listing(chain, limit=10).next_page_token
    assert token
    other_holder = sharing_pb2.ListHolderLicensesRequest(
        use=COMPANY_FIELDS, holder_code_type="001", holder_code=samples.uscc(7), limit=10, page_token=token
    )
    other_matter = sharing_pb2.ListHolderLicensesRequest(
        use=SPJC, holder_code_type="001", holder_code=chain.holder, limit=10, page_token=token
    )
    for member, request in ((TAX, other_holder), (MARKET, other_matter)):
        with pytest.raises(grpc.RpcError) as refused:
            sharing(chain.running, member).ListHolderLicenses(request)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert error_details(refused.value)[1] == [("page_token", "BAD_PAGE_TOKEN")]
    for bad in ("x" * 40, token[:-2]):
        with pytest.raises(grpc.RpcError) as refused:
            listing(chain, limit=10, page_token=bad)
        assert error_details(refused.value)[1] == [("page_token", "BAD_PAGE_TOKEN")]
    with pytest.raises(grpc.RpcError) as refused:
        listing(chain, limit=-1)
    assert error_details(refused.value)[1] == [("limit", "BAD_LIMIT")]
    assert [e.license_id for e in listing(chain, limit=10, page_token=token).licenses] == chain.license_ids[10:20]


def test_a_form_reads_the_holders_licenses_only_as_far_as_it_needs(
    chain: Chain, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PrefillForm had read every license the holder has of the matter's types, and checked each one's stored record,
    on every call: 2 s a form of a holder of 20,000 permits, one license used (a reviewer, R2). It reads them newest
    first, a few at a time, only as far as it takes to find one in force and whether there is a second; how many
    there are is counted by the store, and none of several is checked (several are several whatever their checks
    say). Counted here: the licenses read and the records checked."""
    service = chain.running.gateway.sharing
    assert service is not None and service._record_check is not None
    check = service._record_check
    checked: list[str] = []
    read: list[int] = []

    def counted_check(license: License) -> Finding:
        checked.append(license.license_id)
        return check(license)

    newest = HolderLicenseRepository.newest

    def counted_newest(self: HolderLicenseRepository, *args: Any, **kwargs: Any) -> list[tuple[int, License]]:
        rows = newest(self, *args, **kwargs)
        read.append(len(rows))
        return rows

    monkeypatch.setattr(service, "_record_check", counted_check)
    monkeypatch.setattr(HolderLicenseRepository, "newest", counted_newest)

    def form(*license_ids: str) -> sharing_pb2.PrefillFormResponse:
        request = sharing_pb2.PrefillFormRequest(
            use=SPJC,
            holder_code_type="001",
            holder_code=chain.holder,
            field_keys=["producer_name"],
            license_ids=list(license_ids),
        )
        return sharing(chain.running, MARKET).PrefillForm(request, timeout=60)

    several = form()
    assert not several.values
    ((key, reason, detail),) = [(u.key, u.reason, u.detail) for u in several.unfilled]
    assert (key, reason) == ("producer_name", "SEVERAL_LICENSES")
    assert f"申请人有{PERMITS}本有效的食品生产许可证" in detail and "license_ids" in detail
    assert checked == []  # several in force, whatever their records' checks say: none of them checked
    assert sum(read) <= _PROBE  # one page of them, not the 3,400
    checked.clear()
    read.clear()
    named = form(chain.license_ids[7])
    assert [(v.value, v.license_id) for v in named.values] == [("济南连锁食品有限公司", chain.license_ids[7])]
    assert checked == [chain.license_ids[7]] and not read  # the one named, nothing else
