"""Train the melody model: the text tab's GPT (gen_app/gpt.py) and training script (train/text/train.py), on
folk tunes in ABC notation, one character per token.

    python -m train.melody.data             # data/melody/{train,val}.txt
    python -m train.melody.train            # writes checkpoints/melody/ (any train.text.train option overrides)
    torchrun --nproc_per_node 2 -m train.melody.train ...

Characters rather than BPE: ABC is a small alphabet whose every character is a musical symbol (a note, an
accidental, a length, a bar line), so a character model samples notation that stays well-formed.
"""

from __future__ import annotations

import sys

from train.common import ROOT
from train.text import train as train_text

MELODY_DEFAULTS = [
    "--data", str(ROOT / "data/melody"),
    "--tokenizer", "char",
    "--block-size", "256",
    "--steps", "3000",
    "--run-dir", str(ROOT / "runs/melody"),
    "--out", str(ROOT / "checkpoints/melody"),
]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    # Later options win in argparse, so anything given on the command line overrides these defaults.
    train_text.main(MELODY_DEFAULTS + (sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
