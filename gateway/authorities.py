"""The gateway's own authorities and keys, as a data directory holds them: the member CA with the server's and each
member's certificates, the seal-maker CAs (RSA and SM2) and their CRLs, the time-stamping and receipt keys, their
renewal, the revocations of its own certificates (a leak), and the fingerprints the store records of them
(``gateway_facts``), which keep a replica from making its own. `zzgw init` makes and renews them; `zzgw serve`
checks and loads them (``gateway.server``), and the external TSA's client is here, beside the gateway's own TSA.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import logging
import os
import secrets
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from asn1crypto import tsp
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from pyhanko.sign.timestamps import HTTPTimeStamper, TimeStamper, TimestampRequestError

from gateway.certificate_ends import (
    RENEW_BEFORE,
    UnreadableFile,
    ending,
    read_certificate,
    read_private_key,
)
from gateway.config import ConfigError, Settings, url_without_credentials
from gateway.domain.counts import counted
from gateway.domain.model import Clock, Member, Role, beijing_day
from gateway.domain.seals import SM2_MAKER_NAME, Seal
from gateway.logs import OncePer, since
from gateway.member_certificates import TAKEN_RECORD, taken_digest
from gateway.services.catalog_pin import CATALOG_FACT, MODE_FACT
from gateway.services.members import REVOKED_CERTIFICATE
from gateway.services.seals import Sm2SealMaker, seal_maker_serial
from gateway.services.verification import ReceiptKey
from gateway.store.database import (
    Database,
    UnitsOfWork,
)
from gateway.store.repositories import PRUNED_WITNESS
from signing.der import MalformedDer, check_der
from signing.errors import KeyStoreError
from signing.keys import SM2_SM3, KeyStore
from signing.pki import (
    PUBLIC_FILE_MODE,
    CertificateAuthority,
    Issued,
    issued_by,
    make_private_directory,
    member_code,
    write_public,
)
from signing.receipts import RECEIPT_SEAL_NAME
from signing.seal_ca import Revocation, SealMakerCA, signed_by
from signing.sm2 import Sm2Unavailable
from signing.sm2_x509 import public_key_der
from signing.tsa import ZZGW_TSA_POLICY_OID, LocalTimeStamper, TimeStampAuthority, token_problem

log = logging.getLogger("zzgw")


TSA_KEY = "tsa"
TSA_CERT = "tsa.pem"
RECEIPT_KEY = "receipts"
RECEIPT_CERT = "receipt.pem"
SEAL_MEMO_SECRET = "sealmemo"
"""The key store's secret behind the memos of record seals stored with licenses (``signing.record.SealMemos``)."""


SM2_MAKER_KEY = "sm2maker"
SM2_MAKER_CERT = "maker.pem"


@dataclass(frozen=True, slots=True)
class IssuedPair:
    """A client certificate and key `zzgw init` issued a member (``InitReport.certificates_issued``)."""

    code: str
    name: str
    certificate: Path
    key: Path
    not_after: dt.datetime


def production_store_said(settings: Settings) -> ConfigError:
    return ConfigError(
        f"the database {settings.database_label} is served in production mode (mTLS), and these settings say "
        f'{settings.mode}: set mode = "production" (ZZGW_MODE) with its certificates and passphrase, as on the '
        "gateway that serves it (a settings file left behind in a restore?); a production store is never served "
        "with bearer tokens"
    )


BRING_THE_DATA_DIRECTORY = (
    "restore the data directory taken with the database (docs/operations.md, Restoring), or, for a replica, copy the "
    "first gateway's data directory (README: deployment beyond one machine)"
)
"""What to do when the store was made with keys or authorities this data directory lacks: a database restored without
its data directory had been pointed at replicas only (an upgrade tester's D7)."""


def check_authorities(settings: Settings, units: UnitsOfWork, keys: KeyStore) -> None:
    """Refuse to make a member CA or a seal-maker CA for a store that already has members certified, or seals made,
    by others: a replica whose data directory was copied without them would otherwise replace every member's
    registered client certificate, or trust none of the existing seals."""
    with units.unit_of_work() as uow:
        certified, sealed, sm2 = uow.members.any_certificate(), uow.seals.any(), uow.seals.any(sm2=True)
        memos = uow.licenses.any_memo()
        recorded = uow.facts.all()
    copy = BRING_THE_DATA_DIRECTORY
    if certified and not (settings.pki_dir / "ca.pem").exists():
        raise ConfigError(
            f"the database has members with client certificates of a member CA that is not in {settings.pki_dir}: "
            f"{copy}; a new member CA would make every member's certificate unknown"
        )
    if sealed and not (settings.seal_ca_dir / "root.pem").exists():
        raise ConfigError(
            f"the database has seals made under a seal-maker CA that is not in {settings.seal_ca_dir}: {copy}, or "
            "`zzgw import-ca` that CA"
        )
    if memos and not keys.exists(SEAL_MEMO_SECRET):
        raise ConfigError(
            f"the database has licenses with memos under a secret that is not in {settings.keys_dir}: {copy}; "
            "another secret would report every stored status altered"
        )
    if sm2 and not (settings.sm2_seal_ca_dir / "root.pem").exists():
        raise ConfigError(
            f"the database has GB/T 38540 seals made by an SM2 seal maker that is not in {settings.sm2_seal_ca_dir}: "
            f"{copy}"
        )
    check_facts(settings, keys, recorded)  # and those a replica could have made its own of while none was needed


def ensure_pki(
    settings: Settings,
    members: list[Any],
    certified: Mapping[str, str] | None = None,
    revoked: Collection[str] = (),
    *,
    ignore: Collection[str] = (),
    now: dt.datetime | None = None,
    previous: Mapping[str, str] | None = None,
    issued: list[IssuedPair] | None = None,
) -> dict[str, bytes]:
    """The member CA with a server certificate and a client certificate per member; the CA's key is read only
    when one of them is missing (it may be kept offline otherwise). A member's key is never read: it is the
    department's, which may have been handed over and deleted here (departments.md); init had stopped without it.

    A member ``certified`` in the store (code: the SHA-256 of the certificate registered, not revoked) whose
    certificate is not here is refused, not issued a new one: a data directory restored without it had replaced the
    registration, and the department's own certificate was refused from then on, nobody told (a disaster-recovery
    tester). So is one whose certificate here is not the one registered: an older copy of pki/ had registered again
    a certificate revoked since, which --revoke says is never trusted again (a reviewer). ``previous`` (code: the
    SHA-256 of a previous certificate a renewal keeps accepted) is held against the certificates ``zzgw members
    --retire`` put aside, as ``certified`` against those ``--revoke`` did. Each client pair issued is added to
    ``issued``: init had issued them without a word (a renewal tester, D6)."""
    pki = settings.pki_dir
    directory = pki / "members"
    certified = certified or {}
    now = now or dt.datetime.now(dt.UTC)
    # still revoked: its pair is registered by nobody (a replica's init had failed)
    if taken := taken_here(settings, [m.code for m in members if m.code not in ignore], revoked):
        # a replica's pki/ between --restore and the renewal: the revoked pair is still here (a reviewer); or not
        # copied again after --renew and --retire on another gateway: the retired one (a multi-replica tester, D5)
        raise ConfigError(
            f"{taken_said(taken)}; or move it aside there and run `zzgw init` where ca.key is to issue one"
        )
    if aside := revoked_since(settings, certified):
        raise revoked_since_said(aside)
    if aside := revoked_since(settings, previous or {}):
        raise retired_since_said(aside)
    # every registered member's, as revoked_since above, not the members file's alone: one registered earlier and left
    # out of the file still holds its credentials, and a renewal undone by a restore had locked its department out
    # with nothing said (a reviewer of operations, R2)
    stale = [
        code
        for code in sorted(certified)
        if code not in ignore
        and (directory / f"{code}.pem").exists()
        and certificate_digest(directory / f"{code}.pem") != certified[code]
    ]
    undone = [code for code in stale if _digest_or_none(directory / f"{code}.previous.pem") == certified[code]]
    if undone:
        # the store's registered certificate is the renewal's previous one here: the renewal was made after the
        # database's copy, and CODE.pem is the pair the department holds since. Copying pki/members/ (there already)
        # or a third pair had been offered first, the way that keeps the department's pair last (review s55fix, R3)
        raise ConfigError(
            f"the client certificate of {', '.join(undone)} in {directory} is not the one the store has registered: "
            f"that one is {', '.join(str(directory / f'{code}.previous.pem') for code in undone)}, the previous "
            "certificate of a renewal (`zzgw members --renew`) made after the database's copy was taken, which the "
            f"restore undid; {_renewal_undone_way_out(undone)} (docs/operations.md, Restoring)"
        )
    if stale:
        raise ConfigError(
            f"the client certificate of {', '.join(stale)} in {directory} is not the one the store has registered (a "
            "copy of pki/ older than the store's, from before a renewal? a database older than pki/?): copy the "
            f"current pki/members/ from the gateway that issued it{_unfinished(directory, stale, certified)}; "
            f"{_new_pair(stale, here=True)}"
        )
    if lost := [m.code for m in members if m.code in certified and not (directory / f"{m.code}.pem").exists()]:
        files = ", ".join(str(directory / f"{code}.pem") for code in lost)  # named as they are, not as CODE.pem
        # a member added through another gateway has its certificate in that one's pki/ alone: the backup had been
        # the only place named, which never had it (a reviewer of upgrades, R2)
        raise ConfigError(
            f"the client certificate of {', '.join(lost)} ({files}) is not in this data directory, and the store has "
            "one registered: copy it from the gateway that registered it (a member added or renewed through another "
            "gateway), or back from the data directory's backup (the certificate is enough, its key is the "
            f"department's){_unfinished(directory, lost, certified)}; {_new_pair(lost, here=False)}"
        )
    host = settings.grpc_addr.rsplit(":", 1)[0].strip("[]")
    hosts = list(dict.fromkeys([h for h in (host, "localhost", "127.0.0.1") if h and h not in ("0.0.0.0", "::")]))
    named = _server_names(pki / "server.pem")
    unnamed = [h for h in hosts if named is not None and h not in named]
    if unnamed and not (pki / "ca.key").exists():
        log.warning(
            "the server certificate %s does not name %s (ZZGW_GRPC_ADDR): clients that check it will refuse the "
            "connection; bring the member CA's key (ca.key) back and run `zzgw init` to issue one that does",
            pki / "server.pem",
            ", ".join(unnamed),
        )
        unnamed = []
    # a server certificate from before key identifiers (2026-12-03): partners trusting several provinces' member CAs,
    # which then all had one name, cannot tell which one signed it; issued again when the CA's key is at hand
    unmarked = named is not None and not _names_its_issuers_key(pki / "server.pem") and (pki / "ca.key").exists()
    ends = None
    if named is not None:
        not_after = read_certificate(pki / "server.pem").not_valid_after_utc
        ends = ending(SERVER_WHAT, pki / "server.pem", not_after, now, within=RENEW_BEFORE)
    if ends is not None and not (pki / "ca.key").exists():
        log.warning(
            "%s: bring the member CA's key (ca.key) back and run `zzgw init` to renew it; every client refuses the "
            "connection once it has ended",
            ends.said(),
        )
        ends = None
    # the server's key, which only gRPC's TLS had read: damaged, empty or another pair's, `zzgw serve` in production had
    # said its address was in use, and init had passed it without a word (a reviewer, R2)
    keyless = server_key_fault(pki) if named is not None else ""
    if keyless == ENCRYPTED_KEY:
        # an operator's, gRPC's once decrypted: it had been said damaged, and replaced by a new pair (a reviewer, R2)
        if settings.mode == "production":
            key = pki / "server.key"
            raise ConfigError(f"{key} {keyless}: `zzgw serve` cannot serve TLS with it; {decrypt_it(key)}")
        log.warning("%s %s: in production mode it could not be served; %s", pki / "server.key", keyless,
                    decrypt_it(pki / "server.key"))  # fmt: skip
        keyless = ""
    if keyless and not (pki / "ca.key").exists():
        if settings.mode == "production":
            raise ConfigError(
                f"{pki / 'server.key'} {keyless}: `zzgw serve` cannot serve TLS with it; {_SERVER_PAIR_BACK}"
            )
        log.warning("%s %s: in production mode it could not be served; %s", pki / "server.key", keyless,
                    _SERVER_PAIR_BACK)  # fmt: skip
        keyless = ""
    missing = (
        named is None
        or bool(keyless)
        or bool(unnamed)
        or unmarked
        or ends is not None
        or any(not (directory / f"{m.code}.pem").exists() for m in members if m.code not in ignore)
    )
    ca: CertificateAuthority | None = None
    if not (pki / "ca.pem").exists():
        ca = new_member_ca()
        ca.as_issued().write(pki, "ca")
    elif missing:
        if not (pki / "ca.key").exists():
            raise ConfigError(
                f"{pki / 'ca.key'} is needed to issue the server certificate or a member's client certificate "
                "that is missing: bring the member CA's key back for this run"
            )
        _read_member_ca_key(pki / "ca.key")
        ca = CertificateAuthority.from_issued(Issued.read(pki, "ca"))
    _refuse_certificates_not_theirs(pki, members, certified, ignore)
    # a new host keeps the names it had (replicas may share the file)
    if named is None or unnamed or unmarked or ends or keyless:
        assert ca is not None
        write_server_pair(pki, ca.issue_server(list(dict.fromkeys([*hosts, *(named or [])]))))
        # said where init is read (an INFO line was not shown): replicas with a pki/ of their own need the new pair
        again = " (replicas with a pki/ of their own: copy pki/server.pem and pki/server.key to them, and restart)"
        if unnamed:
            log.warning("issued a server certificate that names %s too%s", ", ".join(unnamed), again)
        if unmarked:
            log.warning("issued the server certificate again, naming the key of the member CA that signs it%s", again)
        if ends:
            log.warning("renewed the server certificate, as %s%s", ends.said(), again)
        if keyless:
            log.warning("issued a new server certificate and key: %s %s%s", pki / "server.key", keyless, again)
    certificates = {}
    for member in members:
        if member.code in ignore:
            # revoked: a pair issued now, unregistered, had looked like the department's own, and after --restore
            # it was registered with 825 days counted from the revocation (a disaster-recovery tester)
            continue
        if not (directory / f"{member.code}.pem").exists():
            assert ca is not None
            pair = ca.issue_client(code=member.code, name=member.name)
            pair.write(directory, member.code)
            if issued is not None:
                until = x509.load_pem_x509_certificate(pair.cert_pem).not_valid_after_utc
                where = directory / member.code
                issued.append(IssuedPair(member.code, member.name, Path(f"{where}.pem"), Path(f"{where}.key"), until))
        certificate = read_certificate(directory / f"{member.code}.pem")
        certificates[member.code] = certificate.public_bytes(serialization.Encoding.DER)
    return certificates


