"""Makes the identity fixtures available here even before the root conftest registers them.

Harmless once ``tests/conftest.py`` has ``pytest_plugins = ["tests.support.fixtures_auth"]``:
these are the very same fixture functions.
"""

from __future__ import annotations

import pytest

from tests.auth.helpers import FakeClock
from tests.support.fixtures_auth import (  # noqa: F401
    auth_http_client,
    authenticator,
    dev_key,
    issuer_auth_settings,
    token_issuer,
    token_issuer_session,
)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
