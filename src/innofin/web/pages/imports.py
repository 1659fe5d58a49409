"""The import page, in two steps: upload a CSV or XLSX file of a kind with a shipped mapping (or
one's own YAML mapping) and see it checked, then confirm. The check is the import itself rolled
back (`ingest.service.import_file(check_only=True)`: the same service, rules and per-row errors
as the API's upload and `innofin import`), so it names every row the import would reject, with
row, column, value and reason, and writes nothing.

The checked file waits on the server (`api.staging`: a random token, tied to the visitor's user
and session, for 30 minutes by the API's clock, its SHA-256 checked again; an expired one is
removed and answers as an unknown token); the confirmation names only the token,
so it imports exactly the file that was checked, once. All or nothing: a file with rejected rows
gets no confirm button — only, explicitly, one that imports the good rows and leaves out the
rejected ones (the API's and the CLI's `skip_invalid`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from innofin.api import staging
from innofin.api.deps import api_state
from innofin.audit.recorder import Actor
from innofin.ingest import service
from innofin.ingest.errors import IngestError, RejectedRows
from innofin.ingest.kinds import KINDS
from innofin.ingest.mapping import shipped_mappings
from innofin.ingest.rejects import read_rejects
from innofin.ingest.routes import MAX_REPORTED, may_import
from innofin.kernel.principal import Principal
from innofin.web.deps import page
from innofin.web.forms import csrf_form
from innofin.web.render import N_, render

router = APIRouter(include_in_schema=False)
NOT_A_TABLE = N_("Upload a .csv or .xlsx file.")
UNKNOWN = N_("Choose a kind and a mapping from the lists.")
TOO_LARGE = N_("The file is too large to import here; import it with the command line.")
GONE = N_(
    "The checked file is no longer waiting (imported already, checked in another session, or "
    "checked more than 30 minutes ago): upload it again."
)


def _form(request: Request, status: int = 200, /, **extra: object) -> Response:
    context = {
        "kinds": sorted(KINDS),
        "mappings": shipped_mappings(),
        "chosen": {"kind": "", "mapping": ""},
        "checked": None,
        "result": None,
        "problems": None,
        "error": None,
        "message": None,
        "token": None,
        **extra,
    }
    return render(request, "imports.html", context, status_code=status)


def _owner(p: Principal) -> staging.Owner:
    return staging.Owner(p.user_id, p.session_id)


def _now(request: Request) -> float:
    """The API's clock, which staged uploads expire by."""
    return api_state(request).clock().timestamp()


def _mapping(staged: staging.Staged) -> Path | None:
    return staged.mapping_file or (Path(staged.mapping) if staged.mapping else None)


@router.get("/imports")
def import_form(request: Request, p: Principal = page("import:run")) -> Response:
    may_import(p)
    return _form(request)


@router.post("/imports")
def import_check(
    request: Request,
    kind: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str, Form(max_length=60)] = "",
    mapping_file: Annotated[UploadFile | None, File()] = None,
    _: None = Depends(csrf_form),
    p: Principal = page("import:run"),
) -> Response:
    """Stage the upload and check it: the import run and rolled back."""
    may_import(p)
    chosen = {"kind": kind, "mapping": mapping}
    if kind not in KINDS or (mapping and mapping not in shipped_mappings()):
        return _form(request, 400, chosen=chosen, error=UNKNOWN)
    name = Path(file.filename or "upload.csv").name
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        return _form(request, 400, chosen=chosen, error=NOT_A_TABLE)
    state = api_state(request)
    own = mapping_file.file.read() if mapping_file is not None and mapping_file.filename else None
    try:
        staged = staging.stage(
            state.settings, _owner(p), file.file, name=name, kind=kind, mapping=mapping,
            mapping_text=own, now=_now(request),
        )  # fmt: skip
    except staging.StagingError:
        return _form(request, 413, chosen=chosen, error=TOO_LARGE)
    shown = {"chosen": chosen, "file": name}
    try:
        checked = service.import_file(
            state.engine,
            kind,
            staged.file,
            mapping=_mapping(staged),
            rejects=staged.folder / "rejects.csv",
            actor=Actor.api(p.user_id, p.username),
            check_only=True,
        )
    except RejectedRows as exc:
        problems = read_rejects(exc.rejects_path)[:MAX_REPORTED]
        good = exc.rows - exc.rejected
        # the staged file stays for the one thing left to confirm: the good rows alone
        token = staged.token if good > 0 else None
        if token is None:
            staging.discard(state.settings, staged.token)
        context = {"problems": problems, "rejected": exc.rejected, "rows": exc.rows}
        return _form(request, 422, **shown, **context, good=good, token=token)
    except IngestError as exc:  # the file cannot be read at all: the service says why
        staging.discard(state.settings, staged.token)
        return _form(request, 422, **shown, message=str(exc))
    return _form(request, **shown, checked=checked, token=staged.token)


@router.post("/imports/confirm")
def import_confirm(
    request: Request,
    token: Annotated[str, Form(max_length=64)],
    skip_invalid: Annotated[bool, Form()] = False,
    _: None = Depends(csrf_form),
    p: Principal = page("import:run"),
) -> Response:
    """Import the staged file the visitor checked (the good rows alone with `skip_invalid`)."""
    may_import(p)
    state = api_state(request)
    try:
        with staging.take(state.settings, token, _owner(p), _now(request)) as staged:
            chosen = {"kind": staged.kind, "mapping": staged.mapping}
            shown: dict[str, object] = {"chosen": chosen, "file": staged.name}
            try:
                result = service.import_file(
                    state.engine,
                    staged.kind,
                    staged.file,
                    mapping=_mapping(staged),
                    skip_invalid=skip_invalid,
                    rejects=staged.folder / "rejects.csv",
                    actor=Actor.api(p.user_id, p.username),
                )
            except RejectedRows as exc:  # the database changed since the check
                problems = read_rejects(exc.rejects_path)[:MAX_REPORTED]
                context = {"problems": problems, "rejected": exc.rejected, "rows": exc.rows}
                return _form(request, 422, **shown, **context, good=0)
            except IngestError as exc:
                return _form(request, 422, **shown, message=str(exc))
            path = result.rejects_path
            left_out = read_rejects(path)[:MAX_REPORTED] if result.rejected and path else None
            return _form(request, **shown, result=result, problems=left_out)
    except staging.StagingError:
        return _form(request, 409, error=GONE)
