"""``zzgw`` commands run as the operator runs them, each in a process of its own, without paying for the imports each
time: a Python process that has imported the command line once (the "zygote") forks a child per command, which takes
the command's environment, working directory, standard input and output, runs ``gateway.cli.main`` and exits with
its status. Starting Python and importing the gateway costs ~1.3 s a command; the CLI's tests run some 300.

The child is a process of its own as much as ``python -m gateway.cli`` is: its own file descriptors (standard
output and error are files the test reads, so what C libraries print is there too), its environment, its exit
status, and, since the zygote runs no thread and opens nothing, no state but the modules imported. A command a test
must interrupt, or that must serve, still runs as ``python -m gateway.cli`` (``zzgw_command``, ``Popen``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_ZYGOTE = r"""
import atexit, json, os, signal, sys, tempfile, time, traceback

import gateway.cli
import gateway.server, gateway.store.database, gateway.supervisor, adapters.console, alembic.command  # noqa: F401

def child(request, stdin, out, err):
    os.dup2(stdin.fileno(), 0)
    os.dup2(out.fileno(), 1)
    os.dup2(err.fileno(), 2)
    sys.stdin = open(0, encoding="utf-8", closefd=False)  # not the zygote's, which may hold requests read ahead
    os.environ.clear()
    os.environ.update(request["env"])
    os.chdir(request["cwd"])
    sys.argv = ["zzgw", *request["args"]]
    status = 1
    try:
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
        pid = os.fork()
        if pid == 0:
            child(request, stdin, out, err)
        deadline = time.monotonic() + request["timeout"]
        timed_out = False
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                timed_out, status = True, 0
                break
            time.sleep(0.005)
        out.seek(0)
        err.seek(0)
        reply = {
            "status": os.waitstatus_to_exitcode(status),
            "timed_out": timed_out,
            "stdout": out.read().decode("utf-8", "replace"),
            "stderr": err.read().decode("utf-8", "replace"),
        }
    print(json.dumps(reply), flush=True)
"""


_ENVIRONMENT = {name: value for name, value in os.environ.items() if not name.lower().startswith("prometheus_multi")}
"""The zygote's own environment, the test process's as it started (not as a test may have changed it meanwhile);
each command gets the environment it is given."""


class _Zygote:
    """One per test process (each xdist worker), started at its first command, ended with the process (its standard
    input closes). It imports nothing that starts a thread or opens a connection, so that forking it is safe."""

    def __init__(self) -> None:
        environment = _ENVIRONMENT
        self._process = subprocess.Popen(
            [sys.executable, "-c", _ZYGOTE],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
            env=environment,
            text=True,
            encoding="utf-8",
        )
        self._lock = threading.Lock()

    def run(self, args: list[str], env: dict[str, str], cwd: Path, timeout: float, input: str) -> dict[str, object]:
        request = {"args": args, "env": env, "cwd": str(cwd), "timeout": timeout, "input": input}
        with self._lock:
            assert self._process.stdin is not None and self._process.stdout is not None
            try:
                self._process.stdin.write(json.dumps(request) + "\n")
                self._process.stdin.flush()
                line = self._process.stdout.readline()
            except BaseException:  # a test's timeout, say: its reply must not become the next command's
                self._process.kill()
                self._process.wait()
                raise
        if not line:
            raise RuntimeError(f"the command runner stopped (exit status {self._process.poll()})")
        reply: dict[str, object] = json.loads(line)
        return reply


_zygote: _Zygote | None = None


def run_zzgw(
    *args: str,
    env: dict[str, str],
    cwd: Path = ROOT,
    timeout: float = 120,
    input: str = "",
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``zzgw *args`` in a process of its own, as ``subprocess.run([python, -m, gateway.cli, *args], env=env,
    capture_output=True, text=True)`` runs it; TimeoutExpired past ``timeout``, CalledProcessError with ``check``."""
    global _zygote
    if _zygote is None or _zygote._process.poll() is not None:
        _zygote = _Zygote()
    reply = _zygote.run(list(args), env, cwd, timeout, input)
    command = ["zzgw", *args]
    stdout, stderr = str(reply["stdout"]), str(reply["stderr"])
    if reply["timed_out"]:
        raise subprocess.TimeoutExpired(command, timeout, output=stdout, stderr=stderr)
    status = int(reply["status"])  # type: ignore[call-overload]
    if check and status:
        raise subprocess.CalledProcessError(status, command, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(command, status, stdout, stderr)
