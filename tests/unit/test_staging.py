"""Staged uploads (the import page's check, then confirm): only the token's owner, in the same
session, before it expires, gets the very file it checked, once; a token names no other path.
Expiry runs on an injected clock (`now`): an expired token is as unknown as one that never was,
and every use of staging sweeps what expired."""

from __future__ import annotations

import io
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from innofin.api import staging, uploads
from innofin.kernel.settings import Settings

ME = staging.Owner(7, 70)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(upload_dir=str(tmp_path / "uploads"), max_upload_bytes=1000)


def _stage(settings: Settings, data: bytes = b"code,name\nZ1,one\n") -> staging.Staged:
    return staging.stage(settings, ME, io.BytesIO(data), name="../../zones.CSV", kind="zones")


def test_the_owner_takes_the_file_it_staged_once(settings: Settings) -> None:
    staged = _stage(settings)
    assert staging.TOKEN.match(staged.token)
    assert staged.file.name == "upload.csv" and staged.file.parent == staged.folder
    assert staged.name == "../../zones.CSV"  # shown, never a path
    with staging.take(settings, staged.token, ME) as taken:
        assert taken.file.read_bytes() == b"code,name\nZ1,one\n"
        assert (taken.kind, taken.sha256, taken.size) == ("zones", staged.sha256, 17)
        # a second confirmation meanwhile
        with pytest.raises(staging.StagingError), staging.take(settings, staged.token, ME):
            pass
    assert not any(staged.folder.parent.iterdir())  # removed once imported
    with pytest.raises(staging.StagingError):
        staging.find(settings, staged.token, ME)


@pytest.mark.parametrize(
    "who", [staging.Owner(8, 70), staging.Owner(7, 71), staging.Owner(7, None)]
)
def test_another_user_or_session_is_refused_and_leaves_it(
    settings: Settings, who: staging.Owner
) -> None:
    staged = _stage(settings)
    with pytest.raises(staging.StagingError), staging.take(settings, staged.token, who):
        pass
    assert staging.find(settings, staged.token, ME) == staged  # still there for its owner


@pytest.mark.parametrize("token", ["../staged", "", "a" * 31, "a" * 33, "a/" * 16, "."])
def test_a_token_names_no_other_path(settings: Settings, token: str) -> None:
    _stage(settings)
    with pytest.raises(staging.StagingError):
        staging.find(settings, token, ME)
    staging.discard(settings, token)  # nothing happens
    assert len(list((Path(settings.upload_dir or "") / uploads.STAGED).iterdir())) == 1


def test_changed_files_are_refused(settings: Settings) -> None:
    changed = _stage(settings)
    changed.file.write_bytes(b"code,name\nZ1,two\n")
    refused = pytest.raises(staging.StagingError, match="changed")
    with refused, staging.take(settings, changed.token, ME):
        pass


def test_too_large_uploads_are_not_staged(settings: Settings) -> None:
    with pytest.raises(staging.StagingError, match="too large"):
        _stage(settings, b"x" * 1001)
    assert not any((Path(settings.upload_dir or "") / uploads.STAGED).iterdir())
    _stage(replace(settings, max_upload_bytes=1001), b"x" * 1001)


def test_the_server_start_keeps_staged_files(settings: Settings) -> None:
    staged = _stage(settings)
    uploads.remove_leftovers(settings)
    assert staging.find(settings, staged.token, ME).sha256 == staged.sha256


T0 = 1_800_000_000.0  # an instant of the injected clock


def _stage_at(settings: Settings, now: float, data: bytes = b"code\nZ1\n") -> staging.Staged:
    return staging.stage(settings, ME, io.BytesIO(data), name="z.csv", kind="zones", now=now)


def _staged_root(settings: Settings) -> Path:
    return Path(settings.upload_dir or "") / uploads.STAGED


def _refusal(call: Callable[[], object]) -> str:
    with pytest.raises(staging.StagingError) as refused:
        call()
    return str(refused.value)


def test_an_expired_token_is_as_unknown_as_one_that_never_was(settings: Settings) -> None:
    staged = _stage_at(settings, T0)
    last = T0 + staging.STAGED_SECONDS
    assert staging.find(settings, staged.token, ME, now=last) == staged  # to the second
    unknown = secrets.token_urlsafe(24)
    expired = _refusal(lambda: staging.find(settings, staged.token, ME, now=last + 1))
    assert expired == _refusal(lambda: staging.find(settings, unknown, ME, now=last + 1))
    assert not staged.folder.exists()  # removed by the look-up itself
    ran = []
    refused = pytest.raises(staging.StagingError, match=expired)  # and nothing to import
    with refused, staging.take(settings, staged.token, ME, now=last + 1):
        ran.append(True)
    assert ran == []


@pytest.mark.parametrize("touch", ["stage", "find", "take"])
def test_every_use_of_staging_sweeps_what_expired(settings: Settings, touch: str) -> None:
    old = _stage_at(settings, T0)
    fresh = _stage_at(settings, T0 + 20 * 60)
    later = T0 + staging.STAGED_SECONDS + 60  # old has expired; fresh has ten minutes left
    assert old.folder.is_dir()  # nothing swept it yet: no use of staging since
    if touch == "stage":
        _stage_at(settings, later)
    elif touch == "find":
        staging.find(settings, fresh.token, ME, now=later)
    else:
        with staging.take(settings, fresh.token, ME, now=later) as taken:
            assert taken.sha256 == fresh.sha256
    assert not old.folder.exists()
    assert fresh.folder.is_dir() == (touch != "take")


def test_the_sweep_keeps_claims_of_running_processes_and_removes_the_dead_ones(
    settings: Settings,
) -> None:
    root = _staged_root(settings)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    token = secrets.token_urlsafe(24)
    gone = root / f"{token}.{dead}-1.{secrets.token_hex(8)}.taken"  # killed mid-import
    mine = root / f"{token}.{uploads.owner_tag()}.{secrets.token_hex(8)}.taken"  # importing
    for folder in (gone, mine):
        folder.mkdir(parents=True)
    half = root / secrets.token_urlsafe(24)  # being staged: no record yet, a fresh folder
    half.mkdir()
    removed = staging.sweep(settings, now=time.time() + 60)
    assert removed == [gone]
    assert mine.is_dir() and half.is_dir()
    assert staging.sweep(settings, now=time.time() + staging.STAGED_SECONDS + 60) == [half]
    assert mine.is_dir()  # however long its import takes


def test_a_sweep_of_no_folder_makes_none(settings: Settings) -> None:
    assert staging.sweep(settings) == []
    assert not Path(settings.upload_dir or "").exists()
