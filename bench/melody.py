"""Benchmark the melody model on held-out tunes (data/melody/val.txt, never trained on).

    python -m train.melody.data && python -m bench.melody --threads 2 [--json checkpoints/melody/metrics.json]

- bits per character on the held-out tunes (the same scoring as the text model: gen_app/scoring.py);
- the share of --tunes sampled tunes (prompt "M:", temperature --temperature, seeds 0..N-1, until a blank line
  or --max-chars) that the audio tab can play: its ABC reader (music21) finds at least 4 notes.
  The same check on as many held-out real tunes is the reference.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from gen_app.audio.score import read_abc
from gen_app.gpt import GPT
from gen_app.limits import InvalidInput
from gen_app.loading import ROOT
from gen_app.sampling import SamplingSettings
from gen_app.scoring import nats_per_char
from gen_app.text.pipeline import TextPipeline
from gen_app.text.tokenizer import load_tokenizer

PROMPT = "M:"


def playable(tune: str) -> bool:
    """The audio tab can play the tune: its own reader (gen_app/audio/score.py: music21, giving up after
    PARSE_SECONDS on text that makes the parser spin) finds at least 4 notes of positive length. music21's own MIDI
    writer fails on some real tunes with repeats, so it is not the test."""
    try:
        return len(read_abc(tune, tempo=120).notes) >= 4
    except InvalidInput:
        return False


def sample_tune(pipe: TextPipeline, seed: int, temperature: float, max_chars: int) -> str:
    text = ""
    for text in pipe.stream(PROMPT, SamplingSettings(max_new_tokens=max_chars, temperature=temperature, seed=seed)):
        if "\n\n" in text:
            break
    return PROMPT + text.split("\n\n")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/melody")
    parser.add_argument("--data", type=Path, default=ROOT / "data/melody/val.txt")
    parser.add_argument("--chars", type=int, default=100_000, help="held-out characters scored")
    parser.add_argument("--tunes", type=int, default=200)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--max-chars", type=int, default=600)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    model = GPT.from_pretrained(args.checkpoint, strict=True).eval()
    tokenizer = load_tokenizer(args.checkpoint / "tokenizer.json")
    pipe = TextPipeline(model, tokenizer, str(args.checkpoint))
    held_out = args.data.read_text(encoding="utf-8")
    bits = nats_per_char(model, tokenizer, held_out[: args.chars], torch.device("cpu")) / math.log(2)
    print(f"held-out: {bits:.3f} bits per character ({min(args.chars, len(held_out)):,} characters)", flush=True)

    started = time.perf_counter()
    samples = [sample_tune(pipe, seed, args.temperature, args.max_chars) for seed in range(args.tunes)]
    seconds = time.perf_counter() - started
    ours = sum(map(playable, samples)) / len(samples)
    real = held_out.strip().split("\n\n")[: args.tunes]
    reference = sum(map(playable, real)) / len(real)
    print(
        f"playable: {ours:.1%} of {len(samples)} sampled tunes (held-out real tunes: {reference:.1%}); "
        f"sampling took {seconds / len(samples):.2f} s per tune"
    )
    report = {
        "held_out_bits_per_char": round(bits, 4),
        "held_out_chars": min(args.chars, len(held_out)),
        "playable_share": round(ours, 4),
        "real_tunes_playable_share": round(reference, 4),
        "tunes": len(samples),
        "temperature": args.temperature,
        "seconds_per_tune": round(seconds / len(samples), 3),
        "examples": samples[:3],
    }
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
