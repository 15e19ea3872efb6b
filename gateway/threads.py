"""Operating-system names for the gateway's threads.

Python 3.11 names threads for Python only; the kernel sees every thread of a gateway process as ``python``. Named,
``top -H``, ``ps -L -o tid,comm,pcpu`` and ``/proc/<pid>/task/*/comm`` show which thread uses the CPU: the gRPC
handler threads (``zzgw-grpc``), a group writer (``receipts-writer``; on PostgreSQL ``receipts-prep`` makes and
signs the receipts ahead of it), the change listener, the PDF loop, the HTTP side; gRPC's own threads are
``event_engine`` (its C core) and, unnamed, its dispatcher. ``benchmarks.verify`` reports the server's CPU per call
by these names.
"""

from __future__ import annotations

import ctypes
import sys

HTTP_WORK_THREADS = 8
"""The HTTP side's threads for the work of its requests (``adapters.http_connections.Work``), here where the store
counts them: each keeps a reading connection once it has checked a license (``Database.read_license``), and takes
sessions of the pool (``gateway.store.database.most_connections``)."""

_PR_SET_NAME = 15
_MAX_BYTES = 15  # the kernel keeps 16 bytes with the terminating NUL
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def name_this_thread(name: str) -> None:
    """Give the calling thread ``name`` (ASCII, the first 15 bytes kept) as its kernel name; a no-op off Linux."""
    if _libc is not None:
        _libc.prctl(_PR_SET_NAME, name.encode("ascii")[:_MAX_BYTES], 0, 0, 0)
