"""The ``zzgw`` console script's entry: ``zzgw import`` takes SIGTERM over before the command line is imported.

``gateway.cli`` imports SQLAlchemy and the gateway's settings as it loads (0.25 s on an idle machine, 0.8 s and more
on a loaded one), and ``main`` took SIGTERM over only after that and after parsing its arguments: a SIGTERM in that
time (a service manager stopping an import at once, ``timeout``) ended ``zzgw import`` by the default disposition,
status -15 (143 in a shell) and not a word of what was sent (left alone in session 53). This module is light on
purpose (the standard library only; ``gateway/__init__`` costs ~5 ms): the console script runs it first, and for
``zzgw import`` it installs the handler that ``gateway.cli.main`` would install (``Terminated``), then imports the
command line. What remains is the interpreter's own start and ``gateway/__init__`` (55 ms the median of ten runs
at a load average of 8, 203 ms the longest; the handler had come after 410-610 ms): a SIGTERM in them ends the
command as before. ``python -m gateway.cli`` does not come this way (its handler is
installed as ``main`` begins). Other commands are left as they were."""

from __future__ import annotations

import signal
import sys
import threading

IMPORT_NOT_BEGUN = (
    "在导入开始之前被中断，尚未发送任何记录；再次运行同一命令即可导入该文件"
    "（interrupted before the import began: nothing was sent; run the same command again to import the file）"
)
"""What a Ctrl-C of ``zzgw import`` before its stream began says (``args.import_began`` not set)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM taken as Ctrl-C is, by a command that says what an interruption left (``zzgw import``): said alike,
    exit 128 + the signal's number."""

    signum = int(signal.SIGTERM)


def terminated(_signum: int, _frame: object) -> None:
    """The SIGTERM handler of ``zzgw import`` outside its stream (``adapters.batch_import._CtrlC`` takes it over
    there, and puts this back after)."""
    raise Terminated


def interrupted_status(exc: KeyboardInterrupt) -> int:
    """The exit status of a command ended by ``exc``: 128 + 15 for SIGTERM (``Terminated``), 130 for Ctrl-C."""
    return 128 + exc.signum if isinstance(exc, Terminated) else 130


def command_of(argv: list[str]) -> str:
    """The command ``argv`` names (``zzgw [--config FILE] COMMAND …``), without argparse: its first word that is no
    option nor ``--config``'s value; empty for none. ``--config`` may be shortened as argparse lets it be (``--conf``,
    down to ``--c``: it is the command line's only long option beginning so); ``--conf FILE import`` had been read as
    the command ``FILE`` (a review, fixrev1 R2)."""
    words = iter(argv)
    for word in words:
        if len(word) > 2 and "--config".startswith(word):
            next(words, None)
        elif not word.startswith("-"):
            return word
    return ""


def take_sigterm(argv: list[str]) -> bool:
    """Install ``terminated`` for SIGTERM if ``argv`` is ``zzgw import``, SIGTERM has its default disposition (one
    ignored, as the command's parent chose, stays so) and this is the main thread; whether it was."""
    if command_of(argv) != "import" or threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) != signal.SIG_DFL:
        return False
    signal.signal(signal.SIGTERM, terminated)
    return True


def main() -> int:
    """``zzgw``: ``gateway.cli.main``, with SIGTERM taken first for ``zzgw import``. An interruption before
    ``gateway.cli.main`` says what it says itself (the command line loading or reading its arguments: nothing sent)."""
    argv = sys.argv[1:]
    if not take_sigterm(argv):
        from gateway.cli import main as run

        return run(argv)
    try:
        from gateway.cli import main as run

        return run(argv)
    except KeyboardInterrupt as exc:  # Ctrl-C too: a traceback as the command line loaded
        print(f"\nzzgw import: {IMPORT_NOT_BEGUN}", file=sys.stderr)
        return interrupted_status(exc)
