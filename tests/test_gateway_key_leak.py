"""The leak procedure for the gateway's receipt and time-stamping keys (docs/operations.md: Revoking the receipt or
time-stamping certificate after a key leak), as an operator runs it: entries added to seal-ca/revocations.json by
hand, `zzgw init`, `zzgw serve` and the CRL it serves."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509

from benchmarks.common import wait_serving
from gateway.authorities import openssl_serial
from signing.seal_ca import SealMakerCA
from signing.sm2_x509 import public_key_der
from tests.commands import command_env, zzgw

ROOT = Path(__file__).resolve().parent.parent
LEAKED_AT = "2026-12-01T08:00:00+08:00"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return command_env(tmp_path / "var", ZZGW_KEY_PASSPHRASE="leak-test-passphrase")


def served_crls(env: dict[str, str], *names: str) -> list[x509.CertificateRevocationList]:
    """`zzgw serve` started with ``env`` until it serves, the CRLs ``names`` (under /crl/) fetched, then stopped."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        crls = []
        for name in names:
            with urllib.request.urlopen(f"http://{env['ZZGW_HTTP_ADDR']}/crl/{name}", timeout=10) as response:
                crls.append(x509.load_der_x509_crl(response.read()))
        return crls
    finally:
        server.terminate()
        server.communicate(timeout=60)


def _serial(path: Path) -> int:
    return x509.load_pem_x509_certificate(path.read_bytes()).serial_number


def _add_revocation(data: Path, serial: str) -> None:
    """One entry added by hand, as the procedure says, with the serial as `openssl x509 -noout -serial` prints it."""
    path = data / "seal-ca" / "revocations.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["revocations"].append({"serial": serial, "reason": "keyCompromise", "revoked_at": LEAKED_AT})
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")


def _set_serial(data: Path, wrong: str, right: str) -> None:
    path = data / "seal-ca" / "revocations.json"
    path.write_text(path.read_text(encoding="utf-8").replace(wrong, right), encoding="utf-8")


