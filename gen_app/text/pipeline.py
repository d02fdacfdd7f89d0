"""Text generation pipeline: prompt and sampling settings in, a stream of text out. Usable without Gradio:

from gen_app.text.pipeline import TextPipeline
from gen_app.sampling import SamplingSettings
pipe = TextPipeline.load()
for text in pipe.stream("ROMEO:\\n", SamplingSettings(max_new_tokens=200, seed=1)):
    print(text)   # the continuation so far

The model (gen_app/gpt.py) and its sampling (gen_app/sampling.py) are shared with the audio tab's composer; this
module adds what a typed prompt needs: limits, notices about what was changed to fit the model.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gen_app.gpt import GPT
from gen_app.limits import InvalidInput
from gen_app.loading import CHECKPOINTS
from gen_app.provenance.keys import marking_enabled
from gen_app.provenance.text import GreenList
from gen_app.sampling import LanguageModel, SamplingSettings, sample_text
from gen_app.text.tokenizer import Tokenizer

MAX_PROMPT_CHARS = 20_000  # longer prompts are refused; prompts past the context keep only their end


@dataclass
class PreparedPrompt:
    ids: list[int]
    notices: list[str] = field(default_factory=list)


class TextPipeline:
    def __init__(
        self, model: GPT, tokenizer: Tokenizer, origin: str = "checkpoints/text", folder: Path = CHECKPOINTS / "text"
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.origin = origin
        self.folder = Path(folder)  # where the weights were read from, with their model card (README.md)
        self.device = next(model.parameters()).device
        # Every continuation carries the green-list watermark (GEN_APP_WATERMARK=0 switches it off, for research).
        self.watermark = GreenList.for_key(model.vocab_size) if marking_enabled() else None

    @classmethod
    def load(cls, device: torch.device | None = None, task: str = "text") -> TextPipeline:
        """The model of `task`: "text" (Shakespeare), or another GPT with a tokenizer (e.g. "melody")."""
        loaded = LanguageModel.load(task, device)
        return cls(loaded.model, loaded.tokenizer, loaded.origin, loaded.folder)

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

    def stream(self, prompt: str | PreparedPrompt, settings: SamplingSettings, every: float = 0.0) -> Iterator[str]:
        """Yield the growing continuation of `prompt` (text, or what `prepare` made of it), token by token, or at
        most every `every` seconds."""
        settings = settings.validated()
        prepared = prompt if isinstance(prompt, PreparedPrompt) else self.prepare(prompt)
        yield from sample_text(self.model, self.tokenizer, prepared.ids, settings, self.watermark, every)

    def generate(self, prompt: str, settings: SamplingSettings) -> str:
        """The whole continuation at once (the last value of `stream`)."""
        last = deque(self.stream(prompt, settings), maxlen=1)
        return last[0] if last else ""
