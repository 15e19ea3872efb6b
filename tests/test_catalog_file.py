"""The catalog author's slips, through the real `zzgw init --adopt-catalog` on a store that serves the demo catalog:
each is refused with exit status 2 in one line naming the file, the entry and what to do, Chinese first, and the
store still serves the catalog it had; a file saved with a byte order mark is the same catalog, adopted as such.

The loader's every refusal is tested in ``tests/domain/test_catalog_data.py``; these are those a catalog author
tester found adopted silently, or said in words that did not point to the slip."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from benchmarks.common import free_port
from gateway.domain.catalog import fingerprint_of
from gateway.services.catalog_pin import CATALOG_FACT
from tests.commands import run_zzgw
from tests.domain.test_catalog_data import line_of

DEMO_FILE = Path(__file__).resolve().parent.parent / "gateway" / "bootstrap" / "catalog.json"
DEMO_TEXT = DEMO_FILE.read_text(encoding="utf-8")
DEMO: dict[str, Any] = json.loads(DEMO_TEXT)
PASSPORT = "111000009910000279001"  # 护照: 不予共享
FOOD = "111000009910000354002"  # 食品生产许可证
ID_CARD = "11100000991000019E001"  # 居民身份证


@dataclass(frozen=True)
class Store:
    url: str
    env: dict[str, str]
    directory: Path

    def adopt(self, name: str, content: bytes) -> tuple[Path, int, str]:
        """``zzgw init --adopt-catalog`` with ``content`` as the file ``name``: the file, exit status and stderr."""
        file = self.directory / name
        file.write_bytes(content)
        done = run_zzgw("init", "--adopt-catalog", env={**self.env, "ZZGW_CATALOG": str(file)}, timeout=120)
        return file, done.returncode, done.stderr

    def fingerprint(self) -> str:
        engine = create_engine(self.url)
        try:
            with engine.connect() as connection:
                query = text("SELECT value FROM gateway_facts WHERE name = :name")
                return str(connection.execute(query, {"name": CATALOG_FACT}).scalar())
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def store(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A store initialised with the demo catalog, as a file of ``ZZGW_CATALOG``."""
    directory = tmp_path_factory.mktemp("catalog-file")
    (directory / "catalog.json").write_text(DEMO_TEXT, encoding="utf-8")
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(directory / "var"),
        "ZZGW_DATABASE_URL": database_url,
        "ZZGW_CATALOG": str(directory / "catalog.json"),
        "ZZGW_KEY_PASSPHRASE": "catalog-file-test-passphrase",
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
    }
    made = run_zzgw("init", env=env, timeout=180)
    assert made.returncode == 0, made.stderr
    yield Store(url=database_url, env=env, directory=directory)


def edited(edit: Callable[[dict[str, Any]], object]) -> bytes:
    catalog = copy.deepcopy(DEMO)
    edit(catalog)
    return json.dumps(catalog, ensure_ascii=False, indent=2).encode("utf-8")


def of_type(catalog: dict[str, Any], code: str) -> dict[str, Any]:
    return next(t for t in catalog["license_types"] if t["code"] == code)


def field_of(catalog: dict[str, Any], code: str, key: str) -> dict[str, Any]:
    return next(f for f in of_type(catalog, code)["fields"] if f["key"] == key)


def with_a_second_passport(catalog: dict[str, Any], **changes: object) -> None:
    catalog["license_types"].append({**copy.deepcopy(of_type(catalog, PASSPORT)), **changes})


LAST = len(DEMO["license_types"]) + 1


