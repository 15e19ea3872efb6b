"""Requests naming more entries than could be valid: a map of fields, a list of fields to clear or to ask for, a list
of license types to watch. Each bad entry had been a violation of its own, all of them built, sorted and formatted
though 16 are sent: 300,000 unknown keys took 7 s and 180 MB to refuse, six such calls 1.1 GB and a plain call
sent meanwhile waited 9.6 s (a reviewer, R2). Past ``MAX_NAMED`` (and past what the catalog could make valid) the
request is refused with one violation, TOO_MANY, naming the field and the limit, before any entry is looked at; an
integration's row of some tens of unknown columns is still named column by column."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest

from adapters.records import issue_request
from gateway.bootstrap import samples
from gateway.domain import validation
from gateway.domain.validation import MAX_NAMED
from gateway.services import issuance as issuance_service
from protos.zzgw.v1 import authorization_pb2, issuance_pb2
from tests.api.test_issuance import unique
from tests.api.test_sharing import BDCZY, ID_CARD, REAL_ESTATE, authorization
from tests.conftest import MARKET, TAX, RunningGateway, error_details


def refused(call: Any) -> tuple[grpc.StatusCode, list[tuple[str, str]], str]:
    with pytest.raises(grpc.RpcError) as caught:
        call()
    return caught.value.code(), error_details(caught.value)[1], caught.value.details() or ""


def too_many(field: str, count: int) -> str:
    """The words of the refusal of ``count`` entries at ``field``."""
    limit = f"{MAX_NAMED:,}"
    return f"{field}: {field}至多{limit}项，所给{count:,}项（{field} holds {count:,} entries: at most {limit}）"


@pytest.fixture
def unknown_fields_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keys an UNKNOWN_FIELD violation is built for, in this process (the gateway's)."""
    built: list[str] = []
    real = validation.unknown_field

    def counted(where: str, license_type: Any, key: str) -> Any:
        built.append(key)
        return real(where, license_type, key)

    monkeypatch.setattr(validation, "unknown_field", counted)
    monkeypatch.setattr(issuance_service, "unknown_field", counted)
    return built


