"""A revoked member stays locked out, whatever else happens: no console token is issued to it, no credential left
on its row signs it in, a renewal never certifies a key it had again, and a renewal racing a revocation (two
operators, two replicas on one PostgreSQL store) or another renewal (one data directory) leaves nothing registered
that the data directory or the store does not say (a review of the member administration, R1-R6)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.domain.errors import ConflictError, UnauthenticatedError
from gateway.member_certificates import RenewalRefused, renew_certificate
from gateway.services.members import Authenticator, token_digest
from signing.pki import Issued
from tests.commands import command_env, zzgw
from tests.conftest import TAX, RunningGateway

HEALTH = "1137010099370110X6"  # 济南市医疗保障局, a consumer
HR = "11370100993701070X"  # 济南市人力资源和社会保障局
PROPERTY = "123701009937011183"  # 济南市不动产登记中心
DATA = "11370100993701134U"  # 济南市大数据局
CIVIL = "113701009937010548"  # 济南市民政局
TRAFFIC = "11370100993701038J"  # 济南市公安局交通警察支队


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return command_env(
        tmp_path / "var",
        ZZGW_KEY_PASSPHRASE="revoked-members-passphrase",
        ZZGW_GRPC_ADDR="127.0.0.1:37801",  # nothing here listens: the commands open the store only
        ZZGW_HTTP_ADDR="127.0.0.1:37802",
    )


def _request(key_pem: bytes, path: Path) -> Path:
    """A certificate signing request on the key ``key_pem``, as a department makes one (docs/departments.md)."""
    key = serialization.load_pem_private_key(key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "the department")]))
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def _refused(error: pytest.ExceptionInfo[UnauthenticatedError]) -> str:
    return error.value.reason


def test_a_revoked_member_is_issued_no_console_token_and_no_credential_left_on_it_signs_in(
    running: RunningGateway,
) -> None:
    """R1: `zzgw console-token CODE` (and `--clerk NAME`) had given a revoked member working console tokens, while
    `zzgw members` listed it revoked; and the authenticator took any credential its row held. Now the issue is
    refused (MEMBER_REVOKED), and a credential left on a revoked member's row (issued so before this fix, or by a
    renewal racing the revocation) is refused as a revoked member's is; `--restore` ends those leftovers, and then
    the member is issued console tokens again, which work."""
    gateway = running.gateway
    members = gateway.members
    before = members.issue_clerk_token(TAX, "窗口 1")
    assert members.revoke(TAX) >= 1
    for issue in (lambda: members.issue_console_token(TAX), lambda: members.issue_clerk_token(TAX, "窗口 1")):
        with pytest.raises(ConflictError) as refused:
            issue()
        assert refused.value.reason == "MEMBER_REVOKED" and "--restore" in refused.value.message
    # what the unfixed command left: a department's token, a clerk's, and a certificate registered on the row
    token, clerk_token = "zzgw-console-left-over", "zzgw-clerk-left-over"
    der = Issued.read(gateway.settings.pki_dir / "members", TAX).cert_der
    with gateway.db.unit_of_work(write=True) as uow:
        (member,) = [m for m in uow.members.all() if m.code == TAX]
        now = gateway.clock.now()
        uow.members.save(member, at=now, token_sha256=token_digest(token), cert_sha256=hashlib.sha256(der).hexdigest())
        uow.console_clerks.issue(TAX, "窗口 2", token_digest(clerk_token), now)
        uow.commit()
    authenticator = Authenticator(gateway.db, gateway.clock, dev_tokens=False)
    with pytest.raises(UnauthenticatedError) as department:
        authenticator.by_console_token(token)
    with pytest.raises(UnauthenticatedError) as clerk:
        authenticator.by_console_token(clerk_token)
    with pytest.raises(UnauthenticatedError) as certificate:
        authenticator.by_certificate(der)
    assert (_refused(department), _refused(clerk), _refused(certificate)) == (
        "UNKNOWN_CREDENTIAL",
        "TOKEN_ENDED",
        "CREDENTIAL_REVOKED",
    )
    with pytest.raises(UnauthenticatedError):
        authenticator.by_console_token(before)  # the revocation ended the clerk's token before

    members.restore(TAX)  # the leftovers end with the revocation: nothing issued while revoked comes back
    authenticator = Authenticator(gateway.db, gateway.clock, dev_tokens=False)
    for left in (token, clerk_token):
        with pytest.raises(UnauthenticatedError):
            authenticator.by_console_token(left)
    with pytest.raises(UnauthenticatedError) as certificate:
        authenticator.by_certificate(der)
    assert _refused(certificate) == "CREDENTIAL_REVOKED"
    with gateway.db.unit_of_work() as uow:
        assert TAX not in uow.members.certificate_digests()
    # restored, the member works again as documented: console tokens issued, and they sign in
    department_token = members.issue_console_token(TAX)
    clerks_token = members.issue_clerk_token(TAX, "窗口 1")
    assert authenticator.by_console_token(department_token).member.code == TAX
    signed_in = authenticator.by_console_token(clerks_token)
    assert (signed_in.member.code, signed_in.clerk) == (TAX, "窗口 1")


def test_console_token_refuses_a_revoked_member_in_one_line(env: dict[str, str]) -> None:
    """R1, as the operator sees it: `zzgw console-token CODE --clerk NAME` for a revoked member is refused, exit 2,
    saying it is revoked and how to restore it; nothing on standard output."""
    assert zzgw(env, "init").returncode == 0
    assert zzgw(env, "members", "--revoke", TAX).returncode == 0
    refused = zzgw(env, "console-token", TAX, "--clerk", "3号窗口 王敏")
    assert refused.returncode == 2 and not refused.stdout, refused.stderr
    assert f"member {TAX} is revoked" in refused.stderr and f"zzgw members --restore {TAX}" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert zzgw(env, "members", "--restore", TAX).returncode == 0
    issued = zzgw(env, "console-token", TAX, "--clerk", "3号窗口 王敏")
    assert issued.returncode == 0 and issued.stdout.startswith("zzgw-clerk-"), issued.stderr


def test_a_renewal_never_certifies_a_key_the_member_had(env: dict[str, str], tmp_path: Path) -> None:
    """R2: after `--revoke` (its key may have leaked), `--restore` and `zzgw init`, `--renew CODE --csr` on the revoked
    key had been certified and accepted; so had a request on the key of a retired certificate. Each is refused,
    naming why, and nothing is registered or written; a request on a new key is certified."""
    assert zzgw(env, "init").returncode == 0
    members = Path(env["ZZGW_DATA_DIR"]) / "pki" / "members"
    leaked = Issued.read(members, HEALTH).key_pem
    assert zzgw(env, "members", "--revoke", HEALTH).returncode == 0
    assert zzgw(env, "members", "--restore", HEALTH).returncode == 0
    assert zzgw(env, "init").returncode == 0  # a new pair
    issued = Issued.read(members, HEALTH)
    again = zzgw(env, "members", "--renew", HEALTH, "--csr", str(_request(leaked, tmp_path / "leaked.csr")))
    assert again.returncode == 2, again.stderr
    assert "is for the key of a client certificate --revoke took" in again.stderr, again.stderr
    assert "a key that may have leaked is never certified again" in again.stderr
    assert Issued.read(members, HEALTH) == issued and not list(members.glob("*.next*"))
    assert "旧证书" not in zzgw(env, "members").stdout  # nothing registered

    # a retired certificate's key: renewed here, retired, then a request on the retired key
    assert zzgw(env, "members", "--renew", HEALTH).returncode == 0
    assert zzgw(env, "members", "--retire", HEALTH).returncode == 0
    retired = zzgw(env, "members", "--renew", HEALTH, "--csr", str(_request(issued.key_pem, tmp_path / "old.csr")))
    assert retired.returncode == 2, retired.stderr
    assert "is for the key of a client certificate the member had before" in retired.stderr, retired.stderr

    fresh = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    renewed = zzgw(env, "members", "--renew", HEALTH, "--csr", str(_request(fresh, tmp_path / "new.csr")))
    assert renewed.returncode == 0, renewed.stderr


def test_a_revocation_finishes_with_a_damaged_dev_tokens_file(env: dict[str, str]) -> None:
    """R3: `--revoke` with a dev-tokens.json it cannot read had died with a traceback after the store's revocation,
    leaving the revoked pair in place and saying nothing. The revocation finishes (the pair moved aside, said), and
    the file is named, its entry to be removed by hand."""
    assert zzgw(env, "init").returncode == 0
    data = Path(env["ZZGW_DATA_DIR"])
    tokens = data / "dev-tokens.json"
    tokens.write_bytes(tokens.read_bytes()[:300])  # cut short, as by a full disk
    revoked = zzgw(env, "members", "--revoke", HR)
    assert revoked.returncode == 0, revoked.stderr
    assert "Traceback" not in revoked.stderr
    assert f"{HR}: revoked" in revoked.stderr and "kept aside as" in revoked.stderr
    assert f"{tokens} cannot be read" in revoked.stderr and f"remove {HR}'s entry by hand" in revoked.stderr
    members = data / "pki" / "members"
    assert not (members / f"{HR}.pem").exists() and list(members.glob(f"{HR}.revoked-*.pem"))


def test_certificates_names_a_trust_anchor_that_is_not_a_certificate(env: dict[str, str]) -> None:
    """R4: `zzgw certificates` with an empty or damaged root file (a copy that stopped midway) had died with a
    traceback naming no file. It says which file, exit 2."""
    pki = Path(env["ZZGW_DATA_DIR"]) / "pki"
    pki.mkdir(parents=True)
    (pki / "ca.pem").write_bytes(b"")
    listed = zzgw(env, "certificates")
    assert listed.returncode == 2, listed.stderr
    assert f"zzgw certificates: {pki / 'ca.pem'} is not a PEM certificate" in listed.stderr
    assert "Traceback" not in listed.stderr and not listed.stdout


def test_a_renewal_racing_a_revocation_registers_nothing_on_the_revoked_member(
    running: RunningGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """R5: on PostgreSQL a `--revoke` committed while a `--renew` of the same member was in its transaction left the
    member revoked with the new certificate registered and accepted (the renewal's UPDATE landed on the revoked
    row). The two take the member's row in turn: here the renewal first, and the revocation then takes its new
    certificate too."""
    import gateway.services.members as service

    gateway = running.gateway
    ca_members = gateway.settings.pki_dir / "members"
    der = Issued.read(ca_members, PROPERTY).cert_der
    key = serialization.load_pem_private_key(Issued.read(ca_members, PROPERTY).key_pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    new = _another_certificate(gateway.settings.pki_dir, PROPERTY)
    checked = threading.Event()
    real = service._renewable

    def slow(uow, code, ended=None):  # type: ignore[no-untyped-def]
        found = real(uow, code, ended)
        if threading.current_thread().name == "renewal":
            checked.set()
            time.sleep(0.5)  # the revocation's window: it commits within it unless it waits for the renewal
        return found

    monkeypatch.setattr(service, "_renewable", slow)
    failures: list[BaseException] = []

    def renew() -> None:
        try:
            gateway.members.renew(PROPERTY, new)
        except BaseException as exc:  # said below
            failures.append(exc)

    renewal = threading.Thread(target=renew, name="renewal")
    renewal.start()
    assert checked.wait(10)
    gateway.members.revoke(PROPERTY)
    renewal.join(10)
    assert all(isinstance(exc, ConflictError) for exc in failures), failures
    with gateway.db.unit_of_work() as uow:
        assert PROPERTY in uow.members.revoked()
        assert PROPERTY not in uow.members.certificate_digests()
        assert PROPERTY not in uow.members.previous_certificate_digests()
        assert uow.members.by_cert_hash(hashlib.sha256(new).hexdigest()) is None
    authenticator = Authenticator(gateway.db, gateway.clock, dev_tokens=False)
    for certificate in (new, der):
        with pytest.raises(UnauthenticatedError):
            authenticator.by_certificate(certificate)


def _another_certificate(pki: Path, code: str) -> bytes:
    from signing.pki import CertificateAuthority

    ca = CertificateAuthority.from_issued(Issued.read(pki, "ca"))
    return ca.issue_client(code=code, name="济南市不动产登记中心").cert_der


def test_two_renewals_at_once_leave_the_registered_pair_in_place(running: RunningGateway) -> None:
    """R6: two `zzgw members --renew CODE` at once on one data directory both wrote `CODE.next.*`; the one the store
    took put in place whatever those held by then, the other's pair, which no store registered. They renew in turn:
    the second is refused (RENEWAL_OVERLAPS), and `CODE.pem`/`CODE.key` are the registered certificate and its key."""
    gateway = running.gateway
    settings = gateway.settings
    members = settings.pki_dir / "members"
    first_staged, second_staged, first_done = threading.Event(), threading.Event(), threading.Event()
    real = gateway.members.renew

    class Paced:
        """The store's renewal, held so that the second run stages its files while the first is in the store."""

        def __getattr__(self, name: str) -> object:
            return getattr(gateway.members, name)

        def renew(self, code: str, cert_der: bytes, *, ended: str | None = None) -> str:
            if threading.current_thread().name == "first":
                first_staged.set()
                second_staged.wait(1)  # not at all while the first holds the renewal (the fix)
            else:
                second_staged.set()
                first_done.wait(10)
            return real(code, cert_der, ended=ended)

    paced = Paced()
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = renew_certificate(settings, paced, DATA)  # type: ignore[arg-type]
        except (RenewalRefused, ConflictError) as exc:
            outcomes[name] = exc
        finally:
            if name == "first":
                first_done.set()

    first = threading.Thread(target=run, args=("first",), name="first")
    first.start()
    assert first_staged.wait(10)
    second = threading.Thread(target=run, args=("second",), name="second")
    second.start()
    first.join(20)
    second.join(20)
    assert not isinstance(outcomes["first"], Exception), outcomes
    assert isinstance(outcomes["second"], ConflictError) and outcomes["second"].reason == "RENEWAL_OVERLAPS"
    here = Issued.read(members, DATA)
    with gateway.db.unit_of_work() as uow:
        registered = uow.members.certificate_digests()[DATA]
    assert hashlib.sha256(here.cert_der).hexdigest() == registered
    key = serialization.load_pem_private_key(here.key_pem, None)
    public = x509.load_der_x509_certificate(here.cert_der).public_key()
    assert key.public_key() == public  # the key put in place is the registered certificate's
    assert not [p.name for p in members.iterdir() if ".next" in p.name]


