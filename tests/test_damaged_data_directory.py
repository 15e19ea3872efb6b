"""A certificate or key of the data directory that is there and damaged (empty, cut short by a full disk, a copy that
stopped midway) stops `zzgw init`, `zzgw serve` and the commands that open the store in one line naming the file, exit
status 2, as a damaged ``seal-ca/root.pem`` does: they had ended in a Python traceback, exit 1, for ``pki/ca.pem``
not even naming the file (a review of setting up a gateway, R1)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat
import sys
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gateway import server
from gateway.authorities import ensure_pki, server_key_fault
from gateway.bootstrap import samples
from gateway.config import Settings
from signing.pki import CertificateAuthority, Issued
from tests.commands import DEMO_FILES, command_env, zzgw
from tests.conftest import MARKET


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory `zzgw init` made (dev mode, the demo members), copied by each test before it damages it."""
    data = tmp_path_factory.mktemp("made") / "var"
    done = zzgw(command_env(data, ZZGW_KEY_PASSPHRASE="damaged-data-directory"), "init", timeout=180)
    assert done.returncode == 0, done.stderr
    return data


def _copy(made: Path, tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "var"
    shutil.copytree(made, data)
    return command_env(data, ZZGW_KEY_PASSPHRASE="damaged-data-directory")


def _said(done: object, path: Path, command: str) -> None:
    """``done`` ended with status 2 and one line naming ``path`` as damaged, no traceback."""
    returncode, stderr = done.returncode, done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr, stderr
    assert returncode == 2, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"zzgw {command}: {path} is not a PEM "), stderr
    assert "(empty, cut short or damaged): restore it from the data directory's backup" in line, stderr


CERTIFICATES = {
    "pki/ca.pem": ("init", "serve", "members", "console-token"),
    "pki/server.pem": ("init",),
    f"pki/members/{MARKET}.pem": ("init",),
    "seal-ca/receipt.pem": ("init", "serve", "members", "console-token"),
    "seal-ca/tsa.pem": ("init", "serve", "members", "console-token"),
    "seal-ca-sm2/maker.pem": ("init", "serve", "members", "console-token"),
}
"""Each certificate of the data directory, with the commands that read it."""
_ARGS = {"console-token": ("console-token", MARKET, "--list")}


@pytest.mark.parametrize(
    ("name", "command"), [(name, command) for name, commands in CERTIFICATES.items() for command in commands]
)
@pytest.mark.parametrize("damage", ["garbage", "cut"])
def test_a_damaged_certificate_is_named_in_one_line(
    made: Path, tmp_path: Path, name: str, command: str, damage: str
) -> None:
    env = _copy(made, tmp_path)
    path = Path(env["ZZGW_DATA_DIR"]) / name
    path.write_bytes(b"not a pem\n" if damage == "garbage" else path.read_bytes()[:200])
    _said(zzgw(env, *_ARGS.get(command, (command,)), timeout=60), path, command)


