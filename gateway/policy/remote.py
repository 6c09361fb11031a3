"""The remote engine: an OPA server (sidecar) asked through its REST Data API.

``POST {opa_url}/v1/data/gateway/decision`` with ``{"input": ...}``; OPA answers
``{"result": <decision>}``, or ``{}`` when the document is undefined. The OPA server loads
the same bundle on its own (OPA's bundle plugin), so nothing but the input is sent.

Client: aiohttp directly, not opa-python-client's ``AsyncOpaClient`` (which also uses
aiohttp) because that client takes host and port only (no path prefix behind a proxy),
retries with a sleeping backoff that can outlast our timeout, and decodes with the stdlib.
Not httpx: this call is on the hot path of every request, and the project already uses
aiohttp for upstreams because httpx's pool degrades under load. No retries: a slow or
failing OPA is a fast, fail-closed 503, never a hidden multiplication of the timeout.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson

from gateway.domain import Decision
from gateway.errors import Unavailable
from gateway.policy.engine import ENTRYPOINT, parse_decision


class RemoteEngine:
    def __init__(
        self, opa_url: str, *, timeout_seconds: float = 2.0, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.url = f"{opa_url.rstrip('/')}/v1/data/{ENTRYPOINT}"
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session = session
        self._owns_session = session is None

    async def decide(self, policy_input: dict[str, Any]) -> Decision:
        body = await self._post(orjson.dumps({"input": policy_input}))
        # A missing "result" is OPA's way of saying "undefined": fail closed.
        return parse_decision(body.get("result"))

    async def aclose(self) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    async def _post(self, payload: bytes) -> dict[str, Any]:
        session = self._session_for_loop()
        try:
            async with session.post(
                self.url, data=payload, headers={"content-type": "application/json"}, timeout=self._timeout
            ) as response:
                raw = await response.read()
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _engine_error(f"OPA at {self.url} is unreachable: {type(exc).__name__} {exc}") from exc
        if status != 200:
            raise _engine_error(f"OPA at {self.url} answered HTTP {status}: {raw[:200]!r}")
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _engine_error(f"OPA at {self.url} answered with invalid JSON") from exc
        if not isinstance(body, dict):
            raise _engine_error(f"OPA at {self.url} answered with a non-object body")
        return body

    def _session_for_loop(self) -> aiohttp.ClientSession:
        # Made lazily: an aiohttp session must be created inside the running event loop.
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session


def _engine_error(message: str) -> Unavailable:
    return Unavailable(message, reason="policy_engine_error")
