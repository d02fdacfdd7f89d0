"""Rebuild the public-domain paintings of GCompris' jigsaw activity as whole images (style-transfer sources).

    python -m train.style.paintings --out data/style_paintings     # 22 PNGs + sources.json, ~3 s

What it reads
-------------
Debian's ``gcompris-qt-data`` package ships each activity as a compiled Qt resource file; the "Assemble the
puzzle" activity is ``/usr/share/gcompris-qt/rcc/paintings.rcc`` (read by train/photos.py). It holds 22 boards
(``.../paintings/resource/board/boardN_0.qml``) and their jigsaw pieces (``.../resource/image/*.webp``: RGBA,
binary alpha, each piece carrying its tabs). The painter, title and year come from each board's ``instruction``
string ("Painter, Title - year"); ``resource/image/README`` gives the provenance (images from Nicolas Pioch's
WebMuseum, redistributed by GCompris under GPL-3.0-or-later; the paintings themselves are in the public domain).

How the pieces are placed
-------------------------
The boards are data for GCompris' "babymatch" engine (``babymatch.rcc``: ``babymatch.js``, ``DropAnswerItem.qml``,
``DragListItem.qml``). The first entry of a board's ``levels`` list is the background (``bg.svg``, type
``SHAPE_BACKGROUND_IMAGE``) with a width and height (702 x 515 on every board); every other entry is a piece with
``x``, ``y`` as strings. The engine draws the background scaled to the screen and puts each piece's *centre* at
``(x * background width, y * background height)``, drawn at its own pixel size times (displayed background width
/ 702); so in the 702 x 515 frame a piece's top-left corner is ``(x * 702 - w / 2, y * 515 - h / 2)``, at native
size. That is rounded to whole pixels here.

The pieces are cut with a pixel or so of overlap along the jigsaw cuts (3-5 px on board 1, 0-1 px between the
rectangular tiles of boards 20-22), so no search is needed: the rounded board positions tile the painting. (A search
for the 1-2 px shifts that best match overlapping pixels was tried and made seams *more* visible, as measured by the
colour step across seams: the lossy WebP pixels along a cut are not faithful enough to align on.) Overlapping pixels
are averaged with weights that grow with the distance from the piece's cut (1 to 4 px), since the pixels on a cut
are the least faithful. The result is cropped to the painting's rectangle (border rows and columns less than 97 %
covered are dropped), the few pixels no piece covers (mostly a 1 px crack on board 18, where a board position is off
by one) are filled from their neighbours, and up to 4 px of light or dark fringe (the scan's frame line, or the
white the outer cuts were antialiased against) is trimmed from each side: a border line is dropped while its mean
colour differs by more than FRINGE_THRESHOLD from the line 3 px further in. Images whose longest side exceeds
``--max-side`` (1024) are shrunk with PIL's Lanczos filter; the paintings here are at most 725 x 500, so none is.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from train.photos import read_rcc

RCC_PATH = Path("/usr/share/gcompris-qt/rcc/paintings.rcc")
ACTIVITY = "/gcompris/src/activities/paintings/resource/"
CUT_WEIGHT_PX = 4  # blending weight of a piece's pixel = its distance from the cut, clipped to this
MIN_EDGE_COVERAGE = 0.97  # border rows/columns covered less than this are cropped away
MAX_FRINGE_PX = 4  # at most this many border lines are trimmed per side as fringe
FRINGE_THRESHOLD = 12.0  # mean |RGB difference| (0-255) from the line 3 px inwards that marks a line as fringe

# Obvious misspellings in the boards' instruction strings (the raw string is kept in sources.json).
PAINTER_FIXES = {
    "Katsushika Hokusa": "Katsushika Hokusai",
    "Pieter Brugel": "Pieter Bruegel the Elder",
    "Bazille": "Frédéric Bazille",
}


# ---------------------------------------------------------------------------------------------------- boards
@dataclass
class Piece:
    resource: str  # rcc path of the .webp
    rgb: np.ndarray  # (h, w, 3) float32
    mask: np.ndarray  # (h, w) bool, the piece's shape
    x0: int  # top-left corner in the 702 x 515 frame
    y0: int


@dataclass
class Board:
    resource: str
    instruction: str
    width: int
    height: int
    pieces: list[Piece]


def parse_board(resource: str, qml: str, files: dict[str, bytes]) -> Board:
    """Read a boardN_0.qml: the instruction string, the background size and the pieces' centres."""
    match = re.search(r'instruction:\s*qsTr\("((?:[^"\\]|\\.)*)"\)', qml)
    instruction = match.group(1) if match else ""
    start = qml.index("[", qml.index("property var levels"))
    levels = json.loads(qml[start : qml.rindex("]") + 1])  # the levels list is written as JSON
    background = next(item for item in levels if item.get("type") == "SHAPE_BACKGROUND_IMAGE")
    width, height = int(background["width"]), int(background["height"])
    pieces = []
    for item in levels:
        if "type" in item:
            continue
        path = ACTIVITY + item["pixmapfile"]
        rgba = np.asarray(Image.open(io.BytesIO(files[path])).convert("RGBA"))
        h, w = rgba.shape[:2]
        x0 = round(float(item["x"]) * width - w / 2)  # x, y: the piece's centre, as a fraction of the background
        y0 = round(float(item["y"]) * height - h / 2)
        pieces.append(Piece(path, rgba[..., :3].astype(np.float32), rgba[..., 3] > 127, x0, y0))
    return Board(resource, instruction, width, height, pieces)


