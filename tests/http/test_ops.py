"""Non-proxied routes and the other ways in: dev-mode JWKS, API keys."""

from __future__ import annotations

from typing import Any

import jwt

from gateway.auth.apikeys import hash_api_key, new_api_key
from guard import Guard
from tests.support.gateway import running_gateway

CHAT = "/v1/chat/completions"
BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hello"}]}


async def test_dev_mode_serves_jwks_and_accepts_its_own_tokens(gateway_settings: Any, guard: Guard) -> None:
    settings = gateway_settings.model_copy(
        update={"dev": gateway_settings.dev.model_copy(update={"enabled": True})}
    )
    async with running_gateway(settings, guard) as client:
        jwks = (await client.get("/.well-known/jwks.json")).json()
        discovery = (await client.get("/.well-known/openid-configuration")).json()
        state = client.app_state  # type: ignore[attr-defined]
        token = state["gateway"].authenticator.dev_key.mint("dana", ["finance"])
        response = await client.post(CHAT, json=BODY, headers={"authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert discovery["issuer"] == settings.dev.issuer
    kid = jwt.get_unverified_header(token)["kid"]
    assert kid in {key["kid"] for key in jwks["keys"]}


async def test_without_dev_mode_there_is_no_jwks(gateway: Any) -> None:
    response = await gateway.get("/.well-known/jwks.json")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_service_account_api_key(gateway_settings: Any, guard: Guard) -> None:
    key = new_api_key()
    account = {"name": "reporting", "sha256": hash_api_key(key), "sub": "svc-reporting", "roles": ["analyst"]}
    data = gateway_settings.model_dump()
    data["auth"]["api_keys"] = [account]
    settings = type(gateway_settings).model_validate(data)
    async with running_gateway(settings, guard) as client:
        ok = await client.post(CHAT, json=BODY, headers={"authorization": f"Bearer {key}"})
        anthropic_style = await client.post(CHAT, json=BODY, headers={"x-api-key": key})
        wrong = await client.post(
            CHAT, json=BODY, headers={"authorization": "Bearer sk-skein-not-a-real-key"}
        )
    assert ok.status_code == 200, ok.text
    assert anthropic_style.status_code == 200
    assert wrong.status_code == 401
    assert wrong.json()["error"]["code"] == "invalid_api_key"
