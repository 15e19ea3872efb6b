"""``GET /metrics``: a real gateway's calls counted by method and status code, its HTTP requests by route (never the
raw path), readiness and open license watchers; nothing personal in a scrape; and with two workers (a real ``zzgw
serve``), every scrape, whichever worker answers it, counts the calls both of them served."""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import free_port, wait_serving
from benchmarks.verify import worker_pids
from gateway.metrics import SHARED_MEMORY
from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc, issuance_pb2, verification_pb2
from tests.api.test_verification import FPSL, batch_issue, change, claim, printout, verifier, verify
from tests.api.test_verification import USE as FOOD_USE
from tests.api.test_verification import issue_for_invoices as issue
from tests.commands import run_zzgw
from tests.conftest import MARKET, PORTAL, TAX, RunningGateway, http_side

ROOT = Path(__file__).resolve().parent.parent
VERIFY = "/zzgw.v1.VerificationService/VerifyLicense"
ISSUE = "/zzgw.v1.IssuanceService/IssueLicense"
LIST_TYPES = "/zzgw.v1.CatalogService/ListLicenseTypes"
USE = {"matter_code": FPSL, "purpose": "发票申领窗口核验", "operator": "窗口03 王敏"}

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def fetch(url: str, body: object = None, token: str = "") -> tuple[int, bytes, str]:
    """The status, body and content type of one request (a POST of ``body`` as JSON when given)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = json.dumps(body).encode() if body is not None else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers), timeout=30) as answer:
            return answer.status, answer.read(), answer.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def scrape(base: str) -> tuple[str, Samples]:
    """``/metrics`` as text, and its samples by name and labels (parsed as Prometheus parses it)."""
    status, body, kind = fetch(f"{base}/metrics")
    assert status == 200 and kind.startswith("text/plain; version=0.0.4"), (status, kind)
    text = body.decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:  # an empty label is none, as Prometheus reads it (the reason of most calls)
            samples[sample.name, tuple(sorted((k, v) for k, v in sample.labels.items() if v))] = sample.value
    return text, samples


CERTIFICATE_ENDS = "zzgw_member_certificate_expiry_seconds{"
"""The one family whose label names a member (each registered member's certificate's end): no call's."""


def of_calls(text: str) -> str:
    """A scrape's text without the members' certificate ends."""
    return "\n".join(line for line in text.splitlines() if CERTIFICATE_ENDS not in line)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, have), v in samples.items() if n == name and wanted <= set(have))


@pytest.fixture(scope="module")
def http(running: RunningGateway) -> Iterator[str]:
    with http_side(running) as base:
        yield base


