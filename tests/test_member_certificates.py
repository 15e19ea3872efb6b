"""Members' client certificates that end: listed by ``zzgw members``, warned of by ``zzgw serve`` (a WARNING 30 days
before, an ERROR once ended, naming the member and the day), and a gauge for alerts. The day one ended, its
department's calls had failed in the TLS handshake with a gRPC core line naming nobody (found by an on-call tester).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import free_port, wait_serving
from gateway import metrics
from gateway.config import Settings
from gateway.domain.model import CHINA_TZ
from gateway.member_certificates import certificate_ends, warn_of_ends
from gateway.store.database import Database
from tests.commands import ROOT, run_zzgw
from tests.conftest import MARKET, POLICE, TAX, RunningGateway

TAX_NAME = "国家税务总局济南市税务局"


def serve_heard(env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str], threading.Thread]:
    """``zzgw serve`` started with ``env``, the list its standard error's lines are added to as they come, and the
    thread that adds them (joined once the server ended)."""
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(iter(server.stderr.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    return server, said, reader


def test_each_registered_certificate_is_read_with_its_end(running: RunningGateway) -> None:
    settings = running.gateway.settings
    ends = certificate_ends(settings, running.gateway.db)
    pem = (settings.pki_dir / "members" / f"{TAX}.pem").read_bytes()
    assert ends[TAX] == x509.load_pem_x509_certificate(pem).not_valid_after_utc
    assert len(ends) == len(running.gateway.members.in_force())


def test_a_certificate_not_the_registered_one_has_no_end_said(tmp_path: Path) -> None:
    from tests.conftest import start_gateway

    started = start_gateway(tmp_path / "var", f"sqlite:///{tmp_path / 'zzgw.db'}")
    try:
        settings = started.gateway.settings
        police = settings.pki_dir / "members" / f"{POLICE}.pem"
        police.write_bytes((settings.pki_dir / "members" / f"{TAX}.pem").read_bytes())  # another's, in its place
        (settings.pki_dir / "members" / f"{TAX}.pem").unlink()  # a replica given no copy
        ends = certificate_ends(settings, started.gateway.db)
        assert ends[POLICE] is None and ends[TAX] is None
    finally:
        started.stop()


def test_ending_and_ended_certificates_are_said_naming_the_member_and_the_day(
    running: RunningGateway, caplog: pytest.LogCaptureFixture
) -> None:
    ends = certificate_ends(running.gateway.settings, running.gateway.db)
    end = ends[TAX]
    assert end is not None
    names = {TAX: TAX_NAME}
    day = end.astimezone(CHINA_TZ).date().isoformat()
    caplog.set_level(logging.INFO, logger="zzgw.members")

    assert warn_of_ends({TAX: end}, names, end - dt.timedelta(days=31)) == []  # not yet
    at = end - dt.timedelta(days=12, hours=1)
    ((level, line),) = warn_of_ends({TAX: end}, names, at)
    assert level == logging.WARNING
    days = (end.astimezone(CHINA_TZ).date() - at.astimezone(CHINA_TZ).date()).days  # Beijing days: 12, or 13
    assert line.startswith(
        f"the client certificate of member {TAX} ({TAX_NAME}) ends on {day} (Beijing time), in {days} days: "
    )
    assert line.endswith(f"renew it: `zzgw members --renew {TAX}` (docs/departments.md, Renewing)")
    ((level, line),) = warn_of_ends({TAX: end}, names, end + dt.timedelta(seconds=1))
    assert level == logging.ERROR
    assert line.startswith(f"the client certificate of member {TAX} ({TAX_NAME}) ended on {day} (Beijing time)")
    assert [(r.name, r.levelno) for r in caplog.records] == [
        ("zzgw.members", logging.WARNING),
        ("zzgw.members", logging.ERROR),
    ]

    body, _ = metrics.exposition()
    (family,) = [f for f in text_string_to_metric_families(body.decode()) if f.name.startswith("zzgw_member_cert")]
    assert (family.name, family.type) == ("zzgw_member_certificate_expiry_seconds", "gauge")
    assert {s.labels["member"]: s.value for s in family.samples}[TAX] == end.timestamp()


def test_a_previous_certificate_kept_by_a_renewal_is_said_as_it_ends_and_once_it_has(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A renewal made as the warning said had silenced it, though the department may still be on the old pair,
    which stops at its own end with no word (a reviewer): the previous certificate's end is said too, WARNINGs only
    (a department that moved loses nothing), and the gauge stays the registered certificate's."""
    end = dt.datetime(2030, 1, 2, 3, tzinfo=dt.UTC)
    renewed = end + dt.timedelta(days=825)
    names = {TAX: TAX_NAME}
    caplog.set_level(logging.INFO, logger="zzgw.members")
    assert warn_of_ends({TAX: renewed}, names, end - dt.timedelta(days=31), {TAX: end}) == []  # not yet
    ((level, line),) = warn_of_ends({TAX: renewed}, names, end - dt.timedelta(days=5, hours=1), {TAX: end})
    assert level == logging.WARNING
    assert line == (
        f"the previous client certificate of member {TAX} ({TAX_NAME}), kept by its renewal, ends on 2030-01-02 "
        "(Beijing time), in 5 days: a department still on the old pair fails in the TLS handshake from then on: hand "
        f"it the new pair (docs/departments.md, Renewing), and once it connects with that, `zzgw members --retire "
        f"{TAX}`"
    )
    ((level, line),) = warn_of_ends({TAX: renewed}, names, end + dt.timedelta(seconds=1), {TAX: end})
    assert level == logging.WARNING
    assert line.startswith(
        f"the previous client certificate of member {TAX} ({TAX_NAME}), kept by its renewal, ended on 2030-01-02 "
        "(Beijing time): its department's calls with the old pair fail in the TLS handshake"
    )
    assert line.endswith(f"retire it: `zzgw members --retire {TAX}`")
    assert warn_of_ends({TAX: renewed}, names, end, {TAX: None}) == []  # not here: its end is not known
    assert [(r.name, r.levelno) for r in caplog.records] == [("zzgw.members", logging.WARNING)] * 2
    body, _ = metrics.exposition()
    (family,) = [f for f in text_string_to_metric_families(body.decode()) if f.name.startswith("zzgw_member_cert")]
    assert {s.labels["member"]: s.value for s in family.samples}[TAX] == renewed.timestamp()


