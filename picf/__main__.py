"""`python -m picf` runs the CLI; with a Python that lacks picf's dependencies it says how to run picf instead."""

import sys
from pathlib import Path

try:
    from picf.cli.app import main
except ModuleNotFoundError as exc:  # e.g. the system python3 in a checkout, without the virtualenv
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "picf"
    how = f"run {venv}" if venv.exists() else "run `make setup` in the picf checkout, then .venv/bin/picf"
    sys.exit(f"picf: {exc.name} is not installed for {sys.executable}; {how} (or `source .venv/bin/activate`)")

main()
