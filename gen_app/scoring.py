"""Validation loss in nats per character: the measure that compares tokenizers fairly.

Used by training and benches only, never by the app: train/text/train.py (and the melody run, which uses the same
loop) follows it during training, bench/text.py and bench/melody.py report it. It lives in gen_app, beside the GPT
it scores (gen_app/gpt.py), because train/ and bench/ never import each other, and a measure written twice would
drift apart.

Total negative log-likelihood of a text divided by its number of characters. Windows of the model's
context overlap by half and only the second half of each is scored, so every token (after the first
window) is predicted with at least half a context of history.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from gen_app.gpt import GPT
from gen_app.text.tokenizer import Tokenizer


@torch.inference_mode()
def nats_per_char(model: GPT, tokenizer: Tokenizer, text: str, device: torch.device) -> float:
    was_training = model.training
    model.eval()
    ids = torch.tensor(tokenizer.encode(text), device=device)
    block, stride = model.block_size, model.block_size // 2
    total, scored = 0.0, 0
    for start in range(0, len(ids) - 1, stride):
        window = ids[start : start + block + 1]
        logits = model(window[None, :-1])[0]
        first = 0 if start == 0 else block - stride  # score only what earlier windows did not
        total += F.cross_entropy(logits[first:].float(), window[1:][first:], reduction="sum").item()
        scored += len(window) - 1 - first
        if start + block + 1 >= len(ids):
            break
    assert scored == len(ids) - 1, (scored, len(ids))
    model.train(was_training)
    # The first token is never predicted: count the characters of the scored tokens only.
    return total / len(tokenizer.decode(ids[1:].tolist()))