def taken_here(settings: Settings, codes: Sequence[str], revoked: Collection[str]) -> list[tuple[str, Path]]:
    """The members of ``codes`` whose ``pki/members/CODE.pem`` here is a certificate ``zzgw members --revoke`` or
    ``--retire`` took (``revoked``: their SHA-256), with the file."""
    directory = settings.pki_dir / "members"
    found = []
    for code in codes:
        path = directory / f"{code}.pem"
        with contextlib.suppress(OSError, ValueError):  # none, or one the checks after this name
            if certificate_digest(path) in revoked:
                found.append((code, path))
    return found


def taken_said(taken: Sequence[tuple[str, Path]]) -> str:
    """What ``taken_here`` found, said: a retired certificate is not a revoked one, and the file is named (a
    multi-replica tester, D5)."""
    files = ", ".join(f"{path} ({code})" for code, path in taken)
    code = taken[0][0] if len(taken) == 1 else "CODE"
    return (
        f"the client certificate {files} is one `zzgw members --retire` or `--revoke` took (the certificate before "
        "a renewal, retired since, or a revoked member's), never trusted again: this data directory's pki/members/ is "
        "older than the store's (a replica not copied again after `zzgw members --renew` and `--retire` on another "
        f"gateway?): copy pki/members/{code}.pem, and {code}.previous.pem if it is there, from the gateway that "
        "renewed it (or ran its `zzgw init`, with ca.key)"
    )


def _new_pair(codes: Sequence[str], *, here: bool) -> str:
    """How to give the members ``codes`` a new pair instead of the one registered, named by their code when there
    is one (a message had named a literal ``CODE.pem``; a partner-province tester). ``here``: ``CODE.pem`` is here
    and not the registered certificate, which ``zzgw members --renew`` refuses, so it is moved aside first (the
    message had offered --renew alone, refused wherever it was offered; a reviewer)."""
    code = codes[0] if len(codes) == 1 else "CODE"
    renew = f"`zzgw members --renew {code}`"
    if here:
        renew = f"move {code}.pem and {code}.key aside, then {renew}"
    return (
        f"to give {'the member' if len(codes) == 1 else 'a member'} a new pair instead, {renew} "
        "(its registered certificate stays accepted until `zzgw members --retire`), or, should its key have leaked, "
        f"`zzgw members --revoke {code}`, `zzgw members --restore {code}`, then `zzgw init` (docs/departments.md, "
        "Renewing)"
    )


def _digest_or_none(path: Path) -> str | None:
    """The SHA-256 of the certificate at ``path``; None when there is none, or none that can be read."""
    with contextlib.suppress(OSError, ValueError):
        return certificate_digest(path)
    return None


def _renewal_undone_way_out(codes: Sequence[str]) -> str:
    """The ways to go on for the members ``codes`` whose renewal, made after the database's copy was taken, a restore
    undid, ``CODE.pem`` here being the renewed pair the department holds: each has a cost, said. No command
    registers that pair again as it is; revoking the registered certificate and restoring the member does, and ends
    the member's console tokens (a reviewer had found them ended, never told: review s55fix, R3)."""
    code = codes[0] if len(codes) == 1 else "CODE"
    return (
        f"to register again the pair the department holds since that renewal ({code}.pem), run `zzgw members --revoke "
        f"{code}` (it takes the registered certificate and leaves {code}.pem in place), `zzgw members --restore "
        f"{code}`, then `zzgw init`: the revocation also ends the console tokens of {code} and its clerks, to be "
        f"issued again (`zzgw console-token {code} --clerk NAME`); or, keeping the tokens, move {code}.pem and "
        f"{code}.key aside, run `zzgw members --renew {code}` and hand the department that new pair in place of the "
        "one it holds"
    )


def _unfinished(directory: Path, codes: Sequence[str], certified: Mapping[str, str]) -> str:
    """What to say of a ``CODE.next.pem`` here that is the registered certificate of one of ``codes``: a renewal
    (``zzgw members --renew``) stopped between the store's commit and putting the new pair in place, which is then
    what is left to do; "" when there is none."""
    unfinished = []
    for code in codes:
        with contextlib.suppress(OSError, ValueError):  # none, or none that can be read
            if certificate_digest(directory / f"{code}.next.pem") == certified.get(code):
                unfinished.append(code)
    if not unfinished:
        return ""
    code = unfinished[0] if len(unfinished) == 1 else "CODE"
    return (
        f"; {', '.join(str(directory / f'{code}.next.pem') for code in unfinished)} is the registered one, left by a "
        f"renewal that stopped before putting it in place: finish it, moving {code}.pem and {code}.key, those here, "
        f"to {code}.previous.pem and {code}.previous.key, then {code}.next.pem and {code}.next.key, those here, to "
        f"{code}.pem and {code}.key"
    )


def _refuse_certificates_not_theirs(
    pki: Path, members: Sequence[Any], certified: Mapping[str, str], ignore: Collection[str]
) -> None:
    """Refuse to register for a member a ``pki/members/CODE.pem`` that is not its own (``not_the_members``), or that
    the store has registered for another member: init had made another department's certificate this member's
    credential, or stopped on the store's unique digest with a traceback (a reviewer)."""
    directory = pki / "members"
    holders = {digest: code for code, digest in certified.items()}
    for member in members:
        path = directory / f"{member.code}.pem"
        if member.code in ignore or not path.exists():
            continue
        holder = holders.get(certificate_digest(path), member.code)
        if holder != member.code:
            raise ConfigError(
                f"{path} is the client certificate the store has registered for member {holder}, and cannot be "
                f"{member.code}'s too: move it and {member.code}.key aside (or copy {member.code}'s own back from the "
                f"data directory's backup), then run `zzgw init`, which issues {member.code} a new pair"
            )
        if what := not_the_members(path, member.code, pki / "ca.pem"):
            again = (
                f"`zzgw members --revoke {member.code}` (which moves it aside), `zzgw members --restore "
                f"{member.code}`, then `zzgw init`"
                if member.code in certified
                else f"move it and {member.code}.key aside, then run `zzgw init`"
            )
            raise ConfigError(
                f"{path} is {what}, not one of member {member.code}'s, which would let whoever holds its key call as "
                f"{member.code}: copy {member.code}'s own back from the data directory's backup, or {again} to issue "
                f"{member.code} a new pair"
            )


def revoked_since(settings: Settings, certified: Mapping[str, str]) -> list[Path]:
    """The certificates registered in the store (``certified``: code to SHA-256) that this data directory holds only
    as `zzgw members --revoke` put them aside (``pki/members/CODE.revoked-<time>.pem``): revoked after the database's
    copy was taken, they were trusted again by a restore of that copy, `zzgw serve` letting the member back in (a
    disaster-recovery tester). A certificate taken that was not here to be put aside is recorded by its digest, as
    the store had it (``CODE.revoked-<time>[.previous].sha256``, ``member_certificates.record_taken``)."""
    aside = []
    directory = settings.pki_dir / "members"
    for path in sorted([*directory.glob("*.revoked-*.pem"), *directory.glob(f"*.revoked-*{TAKEN_RECORD}")]):
        code = path.name.split(".revoked-", 1)[0]
        if code not in certified:
            continue
        with contextlib.suppress(OSError, ValueError):  # a damaged file is no revocation's record
            if taken_digest(path) == certified[code]:
                aside.append(path)
    return aside