def test_calls_and_requests_are_counted_by_method_code_and_route(running: RunningGateway, http: str) -> None:
    _, before = scrape(http)
    issued = issue(running, 1).license
    report = verifier(running).VerifyLicense(
        verification_pb2.VerifyLicenseRequest(
            use=verification_pb2.UseContext(matter_code="370100-SPJC-001", purpose="食品生产经营监督检查"),
            license_id=issued.license_id,
        )
    )
    assert report.report.license.license_id == issued.license_id
    with pytest.raises(grpc.RpcError) as refused:  # a holder portal may not verify
        verifier(running, PORTAL).VerifyLicense(
            verification_pb2.VerifyLicenseRequest(
                use=verification_pb2.UseContext(matter_code=FPSL, purpose="发票申领"), license_id=issued.license_id
            )
        )
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    status, _, _ = fetch(f"{http}/console/api/verify", {"use": USE, "query": issued.license_id}, running.tokens[TAX])
    assert status == 200
    assert fetch(f"{http}/console/api/session", token=running.tokens[PORTAL])[0] == 403
    # paths that are no route, one with a license number and one with a holder code in it: counted as "other"
    assert fetch(f"{http}/licenses/{issued.license_number}")[0] == 404
    assert fetch(f"{http}/console/api/verify/{issued.holder.code}")[0] == 404
    assert fetch(f"{http}/readyz")[0] == 200
    text, after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("zzgw_grpc_calls_total", method=ISSUE, code="OK") == 1
    assert moved("zzgw_grpc_calls_total", method=VERIFY, code="OK") == 1
    assert moved("zzgw_grpc_calls_total", method=VERIFY, code="PERMISSION_DENIED") == 1
    assert total(after, "zzgw_grpc_calls_total") - total(before, "zzgw_grpc_calls_total") == 3  # nothing else
    assert moved("zzgw_grpc_call_seconds_count", method=VERIFY) == 2
    assert moved("zzgw_grpc_call_seconds_count", method=ISSUE) == 1
    assert moved("zzgw_grpc_call_seconds_bucket", method=VERIFY, le="+Inf") == 2
    assert 0 < moved("zzgw_grpc_call_seconds_sum", method=VERIFY) < 30
    http_moves = {
        (labels["route"], labels["status"]): after[key] - before.get(key, 0.0)
        for key in after
        if key[0] == "zzgw_http_requests_total" and after[key] != before.get(key, 0.0)
        for labels in [dict(key[1])]
    }
    assert http_moves == {
        ("/metrics", "200"): 1,  # the scrape before (a scrape counts itself once answered)
        ("/console/api/verify", "200"): 1,
        ("/console/api/session", "403"): 1,
        ("other", "404"): 1,
        ("/console/", "404"): 1,
        ("/readyz", "200"): 1,
    }
    # the gRPC verification and the console's each committed one receipt
    assert moved("zzgw_group_commit_items_sum", writer="receipts") == 2
    assert 1 <= moved("zzgw_group_commit_items_count", writer="receipts") <= 2
    assert value(after, "zzgw_ready") == 1
    assert value(after, "process_resident_memory_bytes") > 0 and value(after, "process_open_fds") > 0
    for personal in (issued.license_number, issued.holder.code, issued.holder.name, issued.license_id, MARKET, TAX):
        assert personal not in of_calls(text), personal


def test_verdicts_are_counted_by_the_finding_that_decided_them(running: RunningGateway, http: str) -> None:
    """A failed check is an answered call (``code="OK"``): metrics had not told a verification PASSED from FAILED, so
    a rise of tampered documents or revoked licenses showed nowhere (a monitoring tester). Reports are counted by
    verdict and the finding that decided it, by gRPC and by the console (as the method it stands for); claims by the
    provincial result."""
    _, before = scrape(http)
    valid, revoked = batch_issue(running, 31), batch_issue(running, 32)
    change(running, revoked, issuance_pb2.STATUS_ACTION_REVOKE)
    assert verify(running, license_id=valid).verdict == verification_pb2.CHECK_RESULT_PASSED
    assert verify(running, license_id=revoked).reason == "REVOKED"
    issued = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=valid)).license
    unknown = verify(running, type_code=issued.type_code, license_number="SC-NO-SUCH-NUMBER")
    assert unknown.reason == "LICENSE_NOT_FOUND"
    unsealed = verifier(running).VerifyDocument(
        verification_pb2.VerifyDocumentRequest(use=FOOD_USE, pdf=printout(valid, "FOOD PERMIT"))
    )
    assert unsealed.report.reason == "NO_SIGNATURE"
    use = {"matter_code": FOOD_USE.matter_code, "purpose": FOOD_USE.purpose, "operator": "窗口03 王敏"}
    status, body, _ = fetch(f"{http}/console/api/verify", {"use": use, "query": revoked}, running.tokens[MARKET])
    assert status == 200, body
    claimed = {"type_code": issued.type_code, "license_number": issued.license_number}
    assert claim(running, holder_code=issued.holder.code, **claimed).code == 0
    other = running.issuance(MARKET).GetLicense(issuance_pb2.GetLicenseRequest(license_id=revoked)).license
    assert claim(running, holder_code=other.holder.code, **claimed).code == 7
    _, after = scrape(http)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    verifications = {
        tuple(dict(key[1]).get(label, "") for label in ("method", "verdict", "finding")): v - before.get(key, 0.0)
        for key, v in after.items()
        if key[0] == "zzgw_verifications_total" and v != before.get(key, 0.0)
    }
    document = "/zzgw.v1.VerificationService/VerifyDocument"
    assert verifications == {
        (VERIFY, "PASSED", ""): 1,
        (VERIFY, "FAILED", "status"): 3,  # revoked, unknown, and revoked again at the console
        (document, "FAILED", "integrity"): 1,
    }
    assert moved("zzgw_claim_checks_total", result="CORRECT_AND_VALID") == 1
    assert moved("zzgw_claim_checks_total", result="PARTLY_WRONG") == 1
    assert total(after, "zzgw_claim_checks_total") - total(before, "zzgw_claim_checks_total") == 2


