"""Copy the README's screenshots from the pages' browser test into docs/screenshots/, shrunk.

    .venv/bin/python scripts/readme_screenshots.py        (or: make screenshots, which first
                                                           runs the test that takes them)

The browser test of the ledger's pages (tests/e2e/test_pages_ledger_browser.py) saves the home,
enterprise-profile and ledger (a loan) pages as `test-artefacts/pages/docs-*.png`, 1,280 × 900
as a visitor sees them. Each is copied to `docs/screenshots/` at most `--width` pixels wide, in
256 colours (Pillow's median cut, no dithering: flat page colours stay flat and text stays sharp),
with PNG's optimiser; a file over `--max-kb` fails the run. Pillow comes with fpdf2 (the reports'
PDF), so this needs nothing more.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "test-artefacts" / "pages"
TARGET = ROOT / "docs" / "screenshots"
#: the screenshots the README links: test artefact → file in docs/screenshots/
SHOTS = {
    "docs-home.png": "home.png",
    "docs-enterprise-profile.png": "enterprise-profile.png",
    "docs-ledger-loan.png": "ledger-loan.png",
}


def shrink(source: Path, target: Path, width: int) -> tuple[int, int]:
    """Write `source` to `target` at most `width` wide in 256 colours; (width, height)."""
    with Image.open(source) as image:
        picture = image.convert("RGB")
    if picture.width > width:
        height = round(picture.height * width / picture.width)
        picture = picture.resize((width, height), Image.Resampling.LANCZOS)
    quantised = picture.quantize(
        colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    quantised.save(target, format="PNG", optimize=True)
    return quantised.size


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=1280, help="largest width, pixels")
    parser.add_argument("--max-kb", type=int, default=300, help="largest file, KB")
    args = parser.parse_args(argv)
    missing = [name for name in SHOTS if not (SOURCE / name).is_file()]
    if missing:
        print(
            f"missing in {SOURCE}: {', '.join(missing)}; run the browser test first "
            "(make screenshots does)",
            file=sys.stderr,
        )
        return 1
    too_big = []
    for name, out in SHOTS.items():
        source, target = SOURCE / name, TARGET / out
        width, height = shrink(source, target, args.width)
        before, after = source.stat().st_size, target.stat().st_size
        print(f"{out}: {width} × {height}, {before / 1024:,.0f} KB → {after / 1024:,.0f} KB")
        if after > args.max_kb * 1024:
            too_big.append(out)
    if too_big:
        print(f"over {args.max_kb} KB: {', '.join(too_big)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
