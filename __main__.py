"""`python -m emotive …` with the project's environment (see README)."""

import sys

from .headless import main

sys.exit(main())
