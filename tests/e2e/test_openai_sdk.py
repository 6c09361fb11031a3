"""End to end: ``skein serve`` as a subprocess, driven by the official OpenAI SDK."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.support.issuer import TokenIssuer
from tests.support.server import REPO, serve, skein
from tests.support.upstream import FakeProvider

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, token_issuer_session: TokenIssuer, fake_provider: FakeProvider
) -> Iterator[tuple[str, Path, TokenIssuer]]:
    tmp = tmp_path_factory.mktemp("e2e")
    config = {
        "state_dir": tmp / "state",
        "bundle": {"policies_dir": REPO / "policies", "profiles_dir": REPO / "bundles", "verify": False},
        "auth": {"issuer": token_issuer_session.issuer, "audience": token_issuer_session.audience},
        "providers": {"openai": {"base_url": fake_provider.base_url}},
        "guard": {"executor": "thread", "workers": 1},
    }
    with serve(config, tmp) as base:
        yield base, tmp, token_issuer_session


def client_for(server: tuple[str, Path, TokenIssuer], roles: list[str]) -> openai.OpenAI:
    base, _, issuer = server
    token = issuer.mint(sub="alice", roles=roles)
    return openai.OpenAI(base_url=base + "/v1", api_key=token, max_retries=0)


def test_chat_non_streaming(server: tuple[str, Path, TokenIssuer]) -> None:
    reply = client_for(server, ["finance"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Summarise Q3 spend"}]
    )
    assert reply.choices[0].message.content == "Hello from the fake provider."
    assert reply.usage is not None and reply.usage.total_tokens == 18


def test_chat_streaming(server: tuple[str, Path, TokenIssuer]) -> None:
    stream = client_for(server, ["finance"]).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.strip() == "Hello from the fake provider."


def test_model_not_allowed_is_a_403_with_reason(server: tuple[str, Path, TokenIssuer]) -> None:
    with pytest.raises(openai.PermissionDeniedError) as err:
        client_for(server, ["finance"]).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )
    assert err.value.status_code == 403
    assert err.value.code == "model_not_allowed"


def test_bad_token_is_a_401(server: tuple[str, Path, TokenIssuer]) -> None:
    base, _, issuer = server
    client = openai.OpenAI(
        base_url=base + "/v1", api_key=issuer.token_expired(sub="alice", roles=["finance"]), max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])


def test_models_list(server: tuple[str, Path, TokenIssuer]) -> None:
    ids = {m.id for m in client_for(server, ["finance"]).models.list()}
    assert "gpt-4o-mini" in ids and "gpt-4o" not in ids


def test_client_disconnect_mid_stream_is_audited(server: tuple[str, Path, TokenIssuer]) -> None:
    base, tmp, issuer = server
    token = issuer.mint(sub="quitter", roles=["finance"])
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [{"role": "user", "content": "go [[stall-mid]]"}],
    }
    with httpx.stream(
        "POST", base + "/v1/chat/completions", json=body, headers={"authorization": f"Bearer {token}"}
    ) as r:
        for _ in r.iter_bytes():
            break  # first event, then hang up
    row = _wait_for_row(tmp / "state" / "audit.db", "quitter")
    assert row == (499, "client_disconnected")


def test_audit_verify_passes_then_fails_after_an_edit(server: tuple[str, Path, TokenIssuer]) -> None:
    _, tmp, _ = server
    db = tmp / "state" / "audit.db"
    _wait_for_row(db, "alice")
    time.sleep(0.3)  # let the writer flush the last batch
    ok = skein("audit", "verify", "--db", str(db))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    copy = tmp / "edited.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE audit_events SET event = replace(event, '\"allow\":false', '\"allow\":true')")
    bad = skein("audit", "verify", "--db", str(copy))
    assert bad.returncode == 1
    assert "edited" in (bad.stdout + bad.stderr)


def _wait_for_row(db: Path, sub: str) -> tuple[int, str] | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if db.exists():
            with sqlite3.connect(db) as conn:
                row = conn.execute(
                    "SELECT json_extract(event, '$.status'), json_extract(event, '$.reasons[0]') "
                    "FROM audit_events WHERE json_extract(event, '$.sub') = ? ORDER BY pos DESC LIMIT 1",
                    (sub,),
                ).fetchone()
            if row:
                return (int(row[0]), str(row[1]))
        time.sleep(0.1)
    return None
