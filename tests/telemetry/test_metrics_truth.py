"""The metrics tell the truth about real calls: upstream errors are errors, refusals are
refusals with their reason, streams have a time to first token, every role set once."""

from __future__ import annotations

from collections.abc import Callable

import httpx
from prometheus_client.parser import text_string_to_metric_families

Bearer = Callable[..., dict[str, str]]
CHAT = "/v1/chat/completions"


def _chat(text: str = "hello", *, model: str = "gpt-4o-mini", stream: bool = False) -> dict[str, object]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "stream": stream}


async def _samples(client: httpx.AsyncClient, name: str) -> list[tuple[dict[str, str], float]]:
    text = (await client.get("/metrics")).text
    found = []
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found.append((sample.labels, sample.value))
    return found


def _total(samples: list[tuple[dict[str, str], float]], **labels: str) -> float:
    return sum(v for found, v in samples if all(found.get(k) == want for k, want in labels.items()))


async def test_outcomes_status_classes_and_reasons(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    calls = [
        (_chat(), 200),
        (_chat("[[status:500]]"), 500),
        (_chat("[[status:429]]"), 429),
        (_chat("[[reset]]"), 502),
        (_chat(model="gpt-4o"), 403),
    ]
    for body, status in calls:
        response = await gateway.post(CHAT, json=body, headers=bearer())
        assert response.status_code == status, response.text
    malformed = await gateway.post(
        CHAT, content=b"{not json", headers={**bearer(), "content-type": "application/json"}
    )
    assert malformed.status_code == 400
    anonymous = await gateway.post(CHAT, json=_chat())
    assert anonymous.status_code == 401

    requests = await _samples(gateway, "skein_requests_total")
    route = {"route": CHAT}
    assert _total(requests, **route, decision="allow", status_class="2xx") == 1
    assert _total(requests, **route, decision="error", reason="upstream_status", status_class="5xx") == 1
    assert _total(requests, **route, decision="error", reason="upstream_status", status_class="4xx") == 1
    assert _total(requests, **route, decision="error", reason="upstream_reset", status_class="5xx") == 1
    assert _total(requests, **route, decision="deny", reason="model_not_allowed", status_class="4xx") == 1
    assert _total(requests, **route, decision="deny", reason="malformed_json", status_class="4xx") == 1
    assert _total(requests, **route, decision="deny", status_class="4xx", role="none") == 1  # the 401
    assert _total(requests, **route, decision="allow", status_class="5xx") == 0  # never "allowed"

    upstream_errors = await _samples(gateway, "skein_upstream_errors_total")
    for reason in ("status_500", "status_429", "upstream_reset"):
        assert _total(upstream_errors, reason=reason) == 1, reason
    latency = await _samples(gateway, "skein_upstream_duration_seconds_count")
    assert _total(latency, model="gpt-4o-mini") >= 3
    fast = await _samples(gateway, "skein_request_duration_seconds_bucket")
    assert any(labels["le"] == "0.00025" for labels, _ in fast)


async def test_streams_have_a_time_to_first_token(gateway: httpx.AsyncClient, bearer: Bearer) -> None:
    response = await gateway.post(CHAT, json=_chat(stream=True), headers=bearer())
    assert response.status_code == 200
    ttft = await _samples(gateway, "skein_time_to_first_token_seconds_count")
    assert _total(ttft, model="gpt-4o-mini") == 1
    buffered = await gateway.post(CHAT, json=_chat(), headers=bearer())
    assert buffered.status_code == 200
    assert _total(await _samples(gateway, "skein_time_to_first_token_seconds_count")) == 1


async def test_a_caller_with_several_roles_is_counted_once_under_its_set(
    gateway: httpx.AsyncClient, bearer: Bearer
) -> None:
    response = await gateway.post(CHAT, json=_chat(), headers=bearer(roles=["finance", "developer"]))
    assert response.status_code == 200
    requests = await _samples(gateway, "skein_requests_total")
    assert _total(requests, route=CHAT, role="developer+finance") == 1
    assert _total(requests, route=CHAT, role="finance") == 0
