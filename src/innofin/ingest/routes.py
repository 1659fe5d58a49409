"""Bulk import over HTTP: upload a CSV or XLSX (and optionally a mapping) — the same importer,
the same all-or-nothing rule and the same per-row errors as `innofin import`.

With `check_only` the import is run and rolled back (`ingest.service.import_file(check_only=True)`,
as `innofin import --check` and the import page's check): the same answer — 200 with the rows
that would be written, or 422 naming every rejected row — and nothing kept: no rows, no
`data_source`, no audit row (a check changes nothing, so there is nothing to audit) and no
idempotency record (a check is not a write; retrying it is harmless)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi import Path as PathParam
from pydantic import BaseModel

from innofin.api.deps import WriteHeaders, allow, api_state, write_headers
from innofin.api.errors import ERROR_RESPONSES, ApiError, ErrorBody, RowProblem
from innofin.api.uploads import upload_folder
from innofin.api.writes import remember, replay
from innofin.audit.recorder import Actor
from innofin.ingest import service
from innofin.ingest.errors import IngestError, RejectedRows
from innofin.ingest.kinds import KINDS
from innofin.ingest.mapping import shipped_mappings
from innofin.ingest.readers import canonical_encoding
from innofin.ingest.rejects import read_rejects
from innofin.kernel.errors import Forbidden
from innofin.kernel.principal import Principal

router = APIRouter(prefix="/api/v1", tags=["import"], responses=ERROR_RESPONSES)
MAX_REPORTED = 1_000
KIND_PATTERN = "^(" + "|".join(KINDS) + ")$"


class ImportOut(BaseModel):
    kind: str
    file: str
    encoding: str | None
    source_id: int | None
    rows: int
    written: int
    rejected: int
    #: the rejected rows when `skip_invalid` kept the others
    errors: list[RowProblem]
    #: a check: nothing was written, `written` is what the import would write
    check_only: bool = False


def _problems(path: Path | None) -> list[RowProblem]:
    if path is None or not path.exists():
        return []
    lines = read_rejects(path)[:MAX_REPORTED]
    return [
        RowProblem(
            row=int(x["row"]) if x["row"].isdigit() else None,
            column=x["column"] or None,
            value=x["value"] or None,
            reason=x["reason"],
        )
        for x in lines
    ]


def may_import(p: Principal) -> None:
    """Imports change every province's rows: platform admins and national officers only (the
    upload page asks the same)."""
    if not (p.is_admin or p.is_national):
        raise Forbidden("imports are for platform admins and national programme officers")


@router.post(
    "/imports/{kind}",
    response_model=ImportOut,
    summary="Import a CSV/XLSX file (all rows or none, unless skip_invalid), or only check it",
    responses={415: {"model": ErrorBody, "description": "not a .csv or .xlsx file"}},
)
def import_upload(
    request: Request,
    kind: str = PathParam(pattern=KIND_PATTERN),
    file: UploadFile = File(description="CSV (UTF-8 or GBK/GB18030) or XLSX."),
    mapping: str | None = Form(
        None,
        pattern="^(" + "|".join(shipped_mappings()) + ")$",
        description="A shipped mapping by name (e.g. indicators-zh).",
    ),
    mapping_file: UploadFile | None = File(None, description="A YAML mapping of your own."),
    encoding: str | None = Form(None, pattern="^[A-Za-z0-9_-]{1,20}$"),
    skip_invalid: bool = Form(False),
    ignore_extra: bool = Form(False, description="Leave out columns the mapping does not know."),
    check_only: bool = Form(
        False,
        description="Run the import and roll it back: the same answer (200 with the rows that "
        "would be written, or 422 with every rejected row), nothing written or audited.",
    ),
    w: WriteHeaders = Depends(write_headers),
    p: Principal = allow("import:run"),
) -> Response:
    may_import(p)
    name = Path(file.filename or "upload.csv").name
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        raise ApiError(415, "unsupported_media_type", "upload a .csv or .xlsx file", "file")
    if encoding is not None:
        try:
            canonical_encoding(encoding)  # a character set, not rot13 or base64
        except IngestError as exc:
            raise ApiError(422, "invalid_request", str(exc), "encoding") from None
    state = api_state(request)
    actor = Actor.api(p.user_id, p.username, reason=w.reason)
    with upload_folder(state.settings) as folder:
        target = folder / name
        digest = hashlib.sha256()
        with target.open("wb") as saved:
            while chunk := file.file.read(1 << 20):
                digest.update(chunk)
                saved.write(chunk)
        payload = [kind, name, digest.hexdigest(), mapping, encoding, skip_invalid, ignore_extra]
        key = None if check_only else w.idempotency_key  # a check is not a write
        earlier = replay(request, p, key, payload)
        if earlier is not None:
            return earlier
        chosen: Path | None = Path(mapping) if mapping else None
        if mapping_file is not None:
            chosen = Path(folder) / "mapping.yaml"
            chosen.write_bytes(mapping_file.file.read())
        rejects = Path(folder) / "rejects.csv"
        try:
            result = service.import_file(
                state.engine,
                kind,
                target,
                mapping=chosen,
                encoding=encoding,
                skip_invalid=skip_invalid,
                ignore_extra=ignore_extra,
                rejects=rejects,
                actor=actor,
                check_only=check_only,
            )
        except RejectedRows as exc:
            problems = [x.model_dump() for x in _problems(exc.rejects_path)]
            message = str(exc).split("; see ")[0]
            raise ApiError(422, "import_rejected", message, "file", errors=problems) from None
        out = ImportOut(
            kind=result.kind,
            file=name,
            encoding=result.encoding,
            source_id=result.source_id,
            rows=result.rows,
            written=result.written,
            rejected=result.rejected,
            errors=_problems(result.rejects_path),
            check_only=check_only,
        )
    body = out.model_dump_json()
    remember(request, p, key, payload, 200, body)
    return Response(body, 200, media_type="application/json")
