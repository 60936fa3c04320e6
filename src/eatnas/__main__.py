"""``python -m eatnas`` entry point."""

from eatnas.cli import main

raise SystemExit(main())
