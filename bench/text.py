"""Benchmark the Shakespeare GPT: validation loss in nats per character, a compression baseline, and speed.

    python -m bench.text [--checkpoint checkpoints/text] [--json OUT]

Validation text: the four held-out plays of data/text/val.txt (twelfth-night, henry-v, macbeth, the-tempest;
`python -m train.text.data` makes it), never trained on. The loss is the total negative
log-likelihood of the text divided by its number of characters, so any tokenizer compares fairly
(gen_app/scoring.py: windows overlap by half, each token is scored once with at least half a context).
Baseline: `xz -9e` on the same text, in bits and nats per character.
Speed (CPU unless --device): tokens per second over 256 new tokens with the KV cache, and the time to the
first token, medians of 5 runs after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import lzma
import math
import statistics
import time
from pathlib import Path

import torch

from gen_app.gpt import GPT
from gen_app.loading import ROOT
from gen_app.sampling import SamplingSettings
from gen_app.scoring import nats_per_char
from gen_app.text.pipeline import TextPipeline
from gen_app.text.tokenizer import load_tokenizer

FLOOR, GOAL = 1.60, 1.40  # nats per character on the held-out plays
SPEED_FLOOR, FIRST_TOKEN_FLOOR_MS = 300, 100
PROMPT = "MACBETH:\nIs this a dagger which I see before me,\n"


def xz_bits_per_char(text: str) -> float:
    data = text.encode("utf-8")
    return len(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME)) * 8 / len(text)


def speed(pipe: TextPipeline, runs: int = 5) -> tuple[float, float]:
    """(tokens per second over 256 new tokens, milliseconds to the first token), medians."""
    settings = SamplingSettings(max_new_tokens=256, temperature=0.8, seed=1)
    rates, firsts = [], []
    for i in range(runs + 1):
        started = time.perf_counter()
        stream = pipe.stream(PROMPT, settings)
        next(stream)
        first = time.perf_counter() - started
        count = 1 + sum(1 for _ in stream)
        total = time.perf_counter() - started
        if i:  # the first run warms up
            rates.append(count / total)
            firsts.append(first * 1000)
    return statistics.median(rates), statistics.median(firsts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/text")
    p.add_argument("--val", type=Path, default=ROOT / "data/text/val.txt")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, metavar="OUT")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    device = torch.device(args.device)
    model = GPT.from_pretrained(args.checkpoint, strict=True).to(device).eval()
    tokenizer = load_tokenizer(args.checkpoint / "tokenizer.json")
    text = args.val.read_text(encoding="utf-8")

    loss = nats_per_char(model, tokenizer, text, device)
    xz = xz_bits_per_char(text)
    rate, first_ms = speed(TextPipeline(model, tokenizer, str(args.checkpoint)))
    params = sum(p.numel() for p in model.parameters())
    verdict = "PASS" if loss <= FLOOR else "FAIL"
    lines = [
        f"Text model benchmark: {args.checkpoint} ({params / 1e6:.2f} M parameters, context {model.block_size})",
        f"validation: {args.val.name}, {len(text):,} characters of four held-out plays",
        "",
        f"{'':32} {'nats/char':>10} {'bits/char':>10}",
        f"{'ours':32} {loss:10.3f} {loss / math.log(2):10.3f}   floor <= {FLOOR} (goal {GOAL}): {verdict}",
        f"{'xz -9e (baseline)':32} {xz * math.log(2):10.3f} {xz:10.3f}",
        "",
        f"speed on {device} ({torch.get_num_threads()} threads): {rate:.0f} tokens/s over 256 new tokens "
        f"(floor >= {SPEED_FLOOR}), first token {first_ms:.1f} ms (floor < {FIRST_TOKEN_FLOOR_MS})",
    ]
    report = "\n".join(lines)
    print(report)
    if args.json:
        figures = {"nats_per_char": loss, "xz_bits_per_char": xz, "tokens_per_second": rate}
        figures |= {"validation_chars": len(text), "chars_per_token": len(text) / len(tokenizer.encode(text))}
        figures |= {"first_token_ms": first_ms, "threads": torch.get_num_threads(), "report": report}
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
