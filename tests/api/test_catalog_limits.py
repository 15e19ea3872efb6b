"""A catalog whose listings would not fit the message limit is refused at start-up, in one line; a listing past it
is REPLY_TOO_LARGE. A catalog of thousands of license types had loaded, and every ListLicenseTypes then failed with
gRPC's bare RESOURCE_EXHAUSTED, logged OK, stopping `zzgw import` and `zzgw verify` (a reviewer, R3)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from gateway.api.catalog import CatalogServicer
from gateway.config import ConfigError, Settings
from gateway.domain.catalog import Catalog
from gateway.domain.errors import ResourceExhaustedError
from gateway.server import Gateway
from protos.zzgw.v1 import catalog_pb2
from tests.conftest import PASSPHRASE

SMALLEST_LIMIT = 2 * 1024 * 1024
BOOTSTRAP = Path(__file__).resolve().parents[2] / "gateway" / "bootstrap" / "catalog.json"


def big_catalog_mapping(types: int) -> dict[str, Any]:
    """The bootstrap catalog and ``types`` copies of one of its license types, each under a code of its own."""
    raw = json.loads(BOOTSTRAP.read_text(encoding="utf-8"))
    base = raw["license_types"][2]
    taken = {t["code"] for t in raw["license_types"]}
    codes = (
        f"{prefix}{n:03d}"
        for prefix in sorted({t["code"][:18] for t in raw["license_types"]})
        for n in range(1, 1000)
        if f"{prefix}{n:03d}" not in taken
    )
    for i, code in zip(range(types), codes, strict=False):
        added = copy.deepcopy(base)
        added.update(code=code, name=f"测试证照{i}")
        added.pop("name_en", None)
        raw["license_types"].append(added)
    return raw


def big_catalog(types: int) -> Catalog:
    return Catalog.from_mapping(big_catalog_mapping(types))


def test_a_catalog_whose_listing_passes_the_message_limit_is_refused_at_start_up(tmp_path: Path) -> None:
    catalog = big_catalog(3_500)  # ~650 bytes a type: past 2 MiB
    settings = Settings(  # type: ignore[arg-type]
        data_dir=tmp_path / "var",
        database_url=f"sqlite:///{tmp_path / 'zzgw.db'}",
        key_passphrase=PASSPHRASE,
        max_message_bytes=SMALLEST_LIMIT,
    )
    with pytest.raises(ConfigError) as refused:
        Gateway.open(settings, catalog=catalog)
    said = str(refused.value)
    assert "\n" not in said and "ListLicenseTypes" in said and "ZZGW_MAX_MESSAGE_BYTES" in said
    assert not (tmp_path / "zzgw.db").exists()  # refused before the store is opened
    servicer = CatalogServicer(catalog, max_message_bytes=SMALLEST_LIMIT)  # served anyway: refused, with a reason
    with pytest.raises(ResourceExhaustedError) as too_large:
        servicer.ListLicenseTypes(catalog_pb2.ListLicenseTypesRequest(), None)  # type: ignore[arg-type]
    assert too_large.value.reason == "REPLY_TOO_LARGE"
    listed = CatalogServicer(catalog, max_message_bytes=4 * 1024 * 1024).ListLicenseTypes(
        catalog_pb2.ListLicenseTypesRequest(),
        None,  # type: ignore[arg-type]
    )
    assert len(listed.license_types) == len(catalog.license_types)


def test_catalog_check_refuses_a_catalog_whose_listing_passes_the_message_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from gateway.cli import _catalog_check

    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(big_catalog_mapping(3_500), ensure_ascii=False), encoding="utf-8")
    settings = Settings(  # type: ignore[arg-type]
        data_dir=tmp_path / "var", database_url=f"sqlite:///{tmp_path / 'zzgw.db'}", max_message_bytes=SMALLEST_LIMIT
    )
    assert _catalog_check(path, lambda: settings) == 2
    said = capsys.readouterr()
    # nothing on standard output: it had said "OK, 3,510 license types …" there, then refused the file on standard
    # error, and a script reading the first line took it as good (a reviewer, catalogrev R3)
    assert said.out == ""
    lines = said.err.splitlines()
    assert len(lines) == 1, said.err
    assert lines[0].startswith(
        f"zzgw catalog check: refused: catalog {path} cannot be served: its ListLicenseTypes reply would have "
    ), said.err
    assert lines[0].endswith(
        f"bytes, more than the message limit of {SMALLEST_LIMIT} (ZZGW_MAX_MESSAGE_BYTES): raise the limit or split "
        "the catalog"
    ), said.err
