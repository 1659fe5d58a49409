"""Staged uploads (the import page's check, then confirm): only the token's owner, in the same
session, before it expires, gets the very file it checked, once; a token names no other path."""

from __future__ import annotations

import io
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


def test_expired_and_changed_files_are_refused(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed = _stage(settings)
    changed.file.write_bytes(b"code,name\nZ1,two\n")
    refused = pytest.raises(staging.StagingError, match="changed")
    with refused, staging.take(settings, changed.token, ME):
        pass
    old = _stage(settings)
    later = old.created + staging.STAGED_SECONDS + 1
    monkeypatch.setattr(staging.time, "time", lambda: later)
    with pytest.raises(staging.StagingError, match="expired"):
        staging.find(settings, old.token, ME)


def test_too_large_uploads_are_not_staged(settings: Settings) -> None:
    with pytest.raises(staging.StagingError, match="too large"):
        _stage(settings, b"x" * 1001)
    assert not any((Path(settings.upload_dir or "") / uploads.STAGED).iterdir())
    _stage(replace(settings, max_upload_bytes=1001), b"x" * 1001)


def test_the_server_start_keeps_staged_files(settings: Settings) -> None:
    staged = _stage(settings)
    uploads.remove_leftovers(settings)
    assert staging.find(settings, staged.token, ME).sha256 == staged.sha256