def _retired_alone(aside: Path) -> bool:
    """Whether ``aside``, a renewal's previous certificate put aside (``CODE.revoked-<time>.previous.*``), was taken
    by a retirement (``zzgw members --retire``) and not with the member's revocation (``--revoke`` takes the current
    certificate too, as ``CODE.revoked-<time>.pem`` or ``.sha256``): no current certificate of the member was taken
    from a few seconds before it on. One not told apart is a revocation's, whose way out revokes again."""
    code, _, rest = aside.name.partition(".revoked-")
    if ".previous" not in rest:
        return False
    try:
        taken = dt.datetime.strptime(rest.split(".", 1)[0], "%Y%m%dT%H%M%SZ")
    except ValueError:
        return False
    for other in aside.parent.glob(f"{code}.revoked-*"):
        when, _, kind = other.name.partition(".revoked-")[2].partition(".")
        if kind.startswith("previous"):
            continue
        try:
            if dt.datetime.strptime(when, "%Y%m%dT%H%M%SZ") >= taken - dt.timedelta(seconds=5):
                return False
        except ValueError:
            return False
    return True


def revoked_since_said(aside: Sequence[Path]) -> ConfigError:
    retired = [path for path in aside if _retired_alone(path)]
    if retired and len(retired) == len(aside):
        # a renewal's previous certificate, retired (``zzgw members --retire``), not revoked: the renewal and the
        # retirement were both made after the copy. It had been called revoked, and revoking it had been the way out
        # offered alone, its console tokens ended unsaid (review s55fix, R3)
        codes = list(dict.fromkeys(path.name.split(".revoked-", 1)[0] for path in retired))
        return ConfigError(
            f"the client certificate the store has registered for {', '.join(codes)} is in this data directory only "
            f"as one `zzgw members --retire` took ({', '.join(str(path) for path in retired)}): it was retired, not "
            "revoked, after a renewal (`zzgw members --renew`) made after the database's copy was taken, and the "
            f"restore undid both; {_renewal_undone_way_out(codes)} (docs/operations.md, Restoring)"
        )
    codes = list(dict.fromkeys(path.name.split(".revoked-", 1)[0] for path in aside))
    again = f"`zzgw members --revoke {codes[0]}`" if len(codes) == 1 else "`zzgw members --revoke CODE` for each"
    later = list(dict.fromkeys(current for path in aside if (current := _another(path)) is not None))
    back = f"`zzgw members --restore {later[0].stem}`" if len(later) == 1 else "`zzgw members --restore CODE`"
    restored = (
        f"; {', '.join(str(path) for path in later)} here is another client certificate, issued after that "
        "revocation: `zzgw members --revoke` leaves it in place, and if the member was restored since the copy, "
        f"{back} before that `zzgw init` registers it"
        if later
        else ""
    )
    return ConfigError(
        f"the client certificate the store has registered for {', '.join(codes)} is in this data directory only as "
        f"one `zzgw members --revoke` took ({', '.join(str(path) for path in aside)}): revoked after the database's "
        f"copy was taken, it is trusted again by the database restored from that copy; revoke it again, {again}, "
        f"then run `zzgw init`{restored} (docs/operations.md, Restoring)"
    )


def retired_since_said(aside: Sequence[Path]) -> ConfigError:
    """``revoked_since_said`` of a previous certificate kept by a renewal (``zzgw members --renew``) and retired after
    the database's copy was taken: accepted again by the database restored from it."""
    codes = list(dict.fromkeys(path.name.split(".revoked-", 1)[0] for path in aside))
    again = f"`zzgw members --retire {codes[0]}`" if len(codes) == 1 else "`zzgw members --retire CODE` for each"
    return ConfigError(
        f"the previous client certificate the store accepts for {', '.join(codes)} beside its renewal is in this data "
        f"directory only as one `zzgw members --retire` (or --revoke) took ({', '.join(str(path) for path in aside)}): "
        f"retired after the database's copy was taken, it is trusted again by the database restored from that copy; "
        f"retire it again, {again}, then run `zzgw init` (docs/operations.md, Restoring)"
    )


def _another(aside: Path) -> Path | None:
    """The later client certificate of the member whose pair was put aside at ``aside``, ``CODE.pem`` beside it and
    another certificate, or None."""
    code = aside.name.split(".revoked-", 1)[0]
    current = aside.parent / f"{code}.pem"
    with contextlib.suppress(OSError, ValueError):  # none, or none to trust
        if certificate_digest(current) != taken_digest(aside) and not not_the_members(
            current, code, aside.parent.parent / "ca.pem"
        ):
            return current
    return None


def not_the_members(path: Path, code: str, ca_pem: Path) -> str:
    """What the certificate at ``path`` is when it is not a client certificate of member ``code``, "" when it is: one
    the member CA (``ca_pem``) issued whose subject names ``code`` (serialNumber, as ``issue_client`` writes it). A
    member is known by its certificate's digest alone, so whatever certificate ``zzgw init`` registers for ``code``
    lets whoever holds its key call as ``code``: another department's copied in as ``CODE.pem`` had become ``code``'s
    credential (a reviewer). Raises OSError when a file cannot be read."""
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except ValueError:
        return "no PEM certificate"
    ca = read_certificate(ca_pem)
    if not issued_by(certificate, ca):
        return f"a certificate of another CA ({certificate.issuer.rfc4514_string()}), not of the member CA {ca_pem}"
    named = member_code(certificate)
    if named != code:
        return (
            f"the client certificate of member {named}" if named else "a certificate of the member CA naming no member"
        )
    return ""


def certificate_digest(path: Path) -> str:
    """The SHA-256 of the DER of the PEM certificate at ``path``, as a member's is registered; ``UnreadableFile``
    (a ValueError) naming a file that is not one."""
    certificate = read_certificate(path)
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


_SERVER_PAIR_BACK = (
    "copy pki/server.pem and pki/server.key together from the data directory's backup (or from the gateway whose pki/ "
    "this one was copied from), or bring the member CA's key (ca.key) back and run `zzgw init`, which issues a new "
    "pair"
)


ENCRYPTED_KEY = "is an encrypted private key (under a passphrase)"
"""What ``server_key_fault`` says of a key under a passphrase, which is the operator's to decrypt, not damaged."""


def decrypt_it(path: Path) -> str:
    """The way out for the encrypted key of ``pki/`` at ``path``, said after ``ENCRYPTED_KEY``."""
    return (
        "the gateway reads the keys of pki/ unencrypted, as gRPC's TLS and the member CA take no passphrase "
        "(docs/operations.md: what the data directory holds); decrypt it, "
        f"`openssl pkey -in {path} -out {path}.plain`, and put that in its place, mode 0600"
    )


def _encrypted(data: bytes) -> bool:
    """Whether ``data`` is a PEM private key under a passphrase: cryptography, given none, refuses it with a
    TypeError, not the ValueError of a damaged file."""
    try:
        serialization.load_pem_private_key(data, password=None)
    except TypeError:
        return True
    except ValueError:
        return False
    return False


def _read_member_ca_key(path: Path) -> None:
    """Check the member CA's key at ``path`` before it is used: a damaged one is named (``UnreadableFile``), not a
    traceback (a reviewer, R1); an encrypted one (the key belongs offline, and may be kept encrypted there) had been
    said damaged too, "restore it from the backup", which gives the same file back (a reviewer, R2)."""
    try:
        read_private_key(path)
    except UnreadableFile:
        if _encrypted(path.read_bytes()):
            raise ConfigError(
                f"{path} {ENCRYPTED_KEY}: {decrypt_it(path)}, for this run (it may go back offline once init has run)"
            ) from None
        raise


