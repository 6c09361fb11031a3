"""Identity: who is calling (OIDC JWTs against a JWKS, service API keys, dev tokens).

The app's lifespan builds one ``Authenticator`` and the pipeline calls its
``authenticate(authorization, x_api_key)``; every failure is an ``Unauthenticated`` (401)
with a stable reason code, or ``Unavailable`` (503, ``jwks_unavailable``).
"""

from gateway.auth.apikeys import API_KEY_PREFIX, ApiKeyStore, hash_api_key, new_api_key
from gateway.auth.authenticator import Authenticator
from gateway.auth.devkey import DevKey

__all__ = [
    "API_KEY_PREFIX",
    "ApiKeyStore",
    "Authenticator",
    "DevKey",
    "hash_api_key",
    "new_api_key",
]