def _one_member_more(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """``env`` with a members file of one member more than the demo's: init needs ca.key to certify it."""
    members = json.loads((Path(samples.__file__).parent / "members.json").read_text(encoding="utf-8"))
    members["members"].append(
        {"code": samples.uscc(7, "370102"), "name": "历下区行政审批服务局", "region": "370102", "roles": ["CONSUMER"]}
    )
    listed = tmp_path / "members.json"
    listed.write_text(json.dumps(members, ensure_ascii=False), encoding="utf-8")
    return {**env, "ZZGW_MEMBERS": str(listed)}


def test_a_damaged_member_ca_key_is_named_when_a_member_needs_a_certificate(made: Path, tmp_path: Path) -> None:
    """ca.key is read only when a certificate is to be issued: a member added to the members file."""
    env = _copy(made, tmp_path)
    key = Path(env["ZZGW_DATA_DIR"]) / "pki" / "ca.key"
    key.write_bytes(key.read_bytes()[:100])  # cut short
    _said(zzgw(_one_member_more(env, tmp_path), "init", timeout=60), key, "init")


def _encrypt(path: Path) -> bytes:
    """The key at ``path`` encrypted in place under a passphrase, as an operator may keep one; its new bytes."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    path.write_bytes(key.private_bytes(*pkcs8, serialization.BestAvailableEncryption(b"kept offline")))
    return path.read_bytes()


def _said_encrypted(done: object, path: Path) -> str:
    """``done`` ended with status 2 and one line naming the key at ``path`` as encrypted, with the way to decrypt it;
    the line."""
    returncode, stderr = done.returncode, done.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr and returncode == 2, stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith(f"zzgw: configuration error: {path} is an encrypted private key (under a passphrase)"), line
    assert f"openssl pkey -in {path} -out {path}.plain" in line, line
    assert "empty, cut short or damaged" not in line and "backup" not in line, line
    return line


def test_an_encrypted_member_ca_key_is_named_as_such(made: Path, tmp_path: Path) -> None:
    """R2 (a review of the damaged-files fix): the member CA's key, kept offline, may come back encrypted for storage.
    It had been said "empty, cut short or damaged: restore it from the backup", which gives the same file back."""
    env = _copy(made, tmp_path)
    key = Path(env["ZZGW_DATA_DIR"]) / "pki" / "ca.key"
    _encrypt(key)
    _said_encrypted(zzgw(_one_member_more(env, tmp_path), "init", timeout=60), key)


def test_init_names_a_damaged_dev_tokens_file(made: Path, tmp_path: Path) -> None:
    """A dev-tokens.json cut short had ended `zzgw init` in a traceback; it is named, and `--rotate-tokens` (the way
    out the line offers) writes a new one."""
    env = _copy(made, tmp_path)
    tokens = Path(env["ZZGW_DATA_DIR"]) / "dev-tokens.json"
    tokens.write_bytes(tokens.read_bytes()[:300])
    done = zzgw(env, "init", timeout=60)
    assert "Traceback" not in done.stderr and done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        f"zzgw: configuration error: {tokens} is not a dev-tokens file (empty, cut short or damaged: "
        "JSONDecodeError): restore it from the data directory's backup, or run `zzgw init --rotate-tokens` to give "
        "every member a new dev bearer token (the old ones stop working)"
    )
    rotated = zzgw(env, "init", "--rotate-tokens", timeout=60)
    assert rotated.returncode == 0, rotated.stderr
    assert MARKET in json.loads(tokens.read_text(encoding="utf-8"))["tokens"]


@pytest.fixture(scope="module")
def made_production(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory `zzgw init` made in production mode (mTLS: pki/server.pem and server.key are served)."""
    data = tmp_path_factory.mktemp("production") / "var"
    env = command_env(data, ZZGW_KEY_PASSPHRASE="damaged-data-directory", ZZGW_MODE="production", **DEMO_FILES)
    done = zzgw(env, "init")
    assert done.returncode == 0, done.stderr
    return data


def _production(made_production: Path, tmp_path: Path) -> dict[str, str]:
    return {**_copy(made_production, tmp_path), "ZZGW_MODE": "production", **DEMO_FILES}


SERVER_KEYS = {
    "garbage": (lambda pki: b"not a pem\n", "is not a PEM private key (empty, cut short or damaged)"),
    "empty": (lambda pki: b"", "is not a PEM private key (empty, cut short or damaged)"),
    "another pair's": (
        lambda pki: (pki / "members" / f"{MARKET}.key").read_bytes(),
        "is not the private key of the server certificate PKI/server.pem",
    ),
}
"""What a pki/server.key may be instead of server.pem's key: written from ``pki/``, and what is said of it."""


@pytest.mark.parametrize("case", SERVER_KEYS)
def test_serve_names_a_server_key_that_is_not_the_certificates(
    made_production: Path, tmp_path: Path, case: str
) -> None:
    """R2: gRPC, given a server key it cannot use, had not listened, and `zzgw serve` had said the address was in use
    or not available (the port was free), sending the operator after another process. The key is checked first."""
    env = _production(made_production, tmp_path)
    pki = Path(env["ZZGW_DATA_DIR"]) / "pki"
    write, what = SERVER_KEYS[case]
    (pki / "server.key").write_bytes(write(pki))
    done = zzgw(env, "serve", timeout=60)
    assert "Traceback" not in done.stderr and done.returncode == 2, done.stderr
    assert "cannot listen" not in done.stderr, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith(f"zzgw: configuration error: {pki / 'server.key'} {what.replace('PKI', str(pki))}"), line
    assert "run `zzgw init` where pki/ca.key is" in line, line


@pytest.mark.parametrize("case", SERVER_KEYS)
def test_init_issues_a_new_server_pair_for_a_server_key_that_is_not_the_certificates(
    made_production: Path, tmp_path: Path, case: str
) -> None:
    """R2: `zzgw init` had passed such a key without a word. With the member CA's key here it issues a new pair, as for
    a server certificate about to end, and says so; without it, it names the file, exit 2."""
    env = _production(made_production, tmp_path)
    pki = Path(env["ZZGW_DATA_DIR"]) / "pki"
    write, what = SERVER_KEYS[case]
    (pki / "server.key").write_bytes(write(pki))
    (pki / "ca.key").rename(tmp_path / "ca.key")  # kept offline
    refused = zzgw(env, "init", timeout=60)
    assert "Traceback" not in refused.stderr and refused.returncode == 2, refused.stderr
    line = refused.stderr.strip().splitlines()[-1]
    assert line.startswith(f"zzgw: configuration error: {pki / 'server.key'} {what.replace('PKI', str(pki))}"), line
    assert "bring the member CA's key (ca.key) back" in line, line
    (tmp_path / "ca.key").rename(pki / "ca.key")
    renewed = zzgw(env, "init", timeout=60)
    assert renewed.returncode == 0, renewed.stderr
    assert f"issued a new server certificate and key: {pki / 'server.key'} {what.replace('PKI', str(pki))}" in (
        renewed.stderr
    )
    certificate = x509.load_pem_x509_certificate((pki / "server.pem").read_bytes())
    key = serialization.load_pem_private_key((pki / "server.key").read_bytes(), password=None)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*spki) == certificate.public_key().public_bytes(*spki)
    assert zzgw(env, "init", timeout=60).stderr.count("issued a new server") == 0  # once


