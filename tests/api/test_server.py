"""The server over real gRPC: health, reflection, the catalog, the role table, limits, errors, the access log."""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import io
import json
import logging
import os
import pkgutil
import random
import re
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.message import DecodeError
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status

import protos.zzgw.v1
from adapters.records import issue_request
from gateway.api import interceptors
from gateway.api.interceptors import MAX_METADATA_BYTES
from gateway.api.roles import ALLOWED_ROLES
from gateway.api.slots import StreamSlots, long_streams
from gateway.bootstrap import samples
from gateway.config import MIN_MESSAGE_BYTES
from gateway.domain.errors import ResourceExhaustedError
from gateway.server import SERVICE_NAMES, library_tracebacks_cut
from gateway.threads import name_this_thread
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, issuance_pb2, verification_pb2, verification_pb2_grpc
from tests.api.test_issuance import unique
from tests.conftest import MARKET, TAX, RunningGateway, error_details, fresh_database, start_gateway

ISSUANCE_METHODS = ["IssueLicense", "BatchIssueLicenses", "AmendLicense", "ChangeLicenseStatus", "GetLicense",
                    "WatchLicenseChanges", "GetLicenseDocument"]  # fmt: skip


def unique_food_permit(n: int) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:10].upper()
    record = samples.food_permit(n)
    return {
        **record,
        "request_id": f"{record['request_id']}-{tag}",
        "license_number": f"{record['license_number']}-{tag}",
    }


