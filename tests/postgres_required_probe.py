"""The test ``tests/test_postgres_required.py`` runs in a pytest of its own with an unreachable PostgreSQL: a test on
each backend through the suite's ``store`` fixture (``tests.conftest.backend_params``, ``fresh_database``), which
makes its PostgreSQL database as every PostgreSQL test's is made, and does nothing more. Not named ``test_*.py``: the
suite itself does not collect it."""

from __future__ import annotations


def test_a_store_on_each_backend(store: str) -> None:
    assert store.startswith(("sqlite:", "postgresql"))
