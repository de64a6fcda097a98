"""``python -m credrot``, or ``python /path/to/credrot`` from any directory: see credrot.cli.

credential_process lines (written by ``python -m credrot export``) use the second form, so
they work whatever the current directory is and without installing credrot.
"""

import os
import sys

if not __package__:
    # Run as a directory: Python put credrot/ itself first on sys.path. Import the package
    # from its parent instead, so that credrot's modules are not also top-level modules.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from credrot.cli import main

raise SystemExit(main())
