"""``python -m capacity`` runs the command-line interface."""

from capacity.cli import console

console()
