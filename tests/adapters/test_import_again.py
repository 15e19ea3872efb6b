"""docs/import.md's recipe for importing the failed lines again, run as written on a real import's failures file: it
makes the file imported's header and each failed line once, in line order, and that file, fixed, imports (the
README had said the failures file itself was "to be fixed and imported again": imported, every line of it failed,
BAD_RECORD, unknown keys)."""

from __future__ import annotations

import json
import re
import subprocess
import uuid
from pathlib import Path

import pytest

from adapters.batch_import import FailureFile, import_file
from tests.adapters.test_batch_import import BAD_USCC, factory, permits, write_csv, write_jsonl
from tests.conftest import RunningGateway

ROOT = Path(__file__).resolve().parents[2]


def recipe() -> str:
    """The shell block under docs/import.md's "Importing the failed lines again"."""
    text = (ROOT / "docs" / "import.md").read_text(encoding="utf-8")
    section = text[text.index("### Importing the failed lines again") :]
    match = re.search(r"```sh\n(.*?)```", section, flags=re.S)
    assert match, "no shell block under 'Importing the failed lines again'"
    return match.group(1)


def make_again(source: Path, failures: Path, again: Path) -> None:
    """Run the recipe, its files named as the docs name them replaced by these."""
    script = recipe().replace("food.csv fail.csv again.csv", f"'{source}' '{failures}' '{again}'", 1)
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_the_failed_lines_become_a_file_to_fix_and_import_again(
    running: RunningGateway, tmp_path: Path, kind: str
) -> None:
    records = permits(5, uuid.uuid4().hex[:8].upper(), start=3100)
    good = {i: records[i]["fields"]["uscc"] for i in (1, 3)}  # each its holder's code too
    records[1]["fields"]["uscc"] = BAD_USCC
    records[1]["request_id"] = "-" + records[1]["request_id"]  # a record Excel would read as a formula
    records[3]["holder"] = {**records[3]["holder"], "code": BAD_USCC}  # two fields at fault: two rows
    records[3]["fields"]["uscc"] = BAD_USCC
    records.append(records[1])  # a failed line repeated: DUPLICATE_LINE, left out of the file to import again
    if kind == "csv":
        source = write_csv(tmp_path / "food.csv", records)
    else:
        source = write_jsonl(tmp_path / "food.jsonl", [json.dumps(r, ensure_ascii=False) for r in records])
    failures, again = tmp_path / f"fail.{kind}", tmp_path / f"again.{kind}"
    with FailureFile(failures) as written:
        first = import_file(source, factory(running), failure_file=written)
    assert (first.created, first.failed, first.failure_count, first.duplicates) == (3, 2, 3, 1)
    assert "DUPLICATE_LINE" in failures.read_text(encoding="utf-8-sig")

    make_again(source, failures, again)

    lines = source.read_bytes().decode("utf-8").splitlines(keepends=True)
    header = lines[:1] if kind == "csv" else []
    kept = [lines[len(header) + i] for i in (1, 3)]  # the failed lines, once each, as they were
    assert again.read_bytes().decode("utf-8") == "".join(header + kept)

    fixed = again.read_text(encoding="utf-8").replace(BAD_USCC, good[1], 1).replace(BAD_USCC, good[3])
    again.write_text(fixed, encoding="utf-8", newline="")
    second = import_file(again, factory(running))
    assert (second.created, second.failed) == (2, 0)
