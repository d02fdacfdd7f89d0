"""Entry point (also the Hugging Face Space's app_file): build the gen_app demo and serve it (the page, its API and
/metrics). `--mcp` also serves Gradio's MCP server at /gradio_api/mcp/, every generator a tool (needs
`gradio[mcp]`; Gradio's own GRADIO_MCP_SERVER=True does the same, e.g. as a Space variable)."""

import argparse

from gen_app.app import LAUNCH_OPTIONS, build_demo
from gen_app.device import limit_malloc_arenas
from gen_app.logs import configure_logging

if __name__ == "__main__":
    limit_malloc_arenas()  # before any request thread: a smaller peak RSS under load
    parser = argparse.ArgumentParser(description="Serve the gen_app demo on http://127.0.0.1:7860.")
    parser.add_argument("--mcp", action="store_true", help="also serve the MCP server at /gradio_api/mcp/")
    args = parser.parse_args()
    configure_logging()  # key=value lines (GEN_APP_LOG_FORMAT=json: JSON lines), each request with its id
    # None: Gradio reads GRADIO_MCP_SERVER.
    build_demo().launch(**LAUNCH_OPTIONS, mcp_server=True if args.mcp else None)
