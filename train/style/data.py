"""Build the style-transfer data: the shipped style paintings (committed) and the content photos (not committed).

    python -m train.style.data              # gen_app/style/styles/ (16 paintings + styles.json), data/style/content/

Style paintings: 15 public-domain paintings rebuilt from GCompris' jigsaw activity (train/style/paintings.py,
Debian ``gcompris-qt-data``) and Van Gogh's *The Starry Night* from Debian ``opencv-doc``
(``examples/data/starry_night.jpg``; its 4-5 px black frame is cut away). They are saved at most 1024 px a side
into ``gen_app/style/styles/`` with ``styles.json`` (title, painter, year, source, licence) and a README table:
the app shows them as its style gallery and train/style/train.py trains on them. Two more GCompris paintings go
to ``styles/examples/`` (examples for the any-style mode), and three validation photos from the scikit-image
wheel, 512 px, to ``gen_app/style/examples/`` (the tab's example photos).

Content photos: the Debian wallpaper photos and GCompris photo sets that train/sr/data.py uses too (train/photos.py;
never the scikit-image / scikit-learn photos: those are the validation set), shrunk to at most 640 px a side (training
crops are 256 px) and saved as JPEG quality 92 into ``data/style/content/`` with ``sources.tsv``.
"""

from __future__ import annotations

import argparse
import io
import json
import tempfile
from pathlib import Path

from PIL import Image

from train.common import ROOT
from train.photos import gcompris_photos, photo_paths
from train.style import paintings

STARRY_NIGHT = Path("/usr/share/doc/opencv-doc/examples/data/starry_night.jpg")
STARRY_NIGHT_FRAME_PX = 5
CONTENT_SIDE = 640
GCOMPRIS_LICENCE = "painting: public domain; scan: GPL-3.0-or-later (Nicolas Pioch's WebMuseum via GCompris)"

# (id, file prefix of train/style/paintings.py's output) in gallery order: strong, varied textures and palettes.
GCOMPRIS_CHOICE = [
    ("great_wave", "07_"),
    ("village_street_auvers", "22_"),
    ("composition_viii", "19_"),
    ("moulin_de_la_galette", "01_"),
    ("spring", "02_"),
    ("oiran_and_kamuro", "04_"),
    ("benzaiten_in_snow", "08_"),
    ("poppies", "11_"),
    ("kazusa_sea_route", "12_"),
    ("mona_lisa", "14_"),
    ("lion", "16_"),
    ("harvesters", "17_"),
    ("summertime", "21_"),
    ("girls_at_the_piano", "18_"),
    ("mackerel_and_prawn", "09_"),
]
# Two more paintings, not trained on: examples for the tab's "any style image" mode (in styles/examples/).
EXAMPLE_CHOICE = [("ejiri", "06_"), ("ramparts_aigues_mortes", "20_")]


def build_styles(out: Path) -> list[dict]:
    out.mkdir(parents=True, exist_ok=True)
    styles = []
    image = Image.open(STARRY_NIGHT).convert("RGB")
    f = STARRY_NIGHT_FRAME_PX
    image.crop((f, f, image.width - f, image.height - f)).save(out / "starry_night.jpg", quality=95)
    styles.append(
        {
            "id": "starry_night",
            "file": "starry_night.jpg",
            "title": "The Starry Night",
            "painter": "Vincent van Gogh",
            "year": "1889",
            "source": f"Debian opencv-doc: {STARRY_NIGHT}",
            "licence": "painting: public domain; file: part of OpenCV's samples (Apache-2.0)",
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        paintings.main(["--out", tmp])
        built = json.loads((Path(tmp) / "sources.json").read_text())
        examples = []
        for style_id, prefix in GCOMPRIS_CHOICE + EXAMPLE_CHOICE:
            entry = next(p for p in built["paintings"] if p["file"].startswith(prefix))
            image = Image.open(Path(tmp) / entry["file"]).convert("RGB")
            image.thumbnail((1024, 1024), Image.LANCZOS)
            is_example = (style_id, prefix) in EXAMPLE_CHOICE
            folder = out / "examples" if is_example else out
            folder.mkdir(exist_ok=True)
            image.save(folder / f"{style_id}.jpg", quality=95)
            (examples if is_example else styles).append(
                {
                    "id": style_id,
                    "file": f"{style_id}.jpg",
                    "title": entry["title"],
                    "painter": entry["painter"],
                    "year": entry["year"],
                    "source": f"Debian gcompris-qt-data {built['package_version']}: paintings.rcc, {entry['board']}",
                    "licence": GCOMPRIS_LICENCE,
                }
            )
    (out / "styles.json").write_text(json.dumps(styles, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "examples" / "examples.json").write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n")
    (out / "README.md").write_text(sources_readme(styles, examples), encoding="utf-8")
    print(f"{len(styles)} styles -> {out}")
    return styles


def sources_readme(styles: list[dict], examples: list[dict]) -> str:
    """The paintings' sources and licences, as a table (written next to them)."""
    rows = [
        f"| `{s['file']}` | {s['title']} | {s['painter']} | {s['year'] or 'undated'} | {s['source']} | {s['licence']} |"
        for s in styles + [{**e, "file": f"examples/{e['file']}"} for e in examples]
    ]
    return (
        "# Style paintings\n\n"
        "Written by `python -m train.style.data`. The first 16 are the styles the network was trained on "
        "(`styles.json`, gallery order); the two under `examples/` are not, and serve as examples of the "
        '"any style image" mode. The paintings are in the public domain; the scans\' licences are given per file.\n\n'
        "| file | painting | painter | year | source | licence |\n|---|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )


def build_content(out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    photos = [(str(p), Image.open(p).convert("RGB")) for p in photo_paths()]
    photos += gcompris_photos()
    lines = []
    for number, (source, image) in enumerate(photos):
        image.thumbnail((CONTENT_SIDE, CONTENT_SIDE), Image.LANCZOS)
        name = f"{number:04d}.jpg"
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=92)
        (out / name).write_bytes(buffer.getvalue())
        lines.append(f"{name}\t{source}")
    (out / "sources.tsv").write_text("\n".join(lines) + "\n")
    print(f"{len(photos)} content photos -> {out}")
    return len(photos)


def build_example_photos(out: Path) -> None:
    """The tab's example photos: three of the validation photos in the scikit-image wheel, 512 px (never trained on)."""
    from skimage import data

    out.mkdir(parents=True, exist_ok=True)
    for name in ("chelsea", "coffee", "astronaut"):
        image = Image.fromarray(getattr(data, name)())
        image.thumbnail((512, 512), Image.LANCZOS)
        image.save(out / f"{name}.jpg", quality=92)
    print(f"example photos -> {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--styles-out", type=Path, default=ROOT / "gen_app/style/styles")
    parser.add_argument("--content-out", type=Path, default=ROOT / "data/style/content")
    parser.add_argument("--examples-out", type=Path, default=ROOT / "gen_app/style/examples")
    args = parser.parse_args()
    build_styles(args.styles_out)
    build_content(args.content_out)
    build_example_photos(args.examples_out)


if __name__ == "__main__":
    main()
