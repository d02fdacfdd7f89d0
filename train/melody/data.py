"""Collect the folk tunes of the music21 corpus as one ABC text format, for the melody model.

    pip install music21==10.5.1 && python -m train.melody.data     # data/melody/{train,val}.txt

Sources (ABC files inside the music21 wheel, BSD-licensed package; the tunes are traditional):
``oneills1850`` (O'Neill's Music of Ireland, 1850), ``ryansMammoth`` (Ryan's Mammoth Collection, 1883) and
``essenFolksong`` (the Essen folk-song collection). Each tune keeps only what the music needs, in this order:

    M:6/8
    L:1/8
    K:G
    GAB c2d | ...

metre, unit note length and key headers, then the body with quoted chord names and fingerings ("Am", "4"),
!decorations!, comments and line continuations removed. Tunes are separated by a blank line. Every 20th tune of
each collection (in file order) is held out: val.txt, never trained on, used for bits per character and as the
reference for the share of generated tunes that parse.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from train.common import ROOT

COLLECTIONS = ("oneills1850", "ryansMammoth", "essenFolksong")
HELD_OUT_EVERY = 20
KEEP_HEADERS = ("M", "L", "K")


def corpus_folder() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def split_tunes(text: str) -> list[str]:
    """The tunes of one ABC file (each starts at an X: line)."""
    return [t for t in re.split(r"(?m)^(?=X:)", text) if t.startswith("X:")]


def clean_tune(raw: str) -> str | None:
    """The tune in the training format, or None when it lacks a key or a body."""
    headers: dict[str, str] = {}
    body: list[str] = []
    for line in raw.replace("\\\n", "").splitlines():
        line = line.split("%", 1)[0].rstrip()
        if not line.strip():
            continue
        field = re.match(r"^([A-Za-z]):\s*(.*)$", line)
        if field and not body:
            name, value = field.group(1), field.group(2).strip()
            if name in KEEP_HEADERS and name not in headers:
                headers[name] = value
            continue
        if field:  # a header inside the body (a key or metre change) is music: keep it
            if field.group(1) in KEEP_HEADERS:
                body.append(f"{field.group(1)}:{field.group(2).strip()}")
            continue
        line = re.sub(r'"[^"]*"', "", line)  # chord names, fingerings, annotations
        line = re.sub(r"![^!]*!", "", line)  # decorations
        line = re.sub(r"\s+", " ", line).strip()
        if line:
            body.append(line)
    if "K" not in headers or not body:
        return None
    lines = [f"{name}:{headers[name]}" for name in KEEP_HEADERS if name in headers] + body
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "data/melody")
    args = parser.parse_args()
    split: dict[str, list[str]] = {"train": [], "val": []}
    counts = {}
    for collection in COLLECTIONS:
        tunes = []
        for path in sorted((corpus_folder() / collection).glob("*.abc")):
            text = path.read_text(encoding="latin-1")
            tunes += [t for t in (clean_tune(raw) for raw in split_tunes(text)) if t]
        for i, tune in enumerate(tunes):
            split["val" if i % HELD_OUT_EVERY == 0 else "train"].append(tune)
        counts[collection] = len(tunes)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, tunes in split.items():
        (args.out / f"{name}.txt").write_text("\n\n".join(tunes) + "\n", encoding="utf-8")
        print(f"{name}: {len(tunes)} tunes, {sum(map(len, tunes)):,} characters")
    meta = {"collections": counts, "held_out_every": HELD_OUT_EVERY, "headers": KEEP_HEADERS}
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