def write_server_pair(pki: Path, pair: Issued) -> None:
    """Put a new server pair in place in ``pki/``: each file written beside the one it replaces (``server.key.next``,
    ``server.pem.next``), then renamed over it, the key first, as a TSA renewal is (``_finish_tsa_renewal``). Workers
    and replicas sharing the directory read ``pki/`` without init's lock: written in place, a `zzgw serve` starting
    meanwhile had read an empty server.pem or server.key, and had stopped saying it was damaged, "restore it from the
    backup" (a reviewer, R1). A rename shows a reader the old file or the new one, never a part of one; the moment
    between the two renames (the new key beside the old certificate) is waited out by `zzgw serve`, which reads the
    pair again while it is not one (``server.served_pair``), and a run cut short there is finished by the next
    `zzgw init`, which issues a pair for a key that is not the certificate's."""
    make_private_directory(pki)
    staged = []
    for name, data, mode in (("server.key", pair.key_pem, 0o600), ("server.pem", pair.cert_pem, PUBLIC_FILE_MODE)):
        path = pki / name
        beside = path.with_name(f"{name}.next")
        beside.unlink(missing_ok=True)  # left by a run cut short: made anew, with its mode
        fd = os.open(beside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as out:
            os.fchmod(out.fileno(), mode)  # whatever the umask: 0666 under umask 000 had let anyone replace it
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        staged.append((beside, path))
    for beside, path in staged:
        os.replace(beside, path)


def server_key_fault(pki: Path, own: Issued | None = None) -> str:
    """What is wrong with ``pki/server.key`` as the private key of ``pki/server.pem``, said after its path ("is
    missing" …), or "" when it is that certificate's key. ``UnreadableFile`` when the certificate cannot be read.
    ``own``: the two files as `zzgw serve` read them, the bytes it gives gRPC, checked rather than the files read
    again (they may have been replaced in between: a reviewer, R1)."""
    if own is None:
        try:
            key_pem = (pki / "server.key").read_bytes()
        except FileNotFoundError:
            return "is missing"
        own = Issued((pki / "server.pem").read_bytes(), key_pem)
    try:
        certificate = x509.load_pem_x509_certificate(own.cert_pem)
    except ValueError:
        read_certificate(pki / "server.pem")  # damaged: named (UnreadableFile)
        return f"was read beside a {pki / 'server.pem'} replaced since"  # put in place meanwhile: read again
    try:
        key = serialization.load_pem_private_key(own.key_pem, password=None)
    except TypeError:
        return ENCRYPTED_KEY
    except ValueError:
        return "is not a PEM private key (empty, cut short or damaged)"
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        return (
            f"is not the private key of the server certificate {pki / 'server.pem'} (another pair's key, or one left "
            "by a certificate written without its key)"
        )
    if not _serves_tls(key):  # gRPC had listened on none, and serve said the address was in use (a reviewer)
        return (
            f"is a {type(key).__name__.removeprefix('_').removesuffix('PrivateKey')} key, which the gateway's TLS "
            "cannot serve with: an EC key on P-256, P-384 or P-521, or an RSA key of 2048 bits or more"
        )
    return ""


def _serves_tls(key: object) -> bool:
    """Whether gRPC's TLS serves with ``key``: a secp256k1 or DSA key was taken by the check above and refused by
    gRPC, which listened on nothing; an Ed25519 one was served, and no client of gRPC could finish its handshake."""
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return isinstance(key.curve, (ec.SECP256R1, ec.SECP384R1, ec.SECP521R1))
    return isinstance(key, rsa.RSAPrivateKey) and key.key_size >= 2048


def _names_its_issuers_key(path: Path) -> bool:
    """Whether the certificate at ``path`` carries an authority key identifier."""
    certificate = read_certificate(path)
    try:
        certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    except x509.ExtensionNotFound:
        return False
    return True


def _server_names(path: Path) -> list[str] | None:
    """The host names and addresses a server certificate names, or None when there is none."""
    if not path.exists():
        return None
    certificate = read_certificate(path)
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [*names.get_values_for_type(x509.DNSName), *(str(a) for a in names.get_values_for_type(x509.IPAddress))]


def import_seal_ca(
    settings: Settings,
    root_pem: bytes,
    intermediate_pem: bytes,
    key_pem: bytes | None,
    key_passphrase: bytes | None,
    *,
    crl: bytes | None = None,
) -> SealMakerCA:
    """Take over an existing seal-maker CA instead of making one (before ``zzgw init``), with the intermediate's key
    (``zzgw import-ca --key``): without it the gateway serves nothing (``require_seal_ca_keys``). ``crl`` (``--crl``,
    PEM or DER): the CA's CRL, whose revocations the gateway keeps on the CRL it signs from now on, as listed. The
    gateway knows no certificate the CA issued before, so an entry added to ``revocations.json`` by hand for one had
    been refused as a typo, with no right serial to put (a reviewer, R3)."""
    if (settings.seal_ca_dir / "root.pem").exists():
        raise ConfigError(f"a seal-maker CA exists already in {settings.seal_ca_dir}; move it away to import another")
    ca = SealMakerCA.import_external(root_pem, intermediate_pem, key_pem, key_passphrase=key_passphrase)
    if crl is not None:
        for revocation in _imported_revocations(crl, ca):
            ca.revoke(revocation.serial, revocation.reason, revocation.revoked_at)
    ca.save(settings.seal_ca_dir, settings.passphrase(create=True))
    return ca


def _imported_revocations(data: bytes, ca: SealMakerCA) -> list[Revocation]:
    """The revocations of ``data``, a CRL (PEM or DER) that ``ca``'s intermediate signed; ConfigError otherwise."""
    try:
        crl = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise ConfigError(f"--crl cannot be read as a CRL, PEM or DER ({exc}); nothing was imported") from None
    signed = False
    with contextlib.suppress(TypeError, ValueError):
        signed = crl.issuer == ca.intermediate.subject and crl.is_signature_valid(ca.intermediate.public_key())  # type: ignore[arg-type]
    if not signed:
        raise ConfigError(
            f"--crl is not a CRL of {ca.intermediate.subject.rfc4514_string()} signed with its key (its issuer: "
            f"{crl.issuer.rfc4514_string()}); nothing was imported"
        )
    found = []
    for entry in crl:
        try:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
        except x509.ExtensionNotFound:
            reason = x509.ReasonFlags.unspecified
        if reason in (x509.ReasonFlags.certificate_hold, x509.ReasonFlags.remove_from_crl):
            raise ConfigError(
                f"--crl holds serial {openssl_serial(entry.serial_number)} as {reason.value}: seal revocations are "
                "final, so a CRL with holds cannot be taken over; nothing was imported"
            )
        found.append(Revocation(serial=entry.serial_number, reason=reason, revoked_at=entry.revocation_date_utc))
    return found


def _deployment_ca_name(name: str) -> str:
    """``name`` with a tag of this deployment's own (6 random hex digits): two gateways' seal makers never share a
    name, so a document of another deployment is UNTRUSTED_ROOT here, not a look-alike of this one's CA
    (LOOKALIKE_CA, the finding for a forger's CA that copies a trusted one's name); nor do their member CAs."""
    return f"{name} {secrets.token_hex(3).upper()}"


def new_member_ca() -> CertificateAuthority:
    """A member CA for a new deployment, named with the deployment's tag: a partner gateway trusting several
    provinces' member CAs in one bundle finds each server's issuer by name (every deployment's had the same name, and
    TLS to all but the first in the bundle failed with a bad signature; found by a partner tester)."""
    return CertificateAuthority.create(_deployment_ca_name("zzgw 成员 CA (member CA)"))


def ensure_seal_ca(settings: Settings, clock: Clock, keys: KeyStore) -> tuple[str, ...]:
    """The seal-maker CA (制章者) and the gateway's TSA certificate, unless they exist (made or imported earlier);
    a new TSA key and certificate (not a renewal's) said as in ``InitReport.keys_made``."""
    directory = settings.seal_ca_dir
    if not (directory / "root.pem").exists():
        SealMakerCA.create(_deployment_ca_name("zzgw 制章者 (seal maker)"), clock.now()).save(
            directory, settings.passphrase()
        )
    ca = _seal_ca_at(directory, settings)
    path = directory / TSA_CERT
    renewing = path.exists()
    if renewing and not _due(TSA_WHAT, path, ca, clock.now()):
        return ()
    # a renewal makes a new key, so that each TSA key has one certificate: timestamps are judged at their genTime,
    # and a leaked key kept across renewals would stamp under the one before, which revoking tsa.pem leaves trusted
    # (a reviewer). The new pair is written beside the old one, then put in place key first (_finish_tsa_renewal):
    # an init cut short between the two had left the new key with the old certificate, the old key nowhere, and
    # init and serve refusing the pair for good (a reviewer)
    owner = _TSA_NEXT_KEY if renewing else TSA_KEY
    if renewing:
        keys.path(owner).unlink(missing_ok=True)  # one left by a renewal cut short before its certificate
    key = keys.load(owner) if keys.exists(owner) else keys.create(owner)
    now = clock.now()
    cert = ca.issue_tsa_certificate(
        name="zzgw 时间戳服务 (TSA)",
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=5),
        not_after=_own_end(ca, now),
    )
    if not renewing:
        write_public(path, cert.public_bytes(serialization.Encoding.PEM))
        serial = openssl_serial(cert.serial_number)
        return (f"the time-stamping key and certificate {keys.path(TSA_KEY)}, {path} (serial {serial})",)
    staged = path.with_name(path.name + ".next")
    write_public(staged, cert.public_bytes(serialization.Encoding.PEM))
    _finish_tsa_renewal(settings, keys)
    _say_renewed(TSA_WHAT, path, cert, new_key=keys.path(TSA_KEY))
    return ()


_TSA_NEXT_KEY = TSA_KEY + "next"
"""The TSA key a renewal makes, beside the one in use until its certificate is written too (``tsa.pem.next``)."""


def _finish_tsa_renewal(settings: Settings, keys: KeyStore) -> None:
    """Put a TSA renewal's staged pair in place (``keys/tsanext.key.pem`` and ``seal-ca/tsa.pem.next``): the key,
    then the certificate, each by a rename, so that a renewal cut short anywhere is finished here, by the next
    ``zzgw init`` or ``zzgw serve``: the key in use always has its certificate, or the next one beside it. A staged
    key without its certificate was never used, and is dropped by the next renewal."""
    path = settings.seal_ca_dir / TSA_CERT
    staged = path.with_name(path.name + ".next")
    if not staged.exists():
        return
    with contextlib.suppress(FileNotFoundError):  # another process of this gateway finished it first
        if keys.exists(_TSA_NEXT_KEY):
            os.replace(keys.path(_TSA_NEXT_KEY), keys.path(TSA_KEY))
        os.replace(staged, path)
    keys.forget(_TSA_NEXT_KEY)
    keys.forget(TSA_KEY)


TSA_WHAT = "the time-stamping certificate"
SM2_MAKER_WHAT = "the SM2 seal maker's certificate"
RECEIPT_WHAT = "the receipt certificate"
SERVER_WHAT = "the server certificate"
OWN_VALIDITY = dt.timedelta(days=1825)
"""How long the gateway's TSA and receipt certificates last, cut at the seal-maker intermediate's end."""


def _own_end(ca: SealMakerCA, now: dt.datetime) -> dt.datetime:
    return min(now + OWN_VALIDITY, ca.intermediate.not_valid_after_utc - dt.timedelta(seconds=1))


def _due(what: str, path: Path, ca: SealMakerCA, now: dt.datetime) -> bool:
    """Whether `zzgw init` renews the certificate at ``path`` (``RENEW_BEFORE``): not when a new one would
    end no later, the seal-maker intermediate ending first (then a warning, as renewing again and again would not
    help)."""
    not_after = read_certificate(path).not_valid_after_utc
    ends = ending(what, path, not_after, now, within=RENEW_BEFORE)
    if ends is None:
        return False
    if _own_end(ca, now) <= ends.not_after:
        log.warning(
            "%s: it cannot be renewed to end later, as the seal-maker CA's intermediate (%s) ends on %s (Beijing time)",
            ends.said(),
            path.parent / "intermediate.pem",
            beijing_day(ca.intermediate.not_valid_after_utc),
        )
        return False
    return True


def _write_renewed(what: str, path: Path, certificate: x509.Certificate) -> None:
    """Write ``certificate`` at ``path``, saying so when it replaces one (replicas need the new one too)."""
    renewing = path.exists()
    write_public(path, certificate.public_bytes(serialization.Encoding.PEM))
    if renewing:
        _say_renewed(what, path, certificate)


def _say_renewed(what: str, path: Path, certificate: x509.Certificate, *, new_key: Path | None = None) -> None:
    """Say that ``certificate`` at ``path`` was renewed: replicas need it too, and the new key at ``new_key`` when
    it has one."""
    log.warning(
        "renewed %s (%s) %s, valid to %s (Beijing time): copy %s to replicas with a data directory of their own "
        "and restart every gateway process (docs/operations.md: renewing the gateway's certificates)",
        what,
        path,
        "on the same key" if new_key is None else f"with a new key ({new_key})",
        beijing_day(certificate.not_valid_after_utc),
        "it" if new_key is None else "both",
    )


def gateway_operator(members: list[Member]) -> Member | None:
    """The member the gateway's own certificates are named after (the receipt certificate, 核验回执专用章; the SM2 seal
    maker's): the first with ``ADMIN`` that is no partner gateway, or None. A members file may give a partner gateway
    ``ADMIN`` beside ``PARTNER`` and list it first: the first ``ADMIN`` had been taken, so this gateway's receipts were
    sealed in the partner province's name (review partner, "Unverified": confirmed)."""
    return next((m for m in members if m.has(Role.ADMIN) and not m.has(Role.PARTNER)), None)


