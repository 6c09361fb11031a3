from __future__ import annotations

import pytest

from signing import ALGORITHMS, PrivateKey, PublicKey, sign_bundle
from tests.signing.helpers import build_fixture_bundle, keypair


@pytest.fixture(scope="session")
def unsigned_bundle(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return build_fixture_bundle(tmp_path_factory.mktemp("sources"))


@pytest.fixture(scope="session")
def keys() -> dict[str, tuple[PrivateKey, PublicKey]]:
    """One key pair per algorithm, made once: RSA generation is the slow part."""
    return {alg: keypair(alg) for alg in ALGORITHMS}


@pytest.fixture(scope="session")
def es_key(keys: dict[str, tuple[PrivateKey, PublicKey]]) -> tuple[PrivateKey, PublicKey]:
    return keys["ES256"]


@pytest.fixture(scope="session")
def signed_bundle(unsigned_bundle: bytes, es_key: tuple[PrivateKey, PublicKey]) -> bytes:
    return sign_bundle(unsigned_bundle, es_key[0], "dev")
