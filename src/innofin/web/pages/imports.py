"""The import page: upload a CSV or XLSX file of a kind with a shipped mapping (or one's own
YAML mapping), and import it — the same service (`ingest.service.import_file`), the same
all-or-nothing rule and the same per-row errors as the API's upload and `innofin import`. A file
with a bad row writes nothing; the page lists every rejected row with its row, column, value and
reason."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from starlette.responses import Response

from innofin.api.deps import api_state
from innofin.api.uploads import upload_folder
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


def _form(request: Request, status: int = 200, **extra: object) -> Response:
    context = {
        "kinds": sorted(KINDS),
        "mappings": shipped_mappings(),
        "chosen": {"kind": "", "mapping": ""},
        "result": None,
        "problems": None,
        "error": None,
        "message": None,
        **extra,
    }
    return render(request, "imports.html", context, status_code=status)


@router.get("/imports")
def import_form(request: Request, p: Principal = page("import:run")) -> Response:
    may_import(p)
    return _form(request)


@router.post("/imports")
def import_upload(
    request: Request,
    kind: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
    mapping: Annotated[str, Form(max_length=60)] = "",
    mapping_file: Annotated[UploadFile | None, File()] = None,
    _: None = Depends(csrf_form),
    p: Principal = page("import:run"),
) -> Response:
    may_import(p)
    chosen = {"kind": kind, "mapping": mapping}
    if kind not in KINDS or (mapping and mapping not in shipped_mappings()):
        return _form(request, 400, chosen=chosen, error=UNKNOWN)
    name = Path(file.filename or "upload.csv").name
    if Path(name).suffix.lower() not in (".csv", ".xlsx"):
        return _form(request, 400, chosen=chosen, error=NOT_A_TABLE)
    state = api_state(request)
    with upload_folder(state.settings) as folder:
        target = folder / name
        with target.open("wb") as saved:
            while chunk := file.file.read(1 << 20):
                saved.write(chunk)
        own: Path | None = None
        if mapping_file is not None and mapping_file.filename:
            own = folder / "mapping.yaml"
            own.write_bytes(mapping_file.file.read())
        rejects = folder / "rejects.csv"
        try:
            result = service.import_file(
                state.engine,
                kind,
                target,
                mapping=own or (Path(mapping) if mapping else None),
                rejects=rejects,
                actor=Actor.api(p.user_id, p.username),
            )
        except RejectedRows as exc:
            problems = read_rejects(exc.rejects_path)[:MAX_REPORTED]
            context = {"chosen": chosen, "problems": problems, "rejected": exc.rejected}
            return _form(request, 422, file=name, **context)
        except IngestError as exc:  # the file cannot be read at all: the service says why
            return _form(request, 422, chosen=chosen, file=name, message=str(exc))
    return _form(request, chosen=chosen, file=name, result=result)
