"""Who is calling. First, so nothing about a request is read, parsed or logged for an unknown
caller, and the cheapest refusal comes first."""

from __future__ import annotations

from gateway.auth.authenticator import Authenticator
from gateway.call import Call
from gateway.stages.base import Stage


class Authenticate(Stage):
    name = "authenticate"

    def __init__(self, authenticator: Authenticator) -> None:
        self._authenticator = authenticator

    async def enter(self, call: Call) -> None:
        headers = call.headers
        call.trail.principal = await self._authenticator.authenticate(
            headers.get("authorization"), headers.get("x-api-key")
        )
