"""The README's client example runs as written against a live gateway, and the ``taskset`` commands the README and
docs/ print run on any machine of two cores or more (the benchmark machine has two: CPUs 0 and 1)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningGateway, start_gateway

ROOT = Path(__file__).resolve().parent.parent


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 1, "the README should hold exactly one Python example"
    return blocks[0]


def test_readme_client_example_runs(tmp_path: Path) -> None:
    running = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}")
    try:
        run_example(running, tmp_path)
    finally:
        running.stop()


def run_example(running: RunningGateway, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    env = {**os.environ, "ZZGW_DATA_DIR": str(running.data_dir), "ZZGW_GRPC_ADDR": running.address,
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first.startswith("1.2.156.3005.2.111000009910000354001.11370100993701011T.")
    assert first.endswith("LICENSE_STATUS_ACTIVE")
    assert second == "LICENSE_STATUS_REVOKED 以欺骗手段取得登记"


def printed_taskset_cpus() -> list[tuple[str, str]]:
    """(document, CPU list) of every ``taskset -c LIST`` in the README and docs/, as printed."""
    found = []
    for document in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = re.sub(r"\s+", " ", document.read_text(encoding="utf-8"))
        found += [(document.name, cpus) for cpus in re.findall(r"taskset -c ([0-9][0-9,-]*)", text)]
    return found


def test_printed_taskset_commands_name_cpus_every_two_core_machine_has() -> None:
    printed = printed_taskset_cpus()
    assert printed, "the README no longer says how to pin a single worker"
    for document, cpus in printed:
        named = {int(n) for part in cpus.split(",") for n in part.split("-")}
        assert named <= {0, 1}, f"{document}: `taskset -c {cpus}` fails on a 2-core machine (CPUs 0 and 1)"


@pytest.mark.skipif(shutil.which("taskset") is None or (os.cpu_count() or 1) < 2, reason="needs taskset, 2 cores")
def test_printed_taskset_commands_run_here() -> None:
    for document, cpus in printed_taskset_cpus():
        result = subprocess.run(["taskset", "-c", cpus, "true"], capture_output=True, text=True, timeout=10)
        assert result.returncode == 0, f"{document}: taskset -c {cpus}: {result.stderr}"


def test_every_setting_has_its_row_in_the_readme_settings_table() -> None:
    """Each setting of ``gateway.config`` (its zzgw.toml key and its variable) has a row of the README's settings
    table: ZZGW_WORKER_SILENCE_SECONDS had none (a reviewer, R3)."""
    from gateway.config import _ENV

    rows = [line.split("|") for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines()]
    rows = [row for row in rows if len(row) > 3 and row[1].strip().startswith("`ZZGW_")]
    missing = [
        (key, variable)
        for key, variable in _ENV.items()
        if not any(f"`{key}`" in row[2] and variable.rsplit("_FILE", 1)[0] in row[1] for row in rows)
    ]
    assert not missing, missing
    operations = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "`ZZGW_WORKER_SILENCE_SECONDS`" in operations and "`worker_silence_seconds`" in operations