REVOKED = "11370100MB0000000X"
"""A member code for the gauge's tests, no demo member's."""
GAUGE_SERIES = """
import datetime as dt, json, sys
from prometheus_client.parser import text_string_to_metric_families
from gateway import metrics
from gateway.member_certificates import warn_of_ends

end = dt.datetime(2030, 1, 2, tzinfo=dt.UTC)
for ends in json.loads(sys.argv[1]):
    warn_of_ends({code: end for code in ends}, {}, dt.datetime(2029, 1, 2, tzinfo=dt.UTC))
    families = text_string_to_metric_families(metrics.exposition()[0].decode())
    gauge = [f for f in families if f.name == "zzgw_member_certificate_expiry_seconds"]
    print(json.dumps(sorted(s.labels["member"] for f in gauge for s in f.samples)))
"""
"""Daily looks in one process, that found the ends of the members of each list of ``argv[1]``: the gauge's series
scraped after each, a line each."""


@pytest.mark.parametrize("workers", [1, 2], ids=["one process", "multiprocess mode"])
def test_a_member_no_longer_registered_loses_its_series_at_the_next_look(tmp_path: Path, workers: int) -> None:
    """A revoked member's series had stayed at its certificate's end until the process restarted, an alert on it
    firing for a department revoked on purpose (a reviewer). prometheus_client cannot remove a series in
    multiprocess mode (several workers), where it is left out of the scrape instead."""
    env = {key: value for key, value in os.environ.items() if key != metrics.DIRECTORY_ENV}
    if workers > 1:
        env[metrics.DIRECTORY_ENV] = str(tmp_path)
    looks = [sorted([TAX, REVOKED]), [TAX], sorted([TAX, REVOKED]), [], [REVOKED]]
    done = subprocess.run(
        [sys.executable, "-c", GAUGE_SERIES, json.dumps(looks)], env=env, cwd=ROOT, capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    assert [json.loads(line) for line in done.stdout.splitlines()] == looks
    assert any(tmp_path.iterdir()) == (workers > 1)  # its values in the directory's files: multiprocess mode


# -- zzgw members and zzgw serve --------------------------------------------------------------------------------


def _certificate_ending(pki: Path, code: str, name: str, ends: dt.datetime) -> None:
    """A client certificate for member ``code`` from the member CA (``pki/ca.key``) that ends at ``ends``, with a
    key of its own, in ``pki/members``: what `zzgw init` registers for a member it finds a pair for."""
    ca_cert = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, code),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, code),
    ])  # fmt: skip
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ends - dt.timedelta(days=800))
        .not_valid_after(ends)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    members = pki / "members"
    (members / f"{code}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (members / f"{code}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


@pytest.mark.slow
def test_members_lists_each_end_and_serve_warns_of_those_ending(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_KEY_PASSPHRASE": "member-certificates-test",
        "ZZGW_DATABASE_URL": "",
    }
    assert run_zzgw("init", env=env).returncode == 0
    pki = tmp_path / "var" / "pki"
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    ending, ended = now + dt.timedelta(days=10, hours=12), now - dt.timedelta(days=1)
    for code, end in ((TAX, ending), (POLICE, ended)):  # renewed as docs/departments.md says, with these pairs
        assert run_zzgw("members", "--revoke", code, env=env).returncode == 0
        assert run_zzgw("members", "--restore", code, env=env).returncode == 0
        _certificate_ending(pki, code, TAX_NAME if code == TAX else "济南市公安局", end)
    soon = now + dt.timedelta(days=5, hours=12)  # renewed in time, its department maybe still on the old pair
    assert run_zzgw("members", "--revoke", MARKET, env=env).returncode == 0
    assert run_zzgw("members", "--restore", MARKET, env=env).returncode == 0
    _certificate_ending(pki, MARKET, "济南市市场监督管理局", soon)
    done = run_zzgw("init", env=env)
    assert done.returncode == 0, done.stderr
    assert run_zzgw("members", "--renew", MARKET, env=env).returncode == 0

    listed = run_zzgw("members", env=env)
    assert listed.returncode == 0, listed.stderr
    rows = {line.split("\t")[0]: line.split("\t") for line in listed.stdout.splitlines()}
    beijing = lambda moment: moment.astimezone(CHINA_TZ).date().isoformat()  # noqa: E731
    day = beijing(ending)
    assert rows[TAX][-1] == f"证书有效期至 {day}（北京时间；certificate ends {day} Beijing time）"
    # one that has ended had been listed as one that has not, the day alone (a renewal tester, D2)
    at = ended.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
    assert rows[POLICE][-1] == (
        f"证书已于 {at}（北京时间）到期，不再可用，请 --renew（certificate ended on {at} Beijing time: its calls "
        f"fail in the TLS handshake; `zzgw members --renew {POLICE}`）"
    )

    server, said, reader = serve_heard(env)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=60, process=server)
        deadline = time.monotonic() + 30
        while sum("zzgw.members" in line for line in said) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        with urllib.request.urlopen(f"http://{env['ZZGW_HTTP_ADDR']}/metrics", timeout=5) as answer:
            families = {family.name: family for family in text_string_to_metric_families(answer.read().decode())}
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        reader.join(timeout=10)
    lines = [line for line in said if " zzgw.members " in line]
    assert len(lines) == 3, "".join(said)
    warned = next(line for line in lines if TAX in line)
    assert f"WARNING zzgw.members the client certificate of member {TAX} ({TAX_NAME}) ends on {beijing(ending)}" in (
        warned
    )
    assert f"in {(ending.astimezone(CHINA_TZ).date() - now.astimezone(CHINA_TZ).date()).days} days" in warned
    previous = next(line for line in lines if MARKET in line)  # said beside the renewal, which is not ending
    assert (
        f"WARNING zzgw.members the previous client certificate of member {MARKET} (济南市市场监督管理局), kept by its "
        f"renewal, ends on {beijing(soon)} (Beijing time), "
        f"in {(soon.astimezone(CHINA_TZ).date() - now.astimezone(CHINA_TZ).date()).days} days: "
    ) in previous
    # the gateway's own certificates' ends too, which no metric had had (a renewal tester, D1, D5)
    own = {s.labels["certificate"]: s.value for s in families["zzgw_gateway_certificate_expiry_seconds"].samples}
    for name, path in (("receipt", "seal-ca/receipt.pem"), ("tsa", "seal-ca/tsa.pem")):
        certificate = x509.load_pem_x509_certificate((tmp_path / "var" / path).read_bytes())
        assert own[name] == certificate.not_valid_after_utc.timestamp()
    failed = next(line for line in lines if POLICE in line)
    assert f"ERROR zzgw.members the client certificate of member {POLICE} (济南市公安局) ended on {beijing(ended)}" in (
        failed
    )


