"""``python -m keyseal``: the same command-line tool as ``keyseal``."""

from keyseal.cli import main

raise SystemExit(main())
