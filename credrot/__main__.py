"""``python -m credrot``: see credrot.cli."""

from credrot.cli import main

raise SystemExit(main())
