"""``python -m anaplan_simulator``: the same as the ``anaplan-simulator`` command."""

from .cli import main

raise SystemExit(main())
