"""``credrot`` (the same as the ``credrot`` console script), or
``python /path/to/credrot`` from any directory: see credrot.ops.cli.

``credrot export`` writes the installed ``credrot`` script into credential_process lines;
in a checkout with no install it falls back to the second form, which works whatever the
current directory is.
"""

import os
import sys

if not __package__:
    # Run as a directory: Python put credrot/ itself first on sys.path. Import the package
    # from its parent instead, so that credrot's modules are not also top-level modules.
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

from credrot.ops.cli import main

raise SystemExit(main())
