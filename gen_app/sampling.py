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

import atexit
import collections
import threading
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch

from gen_app.device import in_low_priority_thread, lower_this_thread, yield_to_quick_work
from gen_app.gpt import GPT
from gen_app.limits import check_float, check_int
from gen_app.loading import ModelLoadError, failed, load_model, short
from gen_app.provenance.text import GreenList
from gen_app.seeding import MAX_SEED
from gen_app.text.tokenizer import Tokenizer, load_tokenizer
from gen_app.transformer import KVCache, SlotCache

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


def choose_token(
    logits: torch.Tensor,
    settings: SamplingSettings,
    context: list[int],
    generator: torch.Generator,
    watermark: GreenList | None,
) -> int:
    """The next token after `context` from one step's logits (vocab,), drawn with `generator`."""
    logits = logits.float()
    if watermark is not None:
        logits = logits + watermark.bias(context[-1])
    if settings.temperature == 0:
        return int(logits.argmax())
    probs = filter_logits(logits, settings, context[-REPETITION_WINDOW:]).softmax(-1)
    return int(torch.multinomial(probs, 1, generator=generator))


# How often a waiting consumer takes the tokens drawn for it. Handing each token over as it is drawn woke every
# consumer's thread at every step: with a dozen requests that was a thousand thread switches a second, each one
# contending for the GIL with the sampler itself (py-spy and /proc schedstat under bench/load.py).
HANDOVER_SECONDS = 0.05


@dataclass(eq=False)
class _Sequence:
    """One request being sampled: its settings, random stream, context, next logits and the tokens made for it
    (its keys and values live in the decoder's SlotCache)."""

    settings: SamplingSettings
    watermark: GreenList | None
    context: list[int]
    generator: torch.Generator
    made: collections.deque = field(default_factory=collections.deque)  # drawn, not yet taken by the consumer
    ended: threading.Event = field(default_factory=threading.Event)  # set once every token is in `made`, or failed
    error: BaseException | None = None  # what stopped the work, raised in the consumer
    logits: torch.Tensor | None = None  # the next token's
    left: int = 0
    stopped: bool = False  # the consumer has gone

    def end(self, error: BaseException | None = None) -> None:
        self.error = error
        self.ended.set()