# --- health and reflection ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["", "zzgw.v1.IssuanceService", "zzgw.v1.CatalogService"])
def test_health_is_serving_without_a_token(running: RunningGateway, service: str) -> None:
    stub = health_pb2_grpc.HealthStub(running.channel(None))
    reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_health_of_an_unknown_service(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        health_pb2_grpc.HealthStub(running.channel(None)).Check(health_pb2.HealthCheckRequest(service="zzgw.v1.Nope"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def reflect(
    running: RunningGateway, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel(None))
    (reply,) = list(stub.ServerReflectionInfo(iter([request]), timeout=5))
    assert not reply.HasField("error_response"), reply.error_response
    return reply


def test_reflection_lists_the_services(running: RunningGateway) -> None:
    reply = reflect(running, reflection_pb2.ServerReflectionRequest(list_services=""))
    names = {s.name for s in reply.list_services_response.service}
    assert {"zzgw.v1.CatalogService", "zzgw.v1.IssuanceService", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"} <= names  # fmt: skip


def test_reflection_describes_the_issuance_service(running: RunningGateway) -> None:
    reply = reflect(running, reflection_pb2.ServerReflectionRequest(file_containing_symbol="zzgw.v1.IssuanceService"))
    files = [descriptor_pb2.FileDescriptorProto.FromString(raw)
             for raw in reply.file_descriptor_response.file_descriptor_proto]  # fmt: skip
    services = {s.name: s for f in files if f.package == "zzgw.v1" for s in f.service}
    assert [m.name for m in services["IssuanceService"].method] == ISSUANCE_METHODS
    batch = next(m for m in services["IssuanceService"].method if m.name == "BatchIssueLicenses")
    assert batch.client_streaming and batch.server_streaming
    assert files[0].name == "protos/zzgw/v1/issuance.proto"


def assert_reflection_served_again(running: RunningGateway) -> None:
    """Reflection answers again within 10 s: the held stream's slot is freed by its end's callback, on gRPC's
    thread."""
    deadline = time.monotonic() + 10
    while True:
        try:
            reply = reflect(running, reflection_pb2.ServerReflectionRequest(list_services=""))
            break
        except grpc.RpcError as busy:
            assert busy.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
            time.sleep(0.05)
    assert "zzgw.v1.IssuanceService" in {s.name for s in reply.list_services_response.service}


def test_an_idle_reflection_stream_holds_one_thread_not_every_one(running: RunningGateway) -> None:
    """Reflection is public, and a stream its client keeps open sending nothing holds a handler thread: sixteen
    such streams, from no member at all, had stopped every department's calls (a security tester). A process
    serves one at a time; another is refused at once (RESOURCE_EXHAUSTED, TOO_MANY_STREAMS), the gateway's own
    calls go on, and the slot is free again once the idle client goes."""
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel(None))
    nothing_sent = threading.Event()

    def idle() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")  # answered: the stream is in its handler
        nothing_sent.wait(30)

    held = stub.ServerReflectionInfo(idle(), timeout=30)
    try:
        assert next(held).HasField("list_services_response")
        with pytest.raises(grpc.RpcError) as caught:
            reflect(running, reflection_pb2.ServerReflectionRequest(list_services=""))
        refused = caught.value
        assert (refused.code(), error_details(refused)[0].reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_STREAMS",
        )
        assert running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()).license_types
    finally:
        held.cancel()
        nothing_sent.set()
    assert_reflection_served_again(running)


def test_a_reflection_stream_held_open_is_ended_after_its_time(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One stream at a time: one held open and idle would keep reflection from everyone for as long as its client
    liked (review). It is ended after REFLECTION_SECONDS (here a fraction of one), and the next is served."""
    monkeypatch.setattr(interceptors, "REFLECTION_SECONDS", 0.5)
    stub = reflection_pb2_grpc.ServerReflectionStub(running.channel(None))
    never = threading.Event()

    def idle() -> Iterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")
        never.wait(30)

    held = stub.ServerReflectionInfo(idle(), timeout=30)
    try:
        assert next(held).HasField("list_services_response")
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as ended:
            next(held)
        assert ended.value.code() == grpc.StatusCode.CANCELLED and time.monotonic() - started < 10
    finally:
        never.set()
    assert_reflection_served_again(running)


def test_the_kinds_of_long_streams_together_leave_threads_for_calls(running: RunningGateway) -> None:
    """Each kind of long-lived stream has its own bound, but the bounds added up to more than the handler threads
    (with 16: 8 watchers, 8 batch streams, 4 health watches, 1 reflection), so together they could hold every thread
    (found rereading the bounds). They all draw on one pool, ``long_streams``, that keeps a quarter of the threads
    for other calls: here 8 threads, 6 long streams; the seventh is refused TOO_MANY_STREAMS although its own kind
    has room, calls go on, and a slot freed is taken again."""
    from gateway.api.issuance import MAX_BATCH_STREAMS_PER_MEMBER
    from gateway.health import health_watches

    assert (MAX_BATCH_STREAMS_PER_MEMBER, health_watches(8, 4), long_streams(8).held()) == (4, 3, {})
    quiet = threading.Event()

    def idle(n: int) -> Iterator[issuance_pb2.BatchIssueLicensesRequest]:
        yield issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(unique_food_permit(73_100 + n))])
        quiet.wait(60)

    health = health_pb2_grpc.HealthStub(running.channel(None))
    batches = [running.issuance(MARKET).BatchIssueLicenses(idle(n), timeout=60) for n in range(4)]
    watches = [health.Watch(health_pb2.HealthCheckRequest(), timeout=60) for _ in range(2)]
    try:
        assert all(next(stream).results[0].HasField("license") for stream in batches)
        assert [next(watch).status for watch in watches] == [health_pb2.HealthCheckResponse.SERVING] * 2
        with pytest.raises(grpc.RpcError) as caught:
            next(health.Watch(health_pb2.HealthCheckRequest(), timeout=10))  # the third of three health watches
        refused = caught.value
        assert (refused.code(), error_details(refused)[0].reason) == (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "TOO_MANY_STREAMS",
        )
        assert "长时间打开的流" in (refused.details() or "") and "hold the 6 handler threads" in (
            refused.details() or ""
        )
        assert running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()).license_types
        batches.pop().cancel()
        deadline = time.monotonic() + 10
        while True:  # freed by the cancellation's callback, on gRPC's thread
            again = health.Watch(health_pb2.HealthCheckRequest(), timeout=60)
            try:
                assert next(again).status == health_pb2.HealthCheckResponse.SERVING
                watches.append(again)
                break
            except grpc.RpcError as busy:
                assert busy.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        for stream in [*batches, *watches]:
            stream.cancel()
        quiet.set()


def test_a_stream_refused_by_the_pool_holds_no_slot_of_its_kind() -> None:
    pool = long_streams(4)  # 3 long streams, one thread kept
    kind = StreamSlots(3, 2, lambda name, held: ResourceExhaustedError(f"{name} {held}", reason="MINE"),
                       lambda: ResourceExhaustedError("all", reason="ALL"), pool)  # fmt: skip
    other = pool.take()
    first, second = kind.take("a"), kind.take("b")
    assert (kind.held(), pool.held()) == ({"a": 1, "b": 1}, {"": 1, "a": 1, "b": 1})
    with pytest.raises(ResourceExhaustedError) as refused:
        kind.take("c")
    assert refused.value.reason == "TOO_MANY_STREAMS" and kind.held() == {"a": 1, "b": 1}
    other()
    third = kind.take("c")
    with pytest.raises(ResourceExhaustedError) as own:
        kind.take("d")
    assert own.value.reason == "ALL"  # the kind's own refusal comes first
    for release in (first, second, third, third):  # freeing twice frees once
        release()
    assert (kind.held(), pool.held()) == ({}, {})


def test_each_kind_of_long_stream_keeps_a_few_slots_no_other_kind_takes() -> None:
    """Shared alone, the slots had gone to whoever came first: 8 watchers and 4 public health watches filled the
    12 of a 16-thread process and left batch issuance none, and idle batch streams with health watches could leave
    WatchLicenseChanges, how departments learn of revocations, none (found in review). Each kind keeps a floor."""
    from gateway.api.slots import FLOORS

    pool = long_streams(16)  # 4 threads kept for calls; of 12, 3 watchers, 2 batch streams and 1 health watch
    assert (pool.budget, FLOORS) == (12, {"watch": 3, "batch": 2, "health": 1})

    def kind(name: str, most: int) -> StreamSlots:
        def full() -> ResourceExhaustedError:
            return ResourceExhaustedError(name, reason="KIND_FULL")

        return StreamSlots(most, most, lambda _n, _h: full(), full, pool, name)

    watchers, batches, health = kind("watch", 8), kind("batch", 8), kind("health", 4)
    held = [health.take() for _ in range(4)] + [watchers.take() for _ in range(6)]  # 1 + 3 shared, 3 + 3 shared
    with pytest.raises(ResourceExhaustedError) as shared_full:
        watchers.take()
    assert shared_full.value.reason == "TOO_MANY_STREAMS"
    held += [batches.take(), batches.take()]  # their own two, whoever holds the rest
    with pytest.raises(ResourceExhaustedError):
        batches.take()
    for release in held:
        release()
    assert (watchers.held(), batches.held(), health.held(), pool.held()) == ({}, {}, {}, {})
    assert len([watchers.take() for _ in range(8)]) == 8  # 3 of its own and 5 shared: its own bound
    # a floor is never more than its kind's bound: none kept for health watches a process allows none of
    assert long_streams(16, {"watch": 8, "batch": 8, "health": 0})._floors == {"watch": 3, "batch": 2, "health": 0}


# --- the catalog --------------------------------------------------------------------------------------------------


def test_list_license_types(running: RunningGateway) -> None:
    types = running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest()).license_types
    assert len(types) >= 10
    business = {t.name: t for t in types}["营业执照"]
    assert business.type_code == samples.BUSINESS_LICENSE and list(business.issuer_codes) == [MARKET]
    labels = {f.key: f.label for f in business.fields}
    assert labels["legal_representative"] == "法定代表人" and labels["uscc"] == "统一社会信用代码"
    assert business.sharing_class == catalog_pb2.SHARING_CLASS_UNCONDITIONAL
    assert business.holder_kind == catalog_pb2.HOLDER_KIND_ORGANIZATION and not business.expires


def test_get_license_type(running: RunningGateway) -> None:
    got = running.catalog(TAX).GetLicenseType(catalog_pb2.GetLicenseTypeRequest(type_code=samples.ID_CARD))
    assert got.license_type.name == "居民身份证" and got.license_type.expires
    gender = {f.key: f for f in got.license_type.fields}["gender"]
    assert gender.label == "性别" and gender.value_type == "ENUM" and list(gender.choices) == ["男", "女"]
    business = running.catalog(TAX).GetLicenseType(
        catalog_pb2.GetLicenseTypeRequest(type_code=samples.BUSINESS_LICENSE)
    )
    name = {f.key: f for f in business.license_type.fields}["company_name"]
    assert (name.label, list(name.form_labels)) == ("名称", ["企业名称"])  # what PrefillForm also finds it by
    assert name.of_holder == "name" and gender.of_holder == "sex"  # what must agree with the holder
    assert {f.key: f for f in business.license_type.fields}["domicile"].of_holder == ""
    card = {f.key: f for f in got.license_type.fields}
    assert (card["address"].masking, card["citizen_id"].masking) == ("prefix", "ends")  # how a masked value reads


def test_get_license_type_unknown_and_empty(running: RunningGateway) -> None:
    stub = running.catalog(TAX)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetLicenseType(catalog_pb2.GetLicenseTypeRequest(type_code="111000009910000354999"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(caught.value)[0].reason == "LICENSE_TYPE_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetLicenseType(catalog_pb2.GetLicenseTypeRequest())
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[1] == [("type_code", "REQUIRED")]


def test_list_matters_of_one_bundle(running: RunningGateway) -> None:
    stub = running.catalog(TAX)
    everything = stub.ListMatters(catalog_pb2.ListMattersRequest())
    assert len(everything.matters) > 3 and len(everything.bundles) >= 2
    bundle = stub.ListMatters(catalog_pb2.ListMattersRequest(bundle_code="370100-YJS-QYKB"))
    assert [b.name for b in bundle.bundles] == ["企业开办一件事"]
    assert [m.matter_code for m in bundle.matters] == ["370100-QYKZ-001", "370100-FPSL-001", "370100-SBDJ-001"]
    assert list(bundle.bundles[0].matter_codes) == [m.matter_code for m in bundle.matters]
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListMatters(catalog_pb2.ListMattersRequest(bundle_code="370100-YJS-NONE"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(caught.value)[0].reason == "BUNDLE_NOT_FOUND"


def test_get_matter(running: RunningGateway) -> None:
    stub = running.catalog(TAX)
    matter = stub.GetMatter(catalog_pb2.GetMatterRequest(matter_code="370100-FPSL-001")).matter
    assert matter.name == "发票申领" and matter.materials
    assert all(m.type_code for m in matter.materials)
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetMatter(catalog_pb2.GetMatterRequest(matter_code="370100-NONE-001"))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert error_details(caught.value)[0].reason == "MATTER_NOT_FOUND"
    with pytest.raises(grpc.RpcError) as caught:
        stub.GetMatter(catalog_pb2.GetMatterRequest())
    assert error_details(caught.value)[1] == [("matter_code", "REQUIRED")]


def test_the_catalog_needs_a_member(running: RunningGateway) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        running.catalog(None).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest())
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_details(caught.value)[0].reason == "NO_CREDENTIAL"


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_bearer_scheme_is_taken_in_any_case(running: RunningGateway, scheme: str) -> None:
    """An authentication scheme is case-insensitive (RFC 9110 §11.1): "bearer" had been NO_CREDENTIAL (found by an
    integrator)."""
    stub = catalog_pb2_grpc.CatalogServiceStub(grpc.insecure_channel(running.address))
    metadata = [("authorization", f"{scheme} {running.tokens[MARKET]}")]
    assert stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), metadata=metadata).license_types
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), metadata=[("authorization", f"{scheme}x token")])
    assert error_details(caught.value)[0].reason == "NO_CREDENTIAL"


# --- the role table -----------------------------------------------------------------------------------------------


def zzgw_services() -> list[Any]:
    services = []
    for module in pkgutil.iter_modules(protos.zzgw.v1.__path__):
        if module.name.endswith("_pb2"):
            descriptor = importlib.import_module(f"protos.zzgw.v1.{module.name}").DESCRIPTOR
            services.extend(descriptor.services_by_name.values())
    return services


def test_every_method_of_every_service_has_its_roles() -> None:
    methods = {f"/{s.full_name}/{m.name}" for s in zzgw_services() for m in s.methods}
    assert len(methods) == 37
    missing = methods - set(ALLOWED_ROLES)
    assert not missing, f"methods without roles (refused to everyone): {sorted(missing)}"
    stale = set(ALLOWED_ROLES) - methods
    assert not stale, f"roles for methods that do not exist: {sorted(stale)}"
    assert all(ALLOWED_ROLES.values()), "a method nobody may call"


def test_every_service_is_registered() -> None:
    assert sorted(SERVICE_NAMES) == sorted(s.full_name for s in zzgw_services())


# --- gateways of their own: limits and unexpected errors ---------------------------------------------------------


@pytest.fixture
def own_database(database_url: str, tmp_path: Path) -> Iterator[str]:
    """A database for a gateway of the test's own (one per data dir: its keys and tokens must not clobber others)."""
    with fresh_database("sqlite" if database_url.startswith("sqlite") else "postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def small_gateway(own_database: str, tmp_path: Path) -> Iterator[RunningGateway]:
    gw = start_gateway(tmp_path / "var", own_database, max_message_bytes=MIN_MESSAGE_BYTES)
    try:
        yield gw
    finally:
        gw.stop()


def test_a_message_over_the_limit_is_refused(small_gateway: RunningGateway) -> None:
    record = unique_food_permit(1)
    record["fields"]["food_category"] = "x" * (MIN_MESSAGE_BYTES + 100 * 1024)
    with pytest.raises(grpc.RpcError) as caught:
        small_gateway.issuance(MARKET).IssueLicense(issue_request(record), timeout=10)
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # a request under the limit still works
    assert small_gateway.issuance(MARKET).IssueLicense(issue_request(unique_food_permit(2)), timeout=10).created


def test_request_metadata_is_taken_up_to_its_limit_and_refused_over_it_every_time(running: RunningGateway) -> None:
    """gRPC's default limits had refused calls with 8-16 KiB of metadata at random, more often the larger they were
    (a partner gateway forwarding its tracing headers; found by a partner-gateway tester): one limit now, below which
    every call is taken (its other headers, about 0.5 KiB, counted too) and above which every one is refused."""
    catalog = running.catalog(TAX)
    request = catalog_pb2.ListLicenseTypesRequest()

    def outcomes(size: int) -> set[grpc.StatusCode]:
        seen = set()
        for _ in range(20):
            try:
                catalog.ListLicenseTypes(request, metadata=(("x-trace-context", "a" * size),), timeout=10)
                seen.add(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                seen.add(error.code())
        return seen

    assert outcomes(MAX_METADATA_BYTES - 1024) == {grpc.StatusCode.OK}
    assert outcomes(MAX_METADATA_BYTES) == {grpc.StatusCode.RESOURCE_EXHAUSTED}


def test_metadata_over_its_limit_is_refused_in_grpcs_words_naming_the_sizes_unless_there_are_too_many(
    running: RunningGateway,
) -> None:
    """api.md had said that too much metadata made of many small headers is refused with empty details: gRPC's details
    name the total and each header's size, and are empty only when that list is long (a penetration tester)."""
    catalog = running.catalog(TAX)

    def details(metadata: tuple[tuple[str, str], ...]) -> str:
        with pytest.raises(grpc.RpcError) as refused:
            catalog.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), metadata=metadata, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        return refused.value.details() or ""

    one = details((("x-trace-context", "a" * 20000),))
    assert one == f"received metadata size exceeds hard limit (value length 20000 vs. {MAX_METADATA_BYTES})"
    several = details(tuple((f"x-trace-{i}", "a" * 500) for i in range(40)))
    assert re.match(rf"received metadata size exceeds hard limit \(\d+ vs\. {MAX_METADATA_BYTES}\); ", several)
    assert " :path:" in several and " x-trace-0:541B " in several  # 9 + 500 + 32 bytes, as HTTP/2 counts it
    assert details(tuple((f"x-t{i}", "a" * 10) for i in range(400))) == ""


def test_an_unexpected_exception_becomes_internal_with_a_request_id(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(running.gateway.issuance, "get", broken)
    caplog.set_level(logging.INFO, logger="zzgw")
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id="anything"), timeout=10)
    error = caught.value
    assert error.code() == grpc.StatusCode.INTERNAL
    details = error.details() or ""
    assert "request id" in details and "secret" not in details and "RuntimeError" not in details
    info, _ = error_details(error)
    request_id = info.metadata["request_id"]
    assert info.reason == "INTERNAL" and len(request_id) == 16 and request_id in details
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    assert status is not None and b"secret" not in status.SerializeToString()
    # the server log has the exception under the same request id
    logged = wait_for(caplog, lambda r: r.name == "zzgw.error" and request_id in r.getMessage())
    assert logged.exc_info is not None and "secret detail" in str(logged.exc_info[1])
    access = wait_for(caplog, lambda r: r.name == "zzgw.access" and request_id in r.getMessage())
    assert json.loads(access.getMessage())["code"] == "INTERNAL"


def test_an_answer_that_came_after_its_client_gave_up_is_not_logged_ok(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    """The access log said OK for a call answered after its deadline (or after a stop cancelled it): the answer
    reached nobody."""
    license_id = (
        running.issuance(MARKET).IssueLicense(issue_request(unique_food_permit(3)), timeout=10).license.license_id
    )
    get = running.gateway.issuance.get

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(1.0)
        return get(*args, **kwargs)

    monkeypatch.setattr(running.gateway.issuance, "get", slow)
    caplog.set_level(logging.INFO, logger="zzgw")
    with pytest.raises(grpc.RpcError) as caught:
        running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=license_id), timeout=0.3)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    access = wait_for(caplog, lambda r: r.name == "zzgw.access" and 'GetLicense"' in r.getMessage())
    assert json.loads(access.getMessage())["code"] == "DEADLINE_EXCEEDED"


def test_a_nul_that_no_field_check_caught_is_bad_input_not_an_internal_error(running: RunningGateway) -> None:
    """PostgreSQL's driver refuses NUL in text parameters; on SQLite the same lookups simply find nothing. Either
    way the client hears INVALID_ARGUMENT (or not found), never INTERNAL, and nothing lands in the error log."""
    calls = [
        lambda: verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).GetReceipt(
            verification_pb2.GetReceiptRequest(receipt_id="0193\x00ab")
        ),
        lambda: running.issuance(MARKET).GetLicense(
            issuance_pb2.GetLicenseRequest(type_code=samples.BUSINESS_LICENSE, license_number="JY1\x00")
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as caught:
            call()
        assert caught.value.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND)
        if running.gateway.db.dialect == "postgresql":
            assert error_details(caught.value)[0].reason == "BAD_CHARACTERS"
    # a receipt id is refused alike on both databases, before any lookup
    with pytest.raises(grpc.RpcError) as caught:
        calls[0]()
    assert (caught.value.code(), error_details(caught.value)[0].reason) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "BAD_CHARACTERS",
    )
    with pytest.raises(grpc.RpcError) as caught:
        verification_pb2_grpc.VerificationServiceStub(running.channel(TAX)).GetReceipt(
            verification_pb2.GetReceiptRequest(receipt_id="f" * 10_000)
        )
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


# --- requests that do not decode -----------------------------------------------------------------------------------


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (strings, bytes, messages) encoded by hand, so it can hold what no
    generated client would send."""
    assert len(payload) < 128  # one byte of length
    return bytes([number << 3 | 2, len(payload)]) + payload


VERIFY_LICENSE = "/zzgw.v1.VerificationService/VerifyLicense"
FPSL_USE = _field(1, _field(1, b"370100-FPSL-001") + _field(2, "新办纳税人首次申领发票".encode()))
UNDECODABLE = [
    ("invalid_utf8", _field(1, _field(1, b"370100-FPSL-001") + _field(2, b"\xff\xfe")), "bad UTF-8"),
    ("gbk_purpose", _field(1, _field(1, b"370100-FPSL-001") + _field(2, "申领发票".encode("gbk"))), "bad UTF-8"),
    ("truncated", (FPSL_USE + _field(2, b"11370100993701011T"))[:-5], "corrupt"),
    ("random_bytes", random.Random(3).randbytes(64), "corrupt"),
]


def raw(running: RunningGateway, member: str | None, method: str) -> grpc.UnaryUnaryMultiCallable:
    """``method`` called with request bytes as given."""
    return running.channel(member).unary_unary(method, request_serializer=bytes, response_deserializer=bytes)


@pytest.mark.parametrize(("case", "data", "why"), UNDECODABLE, ids=[c[0] for c in UNDECODABLE])
def test_a_request_that_does_not_decode_is_invalid_argument(
    running: RunningGateway, caplog: pytest.LogCaptureFixture, case: str, data: bytes, why: str
) -> None:  # fmt: skip
    """A GBK-encoded purpose from a legacy client, truncated or random bytes were INTERNAL (gRPC's "Exception
    deserializing request!"), with an error traceback in the log and no access-log line."""
    with pytest.raises(DecodeError):  # what protobuf itself makes of these bytes
        verification_pb2.VerifyLicenseRequest.FromString(data)
    caplog.set_level(logging.INFO)
    with pytest.raises(grpc.RpcError) as caught:
        raw(running, TAX, VERIFY_LICENSE)(data, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info, violations = error_details(caught.value)
    assert info.reason == "MALFORMED_REQUEST" and violations == [("", "MALFORMED_REQUEST")]
    details = caught.value.details() or ""
    assert details.startswith("请求的字节不是有效的 zzgw.v1.VerifyLicenseRequest")  # Chinese first
    assert "（the request's bytes are not a valid zzgw.v1.VerifyLicenseRequest" in details and why in details
    line = wait_for(caplog, lambda r: r.name == "zzgw.access" and VERIFY_LICENSE in r.getMessage())
    assert (json.loads(line.getMessage())["member"], json.loads(line.getMessage())["code"]) == (TAX, "INVALID_ARGUMENT")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_a_request_that_decodes_is_answered_and_credentials_come_first(running: RunningGateway) -> None:
    issued = running.issuance(MARKET).IssueLicense(issue_request(unique(samples.business_license(6)))).license
    answer = raw(running, TAX, VERIFY_LICENSE)(FPSL_USE + _field(2, issued.license_id.encode()), timeout=10)
    report = verification_pb2.VerifyLicenseResponse.FromString(answer).report
    assert report.license.license_id == issued.license_id and report.verdict == verification_pb2.CHECK_RESULT_PASSED
    for member, code in ((None, grpc.StatusCode.UNAUTHENTICATED), (MARKET, grpc.StatusCode.INVALID_ARGUMENT)):
        with pytest.raises(grpc.RpcError) as caught:  # an unknown caller's garbage is no business of the gateway
            raw(running, member, VERIFY_LICENSE)(UNDECODABLE[0][1], timeout=10)
        assert caught.value.code() == code
    with pytest.raises(grpc.RpcError) as caught:
        raw(running, TAX, "/zzgw.v1.IssuanceService/IssueLicense")(UNDECODABLE[0][1], timeout=10)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED  # the role check too


def test_a_message_that_does_not_decode_ends_a_batch_stream(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    """The batch's earlier messages keep their answers and their licenses; the bad one ends the call."""
    caplog.set_level(logging.INFO)
    method = "/zzgw.v1.IssuanceService/BatchIssueLicenses"
    call = running.channel(MARKET).stream_stream(
        method, request_serializer=bytes, response_deserializer=issuance_pb2.BatchIssueLicensesResponse.FromString
    )
    good = issuance_pb2.BatchIssueLicensesRequest(licenses=[issue_request(unique_food_permit(7))])
    answered = threading.Event()

    def requests() -> Iterator[bytes]:
        yield good.SerializeToString()
        answered.wait(10)
        yield _field(1, _field(1, b"batch-\xff\xfe"))  # an item whose request_id is not UTF-8

    responses = call(requests(), timeout=20)
    (first,) = next(responses).results
    answered.set()
    assert not first.HasField("error") and first.license.license_id
    with pytest.raises(grpc.RpcError) as caught:
        next(responses)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error_details(caught.value)[0].reason == "MALFORMED_REQUEST"
    assert (caught.value.details() or "").startswith("请求流的第2条消息：请求的字节不是有效的")
    assert "（message 2 of the stream: the request's bytes are not a valid zzgw.v1.BatchIssueLicensesRequest" in (
        caught.value.details() or ""
    )
    found = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=first.license.license_id))
    assert found.license.license_id == first.license.license_id
    line = wait_for(caplog, lambda r: r.name == "zzgw.access" and method in r.getMessage())
    assert json.loads(line.getMessage())["code"] == "INVALID_ARGUMENT"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    "method",
    [
        "/grpc.health.v1.Health/Check",
        "/grpc.health.v1.Health/Watch",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ],
)
def test_public_services_refuse_what_does_not_decode_too(
    running: RunningGateway, caplog: pytest.LogCaptureFixture, method: str
) -> None:  # fmt: skip
    """Health and reflection, open to anyone, answered undecodable bytes with INTERNAL and an error traceback."""
    caplog.set_level(logging.INFO)
    channel = running.channel(None)
    garbage = random.Random(5).randbytes(20)
    if method.endswith("Check"):
        call = lambda: channel.unary_unary(method, request_serializer=bytes)(garbage, timeout=10)  # noqa: E731
    elif method.endswith("Watch"):
        call = lambda: next(channel.unary_stream(method, request_serializer=bytes)(garbage, timeout=10))  # noqa: E731
    else:
        call = lambda: next(channel.stream_stream(method, request_serializer=bytes)(iter([garbage]), timeout=10))  # noqa: E731
    with pytest.raises(grpc.RpcError) as caught:
        call()
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the request's bytes are not a valid grpc." in (caught.value.details() or "")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING  # what decodes is answered as before


# --- the access log -----------------------------------------------------------------------------------------------


def wait_for(caplog: pytest.LogCaptureFixture, match: Any) -> logging.LogRecord:
    """The log line is written by a server thread; it is there by the time the call returns, but allow a moment."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        for record in caplog.records:
            if match(record):
                return record
        time.sleep(0.01)
    raise AssertionError(f"no such log line in {[r.getMessage() for r in caplog.records]}")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"]


def test_access_log_has_method_member_and_code_but_no_personal_data(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    caplog.set_level(logging.INFO, logger="zzgw.access")
    record = unique_food_permit(3)
    lic = running.issuance(MARKET).IssueLicense(issue_request(record)).license
    method = "/zzgw.v1.IssuanceService/IssueLicense"
    line = wait_for(caplog, lambda r: r.name == "zzgw.access" and method in r.getMessage())
    entry = json.loads(line.getMessage())
    assert entry["method"] == method and entry["member"] == MARKET and entry["code"] == "OK"
    assert set(entry) == {"method", "peer", "member", "code", "ms", "request_id"}
    assert entry["peer"] and entry["ms"] >= 0 and len(entry["request_id"]) == 16
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "zzgw.access")
    for personal in (record["holder"]["name"], record["holder"]["code"], record["license_number"], lic.license_id):
        assert personal not in text


def test_access_log_of_refused_calls(running: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zzgw.access")
    with pytest.raises(grpc.RpcError):
        running.issuance(TAX).IssueLicense(issue_request(unique_food_permit(4)))
    with pytest.raises(grpc.RpcError):
        running.issuance(None).IssueLicense(issue_request(unique_food_permit(5)))
    wait_for(caplog, lambda r: r.name == "zzgw.access" and '"UNAUTHENTICATED"' in r.getMessage())
    entries = [(e["member"], e["code"], e.get("reason")) for e in access_lines(caplog)]
    # with the stable reason, which an on-call engineer had to find in the caller's logs (found by a soak tester)
    assert (TAX, "PERMISSION_DENIED", "ROLE_NOT_ALLOWED") in entries, entries
    assert ("-", "UNAUTHENTICATED", "NO_CREDENTIAL") in entries, entries


def test_health_checks_are_not_in_the_access_log(running: RunningGateway, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="zzgw.access")
    health_pb2_grpc.HealthStub(running.channel(None)).Check(health_pb2.HealthCheckRequest())
    running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest())
    wait_for(caplog, lambda r: r.name == "zzgw.access" and "ListLicenseTypes" in r.getMessage())
    assert not [e for e in access_lines(caplog) if "Health" in e["method"]]


def test_serving_collector_settings() -> None:
    """``tune_gc`` (what ``serve_forever`` does before it starts serving), in a process of its own: start-up objects
    frozen out of the collector's reach, young collections every 20,000 allocations, and cyclic garbage still
    collected by them."""
    script = (
        "import gc, json, weakref\n"
        "from gateway.server import GC_THRESHOLDS, tune_gc\n"
        "tune_gc()\n"
        "class Node: pass\n"
        "a, b = Node(), Node()\n"
        "a.other, b.other = b, a\n"
        "gone = weakref.ref(a)\n"
        "del a, b\n"
        "kept = [[] for _ in range(25_000)]\n"  # more new containers than the young threshold: no gc.collect()
        "print(json.dumps({'after': gc.get_threshold(), 'expected': GC_THRESHOLDS,"
        " 'frozen': gc.get_freeze_count(), 'cycle_collected': gone() is None}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout)
    assert found["after"] == found["expected"] == [20_000, 50, 100]
    assert found["frozen"] > 10_000  # the imported gateway: modules, functions, classes
    assert found["cycle_collected"] is True


def test_interceptor_guards_each_method_once_and_anew_for_another_handler() -> None:
    """The guarded handler is made once per method (the dispatching thread reuses it), made again if the service's
    handler for the method changes, and public methods (health, reflection) get no caller check."""
    from gateway.api.interceptors import GatewayInterceptor

    interceptor = GatewayInterceptor(None, mode="dev")  # type: ignore[arg-type]  # no call runs here
    first = grpc.unary_unary_rpc_method_handler(lambda request, context: b"first")
    second = grpc.unary_unary_rpc_method_handler(lambda request, context: b"second")
    method = "/zzgw.v1.VerificationService/VerifyLicense"

    class Details(grpc.HandlerCallDetails):
        def __init__(self, method: str):
            self.method = method
            self.invocation_metadata = ()

    guarded = interceptor.intercept_service(lambda _: first, Details(method))
    assert guarded is not None and guarded is not first and guarded.unary_unary is not first.unary_unary
    assert interceptor.intercept_service(lambda _: first, Details(method)) is guarded
    again = interceptor.intercept_service(lambda _: second, Details(method))
    assert again is not guarded and again is not second
    health = "/grpc.health.v1.Health/Check"  # no caller to check: wrapped only to refuse what does not decode
    public = interceptor.intercept_service(lambda _: first, Details(health))
    assert public is not None and public is not guarded and public.unary_unary(b"", None) == b"first"
    assert interceptor.intercept_service(lambda _: first, Details(health)) is public
    unknown = interceptor.intercept_service(lambda _: None, Details(method))  # answered, logged and counted
    assert unknown is not None and unknown.stream_stream is not None  # (tests/test_metrics.py calls one)
    assert interceptor.intercept_service(lambda _: None, Details(method)) is not unknown  # none kept: names unbounded


def _kernel_thread_names() -> set[str]:
    names = set()
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(OSError):  # a thread that ended meanwhile
            names.add(Path(f"/proc/self/task/{tid}/comm").read_text(encoding="ascii").strip())
    return names


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="thread names are read from Linux's /proc")
def test_threads_carry_kernel_names(running: RunningGateway) -> None:
    """``top -H`` and /proc show which of the gateway's threads uses the CPU (here the handler threads)."""
    running.catalog(TAX).ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest())
    assert "zzgw-grpc" in _kernel_thread_names()

    named: list[str] = []

    def probe() -> None:
        name_this_thread("a-thread-name-longer-than-15")
        named.append(Path(f"/proc/self/task/{threading.get_native_id()}/comm").read_text(encoding="ascii").strip())

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    assert named == ["a-thread-name-l"]  # the kernel keeps 15 bytes