def test_a_mistyped_serial_is_refused_and_each_revocation_and_new_key_is_said(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A serial the CA never issued (a typo) had been taken without a word, the leaked TSA certificate left off the
    CRL; and init had said neither what it revoked nor that it made a new key (a keys tester, D1). A leaked key put
    back (a restore from before the procedure, or the procedure's move left out) had signed on under its revoked
    certificate (D2)."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    aside = tmp_path / "aside"
    aside.mkdir()
    tsa_serial = _serial(data / "seal-ca" / "tsa.pem")
    right = openssl_serial(tsa_serial)
    typo = openssl_serial(tsa_serial ^ 1)
    _add_revocation(data, typo)
    for path in (data / "keys" / "tsa.key.pem", data / "seal-ca" / "tsa.pem"):
        shutil.move(path, aside / path.name)

    refused = zzgw(env, "init")
    assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused.stderr
    assert f"{data / 'seal-ca' / 'revocations.json'} lists serial {typo} (keyCompromise from " in refused.stderr
    assert "which is no certificate this seal-maker CA issued to the gateway or its seals" in refused.stderr
    assert f"time-stamping certificate {right}" in refused.stderr  # the serial meant, to compare with
    assert not (data / "seal-ca" / "tsa.pem").exists()  # refused before it made a new key
    served = zzgw(env, "serve", timeout=60)
    assert served.returncode == 2 and f"lists serial {typo}" in served.stderr, served.stderr

    _set_serial(data, typo, right)
    taken = zzgw(env, "init")
    assert taken.returncode == 0, taken.stderr
    assert (
        f"revoked: a time-stamping certificate {right} (keyCompromise from 2026-12-01T00:00:00+00:00), listed on the "
        "seal-maker CRL from now on" in taken.stdout
    )
    new_tsa = openssl_serial(_serial(data / "seal-ca" / "tsa.pem"))
    assert (
        f"new: the time-stamping key and certificate {data / 'keys' / 'tsa.key.pem'}, {data / 'seal-ca' / 'tsa.pem'} "
        f"(serial {new_tsa}); copy both to every replica" in taken.stdout
    )
    again = zzgw(env, "init")
    assert again.returncode == 0 and "revoked:" not in again.stdout and "new:" not in again.stdout

    # the receipt key: an entry added, the key left in place, is refused by init and serve alike
    receipt_serial = _serial(data / "seal-ca" / "receipt.pem")
    receipt = openssl_serial(receipt_serial)
    _add_revocation(data, receipt)
    for command in ("init", "serve"):
        left = zzgw(env, command, timeout=60)
        assert left.returncode == 2, left.stderr
        assert (
            f"the receipt certificate {data / 'seal-ca' / 'receipt.pem'} (serial {receipt}) is revoked in "
            f"{data / 'seal-ca' / 'revocations.json'} (keyCompromise from 2026-12-01T00:00:00+00:00): its key "
            f"({data / 'keys' / 'receipts.key.pem'}) must sign nothing more" in left.stderr
        )
    receipt_aside = tmp_path / "receipt-aside"
    receipt_aside.mkdir()
    for path in (data / "keys" / "receipts.key.pem", data / "seal-ca" / "receipt.pem"):
        shutil.move(path, receipt_aside / path.name)
    replaced = zzgw(env, "init")
    assert replaced.returncode == 0, replaced.stderr
    assert f"revoked: a receipt certificate {receipt} (keyCompromise from" in replaced.stdout
    assert "new: the receipt key and certificate" in replaced.stdout

    (crl,) = served_crls(env, "seal-maker.crl")
    for serial in (tsa_serial, receipt_serial):
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert entry is not None
        assert entry.revocation_date_utc == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
        assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise

    # a restore that puts the leaked TSA key back: refused, naming the files
    for name, where in (("tsa.key.pem", "keys"), ("tsa.pem", "seal-ca")):
        shutil.copy(aside / name, data / where / name)
    for command in ("serve", "init"):
        back = zzgw(env, command, timeout=60)
        assert back.returncode == 2, back.stderr
        assert (
            f"the time-stamping certificate {data / 'seal-ca' / 'tsa.pem'} (serial {right}) is revoked in"
            in back.stderr
        )
        assert f"move {data / 'keys' / 'tsa.key.pem'} and {data / 'seal-ca' / 'tsa.pem'} aside" in back.stderr


def test_entries_of_a_file_written_before_the_listed_serials_are_taken_as_they_are(tmp_path: Path) -> None:
    """A revocations.json without ``listed`` (written before it was kept) has every entry listed: none is checked
    again; one written since has only the gateway's own entries listed."""
    now = dt.datetime.now(dt.UTC)
    ca = SealMakerCA.create("leak test", now)
    ca.save(tmp_path, b"passphrase")
    ca.revoke(0x1234, x509.ReasonFlags.superseded, now)
    state = json.loads((tmp_path / "revocations.json").read_text(encoding="utf-8"))
    assert state["listed"] == ["1234"]
    state["revocations"].append({"serial": "abcd", "reason": "keyCompromise", "revoked_at": LEAKED_AT})
    (tmp_path / "revocations.json").write_text(json.dumps(state), encoding="utf-8")
    loaded = SealMakerCA.load(tmp_path, b"passphrase")
    assert [r.serial for r in loaded.unlisted()] == [0xABCD]
    loaded.take_listed([0xABCD])
    assert SealMakerCA.load(tmp_path, b"passphrase").unlisted() == ()
    assert SealMakerCA.load(tmp_path, b"passphrase").keeps_listed
    del state["listed"]
    (tmp_path / "revocations.json").write_text(json.dumps(state), encoding="utf-8")
    legacy = SealMakerCA.load(tmp_path, b"passphrase")
    assert legacy.unlisted() == () and not legacy.keeps_listed  # `zzgw init` gives it the list (the test above)
    legacy.take_listed(r.serial for r in legacy.revocations)
    assert SealMakerCA.load(tmp_path, b"passphrase").keeps_listed


def test_an_upgraded_stores_revocations_are_listed_by_init_and_a_later_typo_refused(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A revocations.json written before ``listed`` was kept (an upgraded store) had never been given it, as only a
    later RevokeSeal wrote the file: every entry added by hand since was taken unchecked and unsaid, for good (a
    reviewer, R1). `zzgw init` now records its entries as listed, saying so once, and names an entry that is no
    certificate the gateway knows of; a typo added after that is refused."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    path = data / "seal-ca" / "revocations.json"
    old = {"crl_number": 0, "revocations": [{"serial": "bad1", "reason": "keyCompromise", "revoked_at": LEAKED_AT}]}
    path.write_text(json.dumps(old), encoding="utf-8")  # as a version before 85ff37d wrote it

    upgraded = zzgw(env, "init")
    assert upgraded.returncode == 0, upgraded.stderr
    assert (
        f"listed: {path}: 1 entry of a file written before the gateway recorded which entries it has taken, recorded "
        "as taken (0 of them certificates the gateway knows of); an entry added by hand from now on is checked"
        in upgraded.stdout
    )
    assert f"warning: {path} lists serial BAD1 (keyCompromise from 2026-12-01T00:00:00+00:00), no certificate" in (
        upgraded.stderr
    )
    assert json.loads(path.read_text(encoding="utf-8"))["listed"] == ["bad1"]
    again = zzgw(env, "init")
    assert again.returncode == 0 and "listed:" not in again.stdout and "BAD1" not in again.stderr

    tsa_serial = _serial(data / "seal-ca" / "tsa.pem")
    typo = openssl_serial(tsa_serial ^ 1)
    _add_revocation(data, typo)
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert f"{path} lists serial {typo} (keyCompromise from " in refused.stderr


def _outside_certificate(external: SealMakerCA, name: str) -> x509.Certificate:
    """A seal certificate the external CA issued before the gateway took it over."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    now = dt.datetime.now(dt.UTC)
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return external.issue_seal_certificate(
        issuer_name=name,
        issuer_uscc="91370100MA3C000001",
        seal_name="电子证照专用章",
        public_key=public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        not_before=now - dt.timedelta(days=1),
        not_after=now + dt.timedelta(days=300),
    )


def test_an_imported_cas_revocations_come_with_it_and_its_earlier_certificates_may_be_revoked(
    env: dict[str, str], tmp_path: Path
) -> None:
    """After `zzgw import-ca`, an entry added by hand for a certificate the CA had issued before was refused as a
    typo, with no right serial to put: the CA's earlier revocations could not be kept on the CRL the gateway signs (a
    reviewer, R3). `import-ca --crl` brings them in; a certificate of before the import appended to
    seal-ca/certificates-issued-outside.pem may be revoked by hand."""
    from cryptography.hazmat.primitives import serialization

    now = dt.datetime.now(dt.UTC)
    external = SealMakerCA.create("their seal maker", now)
    source = tmp_path / "external"
    external.save(source, b"theirs")
    revoked_before = _outside_certificate(external, "甲")
    leaked_later = _outside_certificate(external, "乙")
    external.revoke(revoked_before.serial_number, x509.ReasonFlags.key_compromise, now - dt.timedelta(days=2))
    (tmp_path / "their.crl").write_bytes(external.crl(now, now + dt.timedelta(days=7)))
    other = SealMakerCA.create("another", now)
    (tmp_path / "other.crl").write_bytes(other.crl(now, now + dt.timedelta(days=7)))
    data = tmp_path / "var"
    importing = {**env, "ZZGW_SEAL_CA_KEY_PASSPHRASE": "theirs"}
    args = ["import-ca", "--root", str(source / "root.pem"), "--intermediate", str(source / "intermediate.pem")]
    args += ["--key", str(source / "intermediate.key.pem")]

    wrong = zzgw(importing, *args, "--crl", str(tmp_path / "other.crl"))
    assert wrong.returncode == 2 and "--crl is not a CRL of" in wrong.stderr, wrong.stderr
    assert not (data / "seal-ca" / "root.pem").exists()
    imported = zzgw(importing, *args, "--crl", str(tmp_path / "their.crl"))
    assert imported.returncode == 0, imported.stderr
    assert "1 revocation of its CRL" in imported.stdout
    assert zzgw(env, "init").returncode == 0

    _add_revocation(data, openssl_serial(leaked_later.serial_number))
    refused = zzgw(env, "init")
    assert refused.returncode == 2, refused.stderr
    assert f"once appended to {data / 'seal-ca' / 'certificates-issued-outside.pem'}" in refused.stderr
    with (data / "seal-ca" / "certificates-issued-outside.pem").open("ab") as out:
        out.write(leaked_later.public_bytes(serialization.Encoding.PEM))
    taken = zzgw(env, "init")
    assert taken.returncode == 0, taken.stderr
    assert (
        f"revoked: a certificate issued before the CA was imported {openssl_serial(leaked_later.serial_number)}"
        in taken.stdout
    )

    (crl,) = served_crls(env, "seal-maker.crl")
    assert crl.is_signature_valid(external.intermediate.public_key())  # type: ignore[arg-type]
    for certificate in (revoked_before, leaked_later):
        assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None


def test_the_sm2_seal_makers_leak_is_checked_said_and_its_key_refused_until_replaced(
    env: dict[str, str], tmp_path: Path
) -> None:
    """The SM2 seal maker's CA had been handled unevenly (a reviewer, R4): a typo in seal-ca-sm2/revocations.json was
    told the gateway's certificates of the CA were none and sent to seal-ca/tsa-certificates.pem, the revoked line
    named no file, and a revoked maker certificate with its key left in place was served."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    sm2 = data / "seal-ca-sm2"
    if not (sm2 / "maker.pem").exists():
        pytest.skip("the system OpenSSL has no SM2")
    maker = openssl_serial(_serial(sm2 / "maker.pem"))
    typo = openssl_serial(_serial(sm2 / "maker.pem") ^ 1)
    path = sm2 / "revocations.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["revocations"].append({"serial": typo, "reason": "keyCompromise", "revoked_at": LEAKED_AT})
    path.write_text(json.dumps(state), encoding="utf-8")
    mistyped = zzgw(env, "init")
    assert mistyped.returncode == 2, mistyped.stderr
    assert f"{path} lists serial {typo}" in mistyped.stderr
    assert f"the gateway's certificates of this CA are SM2 seal maker's certificate {maker} (" in mistyped.stderr
    assert "tsa-certificates.pem" not in mistyped.stderr

    path.write_text(path.read_text(encoding="utf-8").replace(typo, maker), encoding="utf-8")
    for command in ("init", "serve"):
        left = zzgw(env, command, timeout=60)
        assert left.returncode == 2, (command, left.stderr)
        assert (
            f"the SM2 seal maker's certificate {sm2 / 'maker.pem'} (serial {maker}) is revoked in {path} "
            f"(keyCompromise from 2026-12-01T00:00:00+00:00): its key ({data / 'keys' / 'sm2maker.key.pem'}) must "
            "sign nothing more" in left.stderr
        ), (command, left.stderr)
    aside = tmp_path / "aside"
    aside.mkdir()
    for moved in (data / "keys" / "sm2maker.key.pem", sm2 / "maker.pem"):
        shutil.move(moved, aside / moved.name)
    replaced = zzgw(env, "init")
    assert replaced.returncode == 0, replaced.stderr
    assert (
        f"revoked: an SM2 seal maker's certificate {maker} (keyCompromise from 2026-12-01T00:00:00+00:00), listed on "
        f"the SM2 seal maker's CRL from now on (/crl/seal-maker-sm2.crl; {path})" in replaced.stdout
    )
    assert openssl_serial(_serial(sm2 / "maker.pem")) != maker
    served_crls(env)  # serves, the new maker key in place


def _revoke_the_maker(data: Path) -> str:
    """An entry for ``seal-ca-sm2/maker.pem``'s serial added by hand (keyCompromise), as the procedure says; its
    serial."""
    sm2 = data / "seal-ca-sm2"
    maker = openssl_serial(_serial(sm2 / "maker.pem"))
    path = sm2 / "revocations.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    state["revocations"].append({"serial": maker, "reason": "keyCompromise", "revoked_at": LEAKED_AT})
    path.write_text(json.dumps(state), encoding="utf-8")
    return maker


def test_a_leaked_sm2_maker_key_left_in_keys_is_refused_and_never_certified_again(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``maker.pem`` moved aside, the leaked key left in ``keys/`` (a reviewer, R2): init had certified the leaked
    key again under a new certificate no CRL lists, and serve signed SM2 seals with it."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    sm2 = data / "seal-ca-sm2"
    if not (sm2 / "maker.pem").exists():
        pytest.skip("the system OpenSSL has no SM2")
    leaked = _revoke_the_maker(data)
    key = data / "keys" / "sm2maker.key.pem"
    aside = tmp_path / "aside"
    aside.mkdir()
    shutil.move(sm2 / "maker.pem", aside / "maker.pem")
    for command in ("init", "serve"):
        left = zzgw(env, command, timeout=60)
        assert left.returncode == 2, (command, left.stderr)
        assert (
            f"the SM2 seal maker's key ({key}) is the key of certificate {leaked} (in "
            f"{sm2 / 'maker-certificates.pem'}), revoked in {sm2 / 'revocations.json'} (keyCompromise from "
            "2026-12-01T00:00:00+00:00): it must sign nothing more" in left.stderr
        ), (command, left.stderr)
        assert not (sm2 / "maker.pem").exists(), command  # not certified again
    shutil.move(key, aside / key.name)
    replaced = zzgw(env, "init")
    assert replaced.returncode == 0, replaced.stderr
    assert openssl_serial(_serial(sm2 / "maker.pem")) != leaked
    new = x509.load_pem_x509_certificate((sm2 / "maker.pem").read_bytes())
    old = x509.load_pem_x509_certificate((aside / "maker.pem").read_bytes())
    assert public_key_der(new) != public_key_der(old)
    assert served_crls(env, "seal-maker-sm2.crl")[0].get_revoked_certificate_by_serial_number(old.serial_number)


def test_an_sm2_maker_key_not_maker_pems_is_refused_at_the_start_naming_both(
    env: dict[str, str], tmp_path: Path
) -> None:
    """``keys/`` restored from before the leak procedure beside its new ``maker.pem`` (a reviewer, R2): init and serve
    had started, and every SM2 RegisterSeal was INTERNAL. Refused as the TSA's key of another pair is."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    sm2 = data / "seal-ca-sm2"
    if not (sm2 / "maker.pem").exists():
        pytest.skip("the system OpenSSL has no SM2")
    key = data / "keys" / "sm2maker.key.pem"
    backup = tmp_path / "backup.key.pem"
    shutil.copy(key, backup)
    _revoke_the_maker(data)
    aside = tmp_path / "aside"
    aside.mkdir()
    for moved in (key, sm2 / "maker.pem"):
        shutil.move(moved, aside / moved.name)
    assert zzgw(env, "init").returncode == 0
    shutil.copy(backup, key)  # keys/ restored from the older backup
    for command in ("init", "serve"):
        restored = zzgw(env, command, timeout=60)
        assert restored.returncode == 2, (command, restored.stderr)
        assert (
            f"the SM2 seal maker's key ({key}) does not belong to its certificate ({sm2 / 'maker.pem'})"
            in restored.stderr
        ), (command, restored.stderr)


def test_a_leak_entry_for_a_receipt_certificate_retired_as_superseded_is_said(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A backup holding a retired receipt key leaked: the entry added for its certificate, which the key change had
    revoked as superseded, makes the revocation keyCompromise and earlier. `zzgw init` took it without a word, its
    serial listed already, so the operator could not tell whether the leak revocation took effect (a receipt-keys
    reviewer, R3). It says it, with what it was, once; a file written before the revocations were kept with their
    reason and time (serials alone) is given them, and an entry added after that is said too."""
    data = tmp_path / "var"
    assert zzgw(env, "init").returncode == 0
    retired = openssl_serial(_serial(data / "seal-ca" / "receipt.pem"))
    for path in (data / "keys" / "receipts.key.pem", data / "seal-ca" / "receipt.pem"):
        path.unlink()
    rotated = zzgw(env, "init")
    assert rotated.returncode == 0, rotated.stderr
    path = data / "seal-ca" / "revocations.json"
    state = json.loads(path.read_text(encoding="utf-8"))
    (superseded,) = state["revocations"]
    assert (int(superseded["serial"], 16), superseded["reason"]) == (int(retired, 16), "superseded")
    state.pop("listed_as", None)  # as the version before this one wrote it: serials alone
    path.write_text(json.dumps(state, indent=1), encoding="utf-8")
    again = zzgw(env, "init")  # records how each listed one stands, and says nothing
    assert again.returncode == 0 and "revoked:" not in again.stdout, again.stdout

    _add_revocation(data, retired)
    taken = zzgw(env, "init")
    assert taken.returncode == 0, taken.stderr
    assert (
        f"revoked: a receipt certificate {retired} (keyCompromise from 2026-12-01T00:00:00+00:00; it was superseded "
        "from " in taken.stdout
    ), taken.stdout
    once = zzgw(env, "init")
    assert once.returncode == 0 and "revoked:" not in once.stdout, once.stdout
    (crl,) = served_crls(env, "seal-maker.crl")
    entry = crl.get_revoked_certificate_by_serial_number(int(retired, 16))
    assert entry is not None and entry.revocation_date_utc == dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
