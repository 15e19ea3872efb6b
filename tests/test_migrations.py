"""The Alembic migrations make exactly the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.store.database import Database
from gateway.store.models import Base
from tests.conftest import backend_params, fresh_database


@pytest.mark.parametrize("kind", backend_params())
def test_migrations_match_the_models(kind: str, tmp_path: Path) -> None:
    with fresh_database(kind, tmp_path) as url:
        db = Database.connect(url)
        try:
            db.migrate()
            with db.engine.connect() as connection:
                context = MigrationContext.configure(connection, opts={"compare_type": True})
                differences = [d for d in compare_metadata(context, Base.metadata) if "alembic_version" not in str(d)]
        finally:
            db.dispose()
    assert differences == []
