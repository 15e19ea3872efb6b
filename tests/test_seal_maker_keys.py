"""The seal makers' CA keys in a data directory, as `zzgw init` and `zzgw serve` meet them (a multi-replica tester's
D1, D2, D3, D6; a keys tester's D5, D6): the intermediate's key (``intermediate.key.pem``) signs the CRL that every
seal check needs, so a directory without it is refused rather than served; the root's key is read by no command, so
a replica does without it; a key that cannot be decrypted is named by its path; and both keys are among the files
whose loose modes are warned of."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from benchmarks.common import free_port
from tests.commands import DEMO_FILES, run_zzgw

ROOT = Path(__file__).resolve().parent.parent
CAS = ("seal-ca", "seal-ca-sm2")


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first gateway's data directory, made by `zzgw init` in production mode on a SQLite store of its own."""
    directory = tmp_path_factory.mktemp("seal-maker-keys") / "first"
    made = run_zzgw("init", env=env(directory, directory))
    assert made.returncode == 0, made.stderr
    assert all((directory / ca / "intermediate.key.pem").exists() for ca in CAS)
    return directory


def env(data_dir: Path, first: Path, **more: str) -> dict[str, str]:
    """The settings of a gateway on ``data_dir`` sharing the first gateway's store (its SQLite file)."""
    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_DATABASE_URL": f"sqlite:///{first / 'zzgw.db'}",
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_KEY_PASSPHRASE": "seal-maker-keys-test-passphrase",
        "ZZGW_MODE": "production",
        **DEMO_FILES,  # which takes neither by default
        **more,
    }


def replica(first: Path, tmp_path: Path, *left_out: str) -> Path:
    """A copy of the first gateway's data directory, as README step 3 makes it, without ``left_out``."""
    directory = tmp_path / "replica"
    directory.mkdir(parents=True)
    for folder in ("keys", *CAS, "pki"):
        shutil.copytree(first / folder, directory / folder)
    for name in left_out:
        (directory / name).unlink()
    return directory


@pytest.mark.parametrize("ca", CAS)
def test_a_replica_without_a_seal_makers_issuing_key_is_refused_by_serve_and_init(
    first: Path, tmp_path: Path, ca: str
) -> None:
    """Copied without seal-ca/intermediate.key.pem, a replica had started and said it was ready, then answered every
    VerifyLicense INDETERMINATE / CRL_MISSING (/crl/seal-maker.crl 404); without seal-ca-sm2's, every one INTERNAL
    (and /crl/seal-maker-sm2.crl 500). Both commands now refuse it (exit 2), naming the file to copy."""
    missing = f"{ca}/intermediate.key.pem"
    directory = replica(first, tmp_path, missing)
    settings = env(directory, first)
    for command in ("serve", "init"):
        refused = run_zzgw(command, env=settings, timeout=90)
        assert refused.returncode == 2, (command, refused.stderr)
        assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr, (command, refused.stderr)
        assert f"{directory / missing} is missing" in refused.stderr, (command, refused.stderr)
        assert "copy it from the gateway this data directory was copied from" in refused.stderr
        assert "or restore it from this data directory's backup (a single gateway)" in refused.stderr
        assert "Losing a seal maker's intermediate key" in refused.stderr
    assert not (directory / missing).exists()  # nothing was made in its place
    shutil.copy2(first / missing, directory / missing)
    assert run_zzgw("init", env=settings).returncode == 0


@pytest.mark.parametrize("ca", CAS)
def test_the_commands_that_work_on_the_store_run_without_a_seal_makers_issuing_key(
    first: Path, tmp_path: Path, ca: str
) -> None:
    """Every command that opened the store had refused a data directory that lost intermediate.key.pem, so a single
    gateway could not revoke a member whose key leaked nor verify its audit trail, with no way forward (a reviewer,
    R2): only `zzgw serve` and `zzgw init`, which sign CRLs and certify, refuse it now."""
    missing = f"{ca}/intermediate.key.pem"
    directory = replica(first, tmp_path, missing)
    settings = env(directory, first)
    listed = run_zzgw("members", env=settings)
    assert listed.returncode == 0 and "is missing" not in listed.stderr, listed.stderr
    verified = run_zzgw("audit", "verify", env=settings)
    assert verified.returncode == 0, verified.stderr
    assert "intact" in verified.stdout + verified.stderr
    for command in ("serve", "memos"):  # memos checks seals, against the CRLs the key signs
        refused = run_zzgw(command, env=settings, timeout=90)
        assert refused.returncode == 2 and f"{directory / missing} is missing" in refused.stderr, refused.stderr