def test_a_stream_its_client_gave_up_on_is_not_logged_ok(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:  # fmt: skip
    """A ``WatchLicenseChanges`` stream ended by its client's deadline was logged "OK" (found by an independent
    client): the access log says why it ended."""
    caplog.set_level(logging.INFO, logger="zzgw.access")
    method = "/zzgw.v1.IssuanceService/WatchLicenseChanges"
    stream = running.issuance(MARKET).WatchLicenseChanges(issuance_pb2.WatchLicenseChangesRequest(), timeout=1.0)
    with pytest.raises(grpc.RpcError) as caught:
        list(stream)
    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    line = wait_for(caplog, lambda r: r.name == "zzgw.access" and method in r.getMessage())
    assert json.loads(line.getMessage())["code"] in ("DEADLINE_EXCEEDED", "CANCELLED")


def test_pyhankos_tracebacks_are_cut_to_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PDF edited after sealing makes pyHanko log its SuspiciousModification with the traceback at WARNING, a
    crafted one a processing error at ERROR (a privacy tester wrote tracebacks into the log at will); the gateway's
    handlers keep the line's template and the exception's class, not the traceback, the exception's text nor the
    line's values (which may quote the document: a reviewer, R2). Its own stay."""
    from pyhanko.sign.diff_analysis import SuspiciousModification
    from pyhanko.sign.general import SigningError

    from gateway import server
    from gateway.logs import OncePer

    monkeypatch.setattr(server, "_LIBRARY_LINES", OncePer(server.LIBRARY_LINE_SECONDS))

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(library_tracebacks_cut)
    logger = logging.getLogger("test-tracebacks")
    logger.addHandler(handler)
    try:
        for name, level, error in (
            ("pyhanko.sign.diff_analysis.policies", logging.WARNING, SuspiciousModification("field 张三 changed")),
            ("pyhanko.sign.validation.generic_cms", logging.ERROR, SigningError("cut at ERROR too")),
            ("zzgw", logging.WARNING, ValueError("ours")),
        ):
            try:
                raise error
            except Exception as caught:
                failure = (type(caught), caught, caught.__traceback__)
                record = logger.makeRecord(name, level, __file__, 0, "diff %s and %s", ("李四", 1), failure)
            handler.handle(record)
        formatted = logger.makeRecord("pyhanko.pdf_utils.reader", logging.WARNING, __file__, 7, "of 张三", (), None)
        handler.handle(formatted)  # a line pyHanko formats itself (an f-string): where it comes from, alone
    finally:
        logger.removeHandler(handler)
    first, second, *rest = stream.getvalue().split("\n", 2)
    assert stream.getvalue().endswith(f"\na line of {Path(__file__).name}:7 (its text left out)\n")
    assert (first, second) == (
        "diff %s and %s (its values left out) (SuspiciousModification)",
        "diff %s and %s (its values left out) (SigningError)",
    )
    assert "张三" not in stream.getvalue() and "cut at ERROR too" not in stream.getvalue()
    assert "李四" not in first + second and "diff 李四 and 1" in rest[0]  # the gateway's own line keeps its values
    assert rest[0].count("Traceback") == 1 and "ValueError: ours" in rest[0]


def test_unhandled_matters_are_those_only_an_admin_may_name() -> None:
    """`zzgw init` and `zzgw serve` warn of them: a department spelt otherwise, or not registered (or revoked)."""
    import dataclasses

    from gateway.domain.model import Role
    from gateway.server import unhandled_matters
    from gateway.services.members import load_bootstrap_catalog, load_demo_members

    catalog, members = load_bootstrap_catalog(), load_demo_members()
    assert unhandled_matters(catalog, members) == ()
    without_tax = [m for m in members if m.name != "国家税务总局济南市税务局"]
    assert unhandled_matters(catalog, without_tax) == ("370100-FPSL-001",)
    renamed = [
        dataclasses.replace(m, name="济南市税务局") if m.name == "国家税务总局济南市税务局" else m for m in members
    ]
    assert unhandled_matters(catalog, renamed) == ("370100-FPSL-001",)
    admins = [m for m in members if Role.ADMIN in m.roles]
    assert unhandled_matters(catalog, admins) == tuple(catalog.matters)


def test_a_partner_of_this_region_would_name_registered_departments_matters() -> None:
    """`zzgw init` warns of it: the Guangzhou partner given region 370100 could name every Jinan department's matter."""
    import dataclasses

    from gateway.domain.model import Role
    from gateway.server import partners_over_members
    from gateway.services.members import load_bootstrap_catalog, load_demo_members

    catalog, members = load_bootstrap_catalog(), load_demo_members()
    assert partners_over_members(catalog, members) == ()
    misplaced = [dataclasses.replace(m, region="370100") if Role.PARTNER in m.roles else m for m in members]
    assert partners_over_members(catalog, misplaced) == tuple(c for c in catalog.matters if c.startswith("370100-"))


def test_init_names_a_partner_whose_region_has_no_matter() -> None:
    """A partner registered for a region no matter of the catalog is in had every call refused, and `zzgw init`
    said nothing (a partner-gateway tester); a province's partner has its cities' matters."""
    import dataclasses

    from gateway.domain.model import Role
    from gateway.server import idle_partners
    from gateway.services.members import load_bootstrap_catalog, load_demo_members

    catalog, members = load_bootstrap_catalog(), load_demo_members()
    assert idle_partners(catalog, members) == ()
    (partner,) = [m for m in members if Role.PARTNER in m.roles]
    elsewhere = [dataclasses.replace(partner, region=region) for region in ("450100", "440000", "440300")]
    assert idle_partners(catalog, elsewhere) == (f"{partner.code} 450100", f"{partner.code} 440300")


@contextlib.contextmanager
def logging_as_configured_at_debug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The gateway's logging as ``configure_logging`` makes it at ZZGW_LOG_LEVEL=debug, in this process (the root
    logger at DEBUG, its handlers, pytest's caplog among them, filtered); put back after, for the tests this process
    runs next (one that counted the access log's lines had read lines from before it turned it on)."""
    from gateway.config import Settings
    from gateway.logs import database_details_cut
    from gateway.server import _DOCUMENT_LIBRARIES, configure_logging, library_tracebacks_cut

    # configure_logging sets these loggers' levels, filters the root's handlers and sets the exception hooks
    names = ("", "zzgw.access", *_DOCUMENT_LIBRARIES)
    root, saved = logging.getLogger(), {n: logging.getLogger(n).level for n in names}
    monkeypatch.setattr(logging, "basicConfig", lambda **_: root.setLevel(logging.DEBUG))
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)
    monkeypatch.setattr(threading, "excepthook", threading.excepthook)
    try:
        configure_logging(Settings(data_dir=tmp_path, log_level="debug"))  # type: ignore[arg-type]
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        for handler in root.handlers:
            handler.removeFilter(library_tracebacks_cut)
            handler.removeFilter(database_details_cut)
        if logging.lastResort is not None:
            logging.lastResort.removeFilter(database_details_cut)


def test_pyhankos_debug_chatter_is_left_out_at_debug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """At ZZGW_LOG_LEVEL=debug pyHanko traced each object of each document a caller sent (~1,200 lines a minute).
    Pillow, which reads the QR photos clerks upload, logged each TIFF tag and each JPEG EXIF tag with its value (a
    reviewer, security R1): capped as pyHanko is."""
    with logging_as_configured_at_debug(monkeypatch, tmp_path):
        root = logging.getLogger()
        assert root.level == logging.DEBUG
        assert logging.getLogger("pyhanko").level == logging.getLogger("pyhanko_certvalidator").level == logging.WARNING
        assert not logging.getLogger("pyhanko.sign.validation").isEnabledFor(logging.DEBUG)
        assert logging.getLogger("PIL").level == logging.WARNING
        assert not logging.getLogger("PIL.TiffImagePlugin").isEnabledFor(logging.DEBUG)


def test_a_log_line_is_timed_in_beijing_time_with_its_offset_and_names_its_process(tmp_path: Path) -> None:
    """A log line's time followed the process's TZ, with no zone: the same moment read 01:10 under TZ=UTC and 09:10
    under Asia/Shanghai (a time tester). It is Beijing time with its offset, under any TZ. With ZZGW_WORKERS > 1 every
    worker logs its own readiness and errors: two identical lines had not said whether one worker failed twice or
    each once (an on-call tester), so the line names the pid of the process that wrote it."""
    script = (
        "import logging; from pathlib import Path; from gateway.config import Settings; "
        "from gateway.server import configure_logging; "
        f"configure_logging(Settings(data_dir=Path({str(tmp_path)!r}))); "
        "logging.getLogger('zzgw.access').warning('one')"
    )
    for zone in ("UTC", "America/Los_Angeles", "Asia/Shanghai"):
        before = dt.datetime.now(dt.UTC)
        with subprocess.Popen(
            [sys.executable, "-c", script], env={**os.environ, "TZ": zone}, stderr=subprocess.PIPE, text=True
        ) as process:
            _, stderr = process.communicate(timeout=60)
        found = re.fullmatch(
            r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00) \[(\d+)\] WARNING zzgw.access one\n", stderr
        )
        assert found, (zone, stderr)
        at = dt.datetime.fromisoformat(found[1])
        assert before - dt.timedelta(seconds=1) <= at <= dt.datetime.now(dt.UTC), zone
        assert int(found[2]) == process.pid


