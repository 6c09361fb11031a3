"""Guard fixtures: the spaCy model is loaded ONCE per test process (session-scoped detector),
shared by the guard tests and the gateway tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from guard import FileKeyProvider, Guard, GuardSettings
from guard.detector import Detector, DetectorSettings
from guard.pool import ThreadBackend

DATA = Path(__file__).resolve().parents[1] / "data"  # tests/data


@pytest.fixture(scope="session")
def detector() -> Detector:
    return Detector(DetectorSettings())


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("guard-state")


@pytest.fixture(scope="session")
async def guard(detector: Detector, key_dir: Path) -> AsyncIterator[Guard]:
    settings = GuardSettings(executor="thread", workers=1)
    backend = ThreadBackend(settings.detector, 1, detector=detector)
    async with Guard(FileKeyProvider(key_dir), settings, backend=backend) as instance:
        yield instance