class Decoder:
    """Continuous batching for one GPT: every sequence being sampled at the moment (one per request, from any
    thread) advances one token per step in a single batched forward pass (`GPT.step`), so ten users cost a few
    times one user's time instead of ten. A request joins at the next step and leaves when done or stopped.

    The worker thread takes the priority of the request that starts it: normal for the text tab, low for the
    composer (gen_app.device.low_priority). `GPT.step` is batch-invariant, so the same seed gives the same tokens
    alone or beside other requests."""

    _for_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
    _made_lock = threading.Lock()

    def __init__(self, model: GPT):
        self.model = model
        self.device = next(model.parameters()).device
        self.waiting: list[_Sequence] = []
        self.wake = threading.Condition()
        self.worker: threading.Thread | None = None
        self.closing = False
        self.largest_batch = 0  # the most sequences one step has advanced (for tests and benchmarks)

    @classmethod
    def for_model(cls, model: GPT) -> Decoder:
        with cls._made_lock:
            if model not in cls._for_model:
                cls._for_model[model] = cls(model)
            return cls._for_model[model]

    def close(self) -> None:
        """Stop the worker once it is idle (at exit: a worker thread still waiting while the interpreter shuts down
        makes PyTorch's C++ runtime abort the process)."""
        with self.wake:
            self.closing = True
            self.wake.notify_all()
        if self.worker is not None:
            self.worker.join(timeout=5)

    @classmethod
    def close_all(cls) -> None:
        for decoder in list(cls._for_model.values()):
            decoder.close()

    def chunks(
        self, ids: list[int], settings: SamplingSettings, watermark: GreenList | None = None, every: float = 0.0
    ) -> Iterator[list[int]]:
        """Yield the up to `settings.max_new_tokens` (validated) new token ids after the prompt `ids`, in lists of
        those drawn since the last one: at most every `every` seconds (at least HANDOVER_SECONDS), the last when
        the sequence ends. Closing the iterator (a stopped request) drops the sequence at the next step."""
        sequence = _Sequence(settings, watermark, list(ids), torch.Generator().manual_seed(settings.seed))
        sequence.left = settings.max_new_tokens
        with self.wake:
            self.waiting.append(sequence)
            if self.worker is None or not self.worker.is_alive():
                low = in_low_priority_thread()
                self.worker = threading.Thread(target=self._run, args=(low,), name="gen_app-decoder", daemon=True)
                self.worker.start()
            self.wake.notify()
        try:
            while True:
                ended = sequence.ended.wait(max(every, HANDOVER_SECONDS))
                chunk = [sequence.made.popleft() for _ in range(len(sequence.made))]  # only this thread takes
                if chunk:
                    yield chunk
                if ended:
                    if sequence.error is not None:
                        raise sequence.error
                    return
        finally:
            sequence.stopped = True

    def tokens(self, ids: list[int], settings: SamplingSettings, watermark: GreenList | None = None) -> Iterator[int]:
        """The new token ids of `chunks`, one at a time."""
        for chunk in self.chunks(ids, settings, watermark):
            yield from chunk

    @torch.inference_mode()
    def _read(self, ids: list[int]) -> tuple[KVCache, torch.Tensor]:
        """The cache of `ids` (a prompt, or the end of a full context) and the logits after them."""
        cache = KVCache.empty(self.model.n_layer)
        logits = self.model(torch.tensor([ids], device=self.device), cache)[0, -1].cpu()
        return cache, logits

    def _run(self, low: bool) -> None:
        # One CPU thread: a step's work is small, and a second thread would make every step wait for a core that
        # may be busy elsewhere (up to 15x slower under load, here).
        torch.set_num_threads(1)
        if low:
            lower_this_thread()
        while True:
            with self.wake:
                self.wake.wait_for(lambda: self.waiting or self.closing)
                if self.closing:
                    return
            self._serve(low)  # the text tab marks its requests as quick work (gen_app.device), not the sampler

    def _serve(self, low: bool) -> None:
        """Step every sequence, taking new ones as they come, until none is left. Sequence i is in slot i."""
        active: list[_Sequence] = []
        slots = self.model.slots()
        while True:
            with self.wake:
                arrived, self.waiting = self.waiting, []
            if not arrived and not active:
                return
            for sequence in arrived:
                try:
                    cache, sequence.logits = self._read(sequence.context)
                except Exception as error:  # this prompt's fault (e.g. an id the model does not know): its request ends
                    sequence.end(error)
                    continue
                slots.add(cache)
                active.append(sequence)
            done = [i for i, sequence in enumerate(active) if not self._draw(sequence, slots, i)]
            for i in reversed(done):  # the last slot moves into the freed one: mirror that in `active`
                slots.remove(i)
                active[i] = active[-1]
                active.pop()
            try:
                self._step(active, slots)
            except Exception as error:  # not one sequence's fault: every consumer hears of it, and the worker goes on
                for sequence in active:
                    sequence.end(error)
                return
            if low:
                yield_to_quick_work()

    def _draw(self, sequence: _Sequence, slots: SlotCache, slot: int) -> bool:
        """Draw the sequence's next token and hand it over; False when it is done (all its tokens, stopped, or an
        error, which its consumer raises)."""
        if sequence.stopped:
            sequence.end()
            return False
        try:
            token = choose_token(
                sequence.logits, sequence.settings, sequence.context, sequence.generator, sequence.watermark
            )
            sequence.context.append(token)
            sequence.made.append(token)
            sequence.left -= 1
            if sequence.left == 0:
                sequence.end()
                return False
            if slots.lengths[slot] >= self.model.block_size:
                # Context full: restart from its most recent half (positions are absolute), the new token to come
                # through the batched step like every other.
                sequence.context = sequence.context[-self.model.block_size // 2 :]
                slots.put(slot, self._read(sequence.context[:-1])[0])
            return True
        except Exception as error:
            sequence.end(error)
            return False

    @torch.inference_mode()
    def _step(self, active: list[_Sequence], slots: SlotCache) -> None:
        """Feed each sequence its last token: one batched forward pass for all."""
        if active:
            tokens = torch.tensor([s.context[-1] for s in active], device=self.device)
            logits = self.model.step(tokens, slots).cpu()
            self.largest_batch = max(self.largest_batch, len(active))
            for sequence, row in zip(active, logits, strict=True):
                sequence.logits = row


atexit.register(Decoder.close_all)


def sample_tokens(
    model: GPT, ids: list[int], settings: SamplingSettings, watermark: GreenList | None = None
) -> Iterator[int]:
    """Yield up to `settings.max_new_tokens` new token ids after the prompt `ids`, one per step, sampled together
    with every other request on this model (`Decoder`). `settings` must be validated. The same seed and settings
    give the same tokens. `watermark`: the green list whose tokens get a bonus (gen_app/provenance/text.py); the
    key fixes it, so seeded runs stay reproducible."""
    return Decoder.for_model(model).tokens(ids, settings, watermark)


def sample_text(
    model: GPT,
    tokenizer: Tokenizer,
    ids: list[int],
    settings: SamplingSettings,
    watermark: GreenList | None = None,
    every: float = 0.0,
) -> Iterator[str]:
    """Yield the growing decoded continuation of the prompt `ids` (settings validated here): after each token, or,
    with `every` > 0, at most every `every` seconds (decoded once per update: a streaming page needs no more)."""
    new_ids: list[int] = []
    for chunk in Decoder.for_model(model).chunks(ids, settings.validated(), watermark, every):
        if every:
            new_ids += chunk
            yield tokenizer.decode(new_ids)
            continue
        for token in chunk:
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
