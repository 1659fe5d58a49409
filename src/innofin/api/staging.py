"""Uploaded files kept between a check and its confirmation (the import page's two steps).

A staged upload is a folder under the upload root's ``staged/``, named by a random token
(`secrets`, 32 URL-safe characters), holding the file under a fixed name (``upload.csv`` or
``upload.xlsx``: the visitor's file name is only shown, never used as a path), the visitor's own
mapping if any, and ``stage.json``: who staged it (user and session), what was checked (kind,
mapping, file name, size, SHA-256) and when. The token is all the client holds: it must match
`TOKEN` before it names a folder, and a staged upload is given back only to the same user in the
same session, before it expires (`STAGED_SECONDS`), with its file's SHA-256 unchanged — so a
confirmation imports exactly the file that was checked. `take` renames the folder before anything
else (to a name that holds its process, `uploads.owner_tag`), so a confirmation submitted twice
imports once; the folder is removed when the block ends.

Expiry is reliable: `sweep` removes every staged upload past `STAGED_SECONDS` (by the time it was
staged, on the same clock as the look-ups: each function takes `now`, the API's clock on the
pages) and every claimed folder whose process is gone (killed during its import). It runs on each
stage, look-up and take, and at the server's start; so a look-up of an expired token finds
nothing, exactly as for a token that never was. The server's start keeps what has not expired
(`uploads.remove_leftovers` leaves ``staged/`` alone), so a restart does not lose a check a
visitor is reading.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from innofin.api.uploads import STAGED, alive, owner_tag, upload_root
from innofin.kernel.settings import Settings

#: how long a checked file waits for its confirmation
STAGED_SECONDS = 30 * 60
TOKEN = re.compile(r"^[A-Za-z0-9_-]{32}$")
#: a folder claimed by `take`: the token, the claiming process (`uploads.owner_tag`), a nonce
TAKEN = re.compile(r"^[A-Za-z0-9_-]{32}\.(?P<owner>[0-9]+-[0-9]+)\.[0-9a-f]{16}\.taken$")
META = "stage.json"
CHUNK = 1 << 20


class StagingError(Exception):
    """The staged file is not there for this visitor (expired, taken, another session's, or
    changed), or an upload is too large to stage."""


@dataclass(frozen=True)
class Owner:
    """Who may confirm: the user, in the session that checked the file."""

    user_id: int
    session_id: int | None


@dataclass(frozen=True)
class Staged:
    token: str
    folder: Path
    file: Path
    #: the visitor's own mapping (YAML), if one was uploaded
    mapping_file: Path | None
    kind: str
    #: a shipped mapping by name, or ""
    mapping: str
    #: the uploaded file's name, as shown
    name: str
    size: int
    sha256: str
    user_id: int
    session_id: int | None
    created: float


def _root(settings: Settings) -> Path:
    root = upload_root(settings) / STAGED
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def _clock(now: float | None) -> float:
    return time.time() if now is None else now


def _expired(folder: Path, now: float) -> bool:
    claimed = TAKEN.match(folder.name)
    if claimed is not None:  # being imported: until its process is gone
        return not alive(claimed["owner"])
    if TOKEN.match(folder.name):
        try:
            created = float(json.loads((folder / META).read_text(encoding="utf-8"))["created"])
        except (OSError, ValueError, KeyError, TypeError):
            # no record yet (it is written last: still being staged, or cut short) or a bad one
            created = folder.stat().st_mtime
        return now - created > STAGED_SECONDS
    return now - folder.stat().st_mtime > STAGED_SECONDS  # anything else left there


def sweep(settings: Settings, now: float | None = None) -> list[Path]:
    """Remove the staged uploads that have expired and the claimed folders of processes that
    are gone (module docstring); returns what was removed."""
    root = upload_root(settings) / STAGED
    if not root.is_dir():
        return []
    at, removed = _clock(now), []
    for folder in root.iterdir():
        try:
            if _expired(folder, at):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        except FileNotFoundError:  # taken or swept by another request meanwhile
            continue
    return removed


def stage(
    settings: Settings,
    owner: Owner,
    source: BinaryIO,
    *,
    name: str,
    kind: str,
    mapping: str = "",
    mapping_text: bytes | None = None,
    now: float | None = None,
) -> Staged:
    """Copy `source` (at most `settings.max_upload_bytes`) into a new staged folder, staged at
    `now` (default: the system's clock)."""
    now = _clock(now)
    sweep(settings, now)
    root = _root(settings)
    token = secrets.token_urlsafe(24)  # 32 characters
    folder = root / token
    folder.mkdir(mode=0o700)
    suffix = Path(name).suffix.lower()
    target = folder / f"upload{suffix}"
    digest, size = hashlib.sha256(), 0
    try:
        with target.open("wb") as saved:
            while chunk := source.read(CHUNK):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise StagingError("too large")
                digest.update(chunk)
                saved.write(chunk)
        own = None
        if mapping_text is not None:
            own = folder / "mapping.yaml"
            own.write_bytes(mapping_text)
        staged = Staged(
            token, folder, target, own, kind, mapping, name, size, digest.hexdigest(),
            owner.user_id, owner.session_id, now,
        )  # fmt: skip
        meta = {k: str(v) if isinstance(v, Path) else v for k, v in asdict(staged).items()}
        (folder / META).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return staged


def _read(folder: Path, token: str) -> Staged:
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise StagingError("gone") from None
    own = meta["mapping_file"]
    suffix = Path(meta["name"]).suffix.lower()
    return Staged(
        token, folder, folder / f"upload{suffix}", folder / "mapping.yaml" if own else None,
        meta["kind"], meta["mapping"], meta["name"], meta["size"], meta["sha256"],
        meta["user_id"], meta["session_id"], meta["created"],
    )  # fmt: skip


def _check(staged: Staged, owner: Owner, now: float) -> None:
    if (staged.user_id, staged.session_id) != (owner.user_id, owner.session_id):
        raise StagingError("another session's")
    if now - staged.created > STAGED_SECONDS:  # expired between the sweep and here
        raise StagingError("gone")


def find(settings: Settings, token: str, owner: Owner, now: float | None = None) -> Staged:
    """The staged upload `token` of `owner`, left in place; expired ones are swept first, so an
    expired token is as unknown as one that never was."""
    if not TOKEN.match(token):
        raise StagingError("not a token")
    now = _clock(now)
    sweep(settings, now)
    staged = _read(_root(settings) / token, token)
    _check(staged, owner, now)
    return staged


@contextmanager
def take(
    settings: Settings, token: str, owner: Owner, now: float | None = None
) -> Iterator[Staged]:
    """Claim the staged upload `token` of `owner` (once: the folder is renamed first), check
    its file is the one staged, and remove it when the block ends."""
    now = _clock(now)
    find(settings, token, owner, now)  # refuse another session's token before touching it
    root = _root(settings)
    claimed = root / f"{token}.{owner_tag()}.{secrets.token_hex(8)}.taken"
    try:
        (root / token).rename(claimed)
    except FileNotFoundError:
        raise StagingError("taken") from None
    try:
        staged = _read(claimed, token)
        _check(staged, owner, now)
        digest = hashlib.sha256()
        with staged.file.open("rb") as data:
            while chunk := data.read(CHUNK):
                digest.update(chunk)
        if digest.hexdigest() != staged.sha256:
            raise StagingError("changed")
        yield staged
    finally:
        shutil.rmtree(claimed, ignore_errors=True)


def discard(settings: Settings, token: str) -> None:
    if TOKEN.match(token):
        shutil.rmtree(_root(settings) / token, ignore_errors=True)