def _revoke(settings: object, code: str) -> int:
    """`zzgw members --revoke CODE`, in this process (the command's own function, on a store it opens)."""
    import argparse

    from gateway.cli import _members

    args = argparse.Namespace(csr=None, renew=None, retire=None, revoke=code, restore=None)
    return _members(settings, args)  # type: ignore[arg-type]


def test_a_revocation_waits_for_a_renewals_renames(running: RunningGateway) -> None:
    """A second review's R1: `--revoke` took no part in the renewals' one-at-a-time hold of pki/, and one run between
    a renewal's store commit and its renames moved the old `CODE.pem` aside and took the new certificate in the store;
    the renewal then put that revoked certificate and its key in place as `CODE.pem`/`CODE.key` and died with "cannot
    open …previous.pem". The revocation waits for the renewal: the renewal finishes, and the revocation then moves
    both pairs aside, leaving no `CODE.*` the store does not trust in place."""
    gateway = running.gateway
    settings = gateway.settings
    members = settings.pki_dir / "members"
    committed, revoked = threading.Event(), threading.Event()
    real = gateway.members.renew

    class Paced:
        """The store's renewal, and then a wait before the renames: the window in which the revocation ran."""

        def __getattr__(self, name: str) -> object:
            return getattr(gateway.members, name)

        def renew(self, code: str, cert_der: bytes, *, ended: str | None = None) -> str:
            registered = real(code, cert_der, ended=ended)
            committed.set()
            revoked.wait(1)  # the revocation runs now, unless it waits for this renewal (the fix)
            return registered

    outcome: list[object] = []

    def renew() -> None:
        try:
            outcome.append(renew_certificate(settings, Paced(), CIVIL))  # type: ignore[arg-type]
        except BaseException as exc:  # said below
            outcome.append(exc)

    renewal = threading.Thread(target=renew, name="renewal")
    renewal.start()
    assert committed.wait(10)
    try:
        assert _revoke(settings, CIVIL) == 0
    finally:
        revoked.set()
        renewal.join(10)
    assert len(outcome) == 1 and not isinstance(outcome[0], BaseException), outcome
    left = sorted(p.name for p in members.iterdir() if p.name.startswith(f"{CIVIL}.") and ".revoked-" not in p.name)
    assert left == []  # neither the renewal's pair nor the one before it stays in place
    aside = {
        hashlib.sha256(Issued.read(members, p.name[:-4]).cert_der).hexdigest()
        for p in members.glob(f"{CIVIL}.revoked-*.pem")
    }
    with gateway.db.unit_of_work() as uow:
        assert CIVIL in uow.members.revoked() and CIVIL not in uow.members.certificate_digests()
    assert aside <= gateway.members.revoked_certificates() and len(aside) == 2