def _named_after_another(path: Path, operator: Member | None) -> str:
    """The organizationIdentifier the certificate at ``path`` (the receipt certificate, or the SM2 seal maker's) is
    named after when it is not ``operator``'s, else empty (no certificate, no operator, or the operator's). Before
    d6966f8 a partner gateway given ``ADMIN`` and listed first named them, and an upgraded gateway kept sealing its
    receipts in the partner province's name for up to five years, its SM2 maker for good (review fixrev2, R1)."""
    if operator is None or not path.exists():
        return ""
    named = read_certificate(path).subject.get_attributes_for_oid(NameOID.ORGANIZATION_IDENTIFIER)
    code = str(named[0].value) if named else ""
    return "" if code == operator.code else code or "no organisation"


def _say_renamed(what: str, path: Path, was: str, operator: Member) -> None:
    log.warning(
        "renewed %s (%s) on the same key in the name of the gateway's operator %s (%s): it was in %s's name, "
        "a partner gateway's or another member's (docs/operations.md: Renewing the gateway's certificates); what "
        "it signed before still checks",
        what,
        path,
        operator.name,
        operator.code,
        was,
    )


def ensure_receipt_key(
    settings: Settings, ca: SealMakerCA, keys: KeyStore, clock: Clock, members: list[Member], db: Database
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The gateway's receipt key (核验回执专用章) with a certificate from the seal-maker CA, in the operator's name.
    With a new key, the certificates of the keys before it are retired (``_retire_receipt_keys``): their serials, in
    hex; and the new key and certificate said as in ``InitReport.keys_made``."""
    path = settings.seal_ca_dir / RECEIPT_CERT
    operator = gateway_operator(members)
    named_after = _named_after_another(path, operator)
    if path.exists() and not named_after and not _due(RECEIPT_WHAT, path, ca, clock.now()):
        return (), ()
    if operator is None:
        log.warning(
            "no ADMIN member (but partner gateways) to name the receipt certificate after: no verification receipts"
        )
        return (), ()
    # a renewal keeps the key (receipt_certificates hands a stored receipt out with the certificate valid when it
    # was issued), so replicas sharing keys/ sign with the same key whichever certificate they have
    new_key = not keys.exists(RECEIPT_KEY)
    key = keys.create(RECEIPT_KEY) if new_key else keys.load(RECEIPT_KEY)
    now = clock.now()
    cert = ca.issue_seal_certificate(
        issuer_name=operator.name,
        issuer_uscc=operator.code,
        seal_name=RECEIPT_SEAL_NAME,
        public_key=serialization.load_der_public_key(key.public_key_der),  # type: ignore[arg-type]
        not_before=now - dt.timedelta(minutes=5),
        not_after=_own_end(ca, now),
    )
    _write_renewed(RECEIPT_WHAT, path, cert)
    if named_after:
        _say_renamed(RECEIPT_WHAT, path, named_after, operator)
    if not new_key:
        return (), ()
    serial = openssl_serial(cert.serial_number)
    made = f"the receipt key and certificate {keys.path(RECEIPT_KEY)}, {path} (serial {serial})"
    return _retire_receipt_keys(db, ca, key.public_key_der, now), (made,)


def _retire_receipt_keys(db: Database, ca: SealMakerCA, key: bytes, at: dt.datetime) -> tuple[str, ...]:
    """Revoke from ``at``, as ``superseded``, every receipt certificate the store keeps (``receipt_certificates``) of
    another key than ``key`` (DER SubjectPublicKeyInfo) that this CA issued and has not revoked: the serials, in hex.
    A retired key is the one nobody watches any more, and its backups are kept: under a certificate left unrevoked it
    signed receipts that every checker took as genuine for the rest of its five years (a receipts tester). Receipts
    it signed before ``at`` stay valid (a receipt is revoked only when issued after its certificate's revocation),
    and ``superseded`` says nothing of the key (``signing.receipts._SAYS_THE_KEY``). So do those whoever keeps the
    retired key signs later and dates before ``at``: a receipt's time is its own ``issued_at``, and no trusted time
    is bound to it; only the archive tells them, and the key is to be destroyed (init says so; docs/receipts.md, what
    the offline check cannot tell; a receipts reviewer, R1). A gateway process still running with the old key signs
    receipts dated after ``at`` under a revoked certificate: the procedure stops every one before (docs/receipts.md,
    operations.md).

    A receipt is dated by the clock of the replica that made it: one whose clock ran ahead of this host's had dated
    its last receipts after ``at``, and they checked CERT_REVOKED for good, in this gateway's console too (a receipts
    reviewer, R1). So the revocation is dated no earlier than the newest receipt and audit checkpoint in the store,
    all signed with the keys before the new one."""
    with db.unit_of_work() as uow:
        stored = uow.receipt_certificates.all()
        signed = [t for t in (uow.receipts.newest_at(), uow.audit.newest_checkpoint_at()) if t is not None]
    if signed and (newest := max(signed)) >= at:
        log.warning(
            "the store's newest receipt or audit checkpoint is dated %s, %.1f s after this host's clock (%s): a "
            "replica's clock is ahead; the old receipt key's certificates are revoked from after it, and the "
            "replicas' clocks should be kept in sync (NTP; docs/operations.md: the receipt key)",
            newest.isoformat(),
            (newest - at).total_seconds(),
            at.isoformat(),
        )
        at = newest + dt.timedelta(microseconds=1)
    # a CRL states a revocation to the second, cut down (RFC 5280 times have no fraction): a revocation at 15:36:01.9
    # is listed at 15:36:01, which would revoke the receipts signed in the 0.9 s before it; the next whole second
    # revokes none of them
    if at.microsecond:
        at = at.replace(microsecond=0) + dt.timedelta(seconds=1)
    retired = []
    for der, _ in stored.values():
        certificate = x509.load_der_x509_certificate(der)
        if (
            public_key_der(certificate) == key
            or certificate.issuer != ca.intermediate.subject  # another CA's, which this one cannot revoke
            or ca.revocation_time(certificate.serial_number) is not None  # revoked already (a leak): kept as it is
        ):
            continue
        ca.revoke(certificate.serial_number, x509.ReasonFlags.superseded, at)
        retired.append(f"{certificate.serial_number:x}")
    return tuple(sorted(retired))


TSA_CERTIFICATES = "tsa-certificates.pem"
"""Every time-stamping certificate the gateway has had (``seal-ca/``), kept by `zzgw init` and `zzgw serve`
(``record_tsa_certificate``): the leak procedure moves a leaked key's ``tsa.pem`` aside, and a renewal replaces it,
and its revocation in ``revocations.json`` is still checked against the certificates the CA issued
(``_check_revocations``)."""
SM2_MAKER_CERTIFICATES = "maker-certificates.pem"
"""Every certificate the SM2 seal maker has had (``seal-ca-sm2/``), kept as ``TSA_CERTIFICATES`` is: the leak
procedure moves a leaked maker key's ``maker.pem`` aside (a reviewer, R4)."""
OUTSIDE_CERTIFICATES = "certificates-issued-outside.pem"
"""Certificates an imported seal-maker CA issued before the gateway took it over (``seal-ca/``), appended by the
operator to revoke one by hand in ``revocations.json``: the gateway knows none of them, and each such entry had been
refused as a typo (a reviewer, R3). One counts only when the CA's intermediate signed it."""
KEY_SAYING_REASONS = frozenset({x509.ReasonFlags.unspecified, x509.ReasonFlags.key_compromise})
"""Revocation reasons of a receipt certificate that revoke its key (``signing.receipts._SAYS_THE_KEY``)."""
REVOCATIONS_FILE = "revocations.json"
LEAK_PROCEDURE = "docs/operations.md: Revoking the receipt or time-stamping certificate after a key leak"


def openssl_serial(serial: int) -> str:
    """A serial as `openssl x509 -noout -serial` prints it (upper-case hex, whole octets): as the leak procedure
    has it copied."""
    text = format(serial, "X")
    return "0" + text if len(text) % 2 else text


def _pem_certificates(path: Path) -> list[x509.Certificate]:
    """The certificates of a PEM file, none when it is missing; ConfigError naming a file that cannot be read."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    if b"-----BEGIN" not in data:
        return []
    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ConfigError(f"{path} cannot be read as PEM certificates ({exc}): restore it from the backup") from None


def record_tsa_certificate(settings: Settings) -> None:
    """Add ``seal-ca/tsa.pem`` to ``seal-ca/tsa-certificates.pem`` unless it is there (``TSA_CERTIFICATES``), and
    ``seal-ca-sm2/maker.pem`` to ``seal-ca-sm2/maker-certificates.pem`` (``SM2_MAKER_CERTIFICATES``)."""
    for path, kept in (
        (settings.seal_ca_dir / TSA_CERT, settings.seal_ca_dir / TSA_CERTIFICATES),
        (settings.sm2_seal_ca_dir / SM2_MAKER_CERT, settings.sm2_seal_ca_dir / SM2_MAKER_CERTIFICATES),
    ):
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except (FileNotFoundError, ValueError):  # none yet, or one its own load refuses, naming it
            continue
        if any(c == certificate for c in _pem_certificates(kept)):
            continue
        fd = os.open(kept, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PUBLIC_FILE_MODE)
        with os.fdopen(fd, "ab") as out:
            os.fchmod(out.fileno(), PUBLIC_FILE_MODE)  # whatever the umask (0666 under umask 000: security R3)
            out.write(certificate.public_bytes(serialization.Encoding.PEM))


def _gateway_certificates(settings: Settings, db: Database, ca: SealMakerCA) -> dict[int, str]:
    """What each certificate ``ca`` issued that the gateway knows of is, by serial: its seals' (the store's), the
    receipt certificates (the store's and ``receipt.pem``), the time-stamping certificates (``tsa.pem`` and
    ``tsa-certificates.pem``), the SM2 seal maker's (``maker.pem`` and ``maker-certificates.pem``) and an imported
    CA's of before the import (``OUTSIDE_CERTIFICATES``)."""
    found: dict[int, str] = {}

    def take(certificate: x509.Certificate, what: str, *, check: bool = False) -> None:
        if certificate.issuer != ca.intermediate.subject:
            return
        if check and not signed_by(certificate, ca.intermediate):  # one appended by hand: this CA's only when its
            return  # intermediate signed it (SM3withSM2 too)
        found.setdefault(certificate.serial_number, what)

    with db.unit_of_work() as uow:
        seals = uow.seals.of_issuer(None)
        receipts = uow.receipt_certificates.all()
    for path, what in (
        (settings.seal_ca_dir / RECEIPT_CERT, "the receipt certificate"),
        (settings.seal_ca_dir / TSA_CERT, "the time-stamping certificate"),
        (settings.seal_ca_dir / (TSA_CERT + ".next"), "the time-stamping certificate"),
        (settings.seal_ca_dir / TSA_CERTIFICATES, "a time-stamping certificate"),
        (settings.sm2_seal_ca_dir / SM2_MAKER_CERT, SM2_MAKER_WHAT),
        (settings.sm2_seal_ca_dir / SM2_MAKER_CERTIFICATES, "an SM2 seal maker's certificate"),
        (settings.seal_ca_dir / OUTSIDE_CERTIFICATES, OUTSIDE_WHAT),
    ):
        for certificate in _pem_certificates(path):
            checked = path.name in (TSA_CERTIFICATES, SM2_MAKER_CERTIFICATES, OUTSIDE_CERTIFICATES)
            take(certificate, what, check=checked)
    for der, _ in receipts.values():
        take(x509.load_der_x509_certificate(der), "a receipt certificate")
    for seal in seals:
        take(
            x509.load_der_x509_certificate(seal.certificate_der),
            f"{SEAL_WHAT}{seal.seal_id} of {seal.issuer_code}",
        )
    return found


