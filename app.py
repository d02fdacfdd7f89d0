"""Entry point (also the Hugging Face Space's app_file): build the gen_app demo and serve it."""

import logging

from gen_app.app import LAUNCH_OPTIONS, build_demo

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    build_demo().launch(**LAUNCH_OPTIONS)
