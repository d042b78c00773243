"""`python -m ann` (and `torchrun ... -m ann`) runs the command line."""

import sys

from .cli import main

sys.exit(main())
