"""The app as an MCP server (Gradio's, launched with mcp_server=True), through the `mcp` client over loopback: every
generator is a tool that says what it does and its limits, helpers of the page are not, and the tools answer with
files an agent can fetch."""

import ast
import asyncio
import base64
import io
import json
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gen_app.faces.pipeline import MAX_FACES

pytest.importorskip("mcp", reason="the MCP client comes with gradio[mcp] (requirements.txt)")
from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

SR_EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "gen_app" / "sr" / "examples").glob("*.png"))

GENERATORS = {
    "generate_faces",
    "face_variations",
    "morph_faces",
    "stylize",
    "stylize_any",
    "upscale",
    "generate_text",
    "compose",
    "play_abc",
    "play_midi",
    "revoice",
    "check_file",  # not a generator: the "Check a file" tab, useful to an agent too
    "check_text",
}


def with_session(app_url: str, work):
    """Run `work(session)` in an initialised MCP session with the app's server; returns what it returns."""

    async def run():
        async with streamable_http_client(app_url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await work(session)

    return asyncio.run(run())


def call(app_url: str, tool: str, arguments: dict) -> list:
    """A tool's result: its outputs, as the text content holds them (a Python literal of the list of outputs)."""

    async def work(session):
        return await session.call_tool(tool, arguments)

    result = with_session(app_url, work)
    assert not result.isError, result.content
    return ast.literal_eval(result.content[0].text)


def test_every_generator_is_a_tool_and_says_what_it_takes(app_url):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in with_session(app_url, work)}
    assert set(tools) == GENERATORS  # no random-seed buttons, gallery clicks or Stop buttons
    faces = tools["generate_faces"]
    assert faces.description.startswith("Draw cartoon faces") and "Returns:" in faces.description
    properties = faces.inputSchema["properties"]
    assert properties["count"]["description"] == f"how many faces, 1 to {MAX_FACES}."
    assert properties["facial_hair"]["enum"] == ["random", "none", "facial hair"] and "param_3" not in properties
    assert properties["glasses"]["enum"] == ["random", "none", "glasses"]
    for name, tool in tools.items():
        described = [p for p, schema in tool.inputSchema["properties"].items() if schema.get("description")]
        assert tool.description and described, name
    text = tools["generate_text"].inputSchema["properties"]
    assert text["max_new_tokens"]["description"].startswith("1 to 2000")


def test_faces_tool_answers_with_pngs_an_agent_can_fetch(app_url):
    gallery, first_seed = call(app_url, "generate_faces", {"seed": 5, "count": 2, "facial_hair": "facial hair"})
    assert first_seed == 5 and [item["caption"] for item in gallery] == ["seed 5", "seed 6"]
    for seed, item in zip((5, 6), gallery, strict=True):
        url = item["image"]["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/gradio_api/file=.+\.png", url)
        image = Image.open(io.BytesIO(httpx.get(url).raise_for_status().content))
        params = json.loads(image.text["parameters"])
        assert params["seed"] == seed and params["choices"] == {"facial hair": "facial hair"}


def test_a_file_tool_takes_an_image_as_a_data_url(app_url):
    """Files go in as data: URLs (the MCP server uploads them to the app); a number choice is a number."""

    async def work(session):
        return {tool.name: tool for tool in (await session.list_tools()).tools}["upscale"]

    assert with_session(app_url, work).inputSchema["properties"]["scale"] == {
        "enum": [2, 4],
        "title": "Radio",
        "type": "integer",
        "description": "2 or 4.",
        "default": 4,
    }
    example = SR_EXAMPLES[0]
    data_url = "data:image/png;base64," + base64.b64encode(example.read_bytes()).decode()
    _pair, download, summary = call(app_url, "upscale", {"path": data_url, "scale": 2})
    result = Image.open(io.BytesIO(httpx.get(download["url"]).raise_for_status().content))
    assert result.size == tuple(2 * side for side in Image.open(example).size) and "×2" in summary
    assert json.loads(result.text["parameters"])["scale"] == 2


def test_text_tool_gives_what_the_api_gives(app_url, client):
    arguments = {"prompt": "JULIET:\n", "max_new_tokens": 16, "temperature": 0.8, "seed": 3}
    text, seed = call(app_url, "generate_text", arguments)
    values = [arguments["prompt"], 16, 0.8, 0, 1.0, 1.0, 3]
    assert (text, seed) == tuple(client.predict(*values, api_name="/generate_text"))
    assert text.startswith("JULIET:\n") and len(text) > len("JULIET:\n")
