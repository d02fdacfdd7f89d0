"""Text generation pipeline: prompt and sampling settings in, a stream of text out. Usable without Gradio:

from gen_app.text.pipeline import TextPipeline, SamplingSettings
pipe = TextPipeline.load()
for text in pipe.stream("ROMEO:\\n", SamplingSettings(max_new_tokens=200, seed=1)):
    print(text)   # the continuation so far
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gen_app.device import cpu_threads
from gen_app.limits import InvalidInput, check_float, check_int
from gen_app.loading import load_model
from gen_app.seeding import MAX_SEED
from gen_app.text.model import GPT, KVCache
from gen_app.text.tokenizer import Tokenizer, load_tokenizer

MAX_NEW_TOKENS = 2000
MAX_PROMPT_CHARS = 20_000  # longer prompts are refused; prompts past the context keep only their end
REPETITION_WINDOW = 64


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
            max_new_tokens=check_int("Max new tokens", self.max_new_tokens, 1, MAX_NEW_TOKENS),
            temperature=check_float("Temperature", self.temperature, 0.0, 5.0),
            top_k=check_int("Top-k", self.top_k, 0, 10_000),
            top_p=check_float("Top-p", self.top_p, 0.01, 1.0),
            repetition_penalty=check_float("Repetition penalty", self.repetition_penalty, 1.0, 3.0),
            seed=check_int("Seed", self.seed, 0, MAX_SEED),
        )


@dataclass
class PreparedPrompt:
    ids: list[int]
    notices: list[str] = field(default_factory=list)


def filter_logits(logits: torch.Tensor, settings: SamplingSettings, recent: list[int]) -> torch.Tensor:
    """Repetition penalty (CTRL), temperature, top-k and top-p (nucleus) on one step's logits (vocab,)."""
    logits = logits.float().clone()
    if settings.repetition_penalty != 1.0 and recent:
        seen = torch.tensor(sorted(set(recent)))
        values = logits[seen]
        logits[seen] = torch.where(
            values > 0, values / settings.repetition_penalty, values * settings.repetition_penalty
        )
    logits = logits / settings.temperature
    if settings.top_k:
        kth = torch.topk(logits, min(settings.top_k, logits.numel())).values[-1]
        logits[logits < kth] = -float("inf")
    if settings.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)
        drop = cumulative - sorted_logits.softmax(-1) > settings.top_p  # keep the token that crosses top_p
        logits[order[drop]] = -float("inf")
    return logits


class TextPipeline:
    def __init__(self, model: GPT, tokenizer: Tokenizer, origin: str = "checkpoints/text"):
        self.model = model
        self.tokenizer = tokenizer
        self.origin = origin
        self.device = next(model.parameters()).device

    @classmethod
    def load(cls, device: torch.device | None = None, task: str = "text") -> TextPipeline:
        """The model of `task`: "text" (Shakespeare) or "melody" (ABC tunes), which share this code."""
        model, origin, folder = load_model(GPT, task, device, extra_files=("tokenizer.json",))
        return cls(model, load_tokenizer(Path(folder) / "tokenizer.json"), origin)

    def prepare(self, prompt: str) -> PreparedPrompt:
        """Token ids for `prompt`, with notices for what was changed to make it fit the model."""
        if not isinstance(prompt, str):
            raise InvalidInput("The prompt must be text.")
        if len(prompt) > MAX_PROMPT_CHARS:
            raise InvalidInput(f"The prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT_CHARS:,}.")
        notices = []
        unknown = self.tokenizer.unknown_chars(prompt)
        if unknown:
            shown = " ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
            notices.append(f"The model never saw these characters; they are read as unknown: {shown}")
        if not prompt.strip():
            prompt = "\n"  # an empty prompt starts a new block, as at the start of a speech
            notices.append("Empty prompt: the model starts from a blank line.")
        ids = self.tokenizer.encode(prompt)
        keep = self.model.block_size // 2  # leave room to generate before the context slides
        if len(ids) > keep:
            notices.append(f"The prompt is longer than the model's context; only its last {keep} tokens are used.")
            ids = ids[-keep:]
        return PreparedPrompt(ids, notices)

    @torch.inference_mode()
    def stream(self, prompt: str | PreparedPrompt, settings: SamplingSettings) -> Iterator[str]:
        """Yield the growing continuation of `prompt` (text, or what `prepare` made of it), token by token."""
        settings = settings.validated()
        prepared = prompt if isinstance(prompt, PreparedPrompt) else self.prepare(prompt)
        generator = torch.Generator().manual_seed(settings.seed)
        context = list(prepared.ids)
        cache = KVCache.empty(self.model.n_layer)
        logits = self.model(torch.tensor([context], device=self.device), cache)[0, -1]
        new_ids: list[int] = []
        for _ in range(settings.max_new_tokens):
            if settings.temperature == 0:
                token = int(logits.argmax())
            else:
                probs = filter_logits(logits.cpu(), settings, context[-REPETITION_WINDOW:]).softmax(-1)
                token = int(torch.multinomial(probs, 1, generator=generator))
            new_ids.append(token)
            context.append(token)
            yield self.tokenizer.decode(new_ids)
            if cache.length >= self.model.block_size:
                # Context full: restart the cache from the most recent half (positions are absolute).
                context = context[-self.model.block_size // 2 :]
                cache = KVCache.empty(self.model.n_layer)
                logits = self.model(torch.tensor([context], device=self.device), cache)[0, -1]
            else:
                # One CPU thread for a one-token step: the work is too small to share, and a second thread turns
                # every step into a wait for a core that may be busy elsewhere (up to 15x slower under load, here).
                with cpu_threads(1, self.device):
                    logits = self.model(torch.tensor([[token]], device=self.device), cache)[0, -1]

    def generate(self, prompt: str, settings: SamplingSettings) -> str:
        """The whole continuation at once (the last value of `stream`)."""
        last = deque(self.stream(prompt, settings), maxlen=1)
        return last[0] if last else ""
