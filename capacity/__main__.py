"""``python -m capacity`` runs the command-line interface."""

import sys

from capacity.cli import main

sys.exit(main())
