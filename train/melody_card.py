"""Write checkpoints/melody/README.md (the model card) from the figures next to the weights.

    python bench/melody.py --threads 2 --json checkpoints/melody/metrics.json
    python train/melody_card.py

Reads training.json (train_melody.py, through train_text.py) and metrics.json (bench/melody.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def training_story(record: dict) -> str:
    """The command(s): one, or a first schedule and the resumed, longer one (`previous_stage` in training.json)."""
    first = record.get("previous_stage")
    if not first:
        return f"`{record['command']}`: {record['steps']:,} steps."
    return (
        f"`{first['command']}` ({first['steps']:,} steps), then the same run directory resumed under "
        f"`{record['command']}` to {record['steps']:,} steps: the learning rate rose again to the longer schedule's "
        f"value at step {first['steps']:,} and decayed from there (hence the bump in the curve right after it)."
    )


def card(folder: Path) -> str:
    config = json.loads((folder / "config.json").read_text())
    record = json.loads((folder / "training.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    meta = json.loads((ROOT / "data/melody/meta.json").read_text()) if (ROOT / "data/melody/meta.json").exists() else {}
    size_mb = (folder / "model.safetensors").stat().st_size / 1e6
    curve = ", ".join(f"{h['step']}: {h['val'] / 0.6931:.2f}" for h in record["history"])
    examples = "\n\n".join(f"```\n{tune}\n```" for tune in metrics["examples"])
    collections = ", ".join(f"{name} ({count:,} tunes)" for name, count in meta.get("collections", {}).items())
    return f"""---
license: apache-2.0
library_name: gen_app
tags: [music, abc-notation, text-generation, gen_app]
---
# gen_app melody: a small GPT that writes folk tunes in ABC notation

## Summary
The text tab's GPT (`gen_app/text/model.py`: {config["n_layer"]} layers, {config["n_head"]} heads, {config["n_embd"]} wide,
context {config["block_size"]} characters), one character per token ({config["vocab_size"]} symbols), trained by
`train/train_melody.py` (which runs `train/train_text.py` with melody defaults) on the folk tunes of the music21
corpus. {size_mb:.1f} MB. Held-out: **{metrics["held_out_bits_per_char"]:.3f} bits per character**;
**{metrics["playable_share"]:.1%}** of {metrics["tunes"]} sampled tunes are played by the audio tab (held-out real
tunes: {metrics["real_tunes_playable_share"]:.1%}). The app's audio tab composes with it (key, metre, length and
temperature chosen by the user) and plays the tune with the neural instrument (`checkpoints/synth`).

## Metrics
`python bench/melody.py --threads 2`: bits per character on the first {metrics["held_out_chars"]:,} characters of
the held-out tunes (every 20th tune of each collection; never trained on); playable share: tunes sampled from the
prompt `M:` at temperature {metrics["temperature"]}, seeds 0 to {metrics["tunes"] - 1}, each up to its first blank
line, read by the audio tab's ABC reader (music21 through `gen_app/audio/score.py`: no error, at least 4 notes). Floor (issue 6): ≥ 98% playable.
Sampling takes {metrics["seconds_per_tune"]} s per tune on this CPU (2 threads).

Validation bits per character during training (step: bits): {curve}.

## Training data
`python train/build_melody_data.py`: the ABC files of the PyPI `music21` 10.5.1 corpus (package BSD-3-Clause;
traditional tunes): {collections}. Kept per tune: the M:, L:, K: headers, then the body with chord names,
fingerings, decorations and comments removed.

## Training
{training_story(record)} {record["batch_per_process"]} sequences of {config["block_size"]} characters per step, AdamW
with warm-up and cosine decay, on {record["device"]}, {record["training_hours"] * 60:.0f} minutes in all.

## Samples (seeds 0-2)
{examples}

## Limitations
Short training on a CPU: tunes are locally plausible but wander; repeats and endings are not always consistent.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/melody")
    args = parser.parse_args()
    (args.checkpoint / "README.md").write_text(card(args.checkpoint))
    print(f"wrote {args.checkpoint / 'README.md'}")


if __name__ == "__main__":
    main()
