"""Uploads the API must refuse naming the parameter, never with a 500: an encoding that is not a
character set (422), an XLSX whose one cell unpacks to hundreds of megabytes and a file with an
extra column (400, as every file that cannot be read)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import pytest
from openpyxl import Workbook
from sqlalchemy import Engine

from api_world import Api, World, build_world, make_api


@pytest.fixture
def setup(engine: Engine) -> Iterator[tuple[World, Api]]:
    world = build_world(engine)
    yield world, make_api(engine)


def _bomb(megabytes: int) -> bytes:
    """A workbook whose one cell holds `megabytes` MB of text (a small upload)."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["identifier", "year", "revenue"])
    sheet.append(["X", 2023, "@@"])
    small = io.BytesIO()
    book.save(small)
    out = io.BytesIO()
    with zipfile.ZipFile(small) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if b"@@" not in data:
                dst.writestr(item, data)
                continue
            before, after = data.split(b"@@")
            with dst.open(item.filename, "w", force_zip64=True) as member:
                member.write(before)
                for _ in range(megabytes):
                    member.write(b"A" * (1 << 20))
                member.write(after)
    return out.getvalue()


def test_bad_uploads_are_422_naming_the_parameter(setup: tuple[World, Api]) -> None:
    _, api = setup
    csv = b"identifier,year\n91110108MA00000010,2023\n"
    for encoding in ("rot13", "base64", "zlib", "hex", "uu", "punycode"):
        response = api.call(
            "admin",
            "POST",
            "/api/v1/imports/indicators",
            files={"file": ("d.csv", csv, "text/csv")},
            data={"encoding": encoding},
        )
        assert response.status_code == 422, (encoding, response.text)
        body = response.json()
        assert body["field"] == "encoding"
        assert f"encoding '{encoding}' is not a character set" in body["message"]

    bomb = _bomb(100)
    assert len(bomb) < 200_000
    response = api.call(
        "admin",
        "POST",
        "/api/v1/imports/indicators",
        files={"file": ("bomb.xlsx", bomb, "application/octet-stream")},
    )
    assert response.status_code == 400, response.text  # as every file that cannot be read
    assert response.json()["field"] == "file"
    assert "holds a cell longer than 32,767 characters" in response.json()["message"]

    zones = "code,name_zh,province,city,level,备注\nZ9,园区,江苏,苏州,national,x\n".encode()
    refused = api.call(
        "admin", "POST", "/api/v1/imports/zones", files={"file": ("z.csv", zones, "text/csv")}
    )
    assert refused.status_code == 400
    assert "ignore_extra=true" in refused.json()["message"]
    taken = api.call(
        "admin",
        "POST",
        "/api/v1/imports/zones",
        files={"file": ("z.csv", zones, "text/csv")},
        data={"ignore_extra": "true"},
    )
    assert taken.status_code == 200, taken.text
    assert taken.json()["written"] == 1
