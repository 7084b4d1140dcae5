"""``python -m synthgen.cli`` runs the command line."""

from synthgen.cli import main

main()
