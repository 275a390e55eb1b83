"""`bench` with the engine-test learner registered: for tests that need a real subprocess to kill."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import engine_plugins  # noqa: E402,F401

from benchmark.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