def test_an_issue_of_more_field_keys_than_could_be_valid_is_refused_as_one(
    running: RunningGateway, unknown_fields_built: list[str]
) -> None:
    assert MAX_NAMED == 1_000
    record = unique(samples.business_license(81))
    known = len(record["fields"])
    stub = running.issuance(MARKET)
    for extra in (MAX_NAMED + 1 - known, 100_000):
        request = issue_request(record)
        request.fields.update({f"k{n}": "v" for n in range(extra)})
        code, violations, message = refused(lambda request=request: stub.IssueLicense(request))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("fields", "TOO_MANY")])
        assert message == too_many("fields", known + extra)
    assert unknown_fields_built == []  # no key looked at
    # at the limit, each unknown key is named, as before (the first 16, and how many more)
    request = issue_request(record)
    request.fields.update({f"k{n:04d}": "v" for n in range(MAX_NAMED - known)})
    code, violations, message = refused(lambda: stub.IssueLicense(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and violations[0] == ("fields.k0000", "UNKNOWN_FIELD")
    assert len(unknown_fields_built) == MAX_NAMED - known
    left = MAX_NAMED - known - len(violations)
    assert message.endswith(f"（另有{left}项有误，and {left} more bad fields）")


def test_a_batch_item_of_more_field_keys_than_could_be_valid_is_refused_as_one(
    running: RunningGateway, unknown_fields_built: list[str]
) -> None:
    good, noisy = unique(samples.food_permit(82_001)), unique(samples.food_permit(82_002))
    items = [issue_request(noisy), issue_request(good)]
    items[0].fields.update({f"k{n}": "v" for n in range(20_000)})
    count = len(items[0].fields)
    replies = list(
        running.issuance(MARKET).BatchIssueLicenses(iter([issuance_pb2.BatchIssueLicensesRequest(licenses=items)]))
    )
    first, second = [result for reply in replies for result in reply.results]
    assert first.HasField("error") and second.HasField("license")
    assert (first.error.code, first.error.reason) == ("INVALID_ARGUMENT", "TOO_MANY")
    assert [(f.field, f.reason) for f in first.error.field_errors] == [("fields", "TOO_MANY")]
    assert first.error.message == too_many("fields", count)
    assert unknown_fields_built == []


def test_an_amendment_of_more_keys_than_could_be_valid_is_refused_as_one(
    running: RunningGateway, unknown_fields_built: list[str]
) -> None:
    stub = running.issuance(MARKET)
    license = stub.IssueLicense(issue_request(unique(samples.business_license(83)))).license

    def amend(**change: Any) -> Any:
        request_id = "amend-" + uuid.uuid4().hex
        request = issuance_pb2.AmendLicenseRequest(request_id=request_id, license_id=license.license_id, **change)
        return lambda: stub.AmendLicense(request)

    count = MAX_NAMED + 1
    code, violations, message = refused(amend(fields={f"k{n}": "v" for n in range(count)}, reason="变更"))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("fields", "TOO_MANY")])
    assert message == too_many("fields", count)
    keys = [f"k{n}" for n in range(50_000)]
    code, violations, message = refused(amend(clear_fields=keys, reason="变更"))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("clear_fields", "TOO_MANY")])
    assert message == too_many("clear_fields", 50_000)
    assert unknown_fields_built == []
    # the same key many times is one key: cleared, as once (a field the license has and its type may leave empty)
    optional = "registered_capital"
    assert optional in license.fields
    amended = stub.AmendLicense(
        issuance_pb2.AmendLicenseRequest(
            request_id="amend-" + uuid.uuid4().hex,
            license_id=license.license_id,
            clear_fields=[optional] * 5_000,
            reason="变更",
        )
    )
    assert optional not in amended.license.fields


def test_an_access_request_of_more_fields_than_could_be_valid_is_refused_as_one(running: RunningGateway) -> None:
    stub = authorization(running, REAL_ESTATE)
    for fields in ([f"f{n}" for n in range(MAX_NAMED + 1)], [f"f{n}" for n in range(50_000)]):
        request = authorization_pb2.RequestAccessRequest(use=BDCZY, type_code=ID_CARD, duration_days=30, fields=fields)
        code, violations, message = refused(lambda request=request: stub.RequestAccess(request))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("fields", "TOO_MANY")])
        assert message == too_many("fields", len(fields))
    # the same key many times is one key: named once, at its first place, as before (no field of the type at all:
    # UNKNOWN_FIELD, review sharing R2)
    request = authorization_pb2.RequestAccessRequest(
        use=BDCZY, type_code=ID_CARD, duration_days=30, fields=["bogus"] * 50_000
    )
    code, violations, _ = refused(lambda: stub.RequestAccess(request))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("fields[0]", "UNKNOWN_FIELD")])


def test_a_watch_of_more_types_than_could_be_valid_is_refused_as_one(running: RunningGateway) -> None:
    stub = running.issuance(TAX)
    for count in (MAX_NAMED + 1, 50_000):
        codes = [f"{n:021d}" for n in range(count)]
        stream = stub.WatchLicenseChanges(issuance_pb2.WatchLicenseChangesRequest(type_codes=codes), timeout=30)
        code, violations, message = refused(lambda stream=stream: next(stream))
        assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_codes", "TOO_MANY")])
        assert message == too_many("type_codes", count)
    # one unknown code many times is one code: named once, at its first place
    stream = stub.WatchLicenseChanges(
        issuance_pb2.WatchLicenseChangesRequest(type_codes=["111000009910000354999"] * 50_000), timeout=30
    )
    code, violations, _ = refused(lambda: next(stream))
    assert (code, violations) == (grpc.StatusCode.INVALID_ARGUMENT, [("type_codes[0]", "UNKNOWN_LICENSE_TYPE")])
