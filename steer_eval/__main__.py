"""`python -m steer_eval` (and `accelerate launch -m steer_eval ...`) runs the command line."""

import sys

from steer_eval.cli import main

sys.exit(main())
