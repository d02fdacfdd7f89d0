"""Sampling from the GPT (gen_app/gpt.py), shared by the text tab (Shakespeare) and the audio tab (the tune composer).

- `SamplingSettings` and the ranges each setting accepts (the text tab's sliders read the same constants);
- `filter_logits`: repetition penalty, temperature, top-k, top-p on one step's logits;
- `sample_tokens`: the streaming sampler (KV cache, seeded generator, a context that slides when full);
- `LanguageModel`: a GPT with its tokenizer, loaded for a task, streaming decoded text.

from gen_app.sampling import LanguageModel, SamplingSettings
melody = LanguageModel.load("melody")
for text in melody.stream("M:6/8\\n", SamplingSettings(max_new_tokens=200, seed=1)):
    print(text)   # the continuation so far
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from gen_app.device import cpu_threads
from gen_app.gpt import GPT
from gen_app.limits import check_float, check_int
from gen_app.loading import ModelLoadError, failed, load_model, short
from gen_app.provenance.text import GreenList
from gen_app.seeding import MAX_SEED
from gen_app.text.tokenizer import Tokenizer, load_tokenizer
from gen_app.transformer import KVCache

# What SamplingSettings accepts, as (lowest, highest); the text tab's sliders span exactly these.
NEW_TOKENS_RANGE = (1, 2000)
TEMPERATURE_RANGE = (0.0, 2.0)  # 0: always the likeliest token
TOP_K_RANGE = (0, 100)  # 0: off
TOP_P_RANGE = (0.05, 1.0)  # 1: off
REPETITION_PENALTY_RANGE = (1.0, 2.0)  # 1: off
REPETITION_WINDOW = 64  # the penalty applies to the tokens among the last this many


@dataclass
class SamplingSettings:
    max_new_tokens: int = 300
    temperature: float = 0.8
    top_k: int = 0  # 0: off
    top_p: float = 1.0  # 1: off
    repetition_penalty: float = 1.0  # 1: off
    seed: int = 0

    def validated(self) -> SamplingSettings:
        return SamplingSettings(
            max_new_tokens=check_int("Max new tokens", self.max_new_tokens, *NEW_TOKENS_RANGE),
            temperature=check_float("Temperature", self.temperature, *TEMPERATURE_RANGE),
            top_k=check_int("Top-k", self.top_k, *TOP_K_RANGE),
            top_p=check_float("Top-p", self.top_p, *TOP_P_RANGE),
            repetition_penalty=check_float("Repetition penalty", self.repetition_penalty, *REPETITION_PENALTY_RANGE),
            seed=check_int("Seed", self.seed, 0, MAX_SEED),
        )


def filter_logits(logits: torch.Tensor, settings: SamplingSettings, recent: list[int]) -> torch.Tensor:
    """Repetition penalty (CTRL), temperature, top-k and top-p (nucleus) on one step's logits (vocab,)."""
    logits = logits.float().clone()
    if settings.repetition_penalty != 1.0 and recent:
        seen = torch.tensor(sorted(set(recent)))
        values = logits[seen]
        logits[seen] = torch.where(
            values > 0, values / settings.repetition_penalty, values * settings.repetition_penalty
        )
    # At least 1e-4: a smaller one (1e-300 is a valid float) is 0 in float32, and the probabilities NaN. Below that
    # sampling is greedy anyway (as in the faces prior).
    logits = logits / max(settings.temperature, 1e-4)
    if settings.top_k:
        kth = torch.topk(logits, min(settings.top_k, logits.numel())).values[-1]
        logits[logits < kth] = -float("inf")
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) > settings.top_p  # keep the token that crosses top_p
        logits[order[drop]] = -float("inf")
    return logits


@torch.inference_mode()
def sample_tokens(
    model: GPT, ids: list[int], settings: SamplingSettings, watermark: GreenList | None = None
) -> Iterator[int]:
    """Yield up to `settings.max_new_tokens` new token ids after the prompt `ids`, one per step. `settings` must be
    validated. The same seed and settings give the same tokens; each step is computed when the next id is asked for,
    so a consumer that stops asking stops the work. `watermark`: the green list whose tokens get a bonus
    (gen_app/provenance/text.py); the key fixes it, so seeded runs stay reproducible."""
    device = next(model.parameters()).device
    generator = torch.Generator().manual_seed(settings.seed)
    context = list(ids)
    cache = KVCache.empty(model.n_layer)
    logits = model(torch.tensor([context], device=device), cache)[0, -1]
    for _ in range(settings.max_new_tokens):
        logits = logits.float().cpu()
        if watermark is not None:
            logits = logits + watermark.bias(context[-1])
        if settings.temperature == 0:
            token = int(logits.argmax())
        else:
            probs = filter_logits(logits, settings, context[-REPETITION_WINDOW:]).softmax(-1)
            token = int(torch.multinomial(probs, 1, generator=generator))
        context.append(token)
        yield token
        if cache.length >= model.block_size:
            # Context full: restart the cache from the most recent half (positions are absolute).
            context = context[-model.block_size // 2 :]
            cache = KVCache.empty(model.n_layer)
            logits = model(torch.tensor([context], device=device), cache)[0, -1]
        else:
            # One CPU thread for a one-token step: the work is too small to share, and a second thread turns
            # every step into a wait for a core that may be busy elsewhere (up to 15x slower under load, here).
            with cpu_threads(1, device):
                logits = model(torch.tensor([[token]], device=device), cache)[0, -1]


def sample_text(
    model: GPT, tokenizer: Tokenizer, ids: list[int], settings: SamplingSettings, watermark: GreenList | None = None
) -> Iterator[str]:
    """Yield the growing decoded continuation of the prompt `ids`, token by token (settings validated here)."""
    new_ids: list[int] = []
    for token in sample_tokens(model, ids, settings.validated(), watermark):
        new_ids.append(token)
        yield tokenizer.decode(new_ids)


@dataclass
class LanguageModel:
    """A GPT and its tokenizer (tokenizer.json next to the weights), where they came from and the folder they were
    read from (its README.md is their model card)."""

    model: GPT
    tokenizer: Tokenizer
    origin: str
    folder: Path

    @classmethod
    def load(cls, task: str, device: torch.device | None = None) -> LanguageModel:
        """The model of `task`: "text" (Shakespeare) or "melody" (ABC tunes)."""
        model, origin, folder = load_model(GPT, task, device, extra_files=("tokenizer.json",))
        path = Path(folder) / "tokenizer.json"
        try:
            tokenizer = load_tokenizer(path)
        except Exception as error:  # not JSON, or not a tokenizer this app writes
            raise failed(task, origin, ModelLoadError(task, path, f"is damaged ({short(error)})")) from error
        return cls(model, tokenizer, origin, Path(folder))

    def stream(self, prompt: str, settings: SamplingSettings) -> Iterator[str]:
        """Yield the growing continuation of `prompt`, which must fit in half the model's context."""
        return sample_text(self.model, self.tokenizer, self.tokenizer.encode(prompt), settings)
