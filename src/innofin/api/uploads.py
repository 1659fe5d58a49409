"""Where uploaded files wait while they are imported, and the removal of what a killed server
left there.

Each upload gets a folder of its own under ``INNOFIN_UPLOAD_DIR`` (default: the system's temporary
folder, ``innofin-uploads``), named after the process that owns it (its id and, on Linux, its
start time, so a recycled process id is not mistaken for the owner). The folder is removed when
the import ends, however it ends; a process killed outright (SIGKILL, a crash) cannot do that, so
every server start removes the folders whose process is gone.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from innofin.kernel.settings import Settings

log = logging.getLogger("innofin.api")
ROOT_NAME = "innofin-uploads"
#: the folder of checked files waiting for their confirmation (`innofin.api.staging`): not a
#: process's, so the server's start leaves it alone
STAGED = "staged"


def upload_root(settings: Settings) -> Path:
    return (
        Path(settings.upload_dir)
        if settings.upload_dir
        else Path(tempfile.gettempdir()) / ROOT_NAME
    )


def _started(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22, counted after the command name


def owner_tag() -> str:
    """This process, as named in the folders it owns: its id and start time."""
    pid = os.getpid()
    return f"{pid}-{_started(pid) or 0}"


def alive(owner: str) -> bool:
    """Whether the process an `owner_tag` names still runs."""
    try:
        pid_text, started = owner.split("-")[:2]
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: alive
    now = _started(pid)
    return now is None or started in ("0", now)


@contextmanager
def upload_folder(settings: Settings) -> Iterator[Path]:
    """A private folder for one upload, removed when the block ends."""
    root = upload_root(settings)
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix=f"{owner_tag()}-", dir=root))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_leftovers(settings: Settings) -> list[Path]:
    """Remove the upload folders of processes that are gone; returns what was removed."""
    root = upload_root(settings)
    if not root.is_dir():
        return []
    removed = []
    for folder in root.iterdir():
        if folder.name == STAGED:
            continue
        if folder.is_dir() and not alive(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    if removed:
        log.warning("removed %d upload(s) left by a server that stopped mid-import", len(removed))
    return removed