def test_the_claim_results_counted_are_the_provincial_codes() -> None:
    from gateway.domain.verification import ClaimResult
    from gateway.metrics import CLAIM_RESULTS

    assert tuple(result.name for result in ClaimResult) == CLAIM_RESULTS


def test_unavailable_calls_are_counted_by_their_reason_from_a_fixed_set(running: RunningGateway, http: str) -> None:
    """UNAVAILABLE had been one count for a database outage, a full disk, a store gone, a TSA outage and a stop (an
    on-call tester): it is counted by the refusal's reason, one of the gateway's own (anything else ``other``, so
    no label takes a value the code does not name, nor none: that series was not started at 0, a reviewer); the other
    codes by none."""
    from gateway import metrics

    _, before = scrape(http)
    metrics.record_call(ISSUE, "UNAVAILABLE", 0.01, "TSA_UNAVAILABLE")
    metrics.record_call(ISSUE, "UNAVAILABLE", 0.01, "SOMETHING_A_CLIENT_MADE_UP")
    metrics.record_call(ISSUE, "UNAVAILABLE", 0.01)  # none said, as by a handler that aborts: not a series of its own
    metrics.record_call(ISSUE, "FAILED_PRECONDITION", 0.01, "SEAL_KEY_UNREADABLE")
    text, after = scrape(http)

    def moved(**labels: str) -> float:
        return value(after, "zzgw_grpc_calls_total", **labels) - value(before, "zzgw_grpc_calls_total", **labels)

    assert moved(method=ISSUE, code="UNAVAILABLE", reason="TSA_UNAVAILABLE") == 1
    assert moved(method=ISSUE, code="UNAVAILABLE", reason="other") == 2  # started at 0, as the empty one was not
    assert f'zzgw_grpc_calls_total{{code="UNAVAILABLE",method="{ISSUE}",reason=""}}' not in text
    assert moved(method=ISSUE, code="FAILED_PRECONDITION") == 1  # (tests/api/test_documents.py: a real TSA outage)


