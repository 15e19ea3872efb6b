"""The committed generated code is what ``make protos`` makes of the .proto files, and the API passes buf lint."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from protos.zzgw.v1 import issuance_pb2

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = Path("protos/zzgw/v1")
BUF = ROOT / "node_modules" / ".bin" / "buf"
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