def test_a_renewal_run_again_after_one_killed_before_the_store_took_it(running: RunningGateway, tmp_path: Path) -> None:
    """A second review's R2: `--renew CODE --csr FILE` killed after it wrote `CODE.next.pem` and before the store
    registered it left that file, and the same command run again was refused for good, as a request for "a key the
    member had before": that certificate was never the member's. The run again renews on the department's key
    (the keys the store knows the member had stay refused: test_a_renewal_never_certifies_a_key_the_member_had)."""
    gateway = running.gateway
    settings = gateway.settings
    members = settings.pki_dir / "members"
    key = ec.generate_private_key(ec.SECP256R1())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    request = _request(key_pem, tmp_path / "department.csr").read_bytes()
    from signing.pki import CertificateAuthority

    ca = CertificateAuthority.from_issued(Issued.read(settings.pki_dir, "ca"))
    # what the killed run left: its certificate on the department's key, registered nowhere
    (members / f"{TRAFFIC}.next.pem").write_bytes(
        ca.certify_client(code=TRAFFIC, name="济南市公安局交通警察支队", public_key=key.public_key())
    )
    before = Issued.read(members, TRAFFIC).cert_der
    renewed = renew_certificate(settings, gateway.members, TRAFFIC, request=request)
    assert renewed.key is None
    here = x509.load_pem_x509_certificate((members / f"{TRAFFIC}.pem").read_bytes())
    assert here.public_key() == key.public_key()
    with gateway.db.unit_of_work() as uow:
        assert (
            uow.members.certificate_digests()[TRAFFIC]
            == hashlib.sha256(here.public_bytes(serialization.Encoding.DER)).hexdigest()
        )
        assert uow.members.previous_certificate_digests()[TRAFFIC] == hashlib.sha256(before).hexdigest()
    assert not [p.name for p in members.iterdir() if ".next" in p.name]