def test_a_replica_without_the_seal_makers_root_keys_initialises_and_serves_both_crls(
    first: Path, tmp_path: Path
) -> None:
    """No command reads a seal maker's root key (it certified the intermediate, at the first init): the docs had
    every replica get both, which the README now has stay offline."""
    directory = replica(first, tmp_path, *(f"{ca}/root.key.pem" for ca in CAS))
    settings = env(directory, first)
    initialised = run_zzgw("init", env=settings)
    assert initialised.returncode == 0, initialised.stderr
    assert not any((directory / ca / "root.key.pem").exists() for ca in CAS)
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"], env=settings, cwd=ROOT, stderr=subprocess.PIPE, text=True
    )
    http = f"http://{settings['ZZGW_HTTP_ADDR']}"
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                with urllib.request.urlopen(f"{http}/readyz", timeout=5) as ready:
                    if ready.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert time.monotonic() < deadline
            time.sleep(0.3)
        for path in ("/crl/seal-maker.crl", "/crl/seal-maker-sm2.crl"):
            with urllib.request.urlopen(http + path, timeout=10) as crl:
                assert crl.status == 200 and crl.read()[:1] == b"\x30", path  # a DER CRL
    finally:
        server.terminate()
        _, said = server.communicate(timeout=60)
    assert server.returncode == 0, said
    assert "root.key.pem" not in said


@pytest.mark.parametrize("ca", CAS)
def test_a_seal_makers_key_that_cannot_be_decrypted_is_named_by_its_path(first: Path, tmp_path: Path, ca: str) -> None:
    """'cannot decrypt the intermediate key' had named neither the file nor which of the two CAs; and in production
    it sent the operator to the passphrase file of dev mode."""
    directory = replica(first, tmp_path)
    path = directory / ca / "intermediate.key.pem"
    path.write_bytes(path.read_bytes()[:150])  # a copy cut short
    for command in ("serve", "init"):
        refused = run_zzgw(command, env=env(directory, first), timeout=90)
        assert refused.returncode == 2, (command, refused.stderr)
        assert refused.stderr.startswith(
            f"zzgw {command}: cannot decrypt {path}: wrong passphrase or damaged file (the key passphrase: "
            "ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE; a replica needs the first gateway's)"
        ), (command, refused.stderr)
        assert "secrets/key-passphrase" not in refused.stderr  # production mode: there is no such file
    wrong = run_zzgw("serve", env=env(replica(first, tmp_path / "wrong"), first, ZZGW_KEY_PASSPHRASE="not-it"))
    assert wrong.returncode == 2 and "cannot decrypt " in wrong.stderr, wrong.stderr
    assert "cannot decrypt the " not in wrong.stderr, wrong.stderr


def test_init_and_serve_warn_of_seal_maker_keys_others_may_read(first: Path, tmp_path: Path) -> None:
    """The seal makers' CA keys, which can certify a seal in any issuer's name, were left out of the warning of
    secret files with loose modes (a restore that lost file modes)."""
    directory = replica(first, tmp_path)
    loose = [directory / ca / f"{stem}.key.pem" for ca in CAS for stem in ("root", "intermediate")]
    for path in loose:
        path.chmod(0o644)
    said = run_zzgw("init", env=env(directory, first))
    assert said.returncode == 0, said.stderr
    assert "others than its owner may read" in said.stderr
    for path in loose:
        assert f"{path} (0o644)" in said.stderr, said.stderr
