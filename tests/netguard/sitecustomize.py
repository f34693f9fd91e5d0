"""Loaded by every Python process the tests start (tests/conftest.py puts this
directory on PYTHONPATH): installs the loopback-only network guard."""

from __future__ import annotations

import os

if os.environ.get("MBOXED_TEST_NETGUARD_LOG"):
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
    from tests.netguard.guard import install

    install(os.environ["MBOXED_TEST_NETGUARD_LOG"])