def test_a_member_restored_with_its_dev_token_entry_left_is_given_a_working_dev_token(env: dict[str, str]) -> None:
    """A second review's R3: a revocation with dev-tokens.json damaged leaves the member's entry (or the file is
    repaired from a copy); after `--restore`, `zzgw init` counted the member as having a dev token, and gave it none
    that works, silently: the entry's token was the one the revocation took. Init gives it a new one, in the file, and
    the revocation's warning says so."""
    from gateway.config import Settings
    from gateway.server import Gateway

    assert zzgw(env, "init").returncode == 0
    tokens = Path(env["ZZGW_DATA_DIR"]) / "dev-tokens.json"
    good = tokens.read_bytes()
    tokens.write_bytes(good[:300])
    revoked = zzgw(env, "members", "--revoke", HR)
    assert revoked.returncode == 0 and f"{tokens} cannot be read" in revoked.stderr, revoked.stderr
    assert f"the next `zzgw init` gives {HR} a new one, its entry removed or not" in revoked.stderr
    tokens.write_bytes(good)  # repaired from its copy, the entry left
    assert zzgw(env, "members", "--restore", HR).returncode == 0
    init = zzgw(env, "init")
    assert init.returncode == 0, init.stderr
    assert f"1 new member got a dev bearer token, added to {tokens}" in init.stdout
    listed = json.loads(tokens.read_text(encoding="utf-8"))["tokens"]
    gateway = Gateway.open(Settings.load(None, env=env))
    try:
        assert gateway.authenticator.by_token(listed[HR]["token"]).code == HR
        others = [code for code in listed if code != HR]
        assert all(gateway.authenticator.by_token(listed[code]["token"]).code == code for code in others)
    finally:
        gateway.close()
    assert listed[HR]["token"] != json.loads(good)["tokens"][HR]["token"]


