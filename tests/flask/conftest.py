"""tests/flask: every Vault a test opened is gone when it ends.

Flask apps hold reference cycles, so an app (and the Vault KeySeal opened for it) would otherwise
live until some later garbage collection, keeping the process-wide Redis client of its URL open
into other test modules (which may restart that server meanwhile).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _collect_apps() -> Iterator[None]:
    yield
    gc.collect()
