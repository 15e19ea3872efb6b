"""``ZZGW_SQLITE_SYNCHRONOUS``: SQLite syncs only at checkpoints (``normal``, the default) or every commit
(``full``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway import config
from gateway.config import ConfigError, Settings
from gateway.store import database
from gateway.store.database import Database


def pragma(db: Database, name: str) -> object:
    """``PRAGMA name`` on a connection of the pool, as every request's connection has it."""
    connection = db.engine.raw_connection()
    try:
        return connection.driver_connection.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("setting", "level"),
    [(None, 1), ("normal", 1), ("full", 2)],  # SQLite's numbers: 2 FULL, 1 NORMAL
)
def test_every_connection_syncs_as_set(tmp_path: Path, setting: str | None, level: int) -> None:
    chosen = Settings.load(env={"ZZGW_SQLITE_SYNCHRONOUS": setting} if setting else {}).sqlite_synchronous
    db = Database.connect(f"sqlite:///{tmp_path / 'zzgw.db'}", synchronous=chosen)
    try:
        assert (pragma(db, "synchronous"), pragma(db, "journal_mode")) == (level, "wal")
    finally:
        db.dispose()


@pytest.mark.parametrize("value", ["off", "FULL ", "extra", "0"])
def test_another_value_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigError) as refused:
        Settings.load(env={"ZZGW_SQLITE_SYNCHRONOUS": value})
    said = str(refused.value)
    assert "sqlite_synchronous (ZZGW_SQLITE_SYNCHRONOUS)" in said and "full or normal" in said and repr(value) in said


def test_the_settings_values_are_the_stores() -> None:
    assert tuple(database.SQLITE_SYNCHRONOUS) == config.SQLITE_SYNCHRONOUS
    with pytest.raises(ValueError, match="synchronous"):
        Database.connect("sqlite://", synchronous="off")


def test_the_gateway_opens_its_store_as_set(tmp_path: Path) -> None:
    """The setting reaches the store a gateway opens (it had been read and checked, and the store opened without it)."""
    from tests.conftest import start_gateway

    gw = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}", sqlite_synchronous="full")
    try:
        assert pragma(gw.gateway.db, "synchronous") == 2
    finally:
        gw.stop()