OUTSIDE_WHAT = "a certificate issued before the CA was imported"
SEAL_WHAT = "the certificate of seal "


def _revocation_said(revocation: Revocation) -> str:
    return f"{revocation.reason.value} from {revocation.revoked_at.isoformat()}"


def _check_revocations(settings: Settings, db: Database, ca: SealMakerCA, directory: Path) -> list[str]:
    """The entries added to ``directory``'s ``revocations.json`` by hand since the gateway last wrote it (the leak
    procedure), each said as `zzgw init` prints it; ConfigError naming the first whose serial is no certificate
    ``ca`` issued that the gateway knows of: a mistyped serial had been taken without a word, the leaked TSA
    certificate left trusted on the CRL (a keys tester, D1)."""
    unlisted = ca.unlisted()
    if not unlisted:
        return []
    known = _gateway_certificates(settings, db, ca)
    said = []
    for revocation in unlisted:
        what = known.get(revocation.serial)
        if what is None:
            own = ", ".join(
                f"{w.removeprefix('the ').removeprefix('a ')} {openssl_serial(s)}"
                for s, w in sorted(known.items(), key=lambda item: item[1])
                if not w.startswith(SEAL_WHAT) and w != OUTSIDE_WHAT
            )
            # each hint for the CA it is of: the SM2 seal maker's CA has no TSA certificate and is never imported
            # (a reviewer, R4)
            hints = (
                (
                    "; a time-stamping certificate of a backup (its seal-ca/tsa.pem) is known once appended to "
                    f"{settings.seal_ca_dir / TSA_CERTIFICATES}, and a certificate an imported CA issued before "
                    f"`zzgw import-ca` once appended to {settings.seal_ca_dir / OUTSIDE_CERTIFICATES}"
                )
                if directory == settings.seal_ca_dir
                else ""
            )
            raise ConfigError(
                f"{directory / REVOCATIONS_FILE} lists serial {openssl_serial(revocation.serial)} "
                f"({_revocation_said(revocation)}), which is no certificate this seal-maker CA issued to the gateway "
                "or its seals: a mistyped serial revokes nothing, and the certificate meant would stay trusted. "
                f"Correct the entry: the gateway's certificates of this CA are {own or 'none'} "
                f"(`openssl x509 -in FILE -noout -serial`){hints} ({LEAK_PROCEDURE})"
            )
        # which CA's CRL and file: the two had been said alike (a reviewer, R4)
        crl = (
            "the seal-maker CRL from now on (/crl/seal-maker.crl"
            if directory == settings.seal_ca_dir
            else "the SM2 seal maker's CRL from now on (/crl/seal-maker-sm2.crl"
        )
        # a serial revoked already, whose entry makes its revocation another (a leak of a retired receipt key's
        # backup: keyCompromise from earlier than its superseded), said with what it was (a receipt-keys reviewer, R3)
        was = f"; it was {_revocation_said(before)}" if (before := ca.listed_as(revocation.serial)) else ""
        said.append(
            f"{what} {openssl_serial(revocation.serial)} ({_revocation_said(revocation)}{was}), listed on {crl}; "
            f"{directory / REVOCATIONS_FILE})"
        )
    return said


def _refuse_revoked_own_keys(
    settings: Settings, db: Database, ca: SealMakerCA, keys: KeyStore, directory: Path
) -> None:
    """ConfigError when the receipt, the TSA or the SM2 seal maker's key in use is one ``directory``'s
    ``revocations.json`` revokes: its certificate revoked (for the receipt key, any certificate of the key revoked as
    the key's: ``KEY_SAYING_REASONS``). A key put back from a backup after the leak procedure, or left in place by it,
    had signed on under a revoked certificate (a keys tester, D2); the SM2 seal maker's too (a reviewer, R4)."""
    revocations = directory / REVOCATIONS_FILE
    own = (
        (
            (settings.seal_ca_dir / RECEIPT_CERT, RECEIPT_KEY, RECEIPT_WHAT),
            (settings.seal_ca_dir / TSA_CERT, TSA_KEY, TSA_WHAT),
        )
        if directory == settings.seal_ca_dir
        else ((directory / SM2_MAKER_CERT, SM2_MAKER_KEY, SM2_MAKER_WHAT),)
    )
    for path, owner, what in own:
        try:
            certificate = x509.load_pem_x509_certificate(path.read_bytes())
        except (FileNotFoundError, ValueError):
            continue
        revoked = ca.revocation(certificate.serial_number)
        other = None
        if revoked is None and owner == RECEIPT_KEY:
            with db.unit_of_work() as uow:
                stored = uow.receipt_certificates.all()
            key = public_key_der(certificate)
            for der, _ in stored.values():
                earlier = x509.load_der_x509_certificate(der)
                if earlier.issuer != ca.intermediate.subject or public_key_der(earlier) != key:
                    continue
                found = ca.revocation(earlier.serial_number)
                if found is not None and found.reason in KEY_SAYING_REASONS:
                    revoked, other = found, earlier
                    break
        if revoked is None:
            continue
        whose = (
            f"(serial {openssl_serial(certificate.serial_number)}) is revoked in {revocations} "
            f"({_revocation_said(revoked)})"
            if other is None
            else f"(serial {openssl_serial(certificate.serial_number)}) is of a key whose certificate "
            f"{openssl_serial(other.serial_number)} is revoked in {revocations} ({_revocation_said(revoked)})"
        )
        raise ConfigError(
            f"{what} {path} {whose}: its key ({keys.path(owner)}) must sign nothing more. Either the leak procedure "
            f"left it in place, or a restore put the leaked key back: move {keys.path(owner)} and {path} aside and run "
            f"`zzgw init`, which makes a new key and certificate ({LEAK_PROCEDURE})"
        )
    if directory != settings.seal_ca_dir:  # ``maker.pem`` moved aside, or another of the key's certificates revoked
        _refuse_revoked_maker_key(ca, keys, directory)


def _refuse_revoked_maker_key(ca: SealMakerCA, keys: KeyStore, directory: Path) -> None:
    """ConfigError when ``keys/sm2maker.key.pem`` is the key of a certificate of the SM2 seal maker (``maker.pem`` or
    one kept in ``maker-certificates.pem``) that ``revocations.json`` revokes as the key's (``KEY_SAYING_REASONS``).
    Only ``maker.pem``'s serial had been checked: with ``maker.pem`` moved aside and the leaked key left in ``keys/``,
    `zzgw init` certified the leaked key again under a new certificate no CRL lists, and `zzgw serve` signed seals with
    it (a reviewer, R2)."""
    if not keys.exists(SM2_MAKER_KEY):
        return
    certificates = [
        (c, path)
        for path in (directory / SM2_MAKER_CERT, directory / SM2_MAKER_CERTIFICATES)
        for c in _pem_certificates(path)
        if c.issuer == ca.intermediate.subject
    ]
    if not certificates:
        return
    key = keys.load(SM2_MAKER_KEY).public_key_der
    for certificate, path in certificates:
        found = ca.revocation(certificate.serial_number)
        if found is None or found.reason not in KEY_SAYING_REASONS or public_key_der(certificate) != key:
            continue
        raise ConfigError(
            f"the SM2 seal maker's key ({keys.path(SM2_MAKER_KEY)}) is the key of certificate "
            f"{openssl_serial(certificate.serial_number)} (in {path}), revoked in "
            f"{directory / REVOCATIONS_FILE} ({_revocation_said(found)}): it must sign nothing more, and is certified "
            "no more. Either the leak procedure left it in place, or a restore put the leaked key back: move "
            f"{keys.path(SM2_MAKER_KEY)} (and {directory / SM2_MAKER_CERT}, if there) aside and run `zzgw init`, which "
            f"makes a new key and certificate ({LEAK_PROCEDURE})"
        )


def take_revocations(settings: Settings, db: Database) -> tuple[list[str], list[str], list[str]]:
    """`zzgw init`: check the entries added by hand to the seal-maker CAs' ``revocations.json`` (``_check_revocations``)
    and record them as listed: one line each, to print; and the lines of a file written before the gateway kept the
    list, which it is given, and its entries to check (``_list_legacy_revocations``)."""
    said: list[str] = []
    legacy: list[str] = []
    unknown: list[str] = []
    for ca, directory in _seal_maker_cas(settings):
        if not ca.keeps_listed:
            file_said, entries_said = _list_legacy_revocations(settings, db, ca, directory)
            legacy.extend(file_said)
            unknown.extend(entries_said)
            continue
        taken = _check_revocations(settings, db, ca, directory)
        if taken:
            ca.take_listed(r.serial for r in ca.unlisted())
            said.extend(taken)
        ca.keep_listed_as()  # a file of a version that listed serials alone: a later entry changing one is said
    return said, legacy, unknown


def _list_legacy_revocations(
    settings: Settings, db: Database, ca: SealMakerCA, directory: Path
) -> tuple[list[str], list[str]]:
    """Give ``listed`` to a ``revocations.json`` written before the gateway kept it (or since by an older version, which
    drops it): its entries had all been taken as they are, and a file never written again (no RevokeSeal since) kept
    every entry added by hand from then on unchecked and unsaid, for good (a reviewer, R1). Every entry it holds is
    recorded as listed: each had been in force, and refusing one now would stop a gateway upgraded after the leak
    procedure, whose moved-aside ``tsa.pem`` it may not know. An entry that is no certificate the gateway knows of (a
    typo, or one added by hand for a certificate it does not know) cannot be told from a hand entry, and is said, to
    be checked. The lines to print: the file's, and one for each such entry."""
    entries = ca.revocations
    if not entries:
        ca.take_listed(())
        return [], []
    known = _gateway_certificates(settings, db, ca)
    ca.take_listed(r.serial for r in entries)
    path = directory / REVOCATIONS_FILE
    lines = (
        f"{path}: {counted(len(entries), 'entry', 'entries')} of a file written before the gateway recorded which "
        f"entries it has taken, recorded as taken ({sum(r.serial in known for r in entries)} of them certificates "
        "the gateway knows of); an entry added by hand from now on is checked and said"
    )
    unknown = [
        f"{path} lists serial {openssl_serial(r.serial)} ({_revocation_said(r)}), no certificate of this seal-maker CA "
        "that the gateway knows of: kept on the CRL as before; if it was meant for one of the gateway's certificates, "
        "correct the serial (a typo revokes nothing)"
        for r in entries
        if r.serial not in known
    ]
    return [lines], unknown


