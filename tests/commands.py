"""``zzgw`` commands run as the operator runs them, each in a process of its own, without paying for the imports each
time: a Python process that has imported the command line once (the "zygote") forks a child per command, which takes
the command's environment, working directory, standard input and output, runs ``gateway.cli.main`` and exits with
its status. Starting Python and importing the gateway costs ~1.3 s a command, and the CLI's tests run hundreds.

The child is a process of its own as much as ``python -m gateway.cli`` is: its own file descriptors (standard
output and error are files the test reads, so what C libraries print is there too), its environment, its exit
status, and, since the zygote runs no thread and opens nothing, no state but the modules imported and what they keep
for the process. What differs:

- what the interpreter and the modules read of the environment as they start comes from the zygote's: a command
  given another value of a ``PYTHON*``, ``LANG``/``LC_*``, ``TZ`` or ``PROMETHEUS*`` variable is run as ``python -m
  gateway.cli`` instead (a regression test of a setting read at import, as ``PROMETHEUS_MULTIPROC_DIR`` is, could not
  fail otherwise);
- every command has the zygote's hash seed;
- the CJK font's glyphs are read and the demo issuers' first seals drawn (~1 s of every ``zzgw init`` of a new data
  directory) once, in the zygote: each command finds them in the caches the code keeps per process
  (``gateway.server._read_font_glyphs``, ``signing.seal_image._drawn``), keyed by the font files and the seal's
  text, so a command given other fonts or members reads and draws its own;
- commands of one test process run one at a time (a test that needs two at once starts them with ``Popen``).

A command a test must interrupt, or that must serve, still runs as ``python -m gateway.cli`` (``zzgw_command``,
``Popen``). A child dies with the zygote (``PR_SET_PDEATHSIG``), which dies with its test process and when a test is
cut short mid-command (its standard input ends, or it sees its parent gone while a command runs).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def closed_to_other_users(path: Path = ROOT) -> str:
    """Why a test running this checkout's code as another user (nobody) cannot: the first directory on the way to
    ``path`` that other users may not enter (mode 0700, as `mktemp -d` makes one), "" when they reach it. Such a run
    had failed ModuleNotFoundError: gateway, a clone's place taken for the gateway's fault."""
    for directory in (*reversed(path.parents), path):
        if not directory.stat().st_mode & stat.S_IXOTH:
            return (
                f"runs the checkout's code as another user, who may not enter {directory} (mode "
                f"{stat.S_IMODE(directory.stat().st_mode):o}): clone it where other users may"
            )
    return ""


_ZYGOTE = r"""
import atexit, ctypes, json, os, signal, sys, tempfile, time, traceback

import gateway.cli
import gateway.server, gateway.store.database, gateway.supervisor, adapters.console, alembic.command  # noqa: F401
from gateway.domain.model import Role
from gateway.services.members import load_members
from gateway.services.seals import DEFAULT_SEAL_NAME
from signing.seal_image import draw_seal

def warm_caches():
    # the fonts read and the demo issuers' first seals drawn once, for every command (the module's docstring)
    try:
        gateway.server.check_fonts()
        for member in load_members():  # the demo members
            if member.has(Role.ISSUER):
                draw_seal(member.name, DEFAULT_SEAL_NAME)
    except Exception:  # no usable font here: each command says so itself
        pass

warm_caches()

PR_SET_PDEATHSIG = 1
PARENT = int(sys.argv[1])  # the test process: the runner ends with it however it ends (killed, a worker's crash),
# and its command with it. Watched, not PR_SET_PDEATHSIG, which fires when the *thread* that started the runner ends.