@pytest.mark.parametrize(
    ("store", "name"),
    [("made", "seal-ca/receipt.pem"), ("made", "seal-ca/tsa.pem"), ("made_production", "pki/server.pem")],
)
def test_certificates_names_a_damaged_certificate_of_the_gateways_own(
    request: pytest.FixtureRequest, tmp_path: Path, store: str, name: str
) -> None:
    """R3: `zzgw certificates` had left a damaged receipt, time-stamping or (in production) server certificate out of
    its list without a word, exit 0, while `zzgw serve` refused the directory. It names the file, exit 2, as it does a
    damaged root."""
    env = _copy(request.getfixturevalue(store), tmp_path)
    if store == "made_production":
        env["ZZGW_MODE"] = "production"
    path = Path(env["ZZGW_DATA_DIR"]) / name
    path.write_bytes(b"not a pem\n")
    listed = zzgw(env, "certificates")
    _said(listed, path, "certificates")
    assert not listed.stdout


def _put(path: Path, data: bytes) -> None:
    """``data`` put in place at ``path`` by a rename, so that the test's own writes show no reader a part of a file."""
    beside = path.with_name(f"{path.name}.test")
    beside.write_bytes(data)
    os.replace(beside, path)


def _other_key() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    return key.private_bytes(*pkcs8, serialization.NoEncryption())


def test_init_puts_a_new_server_pair_in_place_without_a_reader_seeing_a_part_of_it(tmp_path: Path) -> None:
    """R1 (a review of the server.key check): init wrote server.pem, then server.key, in place (truncated, then
    written); a worker or replica starting meanwhile read an empty file and stopped saying it was damaged, to be
    restored from the backup. Each file is now written beside and renamed over the old one: a reader polling both
    while init issues pair after pair sees whole files only."""
    settings = Settings(data_dir=tmp_path, grpc_addr="127.0.0.1:50051")
    ensure_pki(settings, [])
    pki = tmp_path / "pki"
    seen: list[str] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            for name in ("server.pem", "server.key"):
                data = (pki / name).read_bytes()
                try:
                    if name == "server.pem":
                        x509.load_pem_x509_certificate(data)
                    else:
                        serialization.load_pem_private_key(data, password=None)
                except ValueError:
                    seen.append(f"{name} read as {data[:40]!r}")

    switching = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the reader runs between any two steps of the writer
    reader = threading.Thread(target=read)
    reader.start()
    try:
        for _ in range(30):
            _put(pki / "server.key", _other_key())  # another pair's key: init issues a new pair
            ensure_pki(settings, [])
            assert server_key_fault(pki) == ""
    finally:
        stop.set()
        reader.join()
        sys.setswitchinterval(switching)
    assert not seen, seen[:5]
    assert not list(pki.glob("*.next"))