def _seal_maker_cas(settings: Settings) -> list[tuple[SealMakerCA, Path]]:
    """The seal-maker CAs of the data directory with their directories: the SM2 one when the system OpenSSL reads
    it."""
    found = []
    for directory in (settings.seal_ca_dir, settings.sm2_seal_ca_dir):
        if (directory / "root.pem").exists():
            try:
                found.append((SealMakerCA.load(directory, settings.passphrase()), directory))
            except Sm2Unavailable:  # no SM2 seals here (``sm2_seal_maker``)
                continue
    return found


def check_gateway_revocations(settings: Settings, db: Database, keys: KeyStore) -> None:
    """`zzgw init` before it changes the seal-maker CA, and `zzgw serve`: refuse a serial added to a
    ``revocations.json`` by hand that is no certificate of the gateway's (``_check_revocations``), and a receipt or
    TSA key that the file revokes (``_refuse_revoked_own_keys``)."""
    record_tsa_certificate(settings)
    for ca, directory in _seal_maker_cas(settings):
        _check_revocations(settings, db, ca, directory)
        _refuse_revoked_own_keys(settings, db, ca, keys, directory)


def seals_of_revoked_maker(settings: Settings, seals: Collection[Seal]) -> tuple[str, ...]:
    """`zzgw init`: the SM2 seals of ``seals`` whose SES_Seal was made by a seal maker's certificate that
    ``seal-ca-sm2/revocations.json`` revokes, each as "ID of ISSUER": the leak procedure of the maker's key leaves
    them in force, StampDocument refuses them (SEAL_MAKER_REVOKED), and their issuers register new ones (a reviewer,
    R1)."""
    sm2 = [seal for seal in seals if seal.ses_seal is not None]
    if not sm2:
        return ()
    for ca, directory in _seal_maker_cas(settings):
        if directory != settings.sm2_seal_ca_dir:
            continue
        return tuple(
            f"{seal.seal_id} of {seal.issuer_code}"
            for seal in sm2
            if (serial := seal_maker_serial(seal)) is not None and ca.revocation(serial) is not None
        )
    return ()


def ensure_sm2_seal_maker(settings: Settings, keys: KeyStore, clock: Clock, members: list[Member]) -> None:
    """The SM2 seal maker for GB/T 38540 seals, unless it exists or the system OpenSSL has no SM2 (then: a warning,
    and RegisterSeal offers ECDSA and RSA only)."""
    directory = settings.sm2_seal_ca_dir
    operator = gateway_operator(members)
    named_after = _named_after_another(directory / SM2_MAKER_CERT, operator)
    if (directory / SM2_MAKER_CERT).exists() and not named_after:
        return
    if operator is None:
        return
    if named_after:
        record_tsa_certificate(settings)  # the certificate it had stays in maker-certificates.pem
    try:
        now = clock.now()
        if not (directory / "root.pem").exists():
            SealMakerCA.create(_deployment_ca_name("zzgw 制章者 SM2 (seal maker)"), now, algorithm=SM2_SM3).save(
                directory, settings.passphrase()
            )
        ca = _seal_ca_at(directory, settings)
        key = keys.load(SM2_MAKER_KEY) if keys.exists(SM2_MAKER_KEY) else keys.create(SM2_MAKER_KEY, SM2_SM3)
    except Sm2Unavailable as exc:
        log.warning("no SM2 seals: %s", exc)
        return
    cert = ca.issue_seal_certificate(
        issuer_name=operator.name,
        issuer_uscc=operator.code,
        seal_name=SM2_MAKER_NAME,
        public_key=key.public_key_der,
        not_before=now - dt.timedelta(minutes=5),
        not_after=ca.intermediate.not_valid_after_utc - dt.timedelta(seconds=1),
    )
    write_public(directory / SM2_MAKER_CERT, cert.public_bytes(serialization.Encoding.PEM))
    if named_after:
        _say_renamed(SM2_MAKER_WHAT, directory / SM2_MAKER_CERT, named_after, operator)


def sm2_seal_maker(settings: Settings, keys: KeyStore) -> Sm2SealMaker | None:
    directory = settings.sm2_seal_ca_dir
    if not (directory / SM2_MAKER_CERT).exists():
        return None
    path = directory / SM2_MAKER_CERT
    try:
        maker = Sm2SealMaker(
            ca=SealMakerCA.load(directory, settings.passphrase()),  # without its key: ``require_seal_ca_keys``
            key=keys.load(SM2_MAKER_KEY),
            certificate=read_certificate(path),
        )
    except Sm2Unavailable as exc:
        log.warning("no SM2 seals: %s", exc)
        return None
    # a key of another pair (``keys/`` restored from before the leak procedure) had been served, and every SM2
    # RegisterSeal was INTERNAL: refused at the start, naming both, as the TSA's and the receipt's are (a reviewer, R2)
    if public_key_der(maker.certificate) != maker.key.public_key_der:
        raise KeyStoreError(
            f"the SM2 seal maker's key ({keys.path(SM2_MAKER_KEY)}) does not belong to its certificate ({path}): it "
            "could sign no SM2 seal; copy the key and the certificate together from the same backup, or, if the key "
            f"was replaced after a leak, put back the new one ({LEAK_PROCEDURE})"
        )
    return maker


def load_receipt_key(settings: Settings, keys: KeyStore) -> ReceiptKey | None:
    """The receipt key with its certificate; KeyStoreError naming both files when the key is not the certificate's
    (a ``keys/`` restored from before a renewal with a new key, or another gateway's): every receipt signed with it
    had checked SIGNATURE_INVALID offline, the gateway serving as if all were well (a keys tester)."""
    path = settings.seal_ca_dir / RECEIPT_CERT
    if not path.exists():
        return None
    certificate = read_certificate(path)
    key = keys.load(RECEIPT_KEY)
    if _spki_der(certificate) != key.public_key_der:
        raise KeyStoreError(
            f"the receipt key ({keys.path(RECEIPT_KEY)}) does not belong to the receipt certificate ({path}): every "
            "receipt signed with it would check as forged (SIGNATURE_INVALID); copy the key and the certificate "
            "together from the same gateway's backup (docs/receipts.md: renewing the receipt certificate)"
        )
    return ReceiptKey(
        key=key, certificate=certificate, certificate_der=certificate.public_bytes(serialization.Encoding.DER)
    )