def child(request, stdin, out, err, zygote):
    # killed with the zygote, which is killed when the test waiting for this command is cut short
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != zygote:  # the zygote died before the line above
        os._exit(137)
    os.dup2(stdin.fileno(), 0)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # not the zygote's, which may hold requests read ahead
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    status = 1
    try:
        if request.get("script") is not None:  # ``python -c SCRIPT ARGS`` (``run_python``)
            sys.argv = ["-c", *request["args"]]
            exec(compile(request["script"], "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
            status = 0
        else:
            sys.argv = ["zzgw", *request["args"]]
            status = gateway.cli.main(request["args"])
    except SystemExit as exc:
        code = exc.code
        status = 0 if code is None else code if isinstance(code, int) else (print(code, file=sys.stderr) or 1)
    except BaseException:
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # what the interpreter runs at exit (logging's flush among them)
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
    os._exit(status & 0xFF)

for line in sys.stdin:
    request = json.loads(line)
    with tempfile.TemporaryFile() as stdin, tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        stdin.write(request["input"].encode("utf-8"))
        stdin.seek(0)
        sys.stdout.flush()
        zygote = os.getpid()
        pid = os.fork()
        if pid == 0:
            child(request, stdin, out, err, zygote)
        deadline = time.monotonic() + request["timeout"]
        timed_out = False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline or os.getppid() != PARENT:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                timed_out, status = True, 0
                break
            time.sleep(0.005)
        out.seek(0)
        err.seek(0)
        reply = {  # the bytes as they are (latin-1 maps each to one character): decoded by the test, strictly
            "status": os.waitstatus_to_exitcode(status),
            "timed_out": timed_out,
            "stdout": out.read().decode("latin-1"),
            "stderr": err.read().decode("latin-1"),
        }
    print(json.dumps(reply), flush=True)
"""

_READ_AT_START = ("PYTHON", "LANG", "LC_", "TZ", "PROMETHEUS")
"""Prefixes of the environment variables read as the interpreter or a module starts (``gateway.metrics``)."""

_ENVIRONMENT = {name: value for name, value in os.environ.items() if not name.upper().startswith("PROMETHEUS")}
"""The zygote's own environment, the test process's as it started (not as a test may have changed it meanwhile);
each command gets the environment it is given."""


def _read_at_start(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name.upper().startswith(_READ_AT_START)}


class _Zygote:
    """One per test process (each xdist worker), started at its first command, ended with the process (its standard
    input closes). It imports nothing that starts a thread or opens a connection, so that forking it is safe."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE, str(os.getpid())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=_ENVIRONMENT,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def run(
        self, args: list[str], env: dict[str, str], cwd: Path, timeout: float, input: str, script: str | None = None
    ) -> dict[str, object]:
        request = {"args": args, "env": env, "cwd": str(cwd), "timeout": timeout, "input": input, "script": script}
        with self._lock:
            assert self._process.stdin is not None and self._process.stdout is not None
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
            except BaseException:  # a test's timeout, say: its reply must not become the next command's
                self._process.kill()  # and the command with it (PR_SET_PDEATHSIG)
                self._process.wait()
                raise
        if not line:
            raise RuntimeError(f"the command runner stopped (exit status {self._process.poll()})")
        reply: dict[str, object] = json.loads(line)
        return reply


_zygote: _Zygote | None = None
_starting = threading.Lock()


def run_zzgw(
    *args: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    timeout: float | None = 120,
    input: str = "",
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``zzgw *args`` in a process of its own, as ``subprocess.run([python, -m, gateway.cli, *args], env=env,
    capture_output=True, text=True)`` runs it; TimeoutExpired past ``timeout``, CalledProcessError with ``check``."""
    return _run(["zzgw", *args], None, list(args), env, cwd, timeout, input, check)


def run_python(
    script: str,
    *args: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    timeout: float | None = 120,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``python -c script *args`` in a process of its own, forked from the same runner as ``run_zzgw``'s commands
    (its modules imported, its caches warm), as ``subprocess.run([python, -c, script, *args], env=env,
    capture_output=True, text=True)`` runs it: its exit status (negative: the signal that ended it, a SIGKILL it sent
    itself included), its output and error. For a script that drives the gateway's own code (a command stopped
    midway by a hook the script sets); one whose subject is a fresh interpreter's start (what it imports) runs as
    ``python -c`` itself."""
    return _run([sys.executable, "-c", script, *args], script, list(args), env, cwd, timeout, "", check)


def _run(
    command: list[str],
    script: str | None,
    args: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout: float | None,
    input: str,
    check: bool,
) -> subprocess.CompletedProcess[str]:
    global _zygote
    if _read_at_start(env) != _read_at_start(_ENVIRONMENT):
        done = subprocess.run(
            [sys.executable, "-m", "gateway.cli", *args] if script is None else command,
            env=env,
            cwd=cwd,
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )
        return done
    with _starting:
        if _zygote is None or not _zygote.alive:
            _zygote = _Zygote()
        zygote = _zygote
    reply = zygote.run(args, env, cwd, 1e9 if timeout is None else timeout, input, script)
    # as text=True decodes: strictly, in UTF-8, with universal newlines
    stdout, stderr = (_text(str(reply[stream])) for stream in ("stdout", "stderr"))
    if reply["timed_out"]:
        raise subprocess.TimeoutExpired(command, timeout or 0, output=stdout, stderr=stderr)
    status = int(reply["status"])  # type: ignore[call-overload]
    if check and status:
        raise subprocess.CalledProcessError(status, command, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(command, status, stdout, stderr)


def _text(kept: str) -> str:
    return kept.encode("latin-1").decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


DEMO_FILES = {
    "ZZGW_MEMBERS": str(ROOT / "gateway" / "bootstrap" / "members.json"),
    "ZZGW_CATALOG": str(ROOT / "gateway" / "bootstrap" / "catalog.json"),
}
"""The demo members and catalog named as files, as a production test gateway names them: production mode takes
neither by default (``gateway.server.refuse_demo_files``)."""


def command_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a test's ``zzgw`` commands: the test process's own, with ``data_dir``, a gRPC and an HTTP
    port of the test's (``free_port``), the SQLite store in the data directory, and ``settings`` over them."""
    from benchmarks.common import free_port

    return {
        **os.environ,
        "ZZGW_DATA_DIR": str(data_dir),
        "ZZGW_GRPC_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_HTTP_ADDR": f"127.0.0.1:{free_port()}",
        "ZZGW_DATABASE_URL": "",
        **settings,
    }


def zzgw(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``zzgw *args`` with the environment ``env`` (``run_zzgw``)."""
    return run_zzgw(*args, env=env, timeout=timeout)