def test_a_method_the_gateway_does_not_serve_is_answered_logged_and_counted(
    running: RunningGateway, http: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A client built from older protos calling a method the gateway lacks had been answered by gRPC itself
    ("Method not found!") and appeared in neither the access log nor the metrics (an on-call tester): UNIMPLEMENTED
    / UNKNOWN_METHOD, Chinese first, one access line naming it, and a count under method ``other`` (its name is the
    client's: no label takes it), whatever the call's shape and credentials."""
    from tests.conftest import error_details

    _, before = scrape(http)
    caplog.set_level(logging.INFO, logger="zzgw.access")
    old = "/zzgw.v1.IssuanceService/IssueLicenseV0"
    channel = running.channel(MARKET)
    unary = channel.unary_unary(old, request_serializer=bytes, response_deserializer=bytes)
    streaming = running.channel(None).stream_stream(
        "/zzgw.v9.Nothing/Here\u202e", request_serializer=bytes, response_deserializer=bytes
    )
    for call in (lambda: unary(b"", timeout=10), lambda: list(streaming(iter([b"x", b"y"]), timeout=10))):
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
        assert error_details(refused.value)[0].reason == "UNKNOWN_METHOD"
        assert (refused.value.details() or "").startswith("证照网关没有这个方法：/zzgw.v")
    text, after = scrape(http)
    moved = value(after, "zzgw_grpc_calls_total", method="other", code="UNIMPLEMENTED") - value(
        before, "zzgw_grpc_calls_total", method="other", code="UNIMPLEMENTED"
    )
    assert moved == 2 and "IssueLicenseV0" not in text and "Nothing" not in text
    logged = [json.loads(r.getMessage()) for r in caplog.records if r.name == "zzgw.access"]
    assert [(line["method"], line["code"], line["reason"]) for line in logged] == [
        ("/zzgw.v1.IssuanceService/other", "UNIMPLEMENTED", "UNKNOWN_METHOD"),  # a known service: said
        ("other", "UNIMPLEMENTED", "UNKNOWN_METHOD"),  # the name is the client's (unknown_method_logged)
    ]


def test_an_unknown_methods_path_is_not_written_to_the_access_log(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    """The path of a method the gateway lacks is the client's text, sent before any credential is checked: it had
    been logged as sent, so a caller without a token wrote a 公民身份号码 into the access log, promised to hold nothing
    personal (a privacy auditor, D6). Logged as its service and ``other`` when the service is the gateway's, else
    ``other``, with its length; the caller's own ErrorInfo still names it."""
    from tests.conftest import error_details

    caplog.set_level(logging.INFO, logger="zzgw.access")
    number = "370102198605047863"
    sent = {
        f"/zzgw.v1.VerificationService/Verify{number}": "/zzgw.v1.VerificationService/other",
        f"/x.Y/Z-{number}": "other",
        f"/zzgw.v1.VerificationService/{number}/x": "other",  # no such service
    }
    for path in sent:
        for channel in (running.channel(MARKET), running.channel(None)):
            with pytest.raises(grpc.RpcError) as refused:
                channel.unary_unary(path, request_serializer=bytes, response_deserializer=bytes)(b"", timeout=10)
            assert refused.value.code() is grpc.StatusCode.UNIMPLEMENTED
            assert error_details(refused.value)[0].metadata["method"] == path  # told to the caller alone
    lines = [r.getMessage() for r in caplog.records if r.name == "zzgw.access"]
    assert [(json.loads(line)["method"], json.loads(line)["method_length"]) for line in lines] == [
        (logged, len(path)) for path, logged in sent.items() for _ in range(2)
    ]
    assert not any(number in r.getMessage() or number[6:14] in r.getMessage() for r in caplog.records)


def given_to(function: str, keyword: str = "") -> set[str]:
    """Every constant the code passes to ``function`` (a name or a method's), as its ``keyword`` or else its first
    argument, and the defaults of a function of that name."""
    import ast

    given = set()
    for path in [*(ROOT / "gateway").rglob("*.py"), *(ROOT / "adapters").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and function in (
                getattr(node.func, "id", ""),
                getattr(node.func, "attr", ""),
            ):
                values = [k.value for k in node.keywords if k.arg == keyword] if keyword else node.args[:1]
            elif isinstance(node, ast.FunctionDef) and node.name == function:
                values = list(node.args.defaults)
            else:
                continue
            given |= {v.value for v in values if isinstance(v, ast.Constant)}
    return given


def test_every_unavailable_reason_of_the_code_is_counted_by_name() -> None:
    """``UNAVAILABLE_REASONS`` is every reason an UpstreamUnavailableError of the code gives: a new one would be
    counted as ``other``."""
    from gateway.metrics import UNAVAILABLE_REASONS

    assert given_to("UpstreamUnavailableError", "reason") == UNAVAILABLE_REASONS


def test_every_cause_of_the_code_is_one_counted_from_zero() -> None:
    """The causes the code counts dropped connections and the change feed's lapses by are those whose series start at
    0 (``metrics.start_at_zero``): a new one would appear only at its first value, unseen by ``increase()``."""
    from gateway.metrics import FEED_LAPSE_CAUSES, HTTP_DROP_CAUSES

    assert given_to("record_http_dropped") == set(HTTP_DROP_CAUSES)
    assert given_to("_lapse") == set(FEED_LAPSE_CAUSES)


OPERATIONS = ROOT / "docs" / "operations.md"


def documented() -> dict[str, tuple[set[str], str]]:
    """operations.md's Metrics table: each family's labels and what it says of it (``process_*`` for a prefix)."""
    section = OPERATIONS.read_text(encoding="utf-8").split("\n## Metrics\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+\*?)` \|([^|]*)\| (.*) \|$", section, re.MULTILINE)
    return {name: (set(re.findall(r"`([a-z]+)`", labels)), what) for name, labels, what in rows}


def families(text: str) -> set[str]:
    """The families of a scrape, as operations.md names them (``process_*``, ``python_*`` for prometheus_client's)."""
    return {re.sub(r"^(process|python)_.*", r"\1_*", name) for name in re.findall(r"^# TYPE (\S+) ", text, re.M)}


def test_operations_md_names_every_metric_family_and_no_other(running: RunningGateway, http: str) -> None:
    """operations.md's metrics, their labels and the labels' fixed values are those of ``/metrics``: the change feed's
    lapses had been exported and named nowhere in it, ``CATALOG_CHANGED`` been counted by a reason it did not list,
    and its list for several workers left out the dropped connections (a monitoring tester)."""
    from gateway.metrics import (
        CLAIM_RESULTS,
        FEED_LAPSE_CAUSES,
        FINDINGS,
        HTTP_DROP_CAUSES,
        UNAVAILABLE_REASONS,
        VERDICTS,
    )

    text, _ = scrape(http)
    table = documented()
    assert families(text) == set(table)
    for family in text_string_to_metric_families(text):
        name = family.name + ("_total" if family.type == "counter" else "")
        if name in table:
            assert {label for s in family.samples for label in s.labels} - {"le"} <= table[name][0], name
    reasons = table["zzgw_grpc_calls_total"][1].split("`reason` says which:", 1)[1].split("(`other` for", 1)[0]
    assert set(re.findall(r"`([A-Z_]+)`", reasons)) == UNAVAILABLE_REASONS
    assert set(re.findall(r"`([a-z_]+)`", table["zzgw_http_dropped_total"][1])) == set(HTTP_DROP_CAUSES)
    assert set(re.findall(r"`([a-z_]+)`", table["zzgw_change_feed_lapses_total"][1])) == set(FEED_LAPSE_CAUSES)
    verdicts = table["zzgw_verifications_total"][1].split("`verdict` one of", 1)[1]
    said, findings = verdicts.split(", and `finding`", 1)
    assert set(re.findall(r"`([A-Z]+)`", said)) == set(VERDICTS)
    assert set(re.findall(r"`([a-z_]+)`", findings.split("empty for", 1)[0])) == set(FINDINGS)
    assert re.findall(r"`([A-Z_]+)` \((\d)\)", table["zzgw_claim_checks_total"][1]) == [
        (name, str(number)) for number, name in enumerate(CLAIM_RESULTS)
    ]
    several = OPERATIONS.read_text(encoding="utf-8").split("### Metrics of several workers and replicas\n", 1)[1]
    listed = re.findall(
        r"`((?:zzgw|process|python)_[a-z_]*\*?)(?:\{([a-z,]*)\})?`", several.strip().split("\n\n", 1)[0]
    )
    assert {name for name, _ in listed} == set(table)
    for name, labels in listed:
        assert set(filter(None, labels.split(","))) <= table[name][0], name


def test_open_license_watchers_are_a_gauge(running: RunningGateway, http: str) -> None:
    _, before = scrape(http)
    stream = running.issuance(MARKET).WatchLicenseChanges(issuance_pb2.WatchLicenseChangesRequest())
    try:
        deadline = time.monotonic() + 15
        while value(scrape(http)[1], "zzgw_license_watchers") != value(before, "zzgw_license_watchers") + 1:
            assert time.monotonic() < deadline, "the open stream was not counted"
            time.sleep(0.1)
    finally:
        stream.cancel()
    deadline = time.monotonic() + 15
    while value(scrape(http)[1], "zzgw_license_watchers") != value(before, "zzgw_license_watchers"):
        assert time.monotonic() < deadline, "the cancelled stream was still counted"
        time.sleep(0.1)


def scraped(directory: Path, pid: int) -> bool:
    """Whether worker ``pid`` has answered a scrape: its own file counts the requests it answered."""
    counts = directory / f"counter_{pid}.db"
    if not counts.exists():
        return False
    families = MultiProcessCollector.merge([str(counts)])
    return any(s.labels.get("route") == "/metrics" for family in families for s in family.samples)


def assert_counted_from_zero(samples: Samples) -> None:
    """A fresh gateway's scrape has each count whose labels are fixed in the code, at 0."""
    from gateway.metrics import (
        CLAIM_RESULTS,
        FEED_LAPSE_CAUSES,
        FINDINGS,
        HTTP_DROP_CAUSES,
        UNAVAILABLE_REASONS,
        VERIFYING_METHODS,
    )
    from gateway.server import SERVED_METHODS

    fixed = [("zzgw_http_dropped_total", {"cause": cause}) for cause in HTTP_DROP_CAUSES]
    fixed += [("zzgw_change_feed_lapses_total", {"cause": cause}) for cause in FEED_LAPSE_CAUSES]
    fixed += [
        ("zzgw_grpc_calls_total", {"method": method, "code": "UNAVAILABLE", "reason": reason})
        for method in SERVED_METHODS
        for reason in (*UNAVAILABLE_REASONS, "other")
    ]
    for method in VERIFYING_METHODS.values():
        fixed.append(("zzgw_verifications_total", {"method": method, "verdict": "PASSED"}))
        fixed += [
            ("zzgw_verifications_total", {"method": method, "verdict": verdict, "finding": finding})
            for verdict in ("FAILED", "INDETERMINATE")
            for finding in FINDINGS
        ]
    fixed += [("zzgw_claim_checks_total", {"result": result}) for result in CLAIM_RESULTS]
    for name, labels in fixed:
        assert samples.get((name, tuple(sorted(labels.items())))) == 0, (name, labels)


def started_at(pid: int) -> float:
    """When process ``pid`` started, Unix time, from ``/proc`` as prometheus_client reads it."""
    boot = next(
        float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime ")
    )
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    return boot + ticks / os.sysconf("SC_CLK_TCK")


Figures = dict[str, tuple[float, float]]


def of_each_process(samples: Samples, before: Figures, pids: list[int]) -> Figures:
    """A scrape of several workers has ``process_*`` of each and of the supervisor (``pids``), by ``worker``: each
    one's start time and CPU seconds, which never went down since ``before``'s, each series staying its process's
    (those of whichever worker answered had gone up and down between two scrapes: a monitoring tester)."""
    figures = {
        dict(labels)["worker"]: (v, value(samples, "process_cpu_seconds_total", **dict(labels)))
        for (name, labels), v in samples.items()
        if name == "process_start_time_seconds"
    }
    assert set(figures) == {"0", "1", "supervisor"}, figures
    starts = sorted(start for start, _ in figures.values())
    assert all(abs(a - b) < 0.02 for a, b in zip(starts, sorted(map(started_at, pids)), strict=True)), (figures, pids)
    for worker, (start, seconds) in before.items():
        assert figures[worker][0] == start and figures[worker][1] >= seconds, (worker, before, figures)
    assert all(value(samples, name) == 0 for name in ("process_cpu_seconds_total", "process_open_fds"))  # no bare one
    for name in ("process_resident_memory_bytes", "process_open_fds", "process_cpu_seconds_total"):
        assert {dict(labels).get("worker") for (n, labels) in samples if n == name} == set(figures), name
    return figures


@pytest.mark.slow
def test_every_scrape_of_two_workers_counts_the_calls_both_served(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_KEY_PASSPHRASE": "metrics-test-passphrase",
        "ZZGW_WORKERS": "2",
        "ZZGW_ACCESS_LOG": "false",
    }
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "not-there")  # the environment's own: ignored, not crashed on
    run_zzgw("init", env=env, check=True)
    stale = tmp_path / "var" / "metrics" / "counter_1.db"  # a former run's counts: not summed into this run's
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"\0" * 8)
    token = json.loads((tmp_path / "var" / "dev-tokens.json").read_text(encoding="utf-8"))["tokens"][TAX]["token"]
    grpc_port, http_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env={**env, "ZZGW_GRPC_ADDR": f"127.0.0.1:{grpc_port}", "ZZGW_HTTP_ADDR": f"127.0.0.1:{http_port}"},
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        wait_serving(f"127.0.0.1:{grpc_port}", process=process)
        workers = worker_pids(process.pid, 2, grpc_port)
        named = {
            Path(entry.split("=", 1)[1])
            for pid in workers
            for entry in Path(f"/proc/{pid}/environ").read_bytes().decode().split("\0")
            if entry.startswith("PROMETHEUS_MULTIPROC_DIR=")
        }
        (directory,) = named  # the supervisor's, one for both workers
        if SHARED_MEMORY.is_dir():  # apart from the store's disk: full, it had killed the workers (SIGBUS)
            assert directory.parent == SHARED_MEMORY and directory.name.startswith("zzgw-metrics-")
        else:
            assert directory == tmp_path / "var" / "metrics"
        calls = 0

        def served_grpc(pid: int) -> bool:  # a worker's histogram file is made by its first call
            return (directory / f"histogram_{pid}.db").exists()

        while not all(served_grpc(pid) for pid in workers):  # a new connection each time: spread by the kernel
            assert calls < 200, "the calls did not reach both workers"
            with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
                catalog_pb2_grpc.CatalogServiceStub(channel).ListLicenseTypes(
                    catalog_pb2.ListLicenseTypesRequest(), metadata=[("authorization", f"Bearer {token}")], timeout=10
                )
            calls += 1
        assert not stale.exists() or directory != stale.parent  # a former run's files are not summed in
        scrapes = 0
        figures: Figures = {}
        while scrapes < 6 or not all(scraped(directory, pid) for pid in workers):  # each a new connection, to either
            assert scrapes < 60, "the scrapes did not reach both workers"
            text, samples = scrape(base)
            if not scrapes:  # counts whose labels are fixed start at 0, not at their first value (increase() saw none)
                assert_counted_from_zero(samples)
            figures = of_each_process(samples, figures, [*workers, process.pid])
            assert families(text) <= set(documented()) - {"python_*"}
            assert value(samples, "zzgw_grpc_calls_total", method=LIST_TYPES, code="OK") == calls, text
            assert value(samples, "zzgw_grpc_call_seconds_count", method=LIST_TYPES) == calls
            assert value(samples, "zzgw_ready") == 1  # the least of the two
            assert value(samples, "zzgw_change_feed_listening") == 1  # SQLite: every change heard, by every worker
            assert value(samples, "zzgw_license_watchers") == 0
            assert total(samples, "zzgw_http_requests_total", route="/metrics") == scrapes  # those before it
            # a member's code labels its certificate's end alone (one series per registered member), no call's
            assert token not in text and TAX not in of_calls(text)
            assert f'{CERTIFICATE_ENDS}member="{TAX}"}}' in text
            scrapes += 1
        # a worker killed: its counts stay, its replacement's add to them
        os.kill(workers[0], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while workers[0] in worker_pids(process.pid, 2, grpc_port):
            assert time.monotonic() < deadline, "the killed worker was not replaced"
            time.sleep(0.2)
        assert not (directory / f"gauge_livemin_{workers[0]}.db").exists()  # its gauges left the scrape
        assert (directory / f"counter_{workers[0]}.db").exists()
        wait_serving(f"127.0.0.1:{grpc_port}", process=process)
        replaced = worker_pids(process.pid, 2, grpc_port)
        after = of_each_process(scrape(base)[1], {}, [*replaced, process.pid])
        (killed,) = (worker for worker in figures if after[worker][0] != figures[worker][0])
        assert killed != "supervisor" and after[killed][0] > figures[killed][0]
        del figures[killed]  # its replacement's, under its number: from 0 again, as any restarted process's
        for _ in range(6):
            _, samples = scrape(base)
            assert value(samples, "zzgw_grpc_calls_total", method=LIST_TYPES, code="OK") == calls
            figures = of_each_process(samples, figures, [*replaced, process.pid])
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    assert not directory.exists() or directory == stale.parent  # this run's own, gone with the supervisor


def test_a_killed_supervisors_metrics_directory_is_removed_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A supervisor killed with SIGKILL cannot remove its directory on /dev/shm (memory until the machine restarts;
    found at the last stop): the next one removes those whose lock nobody holds, and leaves those held (by a running
    supervisor, in any PID namespace: a pid had been judged in the sweeper's own, and a running gateway's directory
    removed; found in review), those just made and those it cannot judge."""
    import fcntl

    import gateway.metrics

    shared = tmp_path / "shm"
    shared.mkdir()
    monkeypatch.setattr(gateway.metrics, "SHARED_MEMORY", shared)
    monkeypatch.setenv(gateway.metrics.DIRECTORY_ENV, "")
    dead, running, fresh, unlocked = (shared / f"zzgw-metrics-{n}-a1b2" for n in (11, 12, 13, 14))
    for directory in (dead, running, fresh, unlocked):
        directory.mkdir()
        (directory / "counter_1.db").write_bytes(b"\0" * 16)
    for directory in (dead, running, fresh):
        (directory / ".alive").touch()
    long_ago = time.time() - 3600
    for directory in (dead, running, unlocked):
        os.utime(directory, (long_ago, long_ago))
    with open(running / ".alive") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running supervisor holds it
        made = gateway.metrics.prepare_directory(tmp_path / "fallback")
        assert not dead.exists()
        assert running.exists() and fresh.exists() and unlocked.exists()
        assert made.parent == shared and made.name.startswith(f"zzgw-metrics-{os.getpid()}-")
        assert os.environ[gateway.metrics.DIRECTORY_ENV] == str(made)
        with open(made / ".alive") as mine, pytest.raises(BlockingIOError):  # this run's own is held for its life
            fcntl.flock(mine, fcntl.LOCK_EX | fcntl.LOCK_NB)


def test_the_fallback_metrics_directory_is_the_gateways_alone_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a writable /dev/shm the workers' files go to ``var/metrics``: made with the umask, under ``umask 000``
    it was 0777 and its ``process-*.pid`` files 0666, another local user free to name another process the gateway's
    for the scrape, and the gateway's own init and serve warned of them (a review of the fix, fixrevstore R3)."""
    import gateway.metrics

    monkeypatch.setattr(gateway.metrics, "SHARED_MEMORY", tmp_path / "no-shm")
    monkeypatch.setenv(gateway.metrics.DIRECTORY_ENV, "")
    old = os.umask(0)
    try:
        made = gateway.metrics.prepare_directory(tmp_path / "var" / "metrics")
        gateway.metrics.process_started(made, "1", os.getpid())
    finally:
        os.umask(old)
    assert made == tmp_path / "var" / "metrics"
    assert made.stat().st_mode & 0o777 == 0o700
    assert {path.name: path.stat().st_mode & 0o777 for path in made.iterdir()} == {
        "process-supervisor.pid": 0o644,
        "process-1.pid": 0o644,
    }


def test_a_worker_that_never_served_leaves_no_metrics_file_of_zeros(tmp_path: Path) -> None:
    """Each replacement that could not start (tried every 30 s through an outage) had left its counter file in the
    run's metrics directory on /dev/shm until the gateway stopped, ~2,900 a day (a reviewer, R5). A worker that never
    served takes its files of nothing but zeros with it; one with a count (it counted as it started), and a served
    worker's, stay, so that no total the scrape sums goes down."""
    from prometheus_client.mmap_dict import MmapedDict, mmap_key

    import gateway.metrics

    def written(name: str, value: float) -> Path:
        path = tmp_path / name
        values = MmapedDict(str(path))
        values.write_value(mmap_key("zzgw_x_total", "zzgw_x_total", [], [], "x"), value, 0.0)
        values.close()
        return path

    zeros = written("counter_101.db", 0.0)
    written("histogram_101.db", 0.0)
    counted = written("counter_102.db", 3.0)
    histogram = written("histogram_102.db", 0.0)
    served = written("counter_103.db", 0.0)
    gateway.metrics.process_gone(tmp_path, 0, 101, served=False)
    gateway.metrics.process_gone(tmp_path, 0, 102, served=False)
    gateway.metrics.process_gone(tmp_path, 1, 103)
    assert not zeros.exists() and not (tmp_path / "histogram_101.db").exists()
    assert counted.exists()  # a count kept, and with it the process's other files (none is half taken away)
    assert histogram.exists()
    assert served.exists()


def test_a_scrape_reads_on_past_a_metrics_file_removed_as_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor removes the files of a worker that never served (f12b844); one removed between a scrape's
    listing of the directory and its reading of it had made /metrics answer 500 (FileNotFoundError; a review, R3). The
    scrape lists the directory again."""
    import prometheus_client.multiprocess

    from gateway.metrics import _WithoutRemoved

    listed = [[str(tmp_path / "counter_999999.db")]]  # listed, then gone before it is read
    real = prometheus_client.multiprocess.glob.glob
    monkeypatch.setattr(
        prometheus_client.multiprocess.glob, "glob", lambda pattern: listed.pop() if listed else real(pattern)
    )
    assert list(_WithoutRemoved(str(tmp_path)).collect()) == []
