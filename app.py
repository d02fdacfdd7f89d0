"""Entry point (also the Hugging Face Space's app_file): build the gen_app demo and serve it (the page, its API and
/metrics)."""

from gen_app.app import LAUNCH_OPTIONS, build_demo
from gen_app.logs import configure_logging

if __name__ == "__main__":
    configure_logging()  # key=value lines (GEN_APP_LOG_FORMAT=json: JSON lines), each request with its id
    build_demo().launch(**LAUNCH_OPTIONS)
