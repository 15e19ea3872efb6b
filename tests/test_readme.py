"""The README's client example runs as written against a live gateway."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

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
