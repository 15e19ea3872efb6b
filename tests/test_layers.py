"""The layers hold (STYLE rule 1): import-linter's contracts from pyproject.toml, and an AST check of the pure core."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = [ROOT / "gateway" / "domain", ROOT / "signing"]

FORBIDDEN = (
    "grpc", "grpc_status", "grpc_health", "grpc_reflection", "google.rpc", "protos",  # the wire
    "sqlalchemy", "alembic", "psycopg",  # the database
    "socket", "http", "urllib.request", "ssl",  # the network
    "gateway.store", "gateway.services", "gateway.api", "gateway.server", "gateway.cli", "gateway.config", "adapters",
)  # fmt: skip
"""Modules (and their submodules) that nothing under gateway/domain or signing may import, even lazily."""


def test_import_linter_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    command = [str(lint_imports)] if lint_imports.exists() else [sys.executable, "-m", "importlinter.cli"]
    result = subprocess.run([*command, "--no-cache", "--no-logo"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, f"lint-imports failed:\n{result.stdout}\n{result.stderr}"
    assert "0 broken" in result.stdout, result.stdout


def imported_modules(source: str, module: str) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in ``source``, including ones inside functions."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the module's package
                package = module.split(".")[: -node.level]
                base = ".".join([*package, node.module] if node.module else package)
            else:
                base = node.module or ""
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def forbidden_imports(path: Path) -> list[str]:
    module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    return [f"{path.relative_to(ROOT)}:{line} imports {name}"
            for line, name in imported_modules(path.read_text(encoding="utf-8"), module)
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN)]  # fmt: skip


def pure_files() -> list[Path]:
    return sorted(p for directory in PURE for p in directory.rglob("*.py"))


def test_there_are_pure_files_to_check() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in pure_files()}
    assert {"gateway/domain/model.py", "gateway/domain/validation.py", "signing/keys.py", "signing/record.py"} <= names


@pytest.mark.parametrize("path", pure_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_the_pure_core_imports_no_outer_layer(path: Path) -> None:
    assert forbidden_imports(path) == []


@pytest.mark.parametrize(("source", "module", "flagged"), [
    ("import grpc", "gateway.domain.x", "grpc"),
    ("from sqlalchemy.orm import Session", "signing.x", "sqlalchemy.orm"),
    ("def f():\n    from gateway.store import models", "gateway.domain.x", "gateway.store"),
    ("from ..services import issuance", "gateway.domain.x", "gateway.services"),
    ("from gateway import api", "gateway.domain.x", "gateway.api"),
    ("import adapters.client as c", "signing.x", "adapters.client"),
])  # fmt: skip
def test_the_check_catches_what_it_should(source: str, module: str, flagged: str) -> None:
    names = [name for _, name in imported_modules(source, module)]
    assert flagged in names
    assert any(any(n == f or n.startswith(f + ".") for f in FORBIDDEN) for n in names)


def test_a_gateway_on_sqlite_never_loads_postgresqls_driver(tmp_path: Path) -> None:
    """psycopg is imported where PostgreSQL is used (its listener, its raw cursor) and where an error may be one of its
    own, not at the top of the modules every process loads: each ``zzgw serve``, worker and command on SQLite had
    spent ~0.1 s of CPU loading it at start."""
    script = (
        "import sys; from pathlib import Path\n"
        "import adapters.console, gateway.cli, gateway.failures, gateway.supervisor\n"
        "from gateway.config import Settings\n"
        "from gateway.server import Gateway, build_server, initialise\n"
        "here = Path(sys.argv[1])\n"
        "settings = Settings(data_dir=here / 'var', database_url=f'sqlite:///{here / \"zzgw.db\"}', "
        "key_passphrase='layers-test', threads=4, max_watchers=2)\n"
        "initialise(settings)\n"
        "gateway = Gateway.open(settings)\n"
        "server, port = build_server(gateway, '127.0.0.1:0')\n"
        "server.start()\n"
        "server.stop(0)\n"
        "gateway.close()\n"
        "print(sorted(name for name in sys.modules if name.split('.')[0] == 'psycopg'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout
