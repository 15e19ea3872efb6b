"""The ``zzgw`` command line: init, serve, catalog, demo, import, audit, memos, verify, receipt.

zzgw init                 create the database schema, keys, member CA, demo members (idempotent)
zzgw serve                run the gateway (gRPC on ZZGW_GRPC_ADDR, default 127.0.0.1:50051)
zzgw catalog check [FILE] check a catalog file (default: ZZGW_CATALOG's) with this version, and against the store
zzgw demo                 walk through the scenarios' journeys (企业开办, 新生儿出生, 窗口核验, 批量归集)
zzgw import FILE          issue every license of a CSV or JSON Lines file through BatchIssueLicenses
zzgw audit verify|prune   check the audit trail's hash chain, or drop records (and consents and access
                          requests ended) past their retention
zzgw memos                give licenses stored before schema 0012 the gateway's memo of their seal
zzgw verify WHAT          verify a license (identifier, number, ZZ1: code), a PDF or a photo of its QR code
zzgw receipt get ID       fetch a verification receipt (GetReceipt) as a JSON file
zzgw receipt check FILE   check a receipt file offline with the gateway's published trust material
zzgw members              list the members; --renew, --retire, --revoke, --restore one's credentials
zzgw certificates         the trust anchors to hand over, with their SHA-256 fingerprints and ends; the gateway's own
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import errno
import logging
import os
import sys
from collections.abc import Callable, Collection, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from gateway.config import Settings
from gateway.domain.counts import counted
from gateway.entry import IMPORT_NOT_BEGUN as _IMPORT_NOT_BEGUN
from gateway.entry import interrupted_status
from gateway.logs import hide_database_details

if TYPE_CHECKING:
    import grpc

    from adapters.client import HandedOver
    from gateway.domain.audit import ChainCheck
    from gateway.server import CatalogFindings, Gateway, InitReport
    from gateway.services.authorization import Pruned
    from gateway.services.members import MemberService


def main(argv: list[str] | None = None) -> int:
    # only `zzgw serve`'s supervisor names the workers' metrics directory (gateway.metrics.prepare_directory): one
    # set outside would be read by every command as it imports prometheus_client, and written to by `zzgw init`
    # (pinning zzgw_ready at 0), kept by a single worker across runs, or crash a command when it does not exist
    for name in ("PROMETHEUS_MULTIPROC_DIR", "prometheus_multiproc_dir"):
        os.environ.pop(name, None)
    # a defect's traceback (a migration meeting a row it cannot take) without a database error's message, which
    # quotes the row (a reviewer, R2)
    hide_database_details()
    parser = argparse.ArgumentParser(prog="zzgw", description="zzgw, the e-license exchange gateway (证照网关)")
    parser.add_argument("--config", type=Path, help=_CONFIG_HELP)
    commands = parser.add_subparsers(dest="command", required=True)

    init = commands.add_parser(
        "init",
        help="create schema, keys, member CA and the members (the demo ones, or $ZZGW_MEMBERS's) (idempotent; run it "
        "again after adding members to the file)",
    )
    init.add_argument("--rotate-tokens", action="store_true", help="issue new dev bearer tokens")
    init.add_argument(
        "--adopt-catalog",
        action="store_true",
        help="make this directory's catalog (ZZGW_CATALOG) the one every gateway of the store serves, when the store "
        "records another; then restart every zzgw serve",
    )
    init.add_argument(
        "--adopt-members",
        action="store_true",
        help="let this directory's members file (ZZGW_MEMBERS) change the name, region or roles of members the store "
        "has registered; without it such a file is refused (a replica's older copy would undo a change)",
    )
    init.add_argument(
        "--switch-to-production",
        action="store_true",
        help="with ZZGW_MODE=production: switch a store served in dev mode to production mode, for every gateway of "
        "it and for good (stop them all first; then start each with production settings)",
    )
    init.add_argument(
        "--despite-unnamed-connections",
        action="store_true",
        help="upgrade a PostgreSQL store below schema 0029 though connections of the gateway's role that name no "
        "application are open (gateways of those versions name none): only when you know them to be no gateway's",
    )

    commands.add_parser("serve", help="run the gateway")

    catalog = commands.add_parser("catalog", help="check a catalog file with this version, changing nothing")
    catalogs = catalog.add_subparsers(dest="action", required=True)
    catalog_check = catalogs.add_parser(
        "check",
        help="load a catalog file as zzgw init and zzgw serve load it, and say whether it loads: its license types, "
        "matters and bundles and its fingerprint, or what is wrong and where; then, reading only, what `zzgw init "
        "--adopt-catalog` would refuse and warn of in the store the settings name (or that there is none)",
        epilog="exit status: 0 the file loads, 2 it does not (or cannot be read), or the store's adoption would refuse "
        "it, or the store the settings name cannot be used; 75 the store the settings name is out of reach for now "
        "(a database down or locked: run it again later); 74 its output could not be written. Before an upgrade, run "
        "the new version's on the deployed file (docs/operations.md: Upgrades).",
    )
    catalog_check.add_argument(
        "file", nargs="?", type=Path, help="the catalog file, JSON (default: the configured one, ZZGW_CATALOG)"
    )

    imp_ca = commands.add_parser("import-ca", help="take over an existing seal-maker CA (before `zzgw init`)")
    imp_ca.add_argument("--root", type=Path, required=True, help="the CA's root certificate, PEM")
    imp_ca.add_argument("--intermediate", type=Path, required=True, help="its issuing certificate, PEM")
    imp_ca.add_argument(
        "--key",
        type=Path,
        required=True,
        help="the issuing key, PEM (passphrase in $ZZGW_SEAL_CA_KEY_PASSPHRASE); the gateway certifies issuers' "
        "seals and its own receipt certificate with it, and without it could verify nothing",
    )
    imp_ca.add_argument(
        "--crl",
        type=Path,
        help="the CA's latest CRL, PEM or DER, signed by the intermediate: its revocations stay on the CRL the gateway "
        "signs from now on",
    )

    demo = commands.add_parser("demo", help="run the demo against a live gateway")
    demo.add_argument("--target", help="gateway address (default: the configured gRPC address)")

    imp = commands.add_parser(
        "import",
        help="import licenses from a CSV or JSON Lines file",
        epilog="A JSON Lines record is an IssueLicense request as JSON: request_id, type_code, license_number, "
        "holder {name, code_type, code}, issue_date, valid_from, valid_until (YYYY-MM-DD), region_code, serial, "
        "fields {key: value} (the license type's field keys in the catalog). A CSV file has the same names as "
        "columns: holder.name, holder.code_type, holder.code, and fields.<key> for each field (its key, not its label: "
        "a column named by a label, 生产者名称, is refused before anything is sent, naming its key).",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--issuer", required=True, help="USCC of the issuing member whose credentials are used")
    imp.add_argument("--format", choices=["csv", "jsonl"], help="file format (default: by suffix)")
    imp.add_argument(
        "--encoding", default="utf-8-sig", help="text encoding (default UTF-8; Excel's Chinese CSV: gb18030)"
    )
    imp.add_argument("--target", help="gateway address (default: the configured gRPC address)")
    _handed_over_options(imp)
    imp.add_argument(
        "--failures",
        type=Path,
        metavar="FILE",
        help="write every failed line to FILE as the import goes (the console lists the first 50): line, field, "
        "reason, message and the record as it is in the file, a row per failed field; CSV when FILE ends in .csv "
        "(UTF-8 with a BOM, for Excel), JSON Lines otherwise. FILE is written anew each run",
    )

    audit = commands.add_parser(
        "audit", help="check the audit trail's hash chain, prune it (retention), or list refused uses of matters"
    )
    audit.add_argument(
        "action",
        choices=["verify", "prune", "refusals"],
        help="verify: check end to end; prune: drop the records older than audit_retention_days, and the consents "
        "and access requests that ended longer ago; refusals: the newest calls refused for their use: "
        "the caller named a matter another department handles (NOT_MATTER_DEPARTMENT), or a license of a type its "
        "matter does not use (NOT_USED_BY_MATTER)",
    )
    audit.add_argument("--limit", type=int, default=100, help="refusals: how many, newest first (default 100)")

    members = commands.add_parser(
        "members",
        help="list the registered members: code, roles, region, credential, name, and the matters each may name; or "
        "renew a member's client certificate (--renew, --retire), or take a member's credentials (--revoke)",
    )
    which = members.add_mutually_exclusive_group()
    which.add_argument(
        "--revoke",
        metavar="CODE",
        help="take every credential from this member (its client certificates' registration, its token, its clerks' "
        "console tokens): locked out within 30 s, and kept so by `zzgw init`; it stays named in the records",
    )
    which.add_argument(
        "--restore", metavar="CODE", help="end a member's revocation: the next `zzgw init` gives its credentials back"
    )
    which.add_argument(
        "--renew",
        metavar="CODE",
        help="issue this member a new client certificate (pki/members/CODE.pem, with a new key CODE.key, or on the key "
        "of --csr) and register it, its certificate until now staying accepted (CODE.previous.pem) until --retire or "
        "its end: the department moves to the new pair without a gap. Needs pki/ca.key",
    )
    which.add_argument(
        "--retire",
        metavar="CODE",
        help="stop accepting this member's previous client certificate, kept since --renew (refused within 30 s, "
        "never trusted again), once its department connects with the new one",
    )
    members.add_argument(
        "--csr",
        type=Path,
        metavar="FILE",
        help="with --renew: a certificate signing request (PEM or DER) the department made with a key of its own "
        "(EC P-256/P-384, or RSA of 2048 bits or more): the certificate is issued for that key, which never leaves "
        "the department, and no CODE.key is made; its subject is not read, the gateway names the member itself",
    )

    commands.add_parser(
        "certificates",
        help="list the trust anchors to hand to departments and partner provinces (the member CA, the seal maker's "
        "roots), one a line: name, file, SHA-256 fingerprint (as `openssl x509 -noout -fingerprint -sha256` prints "
        "it, for the partner to compare over another channel), end, what it is for; then the gateway's own "
        "certificates (receipt, tsa, server), with their ends, marked not to hand over",
    )

    claims = commands.add_parser(
        "claims",
        help="list the departments' wrong claims (CheckClaim, 7) about each license in the last 24 hours, those "
        "past the limit refused; or forgive a department's about one license (--forgive)",
    )
    claims.add_argument(
        "--forgive",
        nargs=2,
        metavar=("MEMBER", "LICENSE"),
        help="forget the wrong claims this member made about this license (its identifier, any version's, or the "
        "type.issuer.serial this command lists): its claims about it are answered again at once; exit 3 when none "
        "were counted, 2 for an unknown member or what is no license identifier",
    )

    commands.add_parser(
        "memos",
        help="verify the seal of every license stored without the gateway's memo of it (before schema 0012) and "
        "store the memo, so that checks after a restart need not verify it again",
    )

    console = commands.add_parser(
        "console-token",
        help="issue a token for a member's clerks to sign in to the console with (production mode; ends the last one), "
        "or one for a single clerk in either mode (--clerk)",
    )
    console.add_argument("member", help="code (USCC) of the member")
    console.add_argument(
        "--clerk",
        help="a token of this clerk's own (name or staff number): the access records name the clerk from it, and it "
        "ends alone; in either mode",
    )
    console.add_argument("--end", action="store_true", help="end the --clerk's token instead of issuing one")
    console.add_argument("--list", action="store_true", help="list the member's clerks with a token in force")

    verify = commands.add_parser(
        "verify",
        help="verify a license, a PDF or a photo of its QR code against a live gateway, as a member",
        description="Verify as a member: VerifyDocument for a PDF file, VerifyLicense for the rest. Prints the "
        "verdict, the three findings, the license summary the member may see and the receipt's id.",
        epilog="exit status: 0 PASSED, 1 FAILED, 3 INDETERMINATE; 2 the request could not be made (bad input, no "
        "credentials), 4 the gateway refused it or could not be reached, 5 zzgw itself failed (no verdict), 74 the "
        "report could not be written to standard output (the check was recorded: standard error gives its verdict "
        "and the `zzgw receipt get` that fetches its receipt), 130 interrupted (Ctrl-C): the gateway may have made "
        "and recorded the check all the same, its receipt not written; run `zzgw verify` again",
    )
    verify.add_argument(
        "what",
        help="a PDF file, an image file of the QR code, a ZZ1: code, a license identifier, or a license number "
        "(with --type)",
    )
    verify.add_argument("--member", required=True, help="code (USCC) of the member whose credentials are used")
    verify.add_argument("--matter", required=True, help="事项编码 of the matter the check is for (the catalog's)")
    verify.add_argument("--purpose", required=True, help="用证事由, why the license is used (1-200 characters)")
    verify.add_argument(
        "--type", dest="type_", default="", help="the license type, code or name (e.g. 结婚证), for a number"
    )
    verify.add_argument("--operator", default="", help="the clerk or user the check is made for (in the access record)")
    verify.add_argument("--bundle", default="", help="一件事: the bundle's code (with --case)")
    verify.add_argument("--case", default="", help="一件事: the case number the bundle's departments share")
    verify.add_argument(
        "--receipt",
        type=Path,
        help="write the receipt to this file (`zzgw receipt check` checks it): a new file, a receipt file or an empty "
        "one; never the file verified or another file that is not a receipt (exit 2)",
    )
    verify.add_argument("--json", action="store_true", help="print the response as protobuf JSON")
    verify.add_argument("--target", help="gateway address (default: the configured gRPC address)")
    _handed_over_options(verify)

    receipt = commands.add_parser("receipt", help="fetch a verification receipt as a file, or check one offline")
    receipts = receipt.add_subparsers(dest="action", required=True)
    get = receipts.add_parser("get", help="fetch a receipt (GetReceipt) and write it as JSON (docs/receipts.md)")
    get.add_argument("receipt_id")
    get.add_argument("--member", required=True, help="code (USCC) of the member whose credentials are used")
    get.add_argument("--target", help="gateway address (default: the configured gRPC address)")
    get.add_argument("-o", "--out", type=Path, help="file to write (default: standard output)")
    _handed_over_options(get)
    check = receipts.add_parser(
        "check",
        help="check a receipt file offline: signature, proof, and the receipt certificate's trust",
        epilog="Exit status: 0 valid, 1 invalid, 3 undecided (INDETERMINATE: CRL_MISSING, CRL_STALE, "
        "CHAIN_INCOMPLETE); 2 no result: the file is no receipt, the trust material is not what its option takes, a "
        "file cannot be read, or the check could not be made (a result that cannot be written to standard output is "
        "said on standard error, the status kept). "
        "docs/receipts.md says which is which.",
    )
    check.add_argument("file", type=Path, help="the receipt as JSON (`zzgw receipt get`), - for standard input")
    check.add_argument(
        "--root",
        type=Path,
        action="append",
        required=True,
        help="root certificate(s) to trust, PEM: the gateway's /certificates/seal-maker-root.pem",
    )
    check.add_argument(
        "--intermediate",
        type=Path,
        action="append",
        default=[],
        help="intermediate certificate(s), PEM: /certificates/seal-maker-intermediate.pem",
    )
    check.add_argument(
        "--crl",
        type=Path,
        action="append",
        default=[],
        help="CRL(s), DER or PEM (several to a PEM file): /crl/seal-maker.crl (without one, revocation is unknown)",
    )
    check.add_argument(
        "--certificate",
        type=Path,
        action="append",
        default=[],
        help="accept only these receipt certificates, PEM: /certificates/receipt-certificates.pem (the current one and "
        "those before it); every file given is pinned",
    )
    check.add_argument("--json", action="store_true", help="print the result as one JSON object")

    _config_after_the_command(parser)
    args = parser.parse_args(argv)
    if args.command == "serve":
        from gateway.early_stop import StopAsked

        # before the imports of the store and the server (a second or more): a stop signal in them is a stop, exit 0
        args.stop_asked = StopAsked().install()
    _Stdout.reset()
    try:
        with _terminated_as_interrupted() if args.command == "import" else contextlib.nullcontext():
            status = _run(args)
    except KeyboardInterrupt as exc:  # Ctrl-C before a command's own handling (loading, opening the store): no trace
        if args.command == "import":  # said as its own handlers say it, Chinese first, with what to do: it had been
            # `zzgw import: interrupted`, in English only, as it loaded for seconds on a loaded machine (a reviewer)
            began = getattr(args, "import_began", False)
            print(f"\nzzgw import: {_IMPORT_NOT_SUMMED_UP if began else _IMPORT_NOT_BEGUN}", file=sys.stderr)
        else:
            said = {"init": INIT_INTERRUPTED, "verify": VERIFY_INTERRUPTED}.get(args.command, "interrupted")
            print(f"\nzzgw {args.command}: {said}", file=sys.stderr)
        return interrupted_status(exc)
    return _written(" ".join(filter(None, (args.command, getattr(args, "action", None)))), status)


@contextlib.contextmanager
def _terminated_as_interrupted() -> Iterator[None]:
    """SIGTERM (``kill``, ``timeout``, a service manager stopping a nightly import) raises ``Terminated`` within,
    but while the import's own handler takes it over for its stream (``adapters.batch_import._CtrlC``, which puts
    this back after): the default had ended the command as it loaded, seconds on a loaded machine, with nothing said
    and no word that nothing was sent (review scen2, R2). A SIGTERM ignored (the command's parent so chose) stays so,
    and off the main thread (no signals there) nothing changes. The console script installs the same handler before
    it imports this module (``gateway.entry``): the 0.25-0.8 s of that import and of the arguments' parsing had been
    left to the default (left alone in session 53)."""
    import signal
    import threading

    from gateway.entry import terminated

    ours = (signal.SIG_DFL, terminated)
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) not in ours:
        yield
        return
    signal.signal(signal.SIGTERM, terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


INIT_INTERRUPTED = (
    "已中断；再次运行 zzgw init 即可完成初始化（interrupted: run `zzgw init` again to complete it: it is "
    "idempotent, and finishes what this one began）"
)
"""What a Ctrl-C of ``zzgw init`` says: it had said `interrupted` alone (a reviewer, clirev R5)."""
VERIFY_INTERRUPTED = (
    "已中断：若请求已发出，证照网关可能已完成并记录本次核验，回执未写入；可再次运行 zzgw verify"
    "（interrupted: if the request had been sent, the gateway may have made and recorded the check all the same, its "
    "receipt not written; run `zzgw verify` again）"
)
"""What a Ctrl-C of ``zzgw verify`` says: it had said `interrupted` alone, in English (a reviewer, clirev R5)."""
_IMPORT_NOT_SUMMED_UP = (
    "已中断，未能汇总已得到的应答：已发送的行可能已签发；再次运行同一命令即可导入其余部分，已导入的答复为此前已有，"
    "不会重复签发（interrupted before what was answered could be summed up: the lines sent, if any, may have been "
    "issued; run the same command again to import the rest: what is in already is answered as already present, never "
    "issued twice）"
)
"""What a Ctrl-C of ``zzgw import`` after its stream began, that it could not sum up, says."""


def _run(args: argparse.Namespace) -> int:
    if args.command == "receipt" and args.action == "check":
        return _receipt_check(args)  # offline, with the trust material given: nothing of the gateway's settings
    if args.command == "catalog" and args.file is not None:
        return _catalog_check(args.file, lambda: Settings.load(args.config))  # the file's refusal before any setting
    settings: Settings | None = None
    try:
        settings = Settings.load(args.config)
        return _COMMANDS[args.command](settings, args)
    except Exception as exc:
        # imported here, not before the command: gateway.failures imports the store's module (~1.4 s of CPU), which
        # a command that never opens the store (import, demo, verify) has no use for
        from gateway.failures import exit_status, said

        line = said(exc, args.command, settings)
        if line is None:
            raise
        print(line, file=sys.stderr)
        return exit_status(exc)  # 75 for a database out of reach for a while, as a worker says it; else 2


MIN_PASSPHRASE = 16
"""Characters below which ``zzgw init`` warns of a production key passphrase (dev mode makes its own, 43 long)."""
USE_REFUSALS = ("NOT_MATTER_DEPARTMENT", "NOT_USED_BY_MATTER")
"""The reasons of calls refused for their use, which `zzgw audit refusals` lists."""

_CONFIG_HELP = "TOML settings file (default: $ZZGW_CONFIG or ./zzgw.toml)"


def _config_after_the_command(parser: argparse.ArgumentParser) -> None:
    """Let every command take ``--config`` after its name too (``zzgw serve --config other.toml``), as well as before
    it: SUPPRESS keeps a value given before the command unless one is given after it. Each command's ``--help`` says
    what it does (the line ``zzgw --help`` lists it with), and those of ``init`` and ``serve`` the settings."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            said = {choice.dest: choice.help for choice in action._choices_actions}
            for name, command in action.choices.items():
                command.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=_CONFIG_HELP)
                if command.description is None and said.get(name):
                    command.description = said[name]
                if name in ("init", "serve") and parser.prog == "zzgw" and command.epilog is None:
                    command.formatter_class = argparse.RawDescriptionHelpFormatter
                    command.epilog = _SETTINGS_TABLE
                _config_after_the_command(command)


def _settings_table() -> str:
    """The settings' table of ``gateway.config`` (variable, setting, default), for ``--help``."""
    import gateway.config

    lines = (gateway.config.__doc__ or "").splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=====")]
    table = lines[rules[0] + 1 : rules[-1]] if len(rules) >= 3 else []
    rows = [line.replace("``", "") for line in table if not line.startswith("=====")]
    return "settings (environment variables win over the TOML file; README: Configuration):\n" + "\n".join(rows)


_SETTINGS_TABLE = _settings_table()


def _open_store(settings: Settings) -> Gateway:
    """The gateway of a command that works on the store (members, console-token, audit, memos), checked first as
    ``zzgw serve`` checks it before serving (``gateway.server.check_ready``): a database without the schema (init
    forgotten, or ZZGW_DATABASE_URL naming another, new database), or a data directory that is not the store's, is
    said in one line with exit status 2, not met as a traceback at the first table read."""
    from gateway.server import Gateway, check_ready

    gateway = Gateway.open(settings)
    try:
        check_ready(gateway)
    except BaseException:
        gateway.close()
        raise
    return gateway


def _progress_bar(**options: Any) -> Any:
    """A progress bar on standard error, shown on a terminal only (tqdm's ``disable=None``): a nightly job's mail and a
    unit's journal stay their lines. `zzgw audit prune`'s rule, for every command's bars: those of `zzgw memos` and of
    init's status memos had written ``\rchecking seals:   0%|…`` into logs and cron mail (a reviewer, clirev R4)."""
    from tqdm import tqdm

    return tqdm(dynamic_ncols=True, mininterval=0.5, disable=None, **options)