def describe(instruction: str) -> dict[str, str | None]:
    """Split "Painter, Title - year" (year optional) into its parts, fixing known misspellings of names."""
    painter, _, rest = instruction.partition(", ")
    title, sep, year = rest.rpartition(" - ")
    if not sep:
        title, year = rest, ""
    return {
        "title": title.strip(),
        "painter": PAINTER_FIXES.get(painter.strip(), painter.strip()),
        "year": year.strip().rstrip(".") or None,
    }


# ------------------------------------------------------------------------------------------------- assembly
def _distance_from_cut(mask: np.ndarray, limit: int) -> np.ndarray:
    """City-block distance (1 = on the cut) of each piece pixel from the outside of the piece, clipped to limit."""
    dist = np.zeros(mask.shape, np.float32)
    inside = mask.copy()
    for step in range(1, limit + 1):
        dist[inside] = step
        padded = np.pad(inside, 1, constant_values=False)
        inside = inside & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    return dist


def _fill_holes(rgb: np.ndarray, covered: np.ndarray) -> None:
    """Fill uncovered pixels in place with the mean of their covered 8-neighbours, growing inwards."""
    covered = covered.copy()
    while not covered.all():
        padded_rgb = np.pad(rgb * covered[..., None], ((1, 1), (1, 1), (0, 0)))
        padded_cov = np.pad(covered.astype(np.float32), 1)
        h, w = covered.shape
        acc = np.zeros_like(rgb)
        n = np.zeros(covered.shape, np.float32)
        for dy in range(3):
            for dx in range(3):
                acc += padded_rgb[dy : dy + h, dx : dx + w]
                n += padded_cov[dy : dy + h, dx : dx + w]
        grow = ~covered & (n > 0)
        if not grow.any():
            break
        rgb[grow] = acc[grow] / n[grow][:, None]
        covered |= grow


def _trim_fringe(rgb: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
    """Drop up to MAX_FRINGE_PX border lines per side whose mean colour is far from the line 3 px further in."""
    trimmed = {}
    for side in ("top", "bottom", "left", "right"):
        count = 0
        while count < MAX_FRINGE_PX and min(rgb.shape[:2]) > 8:
            view = rgb if side in ("top", "bottom") else rgb.transpose(1, 0, 2)  # lines are rows of `view`
            edge, inner = (0, 3) if side in ("top", "left") else (-1, -4)
            if np.abs(view[edge].mean(axis=0) - view[inner].mean(axis=0)).mean() <= FRINGE_THRESHOLD:
                break
            view = view[1:] if side in ("top", "left") else view[:-1]
            rgb = view if side in ("top", "bottom") else view.transpose(1, 0, 2)
            count += 1
        trimmed[side] = count
    return rgb, trimmed


def assemble(board: Board) -> tuple[Image.Image, dict[str, object]]:
    """Blend the pieces at their board positions into one image cropped to the painting.

    Returns the image and figures for sources.json: how many uncovered pixels were filled, and how many fringe
    lines were trimmed per side.
    """
    margin = max(max(p.mask.shape) for p in board.pieces)  # pieces may stick out of the 702 x 515 frame
    shape = (board.height + 2 * margin, board.width + 2 * margin)
    total = np.zeros((*shape, 3), np.float32)
    weight = np.zeros(shape, np.float32)
    for piece in board.pieces:
        h, w = piece.mask.shape
        ys = slice(piece.y0 + margin, piece.y0 + margin + h)
        xs = slice(piece.x0 + margin, piece.x0 + margin + w)
        wgt = _distance_from_cut(piece.mask, CUT_WEIGHT_PX)
        total[ys, xs] += piece.rgb * wgt[..., None]
        weight[ys, xs] += wgt
    covered = weight > 0
    rows, cols = np.nonzero(covered.any(axis=1))[0], np.nonzero(covered.any(axis=0))[0]
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    # drop ragged border rows/columns (a piece on the edge sitting a pixel further out than its neighbours)
    while bottom - top > 2 and covered[top, left:right].mean() < MIN_EDGE_COVERAGE:
        top += 1
    while bottom - top > 2 and covered[bottom - 1, left:right].mean() < MIN_EDGE_COVERAGE:
        bottom -= 1
    while right - left > 2 and covered[top:bottom, left].mean() < MIN_EDGE_COVERAGE:
        left += 1
    while right - left > 2 and covered[top:bottom, right - 1].mean() < MIN_EDGE_COVERAGE:
        right -= 1
    covered = covered[top:bottom, left:right]
    rgb = total[top:bottom, left:right] / np.maximum(weight[top:bottom, left:right], 1e-6)[..., None]
    holes = int((~covered).sum())
    _fill_holes(rgb, covered)
    rgb, trimmed = _trim_fringe(rgb)
    image = Image.fromarray(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), "RGB")
    return image, {"filled_pixels": holes, "fringe_trimmed_px": trimmed}


