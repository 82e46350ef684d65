"""pytest configuration: makes ``bindings/python`` importable when PYTHONPATH does not
already (scripts/suites/python.sh sets it)."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BINDINGS = ROOT / "bindings" / "python"
if str(BINDINGS) not in sys.path:
    sys.path.insert(0, str(BINDINGS))
