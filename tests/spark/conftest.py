"""The Spark parity tests reuse the functional tests' helpers (silver_fixtures: settings, CLI runner)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "functional"))
