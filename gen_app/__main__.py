"""`python -m gen_app COMMAND ...`: the app's generators from the shell (gen_app/cli.py)."""

import sys

from gen_app.cli import main

sys.exit(main())
