"""mboxed: ScienceBox on one machine, with one command."""

from __future__ import annotations

__version__ = "0.1.0"
