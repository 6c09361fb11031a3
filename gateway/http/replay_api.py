"""What a candidate bundle would change, for auditors (the explorer page's diff).

* ``GET /v1/replay/candidates``: the candidate bundles in ``bundle.candidates_dir``.
* ``GET /v1/replay?candidate=NAME``: the recorded decisions (the filters of ``GET
  /v1/decisions``; ``since`` defaults to the last 24 hours, ``limit`` to 10,000) decided
  again with that candidate (``gateway/replay.py``): a summary and the changed decisions.

A candidate is only ever a name from that directory (never a path), and it is verified
like any bundle before it decides anything.
"""

from __future__ import annotations

import time
from dataclasses import replace

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.audit.decisions import DecisionReader
from gateway.bundle.store import BundleError
from gateway.call import Call
from gateway.dialects.openai import CHAT
from gateway.errors import BadRequest, NotFound
from gateway.http.audit_api import query_filters
from gateway.pipeline import Finish, Respond
from gateway.replay import Candidates, replay
from gateway.services import Gateway
from gateway.trail import Trail

_DEFAULT_WINDOW_S = 86400.0
_DEFAULT_LIMIT = 10_000


async def candidates_route(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    call = Call(CHAT, request.headers, Trail(route="/v1/replay/candidates", action="replay.candidates"))
    return await gateway.decisions.candidates.run(call)


async def replay_route(request: Request) -> Response:
    gateway: Gateway = request.state.gateway
    call = Call(CHAT, request.headers, Trail(route="/v1/replay", action="replay.run"))
    call.params = request.query_params
    return await gateway.decisions.replay.run(call)


def list_candidates(candidates: Candidates) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        return _json(call, {"candidates": candidates.names()})

    return respond


def run_replay(candidates: Candidates, reader: DecisionReader) -> Respond:
    async def respond(call: Call, finish: Finish) -> Response:
        name = call.params.get("candidate") or ""
        # The filters are checked before the (possibly slow) candidate load.
        params = {k: v for k, v in call.params.items() if k not in ("candidate", "limit")}
        filters, _ = query_filters(params)
        limit = _limit(call.params.get("limit"))
        if filters.since is None:
            filters = replace(filters, since=time.time() - _DEFAULT_WINDOW_S)
        try:
            bundle = await candidates.load(name)
        except BundleError as exc:
            raise BadRequest(
                f"candidate {name} was refused [{exc.reason}]: {exc}", reason="candidate_refused"
            ) from exc
        if bundle is None:
            raise NotFound("no such candidate bundle", reason="candidate_not_found")
        call.trail.resource["candidate"] = {"name": name, "revision": bundle.revision}
        report = await replay(bundle, reader.replayable(replace(filters, decided=True), limit))
        return _json(call, {"candidate_name": name, **report.as_dict()})

    return respond


def _limit(text: str | None) -> int:
    if text is None:
        return _DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit() and len(text) <= 6 and 1 <= int(text) <= 100_000):
        raise BadRequest("limit must be an integer from 1 to 100000", reason="invalid_request")
    return int(text)


def _json(call: Call, body: dict[str, object]) -> Response:
    call.trail.status = 200
    headers = {"x-skein-request-id": call.trail.request_id}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)
