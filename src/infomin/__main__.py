"""`python -m infomin` is the `infomin` command."""

import sys

from infomin.cli import main

sys.exit(main())
