"""What stops a command or a worker before it can serve, said in one line: a setting, a key store, a database or a
file it cannot use. Shared by ``zzgw`` commands and by ``zzgw serve``'s workers, so that a worker that cannot start
(a replacement during a database outage) logs the same line as the command would, not a traceback."""

from __future__ import annotations

from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError

from gateway.config import ConfigError, Settings
from signing.errors import KeyStoreError


def said(exc: BaseException, command: str, settings: Settings | None) -> str | None:
    """The line that says why ``command`` cannot go on, or None for an exception that is a defect (to be raised)."""
    if isinstance(exc, ConfigError):
        return f"zzgw: configuration error: {exc}"
    if isinstance(exc, KeyStoreError):  # e.g. a wrong passphrase
        hint = ""
        if "wrong passphrase" in str(exc) and settings is not None:
            hint = (
                f" (the key passphrase: ZZGW_KEY_PASSPHRASE or ZZGW_KEY_PASSPHRASE_FILE, in dev mode "
                f"{settings.generated_passphrase_path}; a replica needs the first gateway's)"
            )
        return f"zzgw {command}: {exc}{hint}"
    # cannot be reached or opened (Operational, Interface), or is no database at all (SQLite's plain DatabaseError:
    # "file is not a database"); not its subclasses a defect raises (ProgrammingError, IntegrityError)
    if isinstance(exc, OperationalError | InterfaceError) or type(exc) is DatabaseError:
        label = settings.database_label if settings is not None else "the database"
        orig = getattr(exc, "orig", None)
        reason = (str(orig).strip().splitlines() or [""])[0] if orig is not None else str(exc)
        return f"zzgw {command}: cannot use {label}: {reason}"
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"zzgw {command}: cannot open {exc.filename}: {exc.strerror}"
    return None