def test_an_init_racing_a_renewal_leaves_the_renewed_certificate_registered(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A third review's R1: `zzgw init` read the registered certificates, checked `pki/members/` against them, and
    wrote back, moments later, the digest of the file it had read: a `zzgw members --renew` committed in between was
    undone, the pair it had put in place registered nowhere (UNAUTHENTICATED on every replica) and every later init
    of the renewing replica refused. Here the renewal commits, the full command on the same data directory, just after
    init's check: init registers nothing over it and says so, and the renewed pair connects; init run again passes."""
    import gateway.server as server
    from adapters.client import MemberCredentials, connect
    from gateway.config import ConfigError
    from gateway.server import initialise
    from protos.zzgw.v1 import catalog_pb2, catalog_pb2_grpc
    from tests.conftest import start_gateway

    gw = start_gateway(tmp_path / "var", store, mode="production")
    try:
        settings = gw.gateway.settings
        old = hashlib.sha256(Issued.read(settings.pki_dir / "members", HEALTH).cert_der).hexdigest()
        checked = server.ensure_pki
        renewals = []

        def renewed_after_the_check(*args, **kwargs):  # type: ignore[no-untyped-def]
            certificates = checked(*args, **kwargs)
            renewals.append(renew_certificate(settings, gw.gateway.members, HEALTH))
            return certificates

        monkeypatch.setattr(server, "ensure_pki", renewed_after_the_check)
        with pytest.raises(ConfigError) as refused:
            initialise(settings)
        monkeypatch.setattr(server, "ensure_pki", checked)
        assert len(renewals) == 1
        new = hashlib.sha256(x509.load_pem_x509_certificate(renewals[0].certificate.read_bytes()).public_bytes(
            serialization.Encoding.DER)).hexdigest()  # fmt: skip
        assert f"the client certificate of {HEALTH} changed in the store while `zzgw init` ran" in str(refused.value)
        with gw.gateway.db.unit_of_work() as uow:
            assert uow.members.certificate_digests()[HEALTH] == new
            assert uow.members.previous_certificate_digests()[HEALTH] == old
        with connect(gw.address, MemberCredentials.production(gw.data_dir, HEALTH)) as channel:
            catalog = catalog_pb2_grpc.CatalogServiceStub(channel)
            assert catalog.ListMatters(catalog_pb2.ListMattersRequest(), timeout=10).matters
        initialise(settings)  # run again, it finds the renewal's pair in place and registered
        with gw.gateway.db.unit_of_work() as uow:
            assert uow.members.certificate_digests()[HEALTH] == new
    finally:
        gw.stop()
