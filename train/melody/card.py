"""Write checkpoints/melody/README.md (the model card) from the figures next to the weights.

    python -m bench.melody --threads 2 --json checkpoints/melody/metrics.json
    python -m train.melody.card

Reads training.json (train/melody/train.py, through train/text/train.py), metrics.json (bench/melody.py) and, for
the collections' sizes, the data set's meta.json (train/melody/data.py).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from train.common import ROOT, card_front_matter, current_command, save_card, stage_chain


def training_story(record: dict) -> str:
    """The command(s): one, or a first schedule and the resumed, longer one (`previous_stage` in training.json)."""
    stages = stage_chain(record)
    command = current_command(record["command"])
    if len(stages) == 1:
        return f"`{command}`: {record['steps']:,} steps."
    first = stages[-2]
    return (
        f"`{current_command(first['command'])}` ({first['steps']:,} steps), then the same run directory resumed under "
        f"`{command}` to {record['steps']:,} steps: the learning rate rose again to the longer schedule's "
        f"value at step {first['steps']:,} and decayed from there (hence the bump in the curve right after it)."
    )


def write_card(folder: Path, data: Path = ROOT / "data/melody") -> Path:
    """folder/README.md from the folder's config.json, training.json and metrics.json (and data/meta.json)."""
    config = json.loads((folder / "config.json").read_text())
    record = json.loads((folder / "training.json").read_text())
    metrics = json.loads((folder / "metrics.json").read_text())
    meta = json.loads((data / "meta.json").read_text()) if (data / "meta.json").exists() else {}
    size_mb = (folder / "model.safetensors").stat().st_size / 1e6
    curve = ", ".join(f"{h['step']}: {h['val'] / 0.6931:.2f}" for h in record["history"])
    examples = "\n\n".join(f"```\n{tune}\n```" for tune in metrics["examples"])
    collections = ", ".join(f"{name} ({count:,} tunes)" for name, count in meta.get("collections", {}).items())
    tags = ["music", "abc-notation", "text-generation", "gen_app"]
    card = f"""{card_front_matter(tags)}# gen_app melody: a small GPT that writes folk tunes in ABC notation

## Summary
The text tab's GPT (`gen_app/gpt.py`: {config["n_layer"]} layers, {config["n_head"]} heads, {config["n_embd"]} wide,
context {config["block_size"]} characters), one character per token ({config["vocab_size"]} symbols), trained by
`train/melody/train.py` (which runs `train/text/train.py` with melody defaults) on the folk tunes of the music21
corpus. {size_mb:.1f} MB. Held-out: **{metrics["held_out_bits_per_char"]:.3f} bits per character**;
**{metrics["playable_share"]:.1%}** of {metrics["tunes"]} sampled tunes are played by the audio tab (held-out real
tunes: {metrics["real_tunes_playable_share"]:.1%}). The app's audio tab composes with it (key, metre, length and
temperature chosen by the user) and plays the tune with the neural instrument (`checkpoints/synth`).

## Metrics
`python -m bench.melody --threads 2`: bits per character on the first {metrics["held_out_chars"]:,} characters of
the held-out tunes (every 20th tune of each collection; never trained on); playable share: tunes sampled from the
prompt `M:` at temperature {metrics["temperature"]}, seeds 0 to {metrics["tunes"] - 1}, each up to its first blank
line, read by the audio tab's ABC reader (music21 through `gen_app/audio/score.py`: no error, at least 4 notes). Floor (issue 6): ≥ 98% playable.
Sampling takes {metrics["seconds_per_tune"]} s per tune on this CPU (2 threads).

Validation bits per character during training (step: bits): {curve}.

## Training data
`python -m train.melody.data`: the ABC files of the PyPI `music21` 10.5.1 corpus (package BSD-3-Clause;
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
    return save_card(folder, card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/melody")
    parser.add_argument("--data", type=Path, default=ROOT / "data/melody", help="the data set (its meta.json)")
    args = parser.parse_args()
    print(f"wrote {write_card(args.checkpoint, args.data)}")


if __name__ == "__main__":
    main()