DUPLICATE_NAME = DEMO_TEXT.replace('"name": "护照",', '"name": "护照",\n      "name": "护照（新版）",', 1)
SECOND_NAME = line_of(DUPLICATE_NAME, "护照（新版）")
SLIPS = [
    pytest.param(  # the last one had won silently
        DUPLICATE_NAME.encode("utf-8"),
        f'第 {SECOND_NAME} 行：键 "name" 在同一对象（code 为 {PASSPORT} 的一项中）写了两次，请删去或改正其中一个'
        f"（duplicate key 'name' at line {SECOND_NAME} in code {PASSPORT}）",
        id="a key twice in one object",
    ),
    pytest.param(  # had been adopted: two 护照 in ListLicenseTypes and the console
        edited(lambda c: with_a_second_passport(c, code=PASSPORT[:-3] + "009", name_en="")),
        f"证照类型 {PASSPORT} 与 {PASSPORT[:-3]}009 同名“护照”：证照类型的名称（name、name_en）须各不相同，"
        f"请改正其中一个（license types {PASSPORT} and {PASSPORT[:-3]}009 have the same name '护照'）",
        id="two types of one name",
    ),
    pytest.param(
        edited(lambda c: field_of(c, PASSPORT, "passport_type")["choices"].append("P")),
        f"证照类型 {PASSPORT} 的信息项 passport_type 的 choice"
        "s 中可选值“P”写了两次，请删去一个（field passport_type of "
        f"{PASSPORT}: choices: choice 'P' is listed twice）",
        id="a choice twice",
    ),
    pytest.param(
        edited(lambda c: c["matters"][0]["materials"].append(copy.deepcopy(c["matters"][0]["materials"][0]))),
        "事项 370100-QYKZ-001（企业印章刻制）的材料中证照类型 111000009910000354001 写了两次：每类证照只写一次，"
        "把所需的信息项合在一处（matter 370100-QYKZ-001: license type 111000009910000354001 is listed twice in "
        "materials: list it once, with every field the matter needs）",
        id="a type twice in one matter",
    ),
    pytest.param(  # had been: duplicate license type codes
        edited(lambda c: with_a_second_passport(c, name="护照（二）", name_en="")),
        f"证照类型代码 {PASSPORT} 写了两次（license_types 的第 2 项和第 {LAST} 项）：每类证照只写一次，请删去重复的一项"
        f"或改正其代码（license type code {PASSPORT} is given twice: license types 2 and {LAST}）",
        id="a type code twice",
    ),
    pytest.param(  # had been: duplicate field keys
        edited(lambda c: of_type(c, FOOD)["fields"].append({**field_of(c, FOOD, "domicile"), "label": "住所（二）"})),
        f"证照类型 {FOOD}（食品生产许可证）的信息项 key domicile 写了两次：每个信息项的 key 须各不相同，请删去重复的"
        f"信息项或改正其 key（license type {FOOD}: duplicate field key domicile）",
        id="a field key twice",
    ),
    pytest.param(  # had been: field None of …: keys are ASCII snake_case (the 营业执照's 8th, 住所)
        DEMO_TEXT.replace('"key": "domicile"', '"key ": "domicile"', 1).encode("utf-8"),
        "证照类型 111000009910000354001 的第 8 个信息项没有键 'key '：请对照 docs/catalog.md 改正其拼写（大小写、多余的"
        "空格）或删去（field 8 of 111000009910000354001: unknown keys ['key ']）",
        id="a key misspelt with a space",
    ),
    pytest.param(  # had been: 'utf-8' codec can't decode byte 0xbb in position 83
        DEMO_TEXT.encode("gbk"),
        f"第 {line_of(DEMO_TEXT, '居民身份证')} 行不是 UTF-8 编码的文字，看来是以 GBK（GB18030）编码保存的："
        f"请把文件另存为 UTF-8 编码（not UTF-8 at line {line_of(DEMO_TEXT, '居民身份证')}, GBK it seems: save the file "
        "as UTF-8）",
        id="saved as GBK",
    ),
    pytest.param(  # a 不予共享 type had still shared the field
        edited(lambda c: field_of(c, PASSPORT, "name").update(sharing_class="UNCONDITIONAL")),
        f"证照类型 {PASSPORT}（护照）为“不予共享”，其信息项 name（姓名）却标为更宽的“无条件共享”："
        "信息项的共享类别只能与证照类型相同或更严，请删去该信息项的 sharing_class 或把它改严"
        f"（field name of license type {PASSPORT} is UNCONDITIONAL, looser than the type's NOT_SHARED）",
        id="a field looser than its type",
    ),
]


@pytest.mark.parametrize(("content", "message"), SLIPS)
def test_a_slip_is_refused_naming_the_file_and_the_entry_and_nothing_is_adopted(
    store: Store, content: bytes, message: str
) -> None:
    before = store.fingerprint()
    file, status, stderr = store.adopt("slip.json", content)
    assert status == 2, stderr
    assert stderr.splitlines() == [
        f"zzgw: configuration error: catalog (ZZGW_CATALOG): {file}: not a catalog: {message}"
    ], stderr
    assert store.fingerprint() == before


def test_a_file_saved_with_a_byte_order_mark_is_the_same_catalog(store: Store) -> None:
    """Windows Notepad writes one; `zzgw import` takes one too."""
    before = store.fingerprint()
    assert before == fingerprint_of(DEMO)
    _, status, stderr = store.adopt("bom.json", DEMO_TEXT.encode("utf-8-sig"))
    assert status == 0, stderr
    assert "catalog changed" not in stderr  # the same catalog: nothing to adopt
    assert store.fingerprint() == before


