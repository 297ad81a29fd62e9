"""Shared pytest configuration. Area-specific fixtures live in each area's own conftest.py."""

from __future__ import annotations

import sys
from pathlib import Path

# Let tests import the shared helpers as ``support.*`` without packaging the tests folder.
sys.path.insert(0, str(Path(__file__).parent))
