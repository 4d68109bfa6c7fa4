"""`python -m picf` runs the CLI."""

from picf.cli.app import main

main()
