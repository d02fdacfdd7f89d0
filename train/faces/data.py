"""Render the facesjs face sets used for training and evaluation (never committed).

    python -m train.faces.data            # data/faces/{train,heldout}.{rgb,jsonl,json}, 256 px

train:   30,000 faces, seeds 0..29,999        -> the generator's training set
heldout: 10,000 faces, seeds 1,000,000..      -> bench/faces.py only (attribute classifier, real-vs-real floor)

Each face is a pure function of its seed (facesjs 5.0.3, Apache-2.0, rendered by @resvg/resvg-js 2.6.2,
MPL-2.0), so the same command gives the same bytes on any machine.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from train.common import ROOT

FACES_DIR = Path(__file__).resolve().parent  # the node tools (render_faces.mjs, package.json) live here
SETS = {"train": (30_000, 0), "heldout": (10_000, 1_000_000)}


def render(out_dir: Path, name: str, count: int, first_seed: int, size: int) -> None:
    if not (FACES_DIR / "node_modules" / "facesjs").exists():
        subprocess.run(["npm", "install", "--no-audit", "--no-fund"], cwd=FACES_DIR, check=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    prefix = out_dir.resolve() / name  # node runs in train/, so the path must not be relative
    subprocess.run(
        ["node", str(FACES_DIR / "render_faces.mjs"), str(prefix), str(count), str(first_seed), str(size)],
        cwd=FACES_DIR,
        check=True,
    )
    meta = {"count": count, "first_seed": first_seed, "size": size, "source": "npm facesjs 5.0.3 (Apache-2.0)"}
    prefix.with_suffix(".json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{prefix}.rgb: {count} faces at {size}px")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "data" / "faces")
    p.add_argument("--size", type=int, default=256, help="pixels; the models train on a 128 px downscale")
    p.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    p.add_argument("--count", type=int, default=None, help="override the number of faces (smoke tests)")
    args = p.parse_args()
    for name in args.sets:
        count, first_seed = SETS[name]
        render(args.out, name, args.count or count, first_seed, args.size)


if __name__ == "__main__":
    main()