def test_catalog_check_loads_a_file_as_init_does_and_touches_no_store(tmp_path: Path) -> None:
    """`zzgw catalog check [FILE]`: the new version's loader on a catalog file before an upgrade, with no store. A
    file the previous version served may be refused now (a field looser than its type, a key twice: a reviewer);
    init refused it only once the old version was stopped, and the upgrade procedure had no way to know first."""
    data_dir = tmp_path / "var"
    env = {**os.environ, "ZZGW_DATA_DIR": str(data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CATALOG": ""}
    good = tmp_path / "catalog.json"
    good.write_text(DEMO_TEXT, encoding="utf-8")
    looser = tmp_path / "looser.json"
    looser.write_bytes(edited(lambda c: field_of(c, PASSPORT, "name").update(sharing_class="UNCONDITIONAL")))
    types, matters, bundles = (len(DEMO[part]) for part in ("license_types", "matters", "bundles"))
    counts = f"{types} license types, {matters} matters, {bundles} bundles"

    for args, extra in (((str(good),), {}), ((), {"ZZGW_CATALOG": str(good)})):
        ok = run_zzgw("catalog", "check", *args, env={**env, **extra}, timeout=60)
        assert ok.returncode == 0, ok.stderr
        assert ok.stderr.startswith(  # no store to hold it against: said, and none made
            f"zzgw catalog check: checked without a store (no database at {data_dir}"
        ), ok.stderr
        assert ok.stdout.startswith(f"catalog {good}: OK, {counts}; sha256 {fingerprint_of(DEMO)} ")
    demo = run_zzgw("catalog", "check", env=env, timeout=60)
    assert demo.returncode == 0
    assert demo.stdout.startswith(f"the demo catalog (ZZGW_CATALOG is not set): OK, {counts}; sha256 ")

    for args, extra in (((str(looser),), {}), ((), {"ZZGW_CATALOG": str(looser)})):
        refused = run_zzgw("catalog", "check", *args, env={**env, **extra}, timeout=60)
        assert refused.returncode == 2 and refused.stdout == ""
        assert refused.stderr.startswith(f"zzgw catalog check: refused: {looser}: not a catalog: 证照类型 {PASSPORT}")
        assert "其信息项 name（姓名）却标为更宽的“无条件共享”" in refused.stderr, refused.stderr
        assert len(refused.stderr.splitlines()) == 1
    missing = run_zzgw("catalog", "check", str(tmp_path / "none.json"), env=env, timeout=60)
    assert (missing.returncode, missing.stderr.strip()) == (
        2,
        f"zzgw catalog check: refused: cannot read {tmp_path / 'none.json'}: No such file or directory",
    )
    assert not data_dir.exists()


def test_catalog_check_counts_one_bundle_as_one(tmp_path: Path) -> None:
    """A catalog of one bundle is said as ``1 bundle``: every count had been plural, ``1 bundles`` (a catalog author
    tester); the commands' counts go through ``gateway.domain.counts.counted``."""
    one = tmp_path / "one-bundle.json"
    one.write_bytes(edited(lambda c: c.update(bundles=c["bundles"][:1])))
    env = {**os.environ, "ZZGW_DATA_DIR": str(tmp_path / "var"), "ZZGW_DATABASE_URL": "", "ZZGW_CATALOG": ""}
    checked = run_zzgw("catalog", "check", str(one), env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    types, matters = len(DEMO["license_types"]), len(DEMO["matters"])
    assert checked.stdout.startswith(f"catalog {one}: OK, {types} license types, {matters} matters, 1 bundle; sha256 ")


def listing_fields_never_read(catalog: dict[str, Any]) -> None:
    """食品生产许可证's 日常监督管理人员 made 不予共享 and listed by 食品生产经营监督检查, and the 居民身份证's photo
    (secret) listed by 企业印章刻制."""
    field_of(catalog, FOOD, "supervising_officer")["sharing_class"] = "NOT_SHARED"
    matters = {matter["code"]: matter for matter in catalog["matters"]}
    (food,) = (m for m in matters["370100-SPJC-001"]["materials"] if m["type_code"] == FOOD)
    food["fields"].append("supervising_officer")
    (card,) = (m for m in matters["370100-QYKZ-001"]["materials"] if m["type_code"] == ID_CARD)
    card["fields"].append("photo")


NEVER_READ_WARNINGS = [
    "warning: 事项 370100-QYKZ-001（企业印章刻制）的材料列出了居民身份证的信息项 photo（照片），它是保密信息："
    "该事项永远读不到它（SECRET），信息比对也不能确认它（NOT_CLAIMABLE），办理时只能核验持证人出示的证照；"
    "该事项若不需要它，请从 fields 中删去（matter 370100-QYKZ-001 lists field photo of license type "
    f"{ID_CARD}, which is secret: the matter never reads it, nor can a claim confirm it）",
    "warning: 事项 370100-SPJC-001（食品生产经营监督检查）的材料列出了食品生产许可证的信息项 supervising_officer"
    "（日常监督管理人员），它不予共享：该事项永远读不到它（NOT_SHARED），信息比对也不能确认它（NOT_CLAIMABLE），"
    "办理时只能核验持证人出示的证照；该事项若不需要它，请从 fields 中删去（matter 370100-SPJC-001 lists field "
    f"supervising_officer of license type {FOOD}, which is never shared: the matter never reads it, nor can a "
    "claim confirm it）",
]


def test_a_matter_listing_a_field_it_never_reads_is_loaded_with_a_warning(store: Store, tmp_path: Path) -> None:
    """A field never shared (不予共享) or secret that a matter lists: loaded, as a matter may name what it needs of a
    license its holder presents, and a field made stricter is held back at once (docs/catalog.md), but the catalog
    check and the init that adopts it say that the matter never reads it, nor can a claim confirm it, and what to do.
    A catalog designer tester's 不予共享 field had been listed without a word (and confirmed by CheckClaim)."""
    content = edited(listing_fields_never_read)
    file = tmp_path / "never-read.json"
    file.write_bytes(content)
    env = {**os.environ, "ZZGW_DATA_DIR": str(tmp_path / "var"), "ZZGW_DATABASE_URL": "", "ZZGW_CATALOG": ""}
    checked = run_zzgw("catalog", "check", str(file), env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith(f"catalog {file}: OK, ")
    *warned, without_store = checked.stderr.splitlines()  # the file's own warnings, then that no store was there
    assert warned == NEVER_READ_WARNINGS
    assert without_store.startswith("zzgw catalog check: checked without a store ("), without_store
    guide = (DEMO_FILE.parent.parent.parent / "docs" / "catalog.md").read_text(encoding="utf-8")
    assert f"\n{NEVER_READ_WARNINGS[1]}\n" in guide  # the catalog author's guide quotes it as it is said

    _, status, stderr = store.adopt("never-read.json", content)
    assert status == 0, stderr
    assert [line for line in stderr.splitlines() if line in NEVER_READ_WARNINGS] == NEVER_READ_WARNINGS, stderr
    assert store.fingerprint() == fingerprint_of(json.loads(content))
    _, status, stderr = store.adopt("catalog.json", DEMO_TEXT.encode("utf-8"))  # the module's store serves the demo's
    assert status == 0 and "事项" not in stderr, stderr
    assert store.fingerprint() == fingerprint_of(DEMO)


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_database_is_no_store(tmp_path: Path, url: str) -> None:
    """``ZZGW_DATABASE_URL`` naming an in-memory SQLite database: the check says it checked the file without a store,
    and init and serve refuse the setting in one line, exit 2. They had ended in a traceback of create_engine, exit 1
    (a reviewer)."""
    env = {**os.environ, "ZZGW_DATA_DIR": str(tmp_path / "var"), "ZZGW_DATABASE_URL": url, "ZZGW_CATALOG": ""}
    checked = run_zzgw("catalog", "check", str(DEMO_FILE), env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    (line,) = checked.stderr.splitlines()
    assert line.startswith("zzgw catalog check: checked without a store (an in-memory database holds no store): ")
    env = {**env, "ZZGW_KEY_PASSPHRASE": "test-only-passphrase", "ZZGW_PORT": "30501"}
    for command in ("init", "serve"):
        refused = run_zzgw(command, env=env, timeout=60)
        assert (refused.returncode, refused.stderr.strip()) == (
            2,
            "zzgw: configuration error: database_url (ZZGW_DATABASE_URL) names an in-memory SQLite database, which "
            "holds no store: name a file (sqlite:///path/zzgw.db) or a PostgreSQL database",
        ), refused.stderr


def test_the_check_writes_nothing_to_a_store_file(tmp_path: Path) -> None:
    """The check opens a SQLite store read-only: a zero-byte zzgw.db (a placeholder, a failed copy) is left as it is,
    and said to have no schema, where connecting had written a SQLite header into it (4096 bytes; a reviewer)."""
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "zzgw.db").touch()
    env = {**os.environ, "ZZGW_DATA_DIR": str(data_dir), "ZZGW_DATABASE_URL": "", "ZZGW_CATALOG": ""}
    checked = run_zzgw("catalog", "check", str(DEMO_FILE), env=env, timeout=60)
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.startswith(
        f"zzgw catalog check: checked without a store (the database sqlite:///{data_dir / 'zzgw.db'} has no schema: "
        "run `zzgw init` first): "
    ), checked.stderr
    assert (data_dir / "zzgw.db").stat().st_size == 0
    assert sorted(p.name for p in data_dir.iterdir()) == ["zzgw.db"]
