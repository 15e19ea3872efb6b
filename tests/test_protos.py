"""The committed generated code is what ``make protos`` makes of the .proto files, the API passes buf lint, and it
breaks no client generated from the contract as released (``buf breaking`` against ``protos/zzgw-v1.binpb``: ADR
0014)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from protos.zzgw.v1 import issuance_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = Path("protos/zzgw/v1")
BUF = ROOT / "node_modules" / ".bin" / "buf"
BASELINE = ROOT / "protos" / "zzgw-v1.binpb"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("protos")
    protos = sorted(str(p.relative_to(ROOT)) for p in (ROOT / PROTO_DIR).glob("*.proto"))
    assert protos, "no .proto files"
    result = subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", ".", f"--python_out={out}", f"--pyi_out={out}",
         f"--grpc_python_out={out}", *protos],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"protoc failed:\n{result.stderr}"
    return out / PROTO_DIR


def committed_files() -> list[str]:
    return sorted(p.name for p in (ROOT / PROTO_DIR).iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def test_the_same_files_are_generated_as_are_committed(regenerated: Path) -> None:
    made = sorted(p.name for p in regenerated.iterdir())
    assert made == committed_files(), "generated files differ from the committed set: run `make protos`"
    assert len(made) == 3 * len(list((ROOT / PROTO_DIR).glob("*.proto")))


@pytest.mark.parametrize("name", committed_files())
def test_committed_code_is_up_to_date(regenerated: Path, name: str) -> None:
    fresh = (regenerated / name).read_bytes()
    committed = (ROOT / PROTO_DIR / name).read_bytes()
    assert fresh == committed, f"{PROTO_DIR / name} is out of date with its .proto: run `make protos` and commit"


@pytest.mark.skipif(not BUF.exists(), reason="buf not installed (npm)")
def test_buf_lint() -> None:
    result = subprocess.run([str(BUF), "lint"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"buf lint:\n{result.stdout}{result.stderr}"


def _breaking(cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BUF), "breaking", "--against", str(BASELINE)], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.skipif(not BUF.exists(), reason="buf not installed (npm)")
def test_buf_breaking_against_the_released_contract() -> None:
    # the baseline is a file of the tree, not a git ref: a fresh clone, a tarball or a shallow CI checkout has it
    assert BASELINE.is_file(), "protos/zzgw-v1.binpb is missing (ADR 0014)"
    result = _breaking(ROOT)
    assert result.returncode == 0, f"buf breaking against {BASELINE.name}:\n{result.stdout}{result.stderr}"


def _edited_copy(tmp_path: Path, proto: str, old: str, new: str) -> Path:
    """A copy of the module (buf.yaml and the .proto files) in ``tmp_path`` with ``old`` replaced by ``new`` in
    ``proto``, once."""
    shutil.copy(ROOT / "buf.yaml", tmp_path / "buf.yaml")
    shutil.copytree(ROOT / PROTO_DIR, tmp_path / PROTO_DIR, ignore=shutil.ignore_patterns("*.py", "*.pyi"))
    path = tmp_path / PROTO_DIR / proto
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not once in {proto}"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return tmp_path


@pytest.mark.skipif(not BUF.exists(), reason="buf not installed (npm)")
@pytest.mark.parametrize(
    ("proto", "old", "new", "said"),
    [
        # a field renumbered: the old number is gone, unreserved
        ("verification.proto", "bytes proof = 6;", "bytes proof = 16;", 'field "6" with name "proof"'),
        # retyped
        ("verification.proto", "bytes proof = 6;", "string proof = 6;", 'changed type from "bytes" to "string"'),
        # renamed (the name is the JSON form's key)
        ("issuance.proto", "string issue_date = 10;", "string issued_on = 10;", 'changed name from "issue_date"'),
        # an enum value renumbered
        (
            "common.proto",
            "LICENSE_STATUS_EXPIRED = 6;",
            "LICENSE_STATUS_EXPIRED = 7;",
            'value "6" on enum "LicenseStatus"',
        ),
        # a field deleted with its number reserved but not its name
        ("issuance.proto", "string issue_date = 10;", "reserved 10;", 'name "issue_date"'),
    ],
    ids=["renumbered", "retyped", "renamed", "enum-renumbered", "deleted-name-not-reserved"],
)
def test_buf_breaking_refuses_a_break(tmp_path: Path, proto: str, old: str, new: str, said: str) -> None:
    result = _breaking(_edited_copy(tmp_path, proto, old, new))
    assert result.returncode != 0, f"buf breaking let {old!r} -> {new!r} through"
    assert said in result.stdout, result.stdout + result.stderr
    assert f"protos/zzgw/v1/{proto}" in result.stdout


@pytest.mark.skipif(not BUF.exists(), reason="buf not installed (npm)")
@pytest.mark.parametrize(
    ("proto", "old", "new"),
    [
        # a new field
        ("issuance.proto", "string issue_date = 10;", "string issue_date = 10;\n  string note = 11;"),
        # a field deleted with its number and its name reserved, as ADR 0014 allows
        ("issuance.proto", "string issue_date = 10;", 'reserved 10;\n  reserved "issue_date";'),
    ],
    ids=["field-added", "deleted-and-reserved"],
)
def test_buf_breaking_lets_a_compatible_change_through(tmp_path: Path, proto: str, old: str, new: str) -> None:
    result = _breaking(_edited_copy(tmp_path, proto, old, new))
    assert result.returncode == 0, result.stdout + result.stderr


def _reserved(message: type) -> tuple[set[int], set[str]]:
    proto = descriptor_pb2.DescriptorProto()
    message.DESCRIPTOR.CopyToProto(proto)
    numbers = {n for r in proto.reserved_range for n in range(r.start, r.end)}  # end exclusive
    return numbers, set(proto.reserved_name)


def test_the_first_drafts_batch_fields_stay_reserved() -> None:
    # 7a395a1 (2026-11-21) had one item per message: BatchIssueLicensesRequest.license = 1, and
    # BatchIssueLicensesResponse index = 1, oneof result { license = 2; error = 3; }, created = 4, since moved into
    # BatchItemResult; a client generated from it reads today's answers as empty, so none is ever used again
    assert _reserved(issuance_pb2.BatchIssueLicensesResponse) == ({2, 3, 4}, {"index", "license", "error", "created"})
    assert _reserved(issuance_pb2.BatchIssueLicensesRequest) == (set(), {"license"})


def _comment_before(proto: str, message: str, field: str) -> str:
    """The comment lines just above ``field``'s declaration in ``message`` of ``proto``, joined."""
    lines = (ROOT / PROTO_DIR / proto).read_text(encoding="utf-8").splitlines()
    start = lines.index(f"message {message} {{")
    at = next(i for i in range(start, len(lines)) if re.search(rf"\s{field} = \d+;$", lines[i]))
    above = []
    while lines[at - 1].strip().startswith("//"):
        at -= 1
        above.insert(0, lines[at].strip().removeprefix("//").strip())
    return " ".join(above)


def test_a_parents_consent_end_is_told_as_the_limit_the_grant_holds_it_to() -> None:
    """The stubs' comment on valid_until had said a parent's consent ends "by the day the child turns 18", where a
    grant refuses any end later than 00:00 China time of that day (BEYOND_MINORITY, e860637): a portal reading it
    sent 23:59 of the birthday and was refused (a reviewer, R3)."""
    said = _comment_before("authorization.proto", "GrantConsentRequest", "valid_until")
    assert "turns 18" not in said, said
    assert "at the latest 00:00 China time (+08:00) of the child's 18th birthday (BEYOND_MINORITY)" in said, said