def test_serve_reads_the_server_pair_again_while_init_puts_it_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R1: between init's two renames the new key is beside the old certificate. `zzgw serve` starting then had
    stopped, saying the key was another pair's; it reads the pair again for a moment, and gives gRPC the bytes it
    checked (it had checked the files read a second time)."""
    settings = Settings(data_dir=tmp_path, grpc_addr="127.0.0.1:50051", mode="production")
    ensure_pki(settings, [])
    pki = tmp_path / "pki"
    new = CertificateAuthority.from_issued(Issued.read(pki, "ca")).issue_server(["127.0.0.1", "localhost"])
    _put(pki / "server.key", new.key_pem)  # init's first rename; the second, the certificate's, follows
    given: list[object] = []
    monkeypatch.setattr(server.grpc, "ssl_server_credentials", lambda pairs, **options: given.append(pairs) or object())
    later = threading.Timer(0.3, _put, (pki / "server.pem", new.cert_pem))
    later.start()
    try:
        server._server_credentials(settings)
    finally:
        later.join()
    assert given == [[(new.key_pem, new.cert_pem)]]


@pytest.mark.parametrize("left", ["damaged", "and-left-beside"])
def test_a_new_server_key_is_readable_by_the_gateways_user_only(tmp_path: Path, left: str) -> None:
    """R3 (a review of the server.key check): a new key written over a server.key others could read (re-created by
    hand under umask 022, say) kept that file's mode 0644: a fresh private key, readable by every user. It is 0600,
    whatever the file it replaces, or one left beside it, was."""
    settings = Settings(data_dir=tmp_path, grpc_addr="127.0.0.1:50051")
    ensure_pki(settings, [])
    key = tmp_path / "pki" / "server.key"
    key.write_bytes(b"not a pem\n")
    key.chmod(0o644)
    if left == "and-left-beside":  # by a run cut short
        key.with_name("server.key.next").write_bytes(b"")
        key.with_name("server.key.next").chmod(0o644)
    ensure_pki(settings, [])
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert server_key_fault(tmp_path / "pki") == ""
    assert not key.with_name("server.key.next").exists()


def test_an_encrypted_server_key_is_named_as_such_and_kept(made_production: Path, tmp_path: Path) -> None:
    """R2: an encrypted pki/server.key (the certificate's key, under a passphrase) had been said "empty, cut short or
    damaged" by `zzgw serve`, and `zzgw init` had replaced it with a new pair, saying it was damaged. gRPC takes no
    passphrase, so both name it as encrypted, say how to decrypt it, and leave it as it is."""
    env = _production(made_production, tmp_path)
    pki = Path(env["ZZGW_DATA_DIR"]) / "pki"
    key = _encrypt(pki / "server.key")
    certificate = (pki / "server.pem").read_bytes()
    line = _said_encrypted(zzgw(env, "serve", timeout=60), pki / "server.key")
    assert "TLS cannot be served with it" in line and "cannot listen" not in line, line
    _said_encrypted(zzgw(env, "init", timeout=60), pki / "server.key")
    assert (pki / "server.key").read_bytes() == key and (pki / "server.pem").read_bytes() == certificate


def test_an_encrypted_server_key_is_kept_in_dev_mode(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """R2: dev mode serves no TLS, so init says what production mode would refuse, and keeps the key all the same."""
    settings = Settings(data_dir=tmp_path, grpc_addr="127.0.0.1:50051")
    ensure_pki(settings, [])
    key = _encrypt(tmp_path / "pki" / "server.key")
    with caplog.at_level("WARNING", logger="zzgw"):
        ensure_pki(settings, [])
    assert (tmp_path / "pki" / "server.key").read_bytes() == key
    assert "is an encrypted private key (under a passphrase): in production mode it could not be served" in caplog.text
    assert "issued a new server" not in caplog.text


@pytest.mark.parametrize("kind", ["ed25519", "secp256k1", "rsa-1024"])  # DSA also: not tested, deprecated
def test_a_server_pair_of_a_key_tls_cannot_serve_with_is_named(tmp_path: Path, kind: str) -> None:
    """A pair of a key gRPC's TLS cannot serve with passed the check: with secp256k1 or DSA, serve then said the
    address was in use, the port free; with Ed25519 it listened and no client finished a handshake (a reviewer). It is
    named, with the kinds that serve."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
    from cryptography.x509.oid import NameOID

    key = {
        "ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
        "secp256k1": lambda: ec.generate_private_key(ec.SECP256K1()),
        "rsa-1024": lambda: rsa.generate_private_key(65537, 1024),
    }[kind]()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "zzgw")])
    now = dt.datetime.now(dt.UTC)
    certificate = x509.CertificateBuilder(
        subject_name=name,
        issuer_name=name,
        public_key=key.public_key(),
        serial_number=1,
        not_valid_before=now,
        not_valid_after=now + dt.timedelta(days=1),
    ).sign(key, None if kind == "ed25519" else hashes.SHA256())
    pki = tmp_path / "pki"
    pki.mkdir()
    (pki / "server.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (pki / "server.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    said = server_key_fault(pki)
    assert "which the gateway's TLS cannot serve with" in said and "P-256" in said, said