# ------------------------------------------------------------------------------------------------------- main
def _slug(text: str, max_len: int = 42) -> str:
    """ASCII file-name fragment: "Albrecht Dürer" -> "albrecht_durer", cut at a word boundary."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "_", ascii_text.lower()).strip("_")
    if len(slug) > max_len:
        slug = slug[: max_len + 1].rsplit("_", 1)[0]
    return slug


def _package_version(package: str) -> str | None:
    try:
        result = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True)
    except OSError:
        return None
    return result.stdout.strip() or None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    parser.add_argument("--rcc", type=Path, default=RCC_PATH, help="GCompris' paintings.rcc")
    parser.add_argument("--max-side", type=int, default=1024, help="shrink (Lanczos) images larger than this")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    files = read_rcc(args.rcc)
    board_paths = sorted(
        (p for p in files if re.fullmatch(re.escape(ACTIVITY) + r"board/board\d+_0\.qml", p)),
        key=lambda p: int(re.search(r"board(\d+)_0\.qml$", p).group(1)),
    )
    if not board_paths:
        sys.exit(f"no boards found in {args.rcc}")
    args.out.mkdir(parents=True, exist_ok=True)

    paintings = []
    for number, board_path in enumerate(board_paths, 1):
        board = parse_board(board_path, files[board_path].decode("utf-8"), files)
        info = describe(board.instruction)
        image, quality = assemble(board)
        if max(image.size) > args.max_side:
            scale = args.max_side / max(image.size)
            image = image.resize((round(image.width * scale), round(image.height * scale)), Image.LANCZOS)
        name = f"{number:02d}_{_slug(info['painter'] or '')}_{_slug(info['title'] or '')}.png"
        image.save(args.out / name, optimize=True)
        paintings.append(
            {
                "file": name,
                **info,
                "instruction": board.instruction,
                "width": image.width,
                "height": image.height,
                "board": board_path,
                "pieces": [p.resource for p in board.pieces],
                **quality,
            }
        )
        trimmed = quality["fringe_trimmed_px"]
        print(
            f"{name:58s} {image.width}x{image.height}  pieces {len(board.pieces):2d}  "
            f"filled {quality['filled_pixels']:3d} px  fringe trimmed (t,b,l,r) {tuple(trimmed.values())}"
        )

    readme = files.get(ACTIVITY + "image/README", b"").decode("utf-8", "replace")
    sources = {
        "source": str(args.rcc),
        "package": "gcompris-qt-data",
        "package_version": _package_version("gcompris-qt-data"),
        "notes": "Paintings are in the public domain; the scans come from Nicolas Pioch's WebMuseum via GCompris "
        "(files under GPL-3.0-or-later, see 'readme'). Images rebuilt from the jigsaw pieces of the 'paintings' "
        "activity by train/style/paintings.py; 'filled_pixels': pixels no piece covered (filled from their "
        "neighbours); 'fringe_trimmed_px': border lines cut away per side. 'painter' fixes misspellings in the "
        "board's 'instruction'.",
        "readme": readme.split("Files:")[0].strip(),
        "paintings": paintings,
    }
    (args.out / "sources.json").write_text(json.dumps(sources, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(paintings)} paintings -> {args.out} in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