def _spki_der(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def authorities_not_the_stores(settings: Settings, db: Database, keys: KeyStore) -> ConfigError | None:
    """The refusal of a data directory whose authorities are not those the store recorded (``check_facts``), or
    None when they are, or the store cannot tell (no schema yet, none recorded). Asked when a key does not belong to
    its certificate: another gateway's seal-ca/ copied in had been said to be a wrong time-stamping key (a keys
    tester), which sent the operator after the key."""
    try:
        revision = db.schema_revision()
        if revision is None or revision < FACTS_REVISION:
            return None
        with db.unit_of_work() as uow:
            recorded = uow.facts.all()
        check_facts(settings, keys, recorded)
    except ConfigError as exc:
        return exc
    except Exception:  # the store or another key unreadable: the key's own error says what was met first
        return None
    return None


def load_seal_ca(settings: Settings) -> SealMakerCA | None:
    """The seal-maker CA of the data directory, with its intermediate's key when it is there: a command that only
    works on the store (`zzgw members --revoke`, `zzgw audit verify`) runs without it, and `zzgw serve` and `zzgw
    init`, which sign the CRLs and certify, refuse the directory first (``require_seal_ca_keys``)."""
    if not (settings.seal_ca_dir / "root.pem").exists():
        return None
    return SealMakerCA.load(settings.seal_ca_dir, settings.passphrase())


SEAL_CA_KEY_LOST = "docs/operations.md: Losing a seal maker's intermediate key"


def _seal_ca_key_missing(directory: Path, settings: Settings) -> ConfigError:
    whose = "the SM2 seal maker's CA" if directory == settings.sm2_seal_ca_dir else "the seal-maker CA"
    return ConfigError(
        f"{directory / 'intermediate.key.pem'} is missing: {whose} signs with it the CRL that every check of a seal "
        "needs, and certifies seals, so this data directory could verify nothing; copy it from the gateway this data "
        "directory was copied from (a replica: README, deployment beyond one machine), or restore it from this data "
        "directory's backup (a single gateway). The commands that only work on the store (`zzgw members`, `zzgw "
        f"audit`) still run; if no copy is left anywhere: {SEAL_CA_KEY_LOST}"
    )


def require_seal_ca_keys(settings: Settings) -> None:
    """`zzgw serve` and `zzgw init`: ConfigError naming a seal maker's intermediate key missing from a data directory
    that has its CA. The key signs the CA's CRL, and a seal is judged only against its CA's CRL: a replica copied
    without ``intermediate.key.pem`` had started and said it was ready, then answered every verification
    INDETERMINATE / CRL_MISSING (every one INTERNAL without the SM2 seal maker's), besides certifying no seal (a
    multi-replica tester). Only these two commands refuse it, and `zzgw memos`, which checks seals too: every command
    that opened the store had, and a gateway that lost the file could not even revoke a member (a reviewer, R2)."""
    for directory in (settings.seal_ca_dir, settings.sm2_seal_ca_dir):
        if (directory / "root.pem").exists() and not (directory / "intermediate.key.pem").exists():
            raise _seal_ca_key_missing(directory, settings)


def _seal_ca_at(directory: Path, settings: Settings) -> SealMakerCA:
    """The seal-maker CA in ``directory`` (``seal-ca/``, ``seal-ca-sm2/``) with its intermediate's key, for `zzgw
    init`, which certifies; ConfigError naming the key's file when it is missing (``require_seal_ca_keys``). The
    root's key is not needed (``SealMakerCA.load``)."""
    ca = SealMakerCA.load(directory, settings.passphrase())
    if not ca.can_issue:
        raise _seal_ca_key_missing(directory, settings)
    return ca


def time_stamping_authority(
    settings: Settings, ca: SealMakerCA, keys: KeyStore, clock: Clock
) -> TimeStampAuthority | None:
    path = settings.seal_ca_dir / TSA_CERT
    _finish_tsa_renewal(settings, keys)
    if not path.exists():
        return None
    key = keys.load(TSA_KEY)
    certificate = read_certificate(path)  # named as it is, not as a key of another pair
    try:
        return TimeStampAuthority(
            cert=certificate,
            key=key,
            chain=[ca.intermediate],
            clock=clock,
            serials=x509.random_serial_number,
            policy_oid=settings.tsa_policy or ZZGW_TSA_POLICY_OID,
        )
    except KeyStoreError as exc:  # the key of another pair: the files named, as the receipt key's are
        raise KeyStoreError(f"{exc} ({keys.path(TSA_KEY)}, {path})") from None


def make_timestamper(
    settings: Settings, tsa: TimeStampAuthority | None, tsa_trust_roots: Sequence[x509.Certificate], clock: Clock
) -> TimeStamper | None:
    """An external TSA when one is configured, its every token checked against ``tsa_trust_roots`` (those that
    verification trusts for timestamps) and its time against ``clock``, else the gateway's own, in process (no HTTP
    round trip)."""
    if settings.tsa_url:
        return _NamedTimeStamper(settings.tsa_url, timeout=10, trust_roots=tsa_trust_roots, clock=clock)
    return LocalTimeStamper(tsa) if tsa is not None else None


def outside_tsa_roots(settings: Settings) -> list[x509.Certificate]:
    """The certificates ``ZZGW_TSA_ROOTS`` names (none when unset), which anchor an outside TSA's timestamps, for
    timestamps only; ConfigError for a file that is missing or holds no PEM certificate. Without them, verification
    trusted only timestamps that chain to the seal-maker root, so an outside TSA's proved no sealing time: every
    document sealed with one read INDETERMINATE / CERT_REVOKED_NO_TRUSTED_TIME once its seal was replaced (a
    reviewer, R1)."""
    if not settings.tsa_roots:
        return []
    path = Path(settings.tsa_roots)
    try:
        roots = x509.load_pem_x509_certificates(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"tsa_roots (ZZGW_TSA_ROOTS): cannot read {path}: {exc.strerror or exc}") from None
    except ValueError:
        blocks = path.read_bytes().count(b"-----BEGIN CERTIFICATE-----")
        raise ConfigError(
            f"tsa_roots (ZZGW_TSA_ROOTS): {path}"
            + (
                f": one or more of its {blocks} certificate blocks cannot be read (cut short or changed?)"
                if blocks
                else " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
            )
            + ": name the root certificate(s) of the time-stamping service ZZGW_TSA_URL names"
        ) from None
    return roots


TSA_LINES_SECONDS = 5.0
"""How often the log says again that the TSA gives no timestamp, while calls keep asking for one."""
tsa_log = logging.getLogger("zzgw.tsa")


class _NamedTimeStamper(HTTPTimeStamper):
    """pyHanko's HTTP client, whose failure names the service (``ZZGW_TSA_URL`` without credentials) and why: its
    own says only "Error while contacting timestamp service". A TSA that gives none is logged (``zzgw.tsa``): a
    WARNING naming it and what fails, at most once per ``TSA_LINES_SECONDS`` with the requests left out since, and
    an INFO when it answers again. Every IssueLicense had failed TSA_UNAVAILABLE with nothing above INFO in the log,
    and readiness stayed 200 (found by an on-call tester)."""

    def __init__(self, url: str, *, timeout: int, trust_roots: Sequence[x509.Certificate], clock: Clock) -> None:
        super().__init__(url, timeout=timeout)
        self._trust_roots = tuple(trust_roots)
        self._clock = clock
        self._lines = OncePer(TSA_LINES_SECONDS)
        self._failing = False

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        try:
            sent = self._clock.now()
            token = await super().async_timestamp(message_digest, md_algorithm)
            # pyHanko checks only the status and the nonce: a token verification would not trust (another CA's
            # TSA, ZZGW_TSA_ROOTS not naming it) had sealed documents that prove no sealing time (a reviewer, R1),
            # and one of a time far off this clock's had them judged then: FAILED for good (a reviewer, rfA R2)
            between = (sent, self._clock.now())
            if (
                problem := await token_problem(token, message_digest, md_algorithm, self._trust_roots, between)
            ) is not None:
                raise TimestampRequestError(
                    f"no timestamp from ZZGW_TSA_URL {url_without_credentials(self.url)}: {problem} (ZZGW_TSA_ROOTS "
                    "names the roots its timestamps must chain to, besides the seal-maker root)"
                )
        except Exception as exc:  # unreachable, an HTTP error, a reply that is none, a refusal: no timestamp
            self._failing = True
            if (left := self._lines.allow("failing")) is not None:
                said = str(exc)
                if not said.startswith("no timestamp from ZZGW_TSA_URL"):
                    said = f"no timestamp from ZZGW_TSA_URL {url_without_credentials(self.url)}: {said}"
                tsa_log.warning(
                    "%s: IssueLicense, AmendLicense, SealDocument, StampDocument and sharing copies fail "
                    "(UNAVAILABLE / TSA_UNAVAILABLE) until it gives one; check the time-stamping service and the "
                    "network to it%s",
                    said,
                    since(left),
                )
            raise
        if self._failing:
            self._failing = False
            tsa_log.info("ZZGW_TSA_URL %s gives timestamps again", url_without_credentials(self.url))
        return token

    async def async_request_tsa_response(self, req: Any) -> Any:
        """pyHanko's request, but the reply is read to at most ``MAX_TSA_REPLY_BYTES`` and checked as DER before
        asn1crypto parses it (``signing.der``): pyHanko's read a reply of any size and gave it to asn1crypto whole,
        whose time is in the square of some malformed DER's size, so a TSA answering 1 MB of 0xFF (or anyone on
        the path to an http:// one) held a handler thread until the watchdog stopped the gateway."""
        import aiohttp

        try:
            try:
                async with (
                    aiohttp.ClientSession() as session,
                    session.post(
                        url=self.url,
                        headers=await self.async_request_headers(),
                        data=req.dump(),
                        auth=self.auth,
                        raise_for_status=True,
                        timeout=aiohttp.ClientTimeout(total=self.timeout),
                    ) as response,
                ):
                    if response.headers.get("Content-Type") != "application/timestamp-reply":
                        raise TimestampRequestError(_NOT_A_REPLY)
                    reply = await _read_at_most(response.content, MAX_TSA_REPLY_BYTES)
            except TimestampRequestError:  # an OSError, said above
                raise
            except (aiohttp.ClientError, OSError) as exc:
                raise TimestampRequestError("Error while contacting timestamp service") from exc
            if reply is None:
                raise TimestampRequestError(f"the answer is larger than {MAX_TSA_REPLY_BYTES:,} bytes")
            try:
                check_der(reply)  # asn1crypto's time is in the square of some malformed DER's size
            except MalformedDer as exc:
                raise TimestampRequestError(f"the answer is not DER ({exc})") from exc
            return tsp.TimeStampResp.load(reply)
        except TimestampRequestError as exc:
            raise TimestampRequestError(
                f"no timestamp from ZZGW_TSA_URL {url_without_credentials(self.url)}: {_tsa_failure(exc)}"
            ) from exc


MAX_TSA_REPLY_BYTES = 256 * 1024
"""The largest reply taken from an external TSA: a timestamp token with its TSA's chain is a few KB."""
_NOT_A_REPLY = "the answer is not an RFC 3161 timestamp reply (its Content-Type is not application/timestamp-reply)"


async def _read_at_most(content: Any, limit: int) -> bytes | None:
    """The body of an aiohttp response, or None once it is longer than ``limit`` bytes (no more is read)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await content.read(limit + 1 - size):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return None
    return b"".join(chunks)


def _tsa_failure(exc: BaseException) -> str:
    """Why a request to the TSA failed, in words that carry no URL (aiohttp's would, credentials and all)."""
    import aiohttp

    cause = exc.__cause__
    if cause is None or isinstance(cause, MalformedDer):
        return str(exc)  # said here: the reply's size, its Content-Type, its DER
    if isinstance(cause, aiohttp.ClientResponseError):
        return f"HTTP {cause.status} {cause.message}".strip()
    if isinstance(cause, TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer in time"
    if isinstance(cause, aiohttp.ClientConnectorError):
        return f"cannot connect to {cause.host}:{cause.port} ({cause.os_error.strerror or cause.os_error})"
    return type(cause).__name__


FACTS_REVISION = "0016"
"""The schema revision that keeps the fingerprints of the store's authorities (``gateway_facts``)."""
PRODUCTION_FACT = MODE_FACT
"""The fact a store served in production mode records (value ``production``): it is never served in dev mode again."""
_FACTS = {
    "memo_secret": ("a memo secret", "keys/sealmemo.key.pem"),
    "seal_ca_root": ("a seal-maker CA", "seal-ca/root.pem"),
    "sm2_seal_ca_root": ("an SM2 seal maker's CA", "seal-ca-sm2/root.pem"),
    "member_ca": ("a member CA", "pki/ca.pem"),
}
"""Each authority a store is made with: (what it is, where a data directory holds it)."""


def authority_facts(settings: Settings, keys: KeyStore) -> dict[str, str]:
    """The fingerprints of the authorities this data directory holds: SHA-256 of each CA's root certificate, and
    of the memo secret an HMAC (the store never learns the secret)."""
    facts = {}
    if keys.exists(SEAL_MEMO_SECRET):
        secret = keys.secret(SEAL_MEMO_SECRET, create=False)
        facts["memo_secret"] = hmac.new(secret, b"zzgw-memo-secret-fingerprint/1", hashlib.sha256).hexdigest()
    for name, path in (
        ("seal_ca_root", settings.seal_ca_dir / "root.pem"),
        ("sm2_seal_ca_root", settings.sm2_seal_ca_dir / "root.pem"),
        ("member_ca", settings.pki_dir / "ca.pem"),
    ):
        if path.exists():  # the certificate parsed: a damaged one named, not binascii's "Incorrect padding" (R1)
            der = read_certificate(path).public_bytes(serialization.Encoding.DER)
            facts[name] = hashlib.sha256(der).hexdigest()
    return facts


def check_facts(settings: Settings, keys: KeyStore, recorded: Mapping[str, str]) -> None:
    """Refuse a data directory whose authorities are not those the store was made with: a replica that made its
    own (copied without them while the store had nothing that needed them yet) would disagree with the others for
    good, each reporting the other's memos STATUS_ALTERED, or trusting none of its seals.

    And refuse dev mode for a store served in production (``PRODUCTION_FACT``): with its settings file lost in a
    restore, such a store had been served over plain gRPC with bearer tokens, and `zzgw init` had written a token
    for every member (a disaster-recovery tester). A dev store may still go to production."""
    if recorded.get(PRODUCTION_FACT) == "production" and settings.mode != "production":
        raise production_store_said(settings)
    ours = authority_facts(settings, keys)
    for name, value in recorded.items():
        if name in (PRODUCTION_FACT, CATALOG_FACT, PRUNED_WITNESS) or name.startswith(REVOKED_CERTIFICATE):
            continue
        what, where = _FACTS.get(name, (name, name))
        if name not in ours:
            raise ConfigError(
                f"the database was made with {what} that is not in this data directory ({where}): "
                f"{BRING_THE_DATA_DIRECTORY}"
            )
        if ours[name] != value:
            raise ConfigError(
                f"this data directory's {what.split(' ', 1)[1]} ({where}) is not the one the database was made with: "
                "another gateway made its own; copy the first gateway's instead (README: deployment beyond one "
                "machine), or, after a restore, the data directory taken with the database (docs/operations.md, "
                "Restoring)"
            )
