import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("GEN_APP_DEVICE", "cpu")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# A cache folder of this run's own. The app sweeps its cache (delete_cache) and, when it stops, deletes every file it
# put there; files are named by content, so an app in another process sharing the folder (another test run, an app a
# test starts and stops) would delete this run's copies of the same example files.
os.environ["GRADIO_TEMP_DIR"] = tempfile.mkdtemp(prefix="gen_app_tests_gradio_")
ARTIFACTS = ROOT / "artifacts"


@pytest.fixture(scope="session")
def face_pipeline():
    from gen_app.faces.pipeline import FacePipeline

    return FacePipeline.load()


@pytest.fixture(scope="session")
def app_demo():
    """The whole app, launched once for the session's app-level, browser and MCP tests (with its MCP server when
    the `mcp` package of gradio[mcp] is installed)."""
    from gen_app.app import LAUNCH_OPTIONS, build_demo

    demo = build_demo()
    mcp = importlib.util.find_spec("mcp") is not None
    options = {"server_name": "127.0.0.1", "server_port": None, "quiet": True, "mcp_server": mcp, **LAUNCH_OPTIONS}
    demo.launch(prevent_thread_lock=True, **options)
    yield demo
    demo.close()


@pytest.fixture(scope="session")
def app_url(app_demo):
    return app_demo.local_url


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)