def test_a_previous_certificate_that_ended_is_listed_so_and_the_next_renewal_retires_it(tmp_path: Path) -> None:
    """A previous certificate kept by a renewal that has ended since is refused by every handshake: `zzgw members`
    had called it accepted after its end, and `--renew` stayed refused (RENEWAL_OVERLAPS) until it was retired (a
    reviewer). It is listed as ended, and the next renewal retires it."""
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_KEY_PASSPHRASE": "member-certificates-test",
        "ZZGW_DATABASE_URL": "",
    }
    assert run_zzgw("init", env=env).returncode == 0
    pki = tmp_path / "var" / "pki"
    members = pki / "members"
    ended = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=1)
    assert run_zzgw("members", "--revoke", POLICE, env=env).returncode == 0
    assert run_zzgw("members", "--restore", POLICE, env=env).returncode == 0
    _certificate_ending(pki, POLICE, "济南市公安局", ended)
    assert run_zzgw("init", env=env).returncode == 0
    ended_pem = (members / f"{POLICE}.pem").read_bytes()
    late = run_zzgw("members", "--renew", POLICE, env=env)  # the department's certificate had ended
    assert late.returncode == 0, late.stderr
    first = (members / f"{POLICE}.pem").read_bytes()
    day = ended.astimezone(CHINA_TZ).date().isoformat()
    # it had said the ended one "stays accepted … so the department changes over without a gap" (a renewal tester, D3)
    assert "without a gap" not in late.stderr and "stays accepted" not in late.stderr
    assert (
        f"the previous one ({members / POLICE}.previous.pem) ended on {day} (Beijing time) and is not accepted: the "
        "department cannot connect until it has the new pair, so hand it over now: "
    ) in late.stderr
    listed = {line.split("\t")[0]: line.split("\t") for line in run_zzgw("members", env=env).stdout.splitlines()}
    assert listed[POLICE][-1].endswith(
        f"；换发前的旧证书已于 {day} 到期，不再可用，可 --retire（the previous certificate ended on {day}: no longer "
        f"accepted; `zzgw members --retire {POLICE}`, or the next --renew, retires it）"
    )

    again = run_zzgw("members", "--renew", POLICE, env=env)  # no --retire first
    assert again.returncode == 0, again.stderr
    (aside,) = members.glob(f"{POLICE}.revoked-*.previous.pem")
    assert aside.read_bytes() == ended_pem
    assert (
        f"the certificate before that one, which had ended on {day}, is retired with this renewal (kept aside as "
        in (again.stderr)
    )
    assert (members / f"{POLICE}.previous.pem").read_bytes() == first
    listed = {line.split("\t")[0]: line.split("\t") for line in run_zzgw("members", env=env).stdout.splitlines()}
    assert "；换发前的旧证书仍可用，至 " in listed[POLICE][-1]
    assert run_zzgw("init", env=env).returncode == 0
    (members / f"{POLICE}.pem").write_bytes(ended_pem)  # retired: never registered again
    refused = run_zzgw("init", env=env)
    assert refused.returncode == 2 and "never trusted again" in refused.stderr


