"""Imported first by each bench script, which runs as ``python bench/<script>.py``.

That puts bench/ on ``sys.path``, not the repository root the scripts import the project
from: this adds the root, and keeps bytecode out of rotation_lambda/ (it is packaged, and
the package must hold no ``__pycache__``). A module of its own, not bench/common.py: it has
to run before ``bench.common`` can be imported at all.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.dont_write_bytecode = True