def test_every_log_record_is_one_line_a_third_partys_and_a_traceback_too(tmp_path: Path) -> None:
    """psycopg's WARNING when PostgreSQL restarts spans four lines (libpq's message), the lines after the first with no
    time, pid, level or logger, which line-based shippers (journald, Loki) keep as records of their own (a
    multi-replica tester, D5). Every record is one line: its line breaks written as ``\\n``; the access log's JSON
    untouched."""
    script = tmp_path / "logs.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, logging
            from pathlib import Path
            from gateway.config import Settings
            from gateway.server import configure_logging

            configure_logging(Settings(data_dir=Path({str(tmp_path)!r})))
            logging.getLogger("psycopg").warning(
                "error ignored terminating <psycopg.Pipeline [BAD] at 0x7f90>: flush request failed: server closed "
                "the connection unexpectedly\\n\\tThis probably means the server terminated abnormally\\n\\tbefore "
                "or while processing the request.\\r\\nno connection to the server"
            )
            logging.getLogger("zzgw.access").warning(json.dumps({{"said": 'a "quoted" \\\\ line\\nbreak'}}))
            try:
                1 / 0
            except ZeroDivisionError:
                logging.getLogger("zzgw.error").exception("failed")
            """
        ),
        encoding="utf-8",
    )
    with subprocess.Popen([sys.executable, str(script)], stderr=subprocess.PIPE, text=True) as process:
        _, stderr = process.communicate(timeout=60)
    lines = stderr.splitlines()
    assert len(lines) == 3, stderr
    prefix = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00 \[\d+\] "
    assert re.fullmatch(prefix + r"WARNING psycopg error ignored terminating .*", lines[0]), lines[0]
    assert lines[0].endswith(
        "unexpectedly\\n\tThis probably means the server terminated abnormally\\n\tbefore or while processing the "
        "request.\\r\\nno connection to the server"
    ), lines[0]
    access = re.fullmatch(prefix + r"WARNING zzgw\.access (.*)", lines[1])
    assert access and json.loads(access[1]) == {"said": 'a "quoted" \\ line\nbreak'}, lines[1]
    assert re.fullmatch(prefix + r"ERROR zzgw\.error failed\\nTraceback \(most recent call last\):\\n.*", lines[2])
    assert lines[2].endswith(r"\nZeroDivisionError: division by zero"), lines[2]


def test_a_store_outage_is_logged_once_per_reason_and_interval() -> None:
    """Every call refused for the store had logged a WARNING of its own (some 200 lines in a 10 s outage): one line
    per reason per interval now, saying how many calls it stands for."""
    from gateway.logs import OncePer

    lines = OncePer(0.2)
    assert [lines.allow("DATABASE_UNAVAILABLE") for _ in range(3)] == [0, None, None]
    assert lines.allow("STORE_FULL") == 0  # another reason is said at once
    time.sleep(0.25)
    assert lines.allow("DATABASE_UNAVAILABLE") == 2  # the two left out, said with the next line
    assert lines.allow("DATABASE_UNAVAILABLE") is None