def test_a_store_that_does_not_answer_is_said_and_tried_again(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The daily look runs on a thread of its own: a store out of reach then is said, without a traceback."""
    from gateway import member_certificates
    from gateway.domain.model import SystemClock

    db = Database.connect(f"sqlite:///{tmp_path / 'nothing-here.db'}")  # no schema: every read fails
    caplog.set_level(logging.WARNING, logger="zzgw.members")
    try:
        member_certificates.watch_certificate_ends(Settings(data_dir=tmp_path), db, SystemClock())
        deadline = time.monotonic() + 10
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        db.dispose()
    (record,) = caplog.records
    assert record.getMessage().startswith("cannot read the members' registered certificates (")
    assert record.getMessage().endswith("looking again in 60 minutes") and record.exc_info is None


@pytest.mark.slow
def test_the_watch_and_its_gauge_go_on_in_the_worker_that_replaces_worker_0(tmp_path: Path) -> None:
    """ZZGW_WORKERS=2: the watch ran only in the process that announced the start, and a replacement never announces:
    once worker 0 died (OOM, kill -9, the watchdog), the daily lines and every gauge series were gone until the
    whole gateway restarted, and an alert on the gauge saw no data (a reviewer)."""
    http = f"127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "ZZGW_DATA_DIR": str(tmp_path / "var"),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": http,
        "ZZGW_KEY_PASSPHRASE": "member-certificates-test",
        "ZZGW_DATABASE_URL": "",
        "ZZGW_WORKERS": "2",
    }
    assert run_zzgw("init", env=env).returncode == 0
    ending = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=10, hours=12)
    assert run_zzgw("members", "--revoke", POLICE, env=env).returncode == 0
    assert run_zzgw("members", "--restore", POLICE, env=env).returncode == 0
    _certificate_ending(tmp_path / "var" / "pki", POLICE, "济南市公安局", ending)
    assert run_zzgw("init", env=env).returncode == 0

    def gauge() -> float | None:
        with urllib.request.urlopen(f"http://{http}/metrics", timeout=5) as answer:
            body = answer.read().decode()
        for family in text_string_to_metric_families(body):
            if family.name == "zzgw_member_certificate_expiry_seconds":
                return next((s.value for s in family.samples if s.labels["member"] == POLICE), None)
        return None

    def watching(seconds: float) -> list[int]:
        """The pids of the processes that logged POLICE's certificate, once one has within ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if pids := [int(line.split("[", 1)[1].split("]", 1)[0]) for line in said if f"member {POLICE}" in line]:
                return pids
            time.sleep(0.1)
        return []

    server, said, reader = serve_heard(env)
    try:
        wait_serving(env["ZZGW_GRPC_ADDR"], timeout=90, process=server)
        (first,) = watching(30)  # one process watches
        assert all(gauge() == ending.timestamp() for _ in range(4))  # whichever worker answers the scrape
        os.kill(first, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while len(pids := watching(1)) < 2:
            assert time.monotonic() < deadline, "no worker watches since worker 0 was replaced"
        assert pids[1] != first
        assert all(gauge() == ending.timestamp() for _ in range(4))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        reader.join(timeout=10)
    assert f"(pid {first}) exited (code -9) while serving: starting another" in "".join(said)