def _init(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.domain.model import beijing_day
    from gateway.server import _catalog_named, initialise

    bars: list[Any] = []

    def progress(done: int) -> None:  # a bar only when an upgrade has licenses to give status memos (a long step)
        if not bars:
            bars.append(_progress_bar(unit=" licenses", desc="recording each license's status memo"))
        bars[0].update(done)

    try:
        report = initialise(
            settings,
            rotate_tokens=args.rotate_tokens,
            adopt_catalog=args.adopt_catalog,
            adopt_members=args.adopt_members,
            switch_to_production=args.switch_to_production,
            despite_unnamed=args.despite_unnamed_connections,
            progress=progress,
            waiting=lambda: print("another `zzgw init` of this store is running: waiting for it", file=sys.stderr),
        )
    finally:
        for bar in bars:
            bar.close()
    _Stdout.done = (
        "初始化已完成，所做的已保存在数据目录和存储中；`zzgw certificates` 可再次列出信任锚，"
        "再次运行 `zzgw init` 会说明仍须处理之事（init is done: what it made is in the data directory and the store; "
        "`zzgw certificates` lists the trust anchors again, and `zzgw init` again says what is still to do）"
    )
    upgraded = (
        f" (upgraded from {report.schema_before})"
        if report.schema_before is not None and report.schema_before != report.schema
        else ""
    )
    _out(
        f"zzgw initialised in {settings.data_dir}: database {settings.database_label} at schema {report.schema}"
        f"{upgraded}, {counted(report.members, 'member')}, keys in {settings.keys_dir}, member CA in "
        f"{settings.pki_dir}"
    )
    _print_trust_anchors(settings)
    if report.catalog_replaced:  # the way to change the catalog; run by mistake with an old copy, the fleet stops
        named = f"ZZGW_CATALOG {settings.catalog}" if settings.catalog else "the demo catalog"
        print(
            f"catalog changed: the store's gateways serve from now on {named} (sha256 {report.catalog}), not the "
            f"catalog before (sha256 {report.catalog_replaced}): restart every `zzgw serve` of this store with this "
            "file; until then each refuses the calls that use the catalog (UNAVAILABLE, CATALOG_CHANGED) and is not "
            "ready (docs/operations.md: Changing the catalog)",
            file=sys.stderr,
        )
    if report.members_changed:  # for every gateway of the store: said, as a catalog's adoption is
        print(
            f"members changed as {'ZZGW_MEMBERS' if settings.members else 'the demo members'} says: "
            f"{'; '.join(report.members_changed)}; every gateway of the store takes it within 30 s. Copy this members "
            "file to every other gateway of the store: their `zzgw init` refuses an older copy",
            file=sys.stderr,
        )
    if report.switched_to_production:
        print(
            "switched to production mode: the store's gateways serve mTLS only from now on, and it is never served in "
            "dev mode again; start each gateway of the store with production settings (ZZGW_MODE=production and "
            "this passphrase). A dev gateway process still serving it takes no bearer token and is not ready "
            "(MODE_CHANGED) from its next check on (docs/operations.md: ZZGW_MODE)",
            file=sys.stderr,
        )
    if report.catalog_recorded:  # in effect an adoption: the store's licenses were issued under another catalog
        named = f"ZZGW_CATALOG {settings.catalog}" if settings.catalog else "the demo catalog"
        print(
            f"catalog recorded: the store recorded no catalog (one from before catalog fingerprints, or an init cut "
            f"short before recording it), and its gateways "
            f"serve from now on {named} (sha256 {report.catalog}), held against its licenses as `zzgw init "
            "--adopt-catalog` holds a new catalog (docs/operations.md: Changing the catalog)",
            file=sys.stderr,
        )
    if report.statuses_vouched:
        _out(
            counted(report.statuses_vouched, "license's status", "licenses' statuses")
            + " recorded with the gateway's memo (schema 0014): from now on a status changed in the database behind "
            "the gateway's back fails verification (STATUS_ALTERED)"
        )
    if report.documents_vouched:
        _out(
            f"{counted(report.documents_vouched, 'license document')} recorded with the gateway's memo (schema 0021): "
            "from now on a document moved to another license in the database fails verification (REGISTRY_ALTERED)"
        )
    if (
        report.consents_recorded or report.consents_left
    ):  # said whichever catalog they came from (review consentfix, R1)
        source = (
            "from the catalog the store serves"
            if report.consents_from_served
            else "from this init's catalog, not the one they were granted under (the store served another, or "
            "recorded none): at most what it reads, which no catalog adopted later widens"
        )
        _out(
            f"{counted(report.consents_recorded, 'consent')} granted before schema 0039 recorded with the fields "
            f"they were granted for, {source}; {report.consents_left} left unrecorded (they read what the matter's "
            "material in force lists)"
        )
    if report.approvals_recorded or report.approvals_left:  # as the consents' (review access, R1)
        source = (
            "from the catalog the store serves"
            if report.approvals_from_served
            else "from this init's catalog, not the one they were given under (the store served another, or "
            "recorded none): at most what it shows unmasked, which no catalog adopted later widens"
        )
        _out(
            f"{counted(report.approvals_recorded, 'approval')} given before schema 0040 recorded with the fields they "
            f"were given unmasked, {source}; {report.approvals_left} left unrecorded (masked as the matter's material "
            "in force says)"
        )
    if report.licenses_without_memo:
        _out(
            f"{counted(report.licenses_without_memo, 'license was', 'licenses were')} stored before schema 0012, "
            "without the gateway's memo of their seal: run `zzgw memos` to add them (until then the first check of "
            "each after a start verifies its seal)"
        )
    if report.seals_made:
        _out(
            f"{counted(len(report.seals_made), 'issuer')} got their first seal (电子证照专用章): "
            f"{', '.join(report.seals_made)}"
        )
    if settings.mode == "production":  # pairs to hand over; dev mode's members connect with tokens
        for pair in report.certificates_issued:  # had been issued without a word (a renewal tester, D6)
            _out(
                f"issued a client certificate for {pair.code} ({pair.name}), valid until "
                f"{beijing_day(pair.not_after)} (Beijing time): hand {pair.certificate} and {pair.key} over "
                f"(docs/departments.md), then delete {pair.key} here (the gateway never needs it)"
            )
    for listed in report.revocations_listed:  # an upgraded store's file: said once (a reviewer, R1)
        _out(f"listed: {listed}")
    for unknown in report.revocations_unknown:
        print(f"warning: {unknown}", file=sys.stderr)
    for taken in report.revocations_taken:  # the leak procedure's entries, said once each: a typo is refused
        _out(f"revoked: {taken}")
    for made in report.keys_made:
        _out(
            f"new: {made}; copy both to every replica with a data directory of its own before starting any "
            "gateway process"
        )
    if report.receipt_certificates_retired:  # a new receipt key: the old one's certificates retired with it
        _out(
            f"new receipt key: the receipt certificates of the key before it (serial "
            f"{', '.join(report.receipt_certificates_retired)}) are revoked as superseded from now, on the seal-maker "
            "CRL: receipts they signed before stay valid, any dated later checks CERT_REVOKED. Copy seal-ca/ and "
            "keys/receipts.key.pem to every replica before starting any gateway process (docs/receipts.md: checking "
            "a receipt). Then destroy the old key you moved aside, and its copies in earlier backups of the data "
            "directory: whoever has it can still sign receipts dated before now, which check valid offline, and only "
            "the archive tells them from the gateway's (docs/receipts.md: what the offline check cannot tell)"
        )
    if report.issuers_without_seal:
        print(
            f"warning: {counted(len(report.issuers_without_seal), 'issuer has', 'issuers have')} no seal in force, "
            f"their seals revoked or ended ({', '.join(report.issuers_without_seal)}): they cannot issue "
            "(NO_ACTIVE_SEAL); init makes only an issuer's first seal, and the issuer registers a new one itself when "
            "it is to issue again (RegisterSeal)",
            file=sys.stderr,
        )
    if report.seals_without_key:
        shown = ", ".join(report.seals_without_key[:5]) + (" …" if len(report.seals_without_key) > 5 else "")
        print(
            f"warning: {counted(len(report.seals_without_key), 'seal in force has', 'seals in force have')} no key in "
            f"{settings.keys_dir} ({shown}): registered through another gateway of this database, or a data "
            "directory older than the database (a restore from copies taken at different times)? Its issuers' calls "
            "that need them fail here (SEAL_KEY_NOT_HERE) until the key files are copied (README: deployment beyond "
            "one machine)",
            file=sys.stderr,
        )
    for revoked in report.seals_revoked_by_ca:  # a restore across a RevokeSeal: its issuer had been told "tampered"
        print(
            f"warning: seal {revoked} is in force in the database but revoked by the seal-maker CA (a database "
            "restored from a copy taken before its RevokeSeal?): it stays revoked, and its issuer cannot seal until "
            "it revokes it again (RevokeSeal) or registers a new seal",
            file=sys.stderr,
        )
    if report.seals_of_revoked_maker:  # the leak procedure of the SM2 seal maker's key leaves them in force
        of_revoked = report.seals_of_revoked_maker
        shown = ", ".join(of_revoked[:5]) + (" …" if len(of_revoked) > 5 else "")
        print(
            f"warning: {counted(len(of_revoked), 'SM2 seal in force was', 'SM2 seals in force were')} made by a "
            f"revoked SM2 seal maker's certificate ({shown}): every stamp they make would check FAILED "
            "(MAKER_REVOKED), so StampDocument refuses them (SEAL_MAKER_REVOKED); their issuers register new SM2 "
            "seals (RegisterSeal) and revoke these (docs/operations.md: Revoking the receipt or time-stamping "
            "certificate after a key leak)",
            file=sys.stderr,
        )
    for unreadable in report.seals_unreadable:
        print(
            f"warning: {unreadable}: its issuer's calls that need it fail (SEAL_KEY_UNREADABLE) until the file is put "
            "right (README: deployment beyond one machine)",
            file=sys.stderr,
        )
    if report.tokens_added:
        _out(
            f"{counted(report.tokens_added, 'new member')} got a dev bearer token, added to {settings.dev_tokens_path}"
        )
    if others := report.tokens_of_others:
        _out(
            counted(len(others), "member has a dev bearer token", "members have dev bearer tokens")
            + f" in the store that {settings.dev_tokens_path} has not ({', '.join(others)}): kept, not replaced "
            "(a member added through another gateway: copy "
            + ("its entry" if len(others) == 1 else "their entries")
            + " from that gateway's dev-tokens.json; `zzgw init --rotate-tokens` makes new tokens for every member "
            "and ends these)"
        )
    if report.members_revoked:
        print(
            counted(
                len(report.members_revoked),
                "member of the file is revoked and was",
                "members of the file are revoked and were",
            )
            + f" given no credential ({', '.join(report.members_revoked)}): `zzgw members --restore CODE` admits one "
            "again",
            file=sys.stderr,
        )
    if report.members_not_listed:
        print(
            "warning: "
            + counted(
                len(report.members_not_listed),
                "registered member with credentials in force is",
                "registered members with credentials in force are",
            )
            + f" not in the members file ({', '.join(report.members_not_listed)}): init does not remove members; "
            "take their credentials with "
            "`zzgw members --revoke CODE` if they left",
            file=sys.stderr,
        )
    for warning in _catalog_warnings(report):
        print(warning, file=sys.stderr)
    if report.catalog_unseen:
        print(
            f"warning: the catalog ({_catalog_named(settings)}) this store serves could not be adopted now: "
            f"{report.catalog_unseen}; its gateways serve it as before: take the character out and adopt the file "
            "(zzgw init --adopt-catalog; docs/catalog.md)",
            file=sys.stderr,
        )
    for never_read in report.fields_never_read:
        print(f"warning: {never_read}", file=sys.stderr)
    if args.rotate_tokens and settings.mode != "dev":
        _out("--rotate-tokens: no bearer tokens in production mode (members use client certificates)")
    _warn_of_dev_tokens(settings)
    if settings.mode == "production" and len(settings.passphrase().decode(errors="replace")) < MIN_PASSPHRASE:
        print(
            f"warning: the key passphrase (ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE) has fewer than "
            f"{MIN_PASSPHRASE} characters, and it alone protects every seal key, the CAs' keys and the memo secret "
            "wherever the key files are copied (a shared volume, a backup): use a long random one "
            "(`openssl rand -base64 32`)",
            file=sys.stderr,
        )
    if report.tokens_elsewhere:
        _out(
            f"dev bearer tokens of this database were made by another gateway: kept (copy its dev-tokens.json to "
            f"{settings.dev_tokens_path}; `zzgw init --rotate-tokens` makes new ones and ends those)"
        )
    if report.tokens_written:
        _out(f"DEV MODE bearer tokens written to {settings.dev_tokens_path} (mode 0600)")
    return 0


def _catalog_warnings(found: InitReport | CatalogFindings) -> list[str]:
    """What a catalog meets in the store that its designer must hear of, the same lines from the `zzgw init` that
    adopts it and from `zzgw catalog check` before (``server.CatalogFindings``)."""
    from gateway.services.catalog_change import bundles_left_warning

    said: list[str] = []
    if found.partner_overlaps:
        said.append(
            f"warning: a partner gateway may name {counted(len(found.partner_overlaps), 'matter')} of registered "
            f"departments ({', '.join(found.partner_overlaps)}): a partner names its region's matters (the code's "
            "first six digits) for departments that are not members here; check the partner's region"
        )
    if found.partners_idle:
        said.append(
            f"warning: {counted(len(found.partners_idle), 'partner gateway')} may name no matter of the catalog "
            f"({', '.join(found.partners_idle)}): a partner names the matters of its region (a province's, those of "
            "its cities and counties too), so every call it makes is refused until the catalog has one (ZZGW_CATALOG) "
            "or its region is put right"
        )
    if found.types_left:
        said.append(
            f"warning: the catalog has no type for {counted(len(found.types_left), 'license type')} of current "
            f"licenses ({', '.join(found.types_left)}): no matter can use them (verification and sharing refuse them, "
            "NOT_USED_BY_MATTER) and their issuers cannot change them, until the catalog (ZZGW_CATALOG) has them again"
        )
    if found.fields_left:
        said.append(
            f"warning: the catalog's license types no longer have {counted(len(found.fields_left), 'field')} that "
            f"licenses not ended carry ({', '.join(found.fields_left)}): those licenses keep them and verify as "
            "before, and an amendment of one must drop them (clear_fields; else FIELD_NOT_IN_CATALOG); to keep such a "
            'field, put it back in its type (optional: "required": false) (docs/operations.md: Changing the catalog)'
        )
    if found.holder_code_types_left:
        said.append(
            "warning: the catalog's license types no longer take "
            f"{counted(len(found.holder_code_types_left), 'holder code type')} that holders of licenses not ended have "
            f"({', '.join(found.holder_code_types_left)}): those licenses keep their holder and verify as before, and "
            "an amendment of one is refused (BAD_HOLDER_CODE_TYPE: an amendment cannot change its holder), so they can "
            "only be cancelled; to keep them amendable, put the code type back in the type's holder_code_types "
            "(docs/operations.md: Changing the catalog)"
        )
    if found.issuers_not_issuing:
        said.append(
            f"warning: {counted(len(found.issuers_not_issuing), 'issuer')} named by license types of the catalog "
            f"cannot issue them ({'; '.join(found.issuers_not_issuing)}): a type's `issuers` are the codes "
            "(统一社会信用代码) of registered members with the role ISSUER (see `zzgw members`); until they are, those "
            "departments cannot issue the type"
        )
    if found.types_without_issuer:
        said.append(
            f"warning: no registered member may issue {counted(len(found.types_without_issuer), 'license type')} of "
            f"the catalog ({', '.join(found.types_without_issuer)}): none of the type's `issuers` is a member with the "
            "role ISSUER, or it names none"
        )
    if found.matters_unhandled:
        said.append(
            f"warning: no registered member may name {counted(len(found.matters_unhandled), 'matter')} of the catalog "
            f"({', '.join(found.matters_unhandled)}): a matter names the department that handles it by the member's "
            "name (see `zzgw members`); until it matches, no one can verify or read data under it"
        )
    remedy = (
        "give the member the role CONSUMER in the members file (`zzgw init --adopt-members`), or name the department "
        "that handles the matter (see `zzgw members`)"
    )
    if found.matters_unusable:
        said.append(
            f"warning: {counted(len(found.matters_unusable), 'matter')} of the catalog "
            f"{'names' if len(found.matters_unusable) == 1 else 'name'} as its department a member with no role to use "
            f"it ({'; '.join(found.matters_unusable)}): a department verifies and reads data under its matters with "
            f"the role CONSUMER (ISSUER verifies only), so no one can use such a matter (无权核验证照); {remedy}"
        )
    if found.matters_unread:
        said.append(
            f"warning: {counted(len(found.matters_unread), 'matter')} of the catalog "
            f"{'names' if len(found.matters_unread) == 1 else 'name'} as its department a member that may verify under "
            f"it but read none of the fields its materials list ({'; '.join(found.matters_unread)}): an issuer reads "
            f"only the licenses it issued, another's fields only with the role CONSUMER (NOT_A_CONSUMER); {remedy}"
        )
    if found.bundles_left:
        said.append(bundles_left_warning(found.bundles_left))
    return said


def _import_ca(settings: Settings, args: argparse.Namespace) -> int:
    import os

    from gateway.authorities import import_seal_ca
    from signing.errors import SigningError

    # the key is required: without it the gateway could certify neither issuers' seals nor its own receipt
    # certificate (核验回执专用章), so it could verify and share nothing (a replica without the CA's key is a copy
    # of a data directory whose receipt certificate was made already: README, "Deployment beyond one machine")
    try:
        passphrase = os.environ.get("ZZGW_SEAL_CA_KEY_PASSPHRASE", "").encode() or None
        ca = import_seal_ca(
            settings,
            args.root.read_bytes(),
            args.intermediate.read_bytes(),
            args.key.read_bytes(),
            passphrase,
            crl=args.crl.read_bytes() if args.crl else None,
        )
    except SigningError as exc:
        unopened = "wrong passphrase" in str(exc)
        hint = " (the key's own passphrase, in ZZGW_SEAL_CA_KEY_PASSPHRASE)" if unopened else ""
        print(f"zzgw import-ca: {exc}{hint}", file=sys.stderr)
        return 2
    subject = ca.intermediate.subject.rfc4514_string()
    _out(f"seal-maker CA imported into {settings.seal_ca_dir}: {subject}")
    if args.crl:
        _out(f"{counted(len(ca.revocations), 'revocation')} of its CRL ({args.crl}) kept on the CRL the gateway signs")
    return 0


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.server import configure_logging, run

    configure_logging(settings)
    _warn_of_dev_tokens(settings)
    return run(settings, args.stop_asked)


def _handed_over_options(command: argparse.ArgumentParser) -> None:
    """``--cert``, ``--key`` and ``--ca`` of a command acting as a member, for a department's machine in production:
    it holds the files it was handed (docs/departments.md), not the gateway's data directory they are otherwise
    read from, whose copy of the key is deleted once handed over."""
    command.add_argument(
        "--cert",
        type=Path,
        metavar="PEM",
        help="production: the member's client certificate as handed over (default: <data dir>/pki/members/USCC.pem)",
    )
    command.add_argument(
        "--key", type=Path, metavar="PEM", help="production: its private key (default: <data dir>/pki/members/USCC.key)"
    )
    command.add_argument(
        "--ca", type=Path, metavar="PEM", help="production: the member CA, ca.pem (default: <data dir>/pki/ca.pem)"
    )


def _handed_over(args: argparse.Namespace) -> HandedOver:
    from adapters.client import HandedOver

    return HandedOver(cert=args.cert, key=args.key, ca=args.ca)


def _warn_of_dev_tokens(settings: Settings) -> None:
    """Production mode: say that the dev bearer tokens ``zzgw init`` wrote when the store was in dev mode are not
    honoured, naming their file for the operator to delete. The file is left alone: it opens nothing in production
    mode (``gateway.services.members.Authenticator``), and it is the only copy of the tokens should the store go
    back to dev mode."""
    if settings.mode == "production" and settings.dev_tokens_path.exists():
        logging.getLogger("zzgw").warning(
            "production mode: the dev bearer tokens in %s are not honoured (gRPC takes members' client "
            "certificates, the console tokens from `zzgw console-token`); delete the file",
            settings.dev_tokens_path,
        )


def _demo(settings: Settings, args: argparse.Namespace) -> int:
    import grpc

    from adapters.batch_import import RECONNECT_SECONDS, ImportRefused, ImportStopped
    from adapters.client import MemberCredentials, NoCredentials, connect
    from adapters.demo import DEMO_MEMBERS, DemoUnexpected, run_demo

    target = args.target or settings.grpc_addr
    if settings.mode == "production":  # no override: the demo is for a dev gateway, and its licenses stay for good
        print(
            "zzgw demo: 演示不在生产模式下运行：它会以各发证部门的真实印章签发虚构的证照，"
            "其中的身份号码和信用代码可能属于真实的人和企业（zzgw demo refuses production mode (ZZGW_MODE=production): "
            "it issues made-up licenses under the issuers' real seals, with citizen IDs and USCCs that may be real "
            "people's and companies'; run it against a dev gateway）",
            file=sys.stderr,
        )
        return 2
    if settings.members and (missing := _not_among_members(settings, DEMO_MEMBERS)):
        print(
            "zzgw demo: zzgw demo runs the demo departments' journeys; this gateway's members (ZZGW_MEMBERS, "
            f"{settings.members}) do not include {', '.join(missing)}",
            file=sys.stderr,
        )
        return 2

    def channel_for(code: str) -> grpc.Channel:
        return connect(target, MemberCredentials.for_mode(settings.mode, settings.data_dir, code))

    def reconnecting(error: grpc.RpcError) -> None:
        print(
            f"zzgw demo: {_refusal(target, error, settings.mode)}；批量归集正在重连，"
            f"自上次应答起至多 {RECONNECT_SECONDS:.0f} 秒"
            f"（reconnecting for up to {RECONNECT_SECONDS:.0f} s from the last answer）",
            file=sys.stderr,
            flush=True,
        )

    try:
        done = run_demo(channel_for, out=_out, reconnecting=reconnecting)
    except NoCredentials as exc:
        print(f"zzgw demo: {exc}", file=sys.stderr)
        return 2
    except grpc.RpcError as exc:
        print(f"zzgw demo: {_refusal(target, exc, settings.mode)}", file=sys.stderr)
        return 1
    except ImportRefused as exc:
        said = _refusal(target, exc.error, settings.mode)
        print(f"zzgw demo: 批量归集未能完成（the batch import stopped）：{said}", file=sys.stderr)
        return 1
    except (ImportStopped, DemoUnexpected) as exc:
        print(f"zzgw demo: {exc}", file=sys.stderr)
        return 1
    # the settings' HTTP address is their gateway's: one --target names may be another's, whose console the demo
    # cannot know (it had sent the user to the settings' console, another gateway's on a shared machine)
    console = (
        f"{settings.http_url}/console/"
        if target == settings.grpc_addr
        else "该网关 HTTP 地址（其 ZZGW_HTTP_ADDR）下的 /console/，zzgw demo --target 不知道该地址"
        "（at /console/ on that gateway's HTTP address, its ZZGW_HTTP_ADDR, which zzgw demo --target does not know）"
    )
    tokens = settings.dev_tokens_path if settings.mode == "dev" else "`zzgw console-token`"
    _out(
        f"\n办事窗口控制台可做同样的核验（the same checks in the clerk's console）：{console}，"
        f"以济南市不动产登记中心的令牌登录（{tokens}），核验 {done['marriage']}"
    )
    return 0


def _not_among_members(settings: Settings, codes: tuple[str, ...]) -> list[str]:
    """Those of the demo members ``codes`` that the settings' members file does not list, as "name (code)"."""
    from gateway.server import configured_members
    from gateway.services.members import load_demo_members

    listed = {member.code for member in configured_members(settings)}
    names = {member.code: member.name for member in load_demo_members()}
    return [f"{names.get(code, '')} ({code})".lstrip() for code in codes if code not in listed]


def _import(settings: Settings, args: argparse.Namespace) -> int:
    """``zzgw import``. A FILE that is no regular file (``/dev/stdin`` from a pipe, ``<(iconv …)``, a FIFO) is read
    once, into a temporary file only its owner reads, then counted and imported from there: the count had read the
    pipe to its end, and the import, finding it empty, said the file held no records and ended 0 (a reviewer). The
    temporary file has no name from its creation (``O_TMPFILE``, or unlinked at once), 0600, and is read through its
    descriptor: a named one was left in $TMPDIR, every record's personal data, by SIGHUP (a closed ssh session) or by
    SIGTERM during the copy or the count (a reviewer)."""
    import errno
    import stat
    import tempfile

    try:
        mode = args.file.stat().st_mode
    except OSError:
        mode = stat.S_IFREG  # said as the file's own error below
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        status, imported = _import_from(settings, args, args.file)
    else:
        if args.format is None and args.file.suffix.lower() == ".csv":  # told by FILE's name, as for a file
            args.format = "csv"
        spool_dir = tempfile.gettempdir()
        try:
            # unbuffered: a piece that a full $TMPDIR refused is not left in a write buffer for the close to write
            # again (it had raised ENOSPC from the close, a traceback and exit 1 after the words below)
            copy = tempfile.TemporaryFile(buffering=0)  # noqa: SIM115 -- mode 0600, no name: nothing left behind
        except OSError as exc:
            print(f"zzgw import: 无法在临时目录 {spool_dir} 中建立管道输入的副本：{exc.strerror or exc}"
                  f"（cannot make the copy of the input in the temporary directory {spool_dir}: {exc}）",
                  file=sys.stderr)  # fmt: skip
            return 2
        with copy:
            try:
                for piece in _pieces(args.file):
                    left = memoryview(piece)
                    while left:  # a raw write may take part of it (the part that fitted, before ENOSPC)
                        left = left[copy.write(left) :]
            except _InputUnreadable as unreadable:
                error = unreadable.error
                print(f"zzgw import: 无法读取 {args.file}：{error.strerror or error}"
                      f"（cannot read {args.file}: {error}）", file=sys.stderr)  # fmt: skip
                return 2
            except OSError as exc:  # the copy's write, not the input: $TMPDIR full, most often (a reviewer)
                if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                    print(f"zzgw import: 临时目录 {spool_dir} 空间不足（复制管道输入需要与其同等的空间）；请将 TMPDIR "
                          f"设为空间更大的目录，或先将输入保存为文件（the temporary directory {spool_dir} is full: "
                          "the copy of the input needs as much space as the input; set TMPDIR to a larger directory, "
                          f"or save the input to a file first）：{exc.strerror}", file=sys.stderr)  # fmt: skip
                else:
                    print(f"zzgw import: 无法写入临时目录 {spool_dir} 中管道输入的副本：{exc.strerror or exc}"
                          f"（cannot write the copy of the input in the temporary directory {spool_dir}: {exc}）",
                          file=sys.stderr)  # fmt: skip
                return 2
            except KeyboardInterrupt as exc:  # SIGTERM too (``Terminated``): it had ended 130 (session 53)
                print("\nzzgw import: 在读取输入时被中断，尚未发送任何记录"
                      "（interrupted while reading the input, before anything was sent）", file=sys.stderr)  # fmt: skip
                return interrupted_status(exc)
            status, imported = _import_from(settings, args, Path(f"/proc/self/fd/{copy.fileno()}"))
    if imported:
        _end_at_once(_written("import", status))
    return status


class _InputUnreadable(Exception):
    """The input of ``zzgw import`` could not be read, told apart from the copy that could not be written."""

    def __init__(self, error: OSError) -> None:
        super().__init__(str(error))
        self.error = error


PIECE_WAIT_MS = 200
"""How long ``_pieces`` waits on its input at most before it lets Python run a signal's handler."""


def _pieces(path: Path) -> Iterator[bytes]:
    """What ``path`` holds, up to a MiB at a time, as it comes; an error reading it is ``_InputUnreadable``.

    It waits for input in slices of ``PIECE_WAIT_MS`` and reads only what has come: Python runs a signal's handler
    between two steps of its own, never within a read, and a SIGTERM that came as a buffered read of a MiB was
    between two reads of the pipe (copying what the first had read) was taken only when the next read returned. With
    the pipe's writer open and silent (a producer that stalls), that was never: `zzgw import` took SIGTERM and went on
    waiting, 4 times in 6 on a loaded machine (the suite's test of a SIGTERM during the copy timed out)."""
    import select

    try:
        with path.open("rb", buffering=0) as source:
            ready = select.poll()
            ready.register(source.fileno(), select.POLLIN)
            while True:
                if not ready.poll(PIECE_WAIT_MS):
                    continue  # nothing yet: a handler pending runs now, at this step of Python's
                piece = source.read(1 << 20)
                if not piece:
                    return
                yield piece
    except OSError as exc:
        raise _InputUnreadable(exc) from exc


def _import_from(settings: Settings, args: argparse.Namespace, path: Path) -> tuple[int, bool]:
    """``zzgw import`` of ``path``, ``args.file`` or the temporary file it was read into, named ``args.file`` in what
    is said: the status, and whether the import began (its end is then at once: ``_end_at_once``)."""
    import codecs
    import functools

    from tqdm import tqdm

    from adapters.batch_import import (
        CHANNEL_OPTIONS,
        FailureFile,
        ImportInterrupted,
        ImportRefused,
        ImportStopped,
        count_records,
        field_labels,
        import_file,
        streams_full,
        summary,
    )
    from adapters.client import MemberCredentials, NoCredentials, connect

    class LinesBar(tqdm):
        """The progress bar with its rate in 行/秒, as the summary says its first rate (tqdm writes ``行/s``)."""

        @staticmethod
        def format_meter(*args: Any, **kwargs: Any) -> str:
            said: str = tqdm.format_meter(*args, **kwargs)
            return said.replace(" 行/s", " 行/秒").replace("s/ 行", "秒/行")

    def named(said: object) -> str:
        return str(said).replace(str(path), str(args.file)) if path != args.file else str(said)

    if not path.exists():
        print(f"zzgw import: 找不到文件 {args.file}（no such file {args.file}）", file=sys.stderr)
        return 2, False
    target = args.target or settings.grpc_addr
    try:
        credentials = MemberCredentials.for_mode(settings.mode, settings.data_dir, args.issuer, _handed_over(args))
    except NoCredentials as exc:
        print(f"zzgw import: {exc}", file=sys.stderr)
        return 2, False
    try:
        codecs.lookup(args.encoding)
        # the catalog's labels, asked once and only of a CSV header with a column that may be one
        labels = functools.cache(lambda: field_labels(lambda: connect(target, credentials)))
        total = count_records(path, args.format, encoding=args.encoding, labels=labels)
    except (LookupError, ValueError) as exc:
        print(f"zzgw import: {named(exc)}", file=sys.stderr)
        return 2, False
    except KeyboardInterrupt as exc:  # SIGTERM too (``Terminated``): it had ended 130 (left alone in session 53)
        print("\nzzgw import: 在清点文件中的记录时被中断，尚未发送任何记录"
              "（interrupted while counting the file's records, before anything was sent）",
              file=sys.stderr)  # fmt: skip
        return interrupted_status(exc), False
    # opened once the file is found readable (a refused file leaves the last run's list as it was), before anything
    # is sent: a list that could not be written would be found only at the first failure, in the middle of the run
    try:
        if args.failures and args.failures.exists() and args.failures.samefile(args.file):
            print(f"zzgw import: --failures {args.failures} 就是要导入的文件（--failures {args.failures} is the file "
                  "being imported）", file=sys.stderr)  # fmt: skip
            return 2, False
        failure_file = FailureFile(args.failures) if args.failures else None
    except OSError as exc:
        print(f"zzgw import: 无法写入失败记录文件 {args.failures}：{exc.strerror or exc}"
              f"（the failures file cannot be written: {exc}）", file=sys.stderr)  # fmt: skip
        return 2, False
    stopped = ""
    with (
        failure_file or contextlib.nullcontext(),
        LinesBar(total=total, unit=" 行", desc=f"导入 {args.file.name}", dynamic_ncols=True, mininterval=0.5) as bar,
    ):
        try:
            args.import_began = True  # a Ctrl-C from now on may follow lines sent (``main``)
            report = import_file(
                path,
                lambda: connect(target, credentials, options=list(CHANNEL_OPTIONS)),  # a gateway gone is found
                fmt=args.format,
                encoding=args.encoding,
                failure_file=failure_file,
                progress=bar.update,
                reconnecting=lambda error: bar.write(
                    f"zzgw import: {_reconnecting(target, error, settings.mode)}", file=sys.stderr
                ),
            )
        except ImportRefused as exc:  # the gateway's answer: what was committed before, and how to go on
            if not streams_full(exc.error):  # the gateway's words for that are an API caller's: the summary says it
                print(f"\nzzgw import: {_refusal(target, exc.error, settings.mode)}", file=sys.stderr)
            report, status = exc.report, 1
        except ImportInterrupted as exc:  # Ctrl-C or SIGTERM: what was committed, and how to go on
            report, status = exc.report, 128 + exc.signum
        except KeyboardInterrupt as exc:  # one the import could not take as such: as its stream began, or a second
            # one as it ended on the first; it had ended `zzgw import: interrupted`, in English, with no word of what
            # to do (a reviewer)
            print(f"\nzzgw import: {_IMPORT_NOT_SUMMED_UP}", file=sys.stderr)
            return interrupted_status(exc), True
        except ImportStopped as exc:  # the import's own error, not the gateway's (the failures file's among them)
            print(f"\nzzgw import: {named(exc)}", file=sys.stderr)
            report, status, stopped = exc.report, 1, str(exc)
        else:
            status = 1 if report.failures else 0
    unwritten = failure_file.error if failure_file else None
    if unwritten and str(unwritten) not in stopped:  # an interrupted or refused import's, or at the file's closing
        print(f"zzgw import: {unwritten}", file=sys.stderr)
        status = status or 1
    _out(summary(report, failure_file=None if unwritten else args.failures))
    read_as_lines = args.format is None and args.file.suffix.lower() != ".csv"
    # CSV read as JSON Lines fails from its header on, nothing of it imported: a JSON Lines file with a broken line
    # among lines imported had been told it may be CSV (a reviewer)
    nothing_read = not report.answered and report.failures and report.failures[0].line == 1
    if read_as_lines and nothing_read and all(f.reason == "BAD_JSON" for f in report.failures):
        print(f"zzgw import: {args.file.name} 按文件名被当作 JSON Lines 读取；如果它是 CSV 文件，请加 --format csv"
              f"（{args.file.name} was read as JSON Lines, by its name; if it is CSV, add --format csv）",
              file=sys.stderr)  # fmt: skip
    return status, True


def _reconnecting(target: str, error: grpc.RpcError, mode: str) -> str:
    """What ``zzgw import`` says as it begins to wait for the gateway after ``error``: reconnecting, or, for a stream
    refused as full, waiting for one (the gateway's own words, for API callers, had said "send on the streams open",
    which an operator cannot; a reviewer)."""
    from adapters.batch_import import RECONNECT_SECONDS, STREAM_WAIT_SECONDS, streams_full

    if streams_full(error):
        return (
            f"证照网关 {target} 的批量签发流已满（同一部门在每个证照网关进程上至多同时进行 4 个导入）："
            f"正在等待其他导入结束，自上次应答起至多 {STREAM_WAIT_SECONDS:.0f} 秒（the gateway at {target} has no "
            "batch stream free: a department's imports are at most 4 at once on a gateway process; waiting for "
            f"another import to end, for up to {STREAM_WAIT_SECONDS:.0f} s from the last answer）"
        )
    return (
        f"{_refusal(target, error, mode)}；正在重连，自上次应答起至多 {RECONNECT_SECONDS:.0f} 秒"
        f"（reconnecting for up to {RECONNECT_SECONDS:.0f} s from the last answer）"
    )


def _end_at_once(status: int) -> NoReturn:
    """End ``zzgw import`` with ``status`` once its summary is written (the failures file closed before), without the
    interpreter's finalization. gRPC's request and polling threads are daemon threads that CPython stops for good
    wherever they are as it finalizes, a lock of the call held or not, and the interrupted call (kept by the cycle of
    the error it raised, whose traceback holds its own frame) is collected only then: its ``__del__`` waits for the
    call's lock, for ever when such a thread held it (the command froze after its summary, a single thread in
    ``futex_do_wait``, until a second signal; a tester, once in 14 runs). gRPC's own, not this code's: nothing is left
    to do but to end."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a reader gone (a closed pipe) does not change the status
            stream.flush()
    os._exit(status)


def _audit(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.store.database import check_intact

    gateway = _open_store(settings)
    try:
        if gateway.audit is None:
            print("zzgw audit: no audit trail yet: run `zzgw init`", file=sys.stderr)
            return 2
        if args.action == "refusals":
            return _refusals(gateway, args.limit)
        if args.action == "prune":
            return _prune(gateway, settings.audit_retention_days)
        check = gateway.audit.check()
        if not check.ok:  # rows a damaged file lost read as a chain cut short (TRUNCATED), as if someone had
            check_intact(settings.effective_database_url)  # cut it: said as the damage (an upgrade tester)
    finally:
        gateway.close()
    status, said = chain_verdict(check)
    if status == 1:
        print(said, file=sys.stderr)
    else:
        _out(said)
    return status


def _prune(gateway: Gateway, days: int) -> int:
    """`zzgw audit prune`: the access records older than the retention, then the consents and access requests that
    ended longer ago than it (``AuthorizationService.prune``), each count said; nothing with a retention of 0 (keep
    for ever).

    A chain that does not check keeps its access records (pruning would vouch for what an edit left), and the prune
    says so on standard error with the chain's words and ends with its status (1, or 3 when only its end is not yet
    vouched for, as ``chain_verdict`` says); it still removes the consents and access requests that ended past the
    retention and says how many. They do not vouch for the chain, and they had been kept for ever by a break that
    stays, a cut-back end's ``GAP`` (a review, audittrail R4): ADR 0010, addendum "a broken chain keeps its records,
    not the consents".

    Stopped midway (Ctrl-C, the store failing) once steps of the removal were committed, it says why, as before and
    with the same status (130, 75 …), then how many records those steps removed, and that the consents and access
    requests were not pruned. It had said only "interrupted" or "cannot use …", which before the steps meant nothing
    was removed, thousands of records gone for good (a reviewer, R1). Stopped as it removes the consents and access
    requests, the records' line printed (or, the chain not checking, the line saying they were kept), it says how
    many of them it removed so far (``_stopped_ending``)."""
    if not days:
        _out("zzgw audit prune: audit_retention_days is 0 (keep for ever): nothing to do")
        return 0
    from gateway.services.audit import AuditBroken
    from gateway.services.authorization import Pruned
    from gateway.store.database import check_intact

    assert gateway.audit is not None and gateway.authorization is not None  # made together (``Gateway.open``)
    bars = _PruneBars(gateway)
    status = 0
    try:
        with bars:
            removed = gateway.audit.prune(dt.timedelta(days=days), progress=bars.progress)
    except AuditBroken as exc:  # pruning would vouch for what an edit left: the operator looks first
        check_intact(gateway.settings.effective_database_url)  # or a damaged file lost them (``_audit``)
        # in verify's words and with its status: an end not yet vouched for is undecided (3), not BROKEN (1), which
        # it had been said to be, with tampering's status, of the row an upgrade leaves (a reviewer, R2)
        status, said = chain_verdict(exc.check)
        print(
            f"zzgw audit prune: access records not pruned, as the audit chain does not check: {said}", file=sys.stderr
        )
    except (KeyboardInterrupt, Exception) as exc:
        if not bars.removed:  # nothing removed: said as before, by ``main`` or ``_run``
            raise
        return _prune_stopped(exc, gateway, _stopped_after(bars.removed, days))
    else:
        _out(
            f"已删除超过 {days} 天的用证记录 {removed} 条（removed {counted(removed, 'access record')} older than "
            f"{counted(days, 'day')}）"
        )
    # on a chain that does not check too: they vouch for nothing of it, and a cut-back end's GAP, reported for good,
    # had kept them for ever past the retention (a review, audittrail R4; ADR 0010). The store fact that stands for
    # them as the trail's witness is written with the first of them removed (``delete_ended``).
    so_far = [Pruned(consents=0, access_requests=0)]
    try:
        ended = gateway.authorization.prune(dt.timedelta(days=days), progress=lambda now: so_far.__setitem__(0, now))
    except (KeyboardInterrupt, Exception) as exc:  # said as the records' removal stopped is (a reviewer, R2)
        if not (so_far[0].consents or so_far[0].access_requests):  # nothing of them removed: said as before
            raise
        return _prune_stopped(exc, gateway, _stopped_ending(so_far[0], days))
    _out(
        f"已删除结束已超过 {days} 天的持证人授权 {ended.consents} 项（removed "
        f"{counted(ended.consents, 'consent')} that ended more than {counted(days, 'day')} ago）"
    )
    _out(
        f"已删除结束已超过 {days} 天的共享申请 {ended.access_requests} 项（removed "
        f"{counted(ended.access_requests, 'access request')} that ended more than {counted(days, 'day')} ago）"
    )
    return status


def _prune_stopped(exc: BaseException, gateway: Gateway, after: str) -> int:
    """`zzgw audit prune` stopped by ``exc`` once it had removed some rows for good: why, as ``main`` says it, then
    ``after`` (what it removed), on standard error; the status ``main`` gives (130, 75 …). A defect's traceback
    follows ``after``."""
    from gateway import failures

    interrupted = isinstance(exc, KeyboardInterrupt)
    why = "\nzzgw audit: interrupted" if interrupted else failures.said(exc, "audit", gateway.settings)
    if why is None:  # a defect: its traceback follows
        print(after, file=sys.stderr)
        raise exc
    print(why, file=sys.stderr)
    print(after, file=sys.stderr)
    return 130 if interrupted else failures.exit_status(exc)


def _stopped_ending(so_far: Pruned, days: int) -> str:
    """What `zzgw audit prune` stopped while it removed the consents and access requests says of those it had
    removed (each batch is committed: gone for good). It had said only "interrupted" or "cannot use …", which the
    docs read as nothing removed, of 5,000 consents gone (a reviewer, R2). The records' line is on standard output
    already, or, the chain not checking, the line saying the records were not pruned on standard error."""
    consents, requests = so_far.consents, so_far.access_requests
    return (
        f"zzgw audit prune: 停止前已删除结束已超过 {days} 天的持证人授权 {consents} 项、共享申请 {requests} 项，"
        f"下次清理从此处继续（removed {counted(consents, 'consent')} and {counted(requests, 'access request')} that "
        f"ended more than {counted(days, 'day')} ago before it stopped: the next prune goes on from there）"
    )


def _stopped_after(removed: int, days: int) -> str:
    """What `zzgw audit prune` stopped midway says of the ``removed`` records its committed steps removed: each step
    committed with the chain's start memo, the chain checks and the next prune goes on (``AuditTrail.prune``); the
    consents and access requests, pruned after the records, were not reached."""
    return (
        f"zzgw audit prune: 停止前已删除超过 {days} 天的用证记录 {removed} 条，审计链完整，下次清理从此处继续；"
        f"本次未清理持证人授权和共享申请（removed {counted(removed, 'access record')} older than "
        f"{counted(days, 'day')} before it stopped: the audit chain checks, and the next prune goes on from there; "
        "consents and access requests were not pruned）"
    )


class _PruneBars:
    """`zzgw audit prune`'s progress on a terminal (none elsewhere: a nightly job's mail stays its three lines): a bar
    of the records checked, then one of those removed. The check alone takes about a minute a million records, and
    the prune had said nothing until it was done (a reviewer, R3)."""

    def __init__(self, gateway: Gateway):
        from gateway.services.audit import PruneProgress

        self._gateway = gateway
        self._checked: Any = None
        self._removal: Any = None
        self.removed = 0
        """The records removed so far, by the steps committed: what a prune stopped midway says it removed."""
        self.progress = PruneProgress(checking=self._checking, removing=self._removing, removed=self._removed)

    def __enter__(self) -> _PruneBars:
        return self

    def __exit__(self, *_: object) -> None:
        for bar in (self._checked, self._removal):
            if bar is not None:
                bar.close()

    @staticmethod
    def _bar(total: int, desc: str) -> Any:
        return _progress_bar(total=total, unit=" records", desc=desc)  # on a terminal only

    def _checking(self) -> None:
        """Before each page of the check: the page before it is checked."""
        from gateway.services.audit import PAGE

        if self._checked is None:
            with self._gateway.db.unit_of_work() as uow:  # from the first record to the newest: two reads by key
                newest, _ = uow.audit.heads()
                first = uow.audit.first()
            self._checked = self._bar(
                newest[0] - first.seq + 1 if newest is not None and first is not None else 0, "checking the audit chain"
            )
        else:  # records appended since the check began are the next check's
            self._checked.update(max(0, min(PAGE, self._checked.total - self._checked.n)))

    def _removing(self, records: int) -> None:
        if self._checked is not None:  # checked to its end
            self._checked.update(max(0, self._checked.total - self._checked.n))
            self._checked.close()
        if records:
            self._removal = self._bar(records, "removing access records")

    def _removed(self, records: int) -> None:
        self.removed += records
        if self._removal is not None:
            self._removal.update(records)


def chain_verdict(check: ChainCheck) -> tuple[int, str]:
    """``zzgw audit verify``'s exit status and words: 0 intact, 1 broken, 3 undecided — a store upgraded across
    schema 0022 whose records all check but whose end no memo vouches for yet (HEAD_NOT_YET_VOUCHED, ADR 0010), which
    the upgrade's `zzgw init` vouches for, and the gateway's next access record otherwise records as a break (then
    BROKEN, ``ChainCheck.recorded``). It had said BROKEN of the row an upgrade leaves, which an operator is told is
    normal right after an upgrade (found by an operator tester)."""
    if check.ok:
        return 0, (
            f"audit trail intact: {counted(check.records, 'record')}, {counted(check.checkpoints, 'signed checkpoint')}"
        )
    if check.reason == "HEAD_NOT_YET_VOUCHED" and not check.recorded:  # a break recorded so is one (a reviewer)
        return 3, (
            f"audit trail checked: {counted(check.records, 'record')} and {counted(check.checkpoints, 'checkpoint')} "
            "fit, but its end is not yet vouched for (HEAD_NOT_YET_VOUCHED): a store upgraded across schema 0022 is "
            "vouched for by the `zzgw init` of the upgrade; if none ran, or this row was written since, a gateway's "
            "next access record records it as a break (ADR 0010)"
        )
    return 1, _broken(check)


def _broken(check: ChainCheck) -> str:
    last = check.last_broken
    where = f"{check.first_broken}-{last}" if last is not None and last != check.first_broken else check.first_broken
    return (
        f"audit trail BROKEN at {where} ({check.reason}); {counted(check.records, 'record')} and "
        f"{counted(check.checkpoints, 'checkpoint')} read"
    )


def _refusals(gateway: Gateway, limit: int) -> int:
    """The newest access records of calls refused for their use (another department's matter, a license type the
    matter does not use), one a line: sequence, time (China time, with its zone: ``2026-03-01 09:30:00+08:00``),
    caller's code and name, action, reason, matter, purpose, operator. None at all is said aside, so that a script
    reading the list reads none."""
    from adapters.terminal import shown
    from gateway.domain.model import china_iso

    if not 1 <= limit <= 10_000:
        print("zzgw audit refusals: --limit is 1-10000", file=sys.stderr)
        return 2
    names = {m.code: m.name for m in gateway.members.list()}
    with gateway.db.unit_of_work() as uow:
        records = uow.audit.of(reasons=USE_REFUSALS, before_seq=None, limit=limit)
    lines = [
        "\t".join(
            shown(column)  # what other departments wrote (a purpose, a clerk's name): no tab or escape sequence in it
            for column in (
                str(record.seq),
                china_iso(record.entry.at),
                record.entry.caller,
                names.get(record.entry.caller, ""),
                record.entry.action.value,
                record.entry.reason,
                record.entry.matter_code,
                record.entry.purpose,
                record.entry.operator,
            )
        )
        for record in records
    ]
    if not lines:
        print(
            "zzgw audit refusals: 审计记录中没有因用途被拒绝的调用（no call refused for its use on the audit trail: "
            f"{', '.join(USE_REFUSALS)}）",
            file=sys.stderr,
        )
    _print_lines(lines)
    return 0


def _memos(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.authorities import require_seal_ca_keys

    require_seal_ca_keys(settings)  # it checks seals, against the CRLs the intermediates sign, as `zzgw serve` does
    gateway = _open_store(settings)
    try:
        service = gateway.verification
        if service is None:
            print("zzgw memos: no seal-maker CA or receipt key yet: run `zzgw init`", file=sys.stderr)
            return 2
        with gateway.db.unit_of_work() as uow:
            total = uow.licenses.count_without_memo()
        with _progress_bar(total=total, unit=" licenses", desc="checking seals") as bar:  # on a terminal only
            report = service.store_missing_memos(progress=bar.update)
    finally:
        gateway.close()
    _out(f"{counted(report.stored, 'license')} given the memo of their seal")
    if report.failed:
        shown = ", ".join(report.failed[:20]) + (" …" if len(report.failed) > 20 else "")
        _out(
            f"{counted(len(report.failed), 'license')} whose seal does not verify (no memo; they fail every check): "
            f"{shown}"
        )
        return 1
    return 0


def _verify(settings: Settings, args: argparse.Namespace) -> int:
    """The verdict as the exit status; any other end of the command has a status of its own (the epilog's)."""
    import traceback

    from adapters import verify_command

    try:
        return _verify_as_told(settings, args)
    except Exception:  # a defect of zzgw: said, and never ending as 1, which reads as FAILED
        traceback.print_exc()
        print("zzgw verify: zzgw 自身出错（程序缺陷，不是对证照的核验结论），没有核验结论"
              "（zzgw failed: a defect, not a verdict on the license; no verdict）", file=sys.stderr)  # fmt: skip
        return verify_command.EXIT_DEFECT


def _verify_as_told(settings: Settings, args: argparse.Namespace) -> int:
    import grpc

    from adapters import verify_command
    from adapters.client import MemberCredentials, NoCredentials, connect
    from adapters.terminal import shown
    from protos.zzgw.v1 import verification_pb2

    target = args.target or settings.grpc_addr
    use = verification_pb2.UseContext(
        matter_code=args.matter, purpose=args.purpose, bundle_code=args.bundle, case_id=args.case
    )
    try:
        verify_command.check_use(use)
        if args.receipt is not None:
            verify_command.check_receipt_path(args.receipt, args.what, member=args.member)
    except verify_command.BadInput as exc:
        print(f"zzgw verify: {exc}", file=sys.stderr)
        return verify_command.EXIT_BAD_REQUEST
    try:
        credentials = MemberCredentials.for_mode(settings.mode, settings.data_dir, args.member, _handed_over(args))
    except NoCredentials as exc:
        print(f"zzgw verify: {exc}", file=sys.stderr)
        return verify_command.EXIT_BAD_REQUEST
    with connect(target, credentials) as channel:
        try:
            answer = verify_command.verify(
                channel,
                args.what,
                use,
                type_=args.type_,
                operator=args.operator,
                max_file_bytes=settings.max_message_bytes,
            )
        except verify_command.BadInput as exc:
            print(f"zzgw verify: {exc}", file=sys.stderr)
            return verify_command.EXIT_BAD_REQUEST
        except grpc.RpcError as exc:
            print(f"zzgw verify: {_refusal(target, exc, settings.mode)}", file=sys.stderr)
            return verify_command.EXIT_NO_ANSWER
    written = args.receipt
    if args.receipt is not None:
        try:
            verify_command.write_receipt(answer, args.receipt, args.member)
        except OSError as exc:  # checked before the call, so rare: the verdict stands, the receipt is the gateway's
            written = None
            named = shown(str(args.receipt))
            fetch = verify_command.receipt_get(answer.report.receipt.receipt_id, args.member)
            print(f"zzgw verify: 无法写入 {named}：{exc.strerror}；可用 `{fetch}` 取回"
                  f"该回执（cannot write {named}: {exc.strerror}; `{fetch}` fetches it）",
                  file=sys.stderr)  # fmt: skip
        except verify_command.ReceiptFileTaken as exc:  # as rare: the verdict stands
            written = None
            print(f"zzgw verify: {exc}", file=sys.stderr)
    fetch = verify_command.receipt_get(answer.report.receipt.receipt_id, args.member)
    kept = f"，回执已写入 {shown(str(written))}" if written is not None else ""
    kept_en = f", its receipt written to {shown(str(written))}" if written is not None else ""
    verdict = verify_command.verdict_words(answer)
    _Stdout.done = (
        f"核验已完成并已记录，结论为 {verdict}{kept}；`{fetch}` 可再取回其回执（the check was made and recorded, "
        f"verdict {verdict}{kept_en}; `{fetch}` fetches its receipt again）"
    )
    if args.json:
        _out(verify_command.answer_json(answer), end="")
    else:
        _out(verify_command.answer_text(answer, receipt_file=written), end="")
    return answer.exit_status


def _catalog(settings: Settings, args: argparse.Namespace) -> int:
    assert args.action == "check" and args.file is None  # one given is main's, before any settings are read
    return _catalog_check(Path(settings.catalog) if settings.catalog else None, lambda: settings)


def _catalog_check(path: Path | None, settings_of: Callable[[], Settings]) -> int:
    """``zzgw catalog check``: the catalog file at ``path`` (the demo catalog for None) loaded as init and serve load
    it, said in one line: OK with its counts and fingerprint, then a warning for each field a matter lists and never
    reads (``Catalog.fields_never_read``), or why it does not load (exit 2). A file that loads is then held against the
    store the settings name, reading only, and what `zzgw init --adopt-catalog` would refuse (exit 2) and warn of is
    said (``server.catalog_findings``); or that there is no store to hold it against yet (exit 0); or why the store
    the settings name cannot be used, as other commands say it (``failures.exit_status``: 75 or 2)."""
    from gateway.api.catalog import oversize_listing
    from gateway.failures import exit_status, said
    from gateway.server import NoStoreYet, catalog_findings
    from gateway.services.members import load_catalog, refuse_unadoptable

    named = f"catalog {path}" if path is not None else "the demo catalog (ZZGW_CATALOG is not set)"
    try:
        catalog = load_catalog(str(path) if path is not None else "")
        refuse_unadoptable(catalog, str(path) if path is not None else "")  # as the adoption refuses it
    except ValueError as exc:
        print(f"zzgw catalog check: refused: {exc}", file=sys.stderr)
        return 2
    settings: Settings | None = None
    with contextlib.suppress(Exception):  # settings that do not load are said below, as any command says them
        settings = settings_of()
    if settings is not None and (oversize := oversize_listing(catalog, settings.max_message_bytes)):
        # serve and init would refuse it: refused before any OK is said, in init's words (a script reading the first
        # line of standard output had read OK for a catalog then refused; a reviewer, catalogrev R3)
        print(f"zzgw catalog check: refused: {named} cannot be served: {oversize}", file=sys.stderr)
        return 2
    _out(
        f"{named}: OK, {counted(len(catalog.license_types), 'license type')}, "
        f"{counted(len(catalog.matters), 'matter')}, {counted(len(catalog.bundles), 'bundle')}; sha256 "
        f"{catalog.fingerprint} (a store that records another is changed to it with zzgw init --adopt-catalog: "
        "docs/operations.md, Changing the catalog)"
    )
    for never_read in catalog.fields_never_read():
        print(f"warning: {never_read.words}", file=sys.stderr)
    try:
        settings = settings_of()
        found = catalog_findings(settings, catalog)
    except NoStoreYet as exc:
        print(
            f"zzgw catalog check: checked without a store ({exc}): whether members may issue its license types and "
            "handle its matters, and what it does to the licenses and cases of a store, is said when it is checked "
            "with the settings of the store (ZZGW_DATABASE_URL, ZZGW_DATA_DIR) or adopted",
            file=sys.stderr,
        )
        return 0
    except Exception as exc:  # a store the settings name that cannot be used, or settings that do not load: as any
        # command says it, with its exit status (it had been exit 0, "checked without a store", and a pipeline gating
        # the adoption on it went ahead having checked nothing; a reviewer)
        why = said(exc, "catalog check", settings)
        if why is None:
            raise
        print(why, file=sys.stderr)
        return exit_status(exc)
    _out(
        f"checked against the store {found.store}, {counted(found.members, 'member')} in force: "
        + ("another catalog than the store's (what zzgw init --adopt-catalog would say follows)" if found.changing
           else "the store's catalog")
    )  # fmt: skip
    for warning in _catalog_warnings(found):
        print(warning, file=sys.stderr)
    if found.issuers_left:
        print(
            "zzgw catalog check: zzgw init --adopt-catalog would refuse this file: it takes departments out of "
            f"license types' `issuers` while they have licenses of the type that have not ended "
            f"({'; '.join(found.issuers_left)}): hand the type over first (docs/operations.md: Handing a license "
            "type to another department)",
            file=sys.stderr,
        )
        return 2
    return 0


def _receipt(settings: Settings, args: argparse.Namespace) -> int:
    assert args.action == "get"  # `receipt check` is main's, before any settings are read
    return _receipt_get(settings, args)


def _receipt_get(settings: Settings, args: argparse.Namespace) -> int:
    import grpc

    from adapters.client import MemberCredentials, NoCredentials, connect
    from adapters.receipt_file import receipt_json
    from adapters.terminal import shown
    from adapters.verify_command import (
        CALL_SECONDS,
        BadInput,
        ReceiptFileTaken,
        check_receipt_path,
        replace_receipt_file,
    )
    from protos.zzgw.v1 import verification_pb2, verification_pb2_grpc

    target = args.target or settings.grpc_addr
    try:  # before the fetch, which is on the holder's log: a receipt written nowhere had been recorded (a reviewer)
        if args.out:
            check_receipt_path(args.out, option="-o")  # a new file, a receipt file or an empty one
    except BadInput as exc:
        print(f"zzgw receipt get: {exc}", file=sys.stderr)
        return 2
    try:
        credentials = MemberCredentials.for_mode(settings.mode, settings.data_dir, args.member, _handed_over(args))
    except NoCredentials as exc:
        print(f"zzgw receipt get: {exc}", file=sys.stderr)
        return 2
    with connect(target, credentials) as channel:
        try:
            found = verification_pb2_grpc.VerificationServiceStub(channel).GetReceipt(
                verification_pb2.GetReceiptRequest(receipt_id=args.receipt_id),
                timeout=CALL_SECONDS,  # past the store's 30 s
            )
        except grpc.RpcError as exc:  # 4 as `zzgw verify`'s: 1 would read as `receipt check`'s "invalid"
            print(f"zzgw receipt get: {_refusal(target, exc, settings.mode)}", file=sys.stderr)
            return 4
    text = receipt_json(found.receipt)
    if args.out:
        try:
            replace_receipt_file(text, args.out, "-o")
        except (ReceiptFileTaken, OSError) as exc:
            print(f"zzgw receipt get: {exc}", file=sys.stderr)
            return 2
    else:
        _Stdout.done = (
            f"可加 -o FILE 将回执写入文件：`zzgw receipt get {shown(args.receipt_id)} --member {shown(args.member)} "
            f"-o FILE`（-o FILE writes the receipt to a file）"
        )
        _out(text, end="")
    return 0


_CHECK_EXIT = {"PASSED": 0, "FAILED": 1, "INDETERMINATE": 3}


def _receipt_check(args: argparse.Namespace) -> int:
    """Exit 0 valid, 1 invalid, 3 undecided, 2 no result (docs/receipts.md, "What a checker answers"): exit 1 says
    the receipt is invalid, so nothing else may end with it."""
    import json
    import traceback

    from adapters.receipt_file import (
        TrustMaterial,
        check_json,
        check_receipt_file,
        check_text,
        read_receipt,
        receipt_bytes,
        trusted_root,
    )
    from adapters.terminal import shown_json
    from signing.errors import SigningError
    from signing.results import CheckResult

    try:
        if str(args.file) == "-":
            data = receipt_bytes(sys.stdin.buffer)
        else:
            with args.file.open("rb") as source:
                data = receipt_bytes(source)
        try:
            receipt = read_receipt(data)
        except ValueError as exc:  # in the console's words for a file that is no receipt, what is wrong after
            print(f"zzgw receipt check: 所给文件不是核验回执文件（not a receipt file: {exc}）", file=sys.stderr)
            return 2
        try:
            trust = TrustMaterial.read(args.root, args.intermediate, args.crl, args.certificate)
        except ValueError as exc:  # trust material that is not what its option takes: which file, what to give
            print(f"zzgw receipt check: 所给的信任材料（--root、--intermediate、--crl、--certificate）无法使用"
                  f"（{exc}）", file=sys.stderr)  # fmt: skip
            return 2
        checked = check_receipt_file(receipt, trust)
        # the root relied on, by its fingerprint: a root of one's own named as the seal maker's reads the same
        root = trusted_root(receipt, trust) if checked.result is not CheckResult.FAILED else None
        answer = (
            shown_json(json.dumps(check_json(receipt, checked, root), ensure_ascii=False))
            if args.json
            else check_text(receipt, checked, root)
        )
    except ValueError as exc:  # a receipt without a field it needs is none (``check_receipt_file``)
        print(f"zzgw receipt check: 所给文件不是核验回执文件（not a receipt file: {exc}）", file=sys.stderr)
        return 2
    except OSError as exc:  # the receipt or a trust file cannot be read
        opened = exc.filename or args.file
        print(f"zzgw receipt check: 无法打开 {opened}：{exc.strerror}（cannot open {opened}: {exc.strerror}）",
              file=sys.stderr)  # fmt: skip
        return 2
    except SigningError as exc:  # e.g. an SM2 receipt where this libcrypto has no SM2
        print(f"zzgw receipt check: 本机无法查验该回执，没有结论：{exc}"
              "（the receipt cannot be checked here, no result）", file=sys.stderr)  # fmt: skip
        return 2
    except Exception:  # a defect of the checker, not a verdict on the receipt
        traceback.print_exc()
        print("zzgw receipt check: 查验程序自身出错（zzgw 的缺陷，不是回执的问题），没有结论"
              "（the check failed: a defect of zzgw, not of the receipt; no result）", file=sys.stderr)  # fmt: skip
        return 2
    _print_lines([answer])  # a reader that stops early (`| head`) changes nothing of the verdict
    return _CHECK_EXIT[checked.result.value]


def _console_token(settings: Settings, args: argparse.Namespace) -> int:
    """A console token: the department's (production mode; ends the one before), a clerk's own (``--clerk``), a
    clerk's ended (``--clerk --end``), or the clerks with one in force (``--list``)."""
    code = args.member.strip().upper()
    if args.list and (args.clerk is not None or args.end):
        print(
            "zzgw console-token: --list 只能单独使用，不与 --clerk 或 --end 同用（--list goes alone）", file=sys.stderr
        )
        return 2
    if args.end and args.clerk is None:
        print("zzgw console-token: --end 须与 --clerk 姓名 同用（--end needs --clerk NAME）", file=sys.stderr)
        return 2
    if args.list or args.end:
        return _clerk_tokens(settings, code, args.clerk, listing=args.list)
    if args.clerk is not None:
        return _issue_token(
            settings,
            code,
            lambda members, deliver: members.issue_clerk_token(code, args.clerk, deliver=deliver),
            f"console token of {args.clerk.strip()} at {code}: give it to that clerk alone (it signs in to "
            f"{settings.http_url}/console/ and names them in the access records); a token they had before works for "
            "at most 30 s more",
        )
    if settings.mode == "dev":
        said = _refused_in_dev(settings, code) or (
            f"in dev mode the console takes the member's dev bearer token ({settings.dev_tokens_path}); a console "
            "token would replace it"
        )
        print(f"zzgw console-token: {said}", file=sys.stderr)
        return 2
    return _issue_token(
        settings,
        code,
        lambda members, deliver: members.issue_console_token(code, deliver=deliver),
        f"console token of {code}: give it to the department's clerks (it signs in to {settings.http_url}/console/); "
        "the one before works for at most 30 s more",
        refuse=_replaces_a_dev_token,
    )


def _issue_token(
    settings: Settings,
    code: str,
    issue: Callable[[MemberService, Callable[[str], None]], str],
    told: str,
    *,
    refuse: Callable[[Gateway, str], str] | None = None,
) -> int:
    """Print the token ``issue`` makes for member ``code``, and ``told`` to the operator; refused for a member
    that may not verify (the console would turn its clerks away), for one revoked (``MEMBER_REVOKED``: a
    revoked member had been handed working console tokens; a reviewer, R1), and for whatever ``refuse`` says of the
    store.

    The token is written to standard output before it is committed (``issue``'s ``deliver``): written after, on a
    full disk or to a reader gone, it had been lost once it had ended the token before, the department's clerks
    without a console until the operator noticed (a reviewer, clirev R2). One that cannot be written is not issued,
    the token before stays in force (exit ``UNWRITTEN``); one written whose commit then fails is said not to be in
    force."""
    from gateway.domain.errors import ConflictError, InvalidRequestError, NotFoundError

    delivered: list[str] = []

    def deliver(token: str) -> None:
        if not _out(token):
            raise _TokenUnwritten
        delivered.append(token)

    gateway = _open_store(settings)
    try:
        if refusal := (refuse and refuse(gateway, code)) or _may_not_verify(gateway, code):
            print(f"zzgw console-token: {refusal}", file=sys.stderr)
            return 2
        issue(gateway.members, deliver)
    except (NotFoundError, InvalidRequestError, ConflictError) as exc:
        print(f"zzgw console-token: {exc.message}", file=sys.stderr)
        return 2
    except _TokenUnwritten:
        _Stdout.even_if_reader_stopped = True  # the token is the output: a reader gone has not got it
        _Stdout.done = (
            "未签发新令牌，此前的令牌仍然有效；请将输出写到可写之处后再运行一次（no token was issued: the one before "
            "stays in force; run it again with the output going where it can be written）"
        )
        return UNWRITTEN
    except BaseException:
        if delivered:  # written, then not committed: the store failing, Ctrl-C
            print(
                "zzgw console-token: 已写出的令牌未能生效，此前的令牌仍然有效（the token written above was not "
                "issued: the one before stays in force）",
                file=sys.stderr,
            )
        raise
    finally:
        gateway.close()
    print(told, file=sys.stderr)
    return 0


class _TokenUnwritten(Exception):
    """A console token that could not be written to standard output: it is not committed (``_issue_token``)."""


def _replaces_a_dev_token(gateway: Gateway, code: str) -> str:
    """Why a department's console token may not be issued on this store, or empty: it is served in dev mode
    (``gateway.server._served_in_dev``), and the token would replace the member's dev bearer token, which every dev
    gateway of the store then refuses within 30 s, gRPC and console alike, with nothing logged. Run with production
    settings on a dev fleet's store (a replica's data directory), the command had done so, the one way left that
    production settings changed a dev store without a word (a reviewer, R1). The store stays dev: as `zzgw serve`
    and `zzgw init` refuse it (``_still_in_dev``), both ways out are said."""
    from gateway.server import SWITCH_TO_PRODUCTION, _served_in_dev

    revision = gateway.db.schema_revision()
    if revision is None or not _served_in_dev(gateway.db, revision):
        return ""
    return (
        f"the database {gateway.settings.database_label} is served in dev mode (its members have bearer tokens), and "
        f"these settings say production: a console token of {code} would replace its dev bearer token, which every "
        "gateway of the store would refuse within 30 s. In dev mode the console takes that dev bearer token (set "
        'mode = "dev" (ZZGW_MODE), as the other gateways have); to switch the store to production, which is for '
        "every gateway of it and for good, stop every gateway of the store, run "
        f"`zzgw init {SWITCH_TO_PRODUCTION}` with these settings, then `zzgw console-token {code}` "
        "(docs/operations.md: ZZGW_MODE)"
    )


def _refused_in_dev(settings: Settings, code: str) -> str:
    """Why the console refuses ``code``'s clerks whatever their token (``_may_not_verify``: a partner gateway, a member
    that may not verify), or empty: said in dev mode in place of pointing the member at its dev bearer token, which
    the console refuses as well; a partner had been sent to it (review console2, R4). A store that cannot be opened
    or is not ready leaves it to the pointer, as before."""
    try:
        gateway = _open_store(settings)
    except Exception:
        return ""
    try:
        return _may_not_verify(gateway, code)
    finally:
        gateway.close()


def _may_not_verify(gateway: Gateway, code: str) -> str:
    """Why ``code``'s clerks would have no use for the console (it verifies, under a matter the member handles, and
    the member may not verify or handles no matter), or empty."""
    from gateway.api.roles import ALLOWED_ROLES
    from gateway.domain.model import Role, partner_console_words
    from gateway.domain.verification import matters_of

    member = next((m for m in gateway.members.list() if m.code == code), None)
    if member is None:
        return ""  # an unknown member is said by the service
    if member.has(Role.PARTNER):  # its departments go through its forwarder (review partner, R2)
        return partner_console_words(member)
    if not member.roles & ALLOWED_ROLES["/zzgw.v1.VerificationService/VerifyLicense"]:
        return f"{member.name} ({code}) may not verify licenses: the console would refuse its clerks (本部门无核验权限)"
    if not matters_of(member, gateway.catalog):
        return (
            f"{member.name} ({code}) handles no matter of the catalog, and every check names one: the console would "
            "refuse its clerks (本部门在事项目录中没有办理事项)"
        )
    return ""


def _clerk_tokens(settings: Settings, code: str, clerk: str | None, *, listing: bool) -> int:
    """List ``code``'s clerks with a console token in force, each with when it was issued (签发于 …（北京时间
    UTC+8）), or end ``clerk``'s: said Chinese first, as the other commands an operator reads."""
    from gateway.domain.errors import InvalidRequestError, NotFoundError
    from gateway.domain.model import beijing_time

    gateway = _open_store(settings)
    try:
        if listing:
            clerks = gateway.members.clerks(code)
            for found in clerks:
                _out(f"{found.clerk}\t签发于 {beijing_time(found.issued_at)}")
            if not clerks:  # said aside, so that a script reading the list reads none
                print(
                    f"zzgw console-token: {code} 没有窗口人员持有有效的控制台令牌（no clerk of {code} has a console "
                    "token in force）",
                    file=sys.stderr,
                )
            return 0
        assert clerk is not None
        gateway.members.end_clerk_token(code, clerk)
    except (NotFoundError, InvalidRequestError) as exc:
        print(f"zzgw console-token: {exc.message}", file=sys.stderr)
        return 2
    finally:
        gateway.close()
    print(
        f"{clerk.strip()}（{code}）的控制台令牌已停用，至多 30 秒后失效"
        f"（the console token of {clerk.strip()} at {code} is ended (at most 30 s more)）",
        file=sys.stderr,
    )
    return 0


def _retire_client_certificate(
    settings: Settings, code: str, revoked: Collection[str], registered: str | None
) -> tuple[str, Path | None, str]:
    """Move a revoked member's client certificate and key out of the way (``CODE.revoked-<UTC time>.pem`` and
    ``.key``), so that ``zzgw init`` after ``--restore`` issues a new pair: a revocation is often for a key that
    leaked, and restoring re-registered the very certificate revoked. A certificate the member CA issued to ``code``
    that is not one ``revoked`` (the SHA-256 of those ``--revoke`` took, the one registered until now among them)
    stays: after a restore, the pair here may be a later one, issued when the member was restored since the
    database's copy, and that one had been moved aside too and the department left with none (a reviewer). Any other
    file is moved, one that cannot be read too: another member's certificate left in place had been registered as
    ``code``'s by the ``--restore`` and ``zzgw init`` that ``--revoke`` recommended (a reviewer). Returns the new
    name's stem, or "" when none was moved (other replicas keep their copies: retire them there too, or copy pki/
    again); the certificate left in place, if any; and what the one moved was when it was not ``code``'s, else "".
    ``registered``, the SHA-256 of the certificate the store had registered, is recorded beside them
    (``CODE.revoked-<time>.sha256``, ``member_certificates.record_taken``) when the file moved is not that
    certificate, or none was: init holds a restored database against the records of what --revoke took."""
    from gateway.authorities import certificate_digest, not_the_members
    from gateway.member_certificates import record_taken

    directory = settings.pki_dir / "members"
    current = directory / f"{code}.pem"
    foreign = ""
    try:
        taken = not current.exists() or certificate_digest(current) in revoked
        if not taken:
            foreign = not_the_members(current, code, settings.pki_dir / "ca.pem")
    except (OSError, ValueError):  # a damaged file is nobody's certificate to keep
        taken, foreign = True, "no certificate that can be read"
    stem = f"{code}.revoked-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}"
    moved = ""
    for suffix in (".pem", ".key"):
        if (taken or foreign) and (directory / f"{code}{suffix}").exists():
            (directory / f"{code}{suffix}").rename(directory / f"{stem}{suffix}")
            moved = str(directory / stem)
    if registered is not None and record_taken(directory / stem, registered) and not moved:
        moved = str(directory / stem)
    return moved, None if taken or foreign else current, foreign


def _print_trust_anchors(settings: Settings) -> None:
    """After `zzgw init`: the trust anchors to hand over, each with its fingerprint, for the operator to read out to
    a partner over another channel than the one the files go by (docs/departments.md)."""
    from gateway.certificate_ends import trust_anchors

    _out(
        "trust anchors to hand to departments and partner provinces, with the SHA-256 to confirm to them over another "
        "channel (`zzgw certificates` lists them again; docs/departments.md):"
    )
    for anchor in trust_anchors(settings):
        _out(f"  {anchor.name}  {anchor.path}  SHA-256 {anchor.fingerprint}")


def _certificates(settings: Settings, args: argparse.Namespace) -> int:
    """``zzgw certificates``: the trust anchors (``gateway.certificate_ends.trust_anchors``), one a line: name, file,
    SHA-256 fingerprint, end (Beijing time), what it is for; then the gateway's own certificates (``server``,
    ``receipt``, ``tsa``: ``gateway.server.own_certificates``), marked not to hand over. Reads the data directory
    only."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    from gateway.certificate_ends import UnreadableAnchor, trust_anchors
    from gateway.domain.model import beijing_day
    from gateway.server import own_certificates

    try:
        anchors = trust_anchors(settings)
    except UnreadableAnchor as exc:  # named, not a traceback (a reviewer, R4)
        print(f"zzgw certificates: {exc}", file=sys.stderr)
        return 2
    if not anchors:
        print(
            f"zzgw certificates: 数据目录 {settings.data_dir} 中没有证书，请先运行 zzgw init（no certificates in the "
            f"data directory {settings.data_dir}: run `zzgw init` first）",
            file=sys.stderr,
        )
        return 2
    lines = []
    for anchor in anchors:
        day = beijing_day(anchor.not_after)
        ends = f"有效期至 {day}（北京时间；ends {day} Beijing time）"
        lines.append(f"{anchor.name}\t{anchor.path}\tSHA-256 {anchor.fingerprint}\t{ends}\t{anchor.what}")
    # then the gateway's own (server, receipt, time-stamping), whose ends only `openssl` had told (a renewal tester)
    now = dt.datetime.now(dt.UTC)
    for own in own_certificates(settings):
        if own.name == "member-ca":  # listed above, as a root handed over
            continue
        day = beijing_day(own.not_after)
        ends = (
            f"已于 {day} 到期（北京时间；ended on {day} Beijing time）"
            if own.not_after <= now
            else f"有效期至 {day}（北京时间；ends {day} Beijing time）"
        )
        fingerprint = x509.load_pem_x509_certificate(own.path.read_bytes()).fingerprint(hashes.SHA256())
        lines.append(
            f"{own.name}\t{own.path}\tSHA-256 {fingerprint.hex(':').upper()}\t{ends}\t网关自身证书，不交付；zzgw init "
            "在到期前 90 天内换发，之后重启网关（the gateway's own certificate, not to hand over: `zzgw init` renews "
            "it within 90 days of its end; restart the gateway then）"
        )
    _print_lines(lines)
    return 0


def _renew_or_retire(settings: Settings, gateway: Gateway, code: str, request: bytes | None, *, renew: bool) -> int:
    """``zzgw members --renew CODE [--csr FILE]`` or ``--retire CODE`` (``gateway.member_certificates``), said for the
    operator: what was made, what to hand over, what to do next."""
    from gateway.domain.errors import ZzgwError
    from gateway.domain.model import beijing_day
    from gateway.member_certificates import RenewalRefused, renew_certificate, retire_certificate

    try:
        if not renew:
            moved = retire_certificate(settings, gateway.members, code)
            print(
                f"{code}: its previous client certificate is retired: refused within 30 s (UNAUTHENTICATED / "
                "UNKNOWN_CREDENTIAL, told to use the new one), and never trusted again"
                + (
                    f"; kept aside as {moved}.*"
                    if moved is not None and moved.with_name(f"{moved.name}.pem").exists()
                    else f"; it was not in this data directory: its SHA-256 is recorded as {moved}.sha256"
                    if moved is not None
                    else ""
                )
                + f"; on replicas with their own copy of pki/, copy pki/members/{code}.pem to them (the renewal's, "
                f"if not copied yet) and delete pki/members/{code}.previous.* there: a replica whose {code}.pem is "
                "still the retired certificate is refused by its next `zzgw init`",
                file=sys.stderr,
            )
            return 0
        renewed = renew_certificate(settings, gateway.members, code, request=request, now=gateway.clock.now())
    except (ZzgwError, RenewalRefused) as exc:
        print(f"zzgw members: {exc.message if isinstance(exc, ZzgwError) else exc}", file=sys.stderr)
        return 2
    day = beijing_day(renewed.not_after)
    before = (
        f"{renewed.previous}, until {beijing_day(renewed.previous_not_after)}"
        if renewed.previous is not None and renewed.previous_not_after is not None
        else "not in this data directory"
    )
    hand = (
        f"hand {renewed.certificate} and its key {renewed.key} to the department as docs/departments.md says, then "
        f"delete {renewed.key} here (the gateway never needs it)"
        if renewed.key is not None
        else f"send {renewed.certificate} to the department (a certificate, no secret), for the key it made"
    )
    retired = (
        f"; the certificate before that one, which had ended on {beijing_day(renewed.retired_not_after)}, is retired "
        f"with this renewal (kept aside as {renewed.retired}.*)"
        if renewed.retired is not None and renewed.retired_not_after is not None
        else ""
    )
    replicas = (
        f"on replicas with their own copy of pki/, copy pki/members/{code}.pem and {code}.previous.pem to them (no "
        "key: the gateway needs none)"
    )
    if renewed.previous_not_after is not None and renewed.previous_not_after <= gateway.clock.now():
        # a late renewal: the department has had no certificate accepted since that end, and has one only now
        print(
            f"{code}: renewed: a new client certificate {renewed.certificate}, valid until {day} (Beijing time), is "
            f"registered; the previous one ({renewed.previous}) ended on {beijing_day(renewed.previous_not_after)} "
            f"(Beijing time) and is not accepted: the department cannot connect until it has the new pair, so hand "
            f"it over now: {hand}{retired}; `zzgw members --retire {code}`, or the next --renew, retires the ended "
            f"one; {replicas}",
            file=sys.stderr,
        )
        return 0
    print(
        f"{code}: renewed: a new client certificate {renewed.certificate}, valid until {day} (Beijing time), is "
        f"registered; the previous one ({before}) stays accepted until `zzgw members "
        f"--retire {code}` or its end, so the department changes over without a gap{retired}; {hand}; once it "
        f"connects with the new one, `zzgw members --retire {code}`; {replicas}",
        file=sys.stderr,
    )
    return 0


def _members(settings: Settings, args: argparse.Namespace) -> int:
    """The registered members, one a line: code, roles, region, credential ("revoked" for a revoked member), name,
    the matters it may name, when its client certificate ends; or revoke or restore one. The codes (roles,
    credentials) stay as the docs spell them, for scripts; the words an operator reads are Chinese first (全部事项,
    证书有效期至 …（北京时间；…）), as the other commands say theirs."""
    from gateway.api.roles import ALLOWED_ROLES
    from gateway.domain.errors import NotFoundError
    from gateway.domain.model import CHINA_TZ, beijing_day
    from gateway.domain.verification import matters_of
    from gateway.member_certificates import (
        certificate_ends,
        one_at_a_time,
        previous_certificate_ends,
        put_previous_aside,
    )
    from gateway.server import dev_tokens_of, forget_dev_token
    from gateway.services.members import token_digest

    if args.csr is not None and not args.renew:
        print("zzgw members: --csr goes with --renew CODE", file=sys.stderr)
        return 2
    request = None
    if args.csr is not None:
        try:
            request = args.csr.read_bytes()
        except OSError as exc:
            print(f"zzgw members: cannot read {args.csr}: {exc.strerror}", file=sys.stderr)
            return 2
    gateway = _open_store(settings)
    try:
        if args.renew or args.retire:
            return _renew_or_retire(settings, gateway, (args.renew or args.retire).strip().upper(), request,
                                    renew=bool(args.renew))  # fmt: skip
        if args.revoke or args.restore:
            code = (args.revoke or args.restore).strip().upper()
            try:
                if args.restore:
                    gateway.members.restore(code)
                    print(f"{code} is no longer revoked: `zzgw init` registers its credentials again", file=sys.stderr)
                    return 0
                # held, as a renewal or retirement holds it, from what it reads to its last move: one run between a
                # renewal's store commit and its renames had moved the old pair aside, the renewal then putting the
                # revoked new one in place (a reviewer, R1)
                with one_at_a_time(settings.pki_dir):
                    with gateway.db.unit_of_work() as uow:  # what it takes, recorded in pki/members/ too
                        registered = uow.members.certificate_digests().get(code)
                        previous = uow.members.previous_certificate_digests().get(code)
                    taken = gateway.members.revoke(code)
                    retired, kept, foreign = _retire_client_certificate(
                        settings, code, gateway.members.revoked_certificates(), registered
                    )
                    put_previous_aside(settings, code, previous)  # taken too, when a renewal kept one
            except NotFoundError as exc:
                print(f"zzgw members: {exc.message}", file=sys.stderr)
                return 2
            aside = (
                f"; {settings.pki_dir / 'members' / code}.pem was {foreign}, not one of {code}'s: it and its key are "
                f"moved aside as {retired}.*, and `zzgw init` after `--restore` issues {code} a new pair"
                if foreign
                else f"; its client certificate and key are kept aside as {retired}.*, never trusted again"
                if Path(f"{retired}.pem").exists()
                else f"; its client certificate was not here: its SHA-256 is recorded as {retired}.sha256, never "
                "trusted again"
            )
            other = (
                f"; {kept} is another client certificate of {code} than the one revoked, left in place: if it was "
                "issued when the member was restored since the database's copy (docs/operations.md, Restoring), "
                f"`zzgw members --restore {code}`, then `zzgw init`, register it; else move it and its key aside "
                "first, and that init issues a new pair"
            )
            print(
                f"{code}: revoked, {counted(taken, 'credential')} taken; its calls are refused within 30 s "
                "(UNAUTHENTICATED), and `zzgw init` gives it none until `zzgw members --restore`"
                + (aside if retired else "")
                + (other if kept else ""),
                file=sys.stderr,
            )
            # last, the revocation's own steps done and said: a damaged dev-tokens.json had stopped the command with a
            # traceback between the store's revocation and moving the pair aside (a reviewer, R3)
            try:
                forget_dev_token(settings, code)
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                print(
                    f"warning: {settings.dev_tokens_path} cannot be read ({type(exc).__name__}): put it right (from a "
                    f"copy) and remove {code}'s entry by hand; its token no longer works, and after `zzgw members "
                    f"--restore {code}` the next `zzgw init` gives {code} a new one, its entry removed or not",
                    file=sys.stderr,
                )
            return 0
        revoked = gateway.members.revoked()
        with gateway.db.unit_of_work() as uow:
            credentials = {code: (token, cert) for code, token, cert in uow.members.credentials()}
        ends = certificate_ends(settings, gateway.db)
        previous_ends = previous_certificate_ends(settings, gateway.db)
        now = gateway.clock.now()
        dev = settings.mode == "dev"  # a production gateway takes no bearer token, even one stored in dev mode
        dev_tokens: dict[str, str] = {}
        try:
            if not dev:  # in production only: dev mode lists any token as "token"
                dev_tokens = {code: token_digest(token) for code, token in dev_tokens_of(settings).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            print(
                f"warning: {settings.dev_tokens_path} cannot be read ({type(exc).__name__}): a dev token left over is "
                "listed as console-token",
                file=sys.stderr,
            )
        lines = []
        for member in gateway.members.list():
            roles = ",".join(sorted(role.value for role in member.roles))
            token, cert = credentials.get(member.code, (None, False))
            # the members' token column holds a dev bearer token or, in production, a console token: told apart by
            # dev-tokens.json (a console token had been listed as a dev token left over; a newcomer tester)
            left_from_dev = token is not None and token == dev_tokens.get(member.code)
            kinds = (
                ("token", token is not None and dev),
                ("certificate", cert),
                ("unused-dev-token", not dev and left_from_dev),
                ("console-token", token is not None and not dev and not left_from_dev),
            )
            held = "+".join(name for name, has in kinds if has) or "none"
            # a member that may not verify (a holder portal) uses no matter, though the catalog names it (catalogrev R1)
            verifiers = ALLOWED_ROLES["/zzgw.v1.VerificationService/VerifyLicense"]
            matters = matters_of(member, gateway.catalog) if member.roles & verifiers else []
            named = (
                "全部事项（any matter）"
                if len(matters) == len(gateway.catalog.matters) and len(matters) > 1
                else " ".join(m.code for m in matters) or "无办理事项（no matter）"
            )
            credential = "revoked" if member.code in revoked else held
            end = ends.get(member.code)
            if member.code not in ends:
                ending = "-"  # no certificate registered
            elif end is None:
                path = settings.pki_dir / "members" / f"{member.code}.pem"
                ending = (
                    f"证书有效期不明：登记的证书不是 {path}（certificate ends ? (its registered certificate is not "
                    f"{path})）"
                )
            elif end <= now:  # its calls fail in the handshake: listed as the valid ones had been (a renewal tester)
                at = end.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M")
                ending = (
                    f"证书已于 {at}（北京时间）到期，不再可用，请 --renew（certificate ended on {at} Beijing time: its "
                    f"calls fail in the TLS handshake; `zzgw members --renew {member.code}`）"
                )
            else:
                last_day = end - now <= dt.timedelta(days=1)  # the time too: is it ended yet?
                day = f"{end.astimezone(CHINA_TZ):%Y-%m-%d %H:%M}" if last_day else beijing_day(end)
                ending = f"证书有效期至 {day}（北京时间；certificate ends {day} Beijing time）"
            previous_end = previous_ends.get(member.code)
            if previous_end is not None and previous_end < now:  # renewed, the certificate before ended since: refused
                until = beijing_day(previous_end)
                ending += (
                    f"；换发前的旧证书已于 {until} 到期，不再可用，可 --retire（the previous certificate ended on "
                    f"{until}: no longer accepted; `zzgw members --retire {member.code}`, or the next --renew, retires "
                    "it）"
                )
            elif member.code in previous_ends:  # renewed, the certificate before still accepted
                until = "?" if previous_end is None else beijing_day(previous_end)
                ending += (
                    f"；换发前的旧证书仍可用，至 {until} 或 --retire（the previous certificate is accepted too until "
                    f"{until}, or `zzgw members --retire {member.code}`）"
                )
            lines.append(f"{member.code}\t{roles}\t{member.region}\t{credential}\t{member.name}\t{named}\t{ending}")
    finally:
        gateway.close()
    _print_lines(lines)
    return 0


def _claims(settings: Settings, args: argparse.Namespace) -> int:
    """The wrong claims counted now, one department and license a line (member code, its name, the license as
    type.issuer.serial, how many, the last one's time in Beijing time, ``refused`` once at the limit); or forgive
    one's."""
    import datetime as dt

    from gateway.domain.model import china_iso
    from gateway.domain.verification import claims_key
    from gateway.services.verification import MAX_WRONG_CLAIMS, WRONG_CLAIMS_HOURS

    gateway = _open_store(settings)
    try:
        members = {member.code: member for member in gateway.members.list()}
        if args.forgive:
            code, license = args.forgive[0].strip().upper(), args.forgive[1].strip()
            if code not in members:
                print(f"zzgw claims: no member {code}", file=sys.stderr)
                return 2
            key = license if license.count(".") == 2 else claims_key(license)
            if key == license and license.count(".") != 2:
                print(
                    f"zzgw claims: {license[:200]} is not a license identifier (nor a type.issuer.serial that "
                    "`zzgw claims` lists)",
                    file=sys.stderr,
                )
                return 2
            with gateway.db.unit_of_work(write=True) as uow:
                forgotten = uow.wrong_claims.forget(code, key)
                uow.commit()
            print(
                f"{code}: {counted(forgotten, 'wrong claim')} about {key} forgotten"
                + (": its claims about it are answered again" if forgotten else " (none were counted)"),
                file=sys.stderr,
            )
            return 0 if forgotten else 3  # a script reads 0 as "unblocked", 1 as a crash (found in review)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=WRONG_CLAIMS_HOURS)
        with gateway.db.unit_of_work() as uow:
            tally = uow.wrong_claims.tally(since)
        lines = []
        for code, key, made, last in tally:
            state = "refused" if made >= MAX_WRONG_CLAIMS else "counting"
            name = members[code].name if code in members else ""
            lines.append(f"{code}\t{name}\t{key}\t{made}\t{china_iso(last)}\t{state}")
    finally:
        gateway.close()
    _print_lines(lines)
    return 0


def _print_lines(lines: list[str]) -> None:
    """Print ``lines`` through ``_out``, the one writer of standard output (its failure is ``main``'s to say)."""
    if lines:
        _out("\n".join(lines))


UNWRITTEN = 74
"""The exit status of a command whose standard output could not take what it wrote (sysexits' EX_IOERR): a full disk
under ``> file``, a terminal gone. Neither 0 (a listing written to a full disk had ended 0 with an empty file, and
``zzgw certificates > anchors.txt && send anchors.txt`` sent nothing), nor 1 or 5 (``verify``'s FAILED and its
defect, ``receipt check``'s invalid), nor a traceback (a reviewer, clirev R2). A reader that stops early (``| head``)
is no failure: the command's status stands (a checker's verdict), unless what it stopped had to be read
(``_Stdout.even_if_reader_stopped``)."""


class _Stdout:
    """What became of the command's standard output, written by ``_out`` only: the first error writing it (None
    while all was written), what the command did that its output was to say and how to get it again (``done``), and
    whether a reader gone loses it (``even_if_reader_stopped``: a console token's). ``main`` says it after the
    command (``_written``)."""

    error: BaseException | None = None
    done = ""
    even_if_reader_stopped = False

    @classmethod
    def reset(cls) -> None:
        cls.error, cls.done, cls.even_if_reader_stopped = None, "", False


def _out(*parts: object, end: str = "\n") -> bool:
    """Write ``parts`` as ``print`` does to standard output, and flush: whether it was written. Every command writes
    its standard output through it (``_print_lines`` too), so that one that cannot be written is said alike by each
    (``_written``): the first failure is kept, what comes after is not tried, and standard output is pointed at
    /dev/null, which Python's flush at exit then writes to without a word."""
    if _Stdout.error is not None:
        return False
    if sys.stdout is None:  # started with standard output closed
        _Stdout.error = OSError(errno.EBADF, "no standard output")
        return False
    try:
        sys.stdout.write(" ".join(str(part) for part in parts) + end)
        sys.stdout.flush()
    except (OSError, UnicodeEncodeError) as exc:  # a full disk, a reader gone; a terminal that cannot show Chinese
        _Stdout.error = exc
        if isinstance(exc, OSError):
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return False
    return True


def _written(command: str, status: int) -> int:
    """``status``, the command's, or ``UNWRITTEN`` once its standard output could not be written, said in one line on
    standard error with what the command did and how to get its output again (``_Stdout.done``)."""
    error = _Stdout.error
    if error is None or (isinstance(error, BrokenPipeError) and not _Stdout.even_if_reader_stopped):
        return status
    why = (error.strerror if isinstance(error, OSError) else None) or str(error)
    done = f"；{_Stdout.done}" if _Stdout.done else ""
    with contextlib.suppress(Exception):
        print(f"zzgw {command}: 标准输出无法写入：{why}（standard output could not be written: {why}）{done}",
              file=sys.stderr)  # fmt: skip
    return status if command in _STATUS_IS_RESULT else UNWRITTEN


_STATUS_IS_RESULT = frozenset({"receipt check"})
"""Commands whose exit status is their result, kept when their output cannot be written: a script that closes
`receipt check`'s standard output, or sends it to a full disk, reads the verdict from the status alone (docs/
receipts.md)."""


def _refusal(target: str, error: grpc.RpcError, mode: str = "dev") -> str:
    """What the gateway answered, for an operator, Chinese first: that it refused or could not do it now, the status
    and the stable reason (ErrorInfo) when there is one, then its message (``证照网关 H:P 拒绝了本次请求（the gateway
    at H:P answered PERMISSION_DENIED (NOT_MATTER_DEPARTMENT)）：…``). ``mode`` is the client's (ZZGW_MODE): a
    connection that failed is read by it (``_unconnected``)."""
    from google.rpc import error_details_pb2
    from grpc_status import rpc_status

    from adapters.terminal import shown

    status = rpc_status.from_call(error)
    if status is None and error.code().name == "UNAVAILABLE":  # no gRPC answer: why no connection was made
        return _unconnected(target, error.details() or "", mode)
    reasons = []
    for detail in status.details if status is not None else ():
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reasons.append(info.reason)
    why = f" ({shown(reasons[0])})" if reasons else ""
    code = error.code()
    if code.name in _FOR_NOW:
        said = f"证照网关 {target} 暂时无法办理本次请求"
    elif code.name in _FAILED:
        said = f"证照网关 {target} 未能办理本次请求"
    else:
        said = f"证照网关 {target} 拒绝了本次请求"
    return f"{said}（the gateway at {target} answered {code.name}{why}）：{shown(error.details() or '')}"


def _unconnected(target: str, details: str, mode: str) -> str:
    """Why a call made no connection, by the client's ``mode``. A production client (TLS) meets a plaintext gateway
    only as ``WRONG_VERSION_NUMBER`` (and then an HTTP/2 answer to plaintext bytes says it is one); its connections
    closed in the handshake are its certificate refused, a server certificate it does not trust is
    ``CERTIFICATE_VERIFY_FAILED`` (docs/departments.md, Connecting). A dev client (plaintext) closed at connect asks
    the address for a TLS handshake: only a TLS answer is a gateway in production mode. A stream that was answering
    and broke (a worker gone, a gateway restarting), a balancer with no backend, a port that is down: no gateway
    answers."""
    from adapters.terminal import shown

    details = shown(details)
    mid_stream = "Stream removed" in details  # a connection that was made, then lost: never a mismatch
    if mode == "production" and not mid_stream:
        if "WRONG_VERSION_NUMBER" in details:  # not TLS that answered: a plaintext gateway, or no gateway at all
            if not _answers_plaintext_http2(target):
                return f"无法连接证照网关 {target}（no gateway answers at {target}: {details}）"
            return (
                f"证照网关 {target} 以明文应答（ZZGW_MODE=dev 的网关），本端用 TLS（production），请核对 ZZGW_MODE"
                f"（the gateway at {target} answers plaintext, as in dev mode, and this client uses TLS (production): "
                f"check ZZGW_MODE）：{details}"
            )
        if "CERTIFICATE_VERIFY_FAILED" in details or "not in peer certificate" in details:
            return (
                f"证照网关 {target} 的服务器证书未获本端信任：本端 pki/ca.pem 不是该网关的 CA，或证书不含所连的主机名，"
                f"见 docs/departments.md「Connecting」（the server certificate at {target} is not trusted: this "
                f"client's pki/ca.pem is not that gateway's CA, or the certificate lacks the host name connected to; "
                f"see docs/departments.md, Connecting）：{details}"
            )
        if any(sign in details for sign in ("Socket closed", "handshake", "TSI_")):
            return (
                f"证照网关 {target} 在 TLS 握手中拒绝了本端：多半是客户端证书过期或尚未生效、不是成员 CA 签发的，"
                f"见 docs/departments.md「Connecting」（the gateway at {target} turned this client away in the TLS "
                f"handshake: usually its client certificate is expired or not yet valid, or not of the member CA; see "
                f"docs/departments.md, Connecting）：{details}"
            )
    closed_at_connect = not mid_stream and any(sign in details for sign in _CLOSED_AT_CONNECT)
    if mode != "production" and closed_at_connect and _answers_tls(target):
        return (
            f"证照网关 {target} 以 TLS 应答（ZZGW_MODE=production 的网关），本端用明文（dev），请核对 ZZGW_MODE"
            f"（the gateway at {target} answers TLS, as in production mode, and this client is plaintext (dev): "
            f"check ZZGW_MODE）：{details}"
        )
    return f"无法连接证照网关 {target}（no gateway answers at {target}: {details}）"


_CLOSED_AT_CONNECT = ("Socket closed", "Connection reset", "handshake")
"""What grpc says of a plaintext connection closed before it was one: a TLS server's answer to plaintext, but also a
balancer with no backend, a gateway starting or stopping (``_answers_tls`` tells them apart)."""
PROBE_SECONDS = 2.0
"""How long the check of what answers at an address (``_answers_tls``, ``_answers_plaintext_http2``) waits."""


def _address(target: str) -> tuple[str, int] | None:
    host, _, port = target.rpartition(":")
    return (host.strip("[]"), int(port)) if host and port.isdigit() else None


def _answers_tls(target: str) -> bool:
    """Whether a TLS server answers at ``target`` (host:port) now: a TLS handshake (no certificate checked) is
    completed, or refused with a TLS alert (a gateway wanting a client certificate). A connection closed, reset or
    answered otherwise (a balancer with no backend, a plaintext gateway) is no TLS server."""
    import socket
    import ssl

    address = _address(target)
    if address is None:
        return False
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    try:
        with (
            socket.create_connection(address, timeout=PROBE_SECONDS) as raw,
            context.wrap_socket(raw, server_hostname=address[0]),
        ):
            return True  # the handshake was completed
    except ssl.SSLError as exc:
        return "ALERT" in str(exc).upper()  # the server spoke TLS, and refused (TLSV13_ALERT_CERTIFICATE_REQUIRED…)
    except (OSError, ValueError):
        return False


_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])  # and an empty SETTINGS


