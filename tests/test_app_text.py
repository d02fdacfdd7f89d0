"""The text-generation tab through gradio_client: streaming, stopping, seeds and bad inputs."""

import time

import pytest
from gradio_client.exceptions import AppError

PROMPT = "MACBETH:\nIs this a dagger which I see before me,\n"


def args(prompt=PROMPT, max_new_tokens=60, temperature=0.8, top_k=0, top_p=1.0, penalty=1.0, seed=3):
    return prompt, max_new_tokens, temperature, top_k, top_p, penalty, seed


def test_streams_growing_text_and_reports_the_seed(client):
    job = client.submit(*args(), api_name="/generate_text")
    final_text, seed_used = job.result(timeout=120)
    partials = [text for text, _ in job.outputs()]
    assert len(partials) >= 2 and all(b.startswith(a) for a, b in zip(partials, partials[1:], strict=False))
    assert final_text.startswith(PROMPT) and len(final_text) > len(PROMPT) and seed_used == 3


def test_same_seed_same_text(client):
    first = client.predict(*args(seed=11), api_name="/generate_text")[0]
    again = client.predict(*args(seed=11), api_name="/generate_text")[0]
    other = client.predict(*args(seed=12), api_name="/generate_text")[0]
    assert first == again and first != other


def test_simultaneous_requests_run_together_and_keep_their_seeds(client):
    """Text requests are sampled together (one batched step per token for all of them); each still gets exactly the
    text its seed gives alone."""
    alone = [client.predict(*args(max_new_tokens=120, seed=s), api_name="/generate_text")[0] for s in (21, 22, 23)]
    jobs = [client.submit(*args(max_new_tokens=120, seed=s), api_name="/generate_text") for s in (21, 22, 23)]
    assert [job.result(timeout=120)[0] for job in jobs] == alone


def test_cancel_stops_the_stream(client):
    job = client.submit(*args(max_new_tokens=2000), api_name="/generate_text")
    deadline = time.time() + 60
    while not job.outputs() and time.time() < deadline:
        time.sleep(0.05)
    job.cancel()
    time.sleep(1.0)
    produced = len(job.outputs())
    time.sleep(1.0)
    assert len(job.outputs()) == produced < 2000  # nothing more arrives after the cancel
    assert client.predict(*args(max_new_tokens=5), api_name="/generate_text")[0]  # the tab still works


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"temperature": -1}, "less than minimum"),
        ({"max_new_tokens": 0}, "less than minimum"),
        ({"top_p": 0}, "less than minimum"),
        ({"prompt": "x" * 100_000}, "limit"),
    ],
)
def test_bad_inputs_give_clear_errors(client, kwargs, message):
    with pytest.raises(AppError, match=message):
        client.predict(*args(**kwargs), api_name="/generate_text")


@pytest.mark.parametrize("prompt", ["", "😀 Good morrow 😀", "ROMEO:\n" * 2000])
def test_awkward_prompts_still_generate(client, prompt):
    text, _ = client.predict(*args(prompt=prompt, max_new_tokens=10), api_name="/generate_text")
    assert len(text) > len(prompt)


def test_temperature_zero_is_greedy_and_deterministic(client):
    a = client.predict(*args(temperature=0, seed=1), api_name="/generate_text")[0]
    b = client.predict(*args(temperature=0, seed=2), api_name="/generate_text")[0]
    assert a == b


def test_nan_temperature_through_the_raw_http_api(app_url):
    import httpx

    base = app_url.rstrip("/") + "/gradio_api/call/generate_text"
    payload = '{"data": ["ROMEO:", 20, NaN, 0, 1.0, 1.0, 1]}'  # JSON has no NaN; Python's parser accepts it
    event_id = httpx.post(base, content=payload, headers={"Content-Type": "application/json"}).json()["event_id"]
    stream = httpx.get(f"{base}/{event_id}", timeout=60).text
    assert "event: error" in stream and "finite" in stream, stream
