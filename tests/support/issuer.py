"""A test OIDC token issuer that serves a real JWKS and discovery document over HTTP.

``TokenIssuer`` runs a stdlib HTTP server in a daemon thread on a free loopback port, so
it answers sync tests, async tests and subprocesses (an e2e ``skein serve``) alike. It has
an RSA, an EC (P-256) and an Ed25519 key, generated once per instance (per test session
with the fixtures), mints tokens with any claims/alg/kid, rotates keys, counts fetches,
can fail or slow down its JWKS endpoint, and makes the classic bad tokens.

The issuer URL has a path (``/realms/skein``) like Keycloak's, so discovery URL joining
is exercised for real.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm, get_default_algorithms

from gateway.settings import AuthSettings

REALM_PATH = "/realms/skein"
JWKS_PATH = REALM_PATH + "/protocol/openid-connect/certs"
DISCOVERY_PATH = REALM_PATH + "/.well-known/openid-configuration"
OMIT: Any = object()  # pass as a claim value to leave that claim out


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up early (a timeout test) is not an error worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    alg: str
    private_key: Any

    def public_jwk(self) -> dict[str, Any]:
        public = self.private_key.public_key()
        algorithm: Any = {"RS256": RSAAlgorithm, "ES256": ECAlgorithm, "EdDSA": OKPAlgorithm}[self.alg]
        jwk: dict[str, Any] = algorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": self.alg}

    def public_pem(self) -> bytes:
        return bytes(
            self.private_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def generate_key(alg: str, kid: str | None = None) -> SigningKey:
    private: Any
    if alg == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif alg == "ES256":
        private = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"no test key type for {alg}")
    return SigningKey(kid or f"{alg.lower()}-{time.monotonic_ns()}", alg, private)


class TokenIssuer:
    """A real HTTP issuer on 127.0.0.1. Use as a context manager, or ``start()``/``close()``."""

    def __init__(self, audience: str = "skein-test") -> None:
        self.audience = audience
        self.rsa = generate_key("RS256", "rsa-1")
        self.ec = generate_key("ES256", "ec-1")
        self.ed = generate_key("EdDSA", "ed-1")
        self.stranger = generate_key("ES256", "stranger")  # never published
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="token-issuer",
            daemon=True,
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.issuer = self.base_url + REALM_PATH
        self.jwks_url = self.base_url + JWKS_PATH
        self.discovery_url = self.base_url + DISCOVERY_PATH
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> TokenIssuer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> TokenIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        """Back to the initial state: the three keys published, counters at zero, no faults."""
        with self._lock:
            self.published: list[SigningKey] = [self.rsa, self.ec, self.ed]
            self.extra_jwks_entries: list[dict[str, Any]] = []
            self.jwks_fetches = 0
            self.discovery_fetches = 0
            self.jwks_status = 200
            self.jwks_delay = 0.0
            self.discovery_issuer: str | None = None  # override to test an issuer mismatch

    # -- keys --------------------------------------------------------------------------
    def publish(self, *keys: SigningKey, replace: bool = False) -> None:
        with self._lock:
            self.published = [*([] if replace else self.published), *keys]

    def unpublish(self, kid: str) -> None:
        with self._lock:
            self.published = [key for key in self.published if key.kid != kid]

    def rotate(self, alg: str = "ES256", *, retire: bool = False) -> SigningKey:
        """Publish a new key (optionally withdrawing all others) and return it."""
        key = generate_key(alg)
        self.publish(key, replace=retire)
        return key

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk() for key in self.published] + list(self.extra_jwks_entries)}

    # -- tokens ------------------------------------------------------------------------
    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "alice",
            "iat": now,
            "exp": now + 300,
            "roles": ["finance"],
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not OMIT}

    def mint(
        self,
        *,
        key: SigningKey | None = None,
        alg: str | None = None,
        kid: str | None = OMIT,
        headers: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        """A signed token. ``kid=None`` leaves the kid out; ``alg`` defaults to the key's."""
        key = key or self.rsa
        header: dict[str, Any] = {"kid": key.kid if kid is OMIT else kid, **(headers or {})}
        if header["kid"] is None:
            del header["kid"]
        return jwt.encode(self.claims(**claims), key.private_key, algorithm=alg or key.alg, headers=header)

    def sign_raw(self, header: dict[str, Any], claims: dict[str, Any], key: SigningKey | None = None) -> str:
        """Sign any header as given (pyjwt's encoder refuses odd ones, e.g. a numeric kid)."""
        key = key or self.rsa
        signing_input = _b64(_json(header)) + "." + _b64(_json(claims))
        signature = get_default_algorithms()[key.alg].sign(signing_input.encode(), key.private_key)
        return signing_input + "." + _b64(signature)

    def token_alg_none(self, **claims: Any) -> str:
        return _compact({"alg": "none", "typ": "JWT"}, self.claims(**claims), b"")

    def token_hs256_with_public_key(self, **claims: Any) -> str:
        """The key-confusion attack: HMAC-signed with the issuer's public RSA key as the secret."""
        header = {"alg": "HS256", "typ": "JWT", "kid": self.rsa.kid}
        signing_input = _b64(_json(header)) + "." + _b64(_json(self.claims(**claims)))
        signature = hmac.new(self.rsa.public_pem(), signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(signature)

    def token_unknown_key(self, **claims: Any) -> str:
        return self.mint(key=self.stranger, **claims)

    def token_expired(self, seconds_ago: int = 3600, **claims: Any) -> str:
        now = int(time.time())
        return self.mint(exp=now - seconds_ago, iat=now - seconds_ago - 300, **claims)

    def token_wrong_audience(self, **claims: Any) -> str:
        return self.mint(aud="some-other-app", **claims)

    def token_tampered(self, **claims: Any) -> str:
        """A valid signature over different claims (the payload swapped after signing)."""
        header, _, signature = self.mint(**claims).split(".")
        forged = _b64(_json(self.claims(**{**claims, "roles": ["admin"]})))
        return f"{header}.{forged}.{signature}"

    # -- configuration -----------------------------------------------------------------
    def auth_settings(self, **overrides: Any) -> AuthSettings:
        """``AuthSettings`` pointing at this issuer (through discovery unless overridden)."""
        values: dict[str, Any] = {"issuer": self.issuer, "audience": (self.audience,), **overrides}
        return AuthSettings.model_validate(values)

    def env(self) -> dict[str, str]:
        """``SKEIN_*`` variables for a gateway subprocess (e2e tests)."""
        return {"SKEIN_AUTH__ISSUER": self.issuer, "SKEIN_AUTH__AUDIENCE": self.audience}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return f"{_b64(_json(header))}.{_b64(_json(claims))}.{_b64(signature)}"


def _handler_for(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == DISCOVERY_PATH:
                with issuer._lock:
                    issuer.discovery_fetches += 1
                    named = issuer.discovery_issuer or issuer.issuer
                self._send(200, {"issuer": named, "jwks_uri": issuer.jwks_url})
            elif self.path == JWKS_PATH:
                with issuer._lock:
                    issuer.jwks_fetches += 1
                    status, delay = issuer.jwks_status, issuer.jwks_delay
                time.sleep(delay)
                self._send(status, issuer.jwks() if status == 200 else {"error": "unavailable"})
            else:
                self._send(404, {"error": "not found"})

        def _send(self, status: int, body: dict[str, Any]) -> None:
            payload = _json(body)
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            return None  # keep test output clean

    return Handler