def _answers_plaintext_http2(target: str) -> bool:
    """Whether a plaintext HTTP/2 server (a dev gateway's gRPC port) answers at ``target`` now: it answers the
    connection preface with a SETTINGS frame. An HTTP/1 server (a gateway's HTTP port) or nothing is not one."""
    import socket

    address = _address(target)
    if address is None:
        return False
    try:
        with socket.create_connection(address, timeout=PROBE_SECONDS) as connection:
            connection.sendall(_HTTP2_PREFACE)
            head = b""
            while len(head) < 9 and (chunk := connection.recv(9 - len(head))):
                head += chunk
    except (OSError, ValueError):
        return False
    return len(head) == 9 and head[3] == 4  # a frame header whose type is SETTINGS


_FOR_NOW = frozenset({"UNAVAILABLE", "RESOURCE_EXHAUSTED", "DEADLINE_EXCEEDED", "ABORTED", "CANCELLED"})
"""The status codes of an answer that may be different later (retry): by name, as grpc's StatusCode is not imported
before a command needs it."""
_FAILED = frozenset({"INTERNAL", "UNKNOWN", "DATA_LOSS", "UNIMPLEMENTED"})
"""The status codes of a gateway that failed at the request rather than refused it."""


_COMMANDS = {
    "init": _init,
    "serve": _serve,
    "catalog": _catalog,
    "demo": _demo,
    "import": _import,
    "import-ca": _import_ca,
    "audit": _audit,
    "memos": _memos,
    "members": _members,
    "certificates": _certificates,
    "claims": _claims,
    "verify": _verify,
    "receipt": _receipt,
    "console-token": _console_token,
}

if __name__ == "__main__":
    sys.exit(main())
