"""A stop signal (SIGTERM, SIGINT) that comes while ``zzgw serve`` is still starting: importing the gateway,
opening its store, before the handlers of ``gateway.server.serve_forever`` or ``gateway.supervisor.supervise`` are
installed. The default disposition had killed it, status 143 and no line in the log, where the docs say a stop by
SIGTERM exits 0 (a reviewer, R6). Light on purpose (the standard library only): the command installs these handlers
before it imports the gateway's server, which takes a second or more."""

from __future__ import annotations

import logging
import os
import signal
from typing import Any

log = logging.getLogger("zzgw")


class StopAsked:
    """The first stop signal of the start, noted, said in the log once the log is set up, and acted upon once the
    gateway can stop as on any signal (``serve_forever``: at once after its store is open; ``run``: before any
    worker starts)."""

    def __init__(self) -> None:
        self.signum = 0
        self._said = False

    def install(self) -> StopAsked:
        signal.signal(signal.SIGTERM, self._note)
        signal.signal(signal.SIGINT, self._note)
        return self

    def _note(self, signum: int, _frame: Any) -> None:
        if not self.signum:
            self.signum = signum
            self.say()
            return
        # a second signal: the start may hang (its store locked, out of reach), and Ctrl-C pressed again, or a
        # second SIGTERM, had been noted and nothing more, the process killable by SIGKILL alone (a review, R1):
        # it ends the process at once, by the signal's default disposition, as before any handler (130, 143)
        log.warning("signal %s again as the gateway starts: stopping at once", signum)
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    def say(self) -> None:
        """Log the signal noted, once, if the log is set up (else the next call does)."""
        if self.signum and not self._said and logging.getLogger().handlers:
            self._said = True
            log.info("signal %s as the gateway starts: stopping once it has opened its store", self.signum)
