"""``skein org import`` (on the database) and ``skein task`` / ``skein approval`` (through the
API of a real server on an ephemeral port)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli.main import main
from tests.controller.conftest import ORG_CSV
from tests.controller.test_openapi import server  # noqa: F401  (the real server fixture)
from tests.support.issuer import TokenIssuer


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("SKEIN_STATE_DIR", str(tmp_path / "state"))
    yield tmp_path


def test_org_import_checks_then_stores(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = config / "org.csv"
    good.write_text(ORG_CSV)
    assert main(["org", "import", str(good), "--tenant", "acme"]) == 0
    assert "imported 50 people into tenant acme" in capsys.readouterr().out
    bad = config / "bad.csv"
    bad.write_text(
        "user_id,reports_to_id,name,role,email,department\n1,2,A,hr,a@x.com,F\n2,1,B,hr,b@x.com,F\n"
    )
    with pytest.raises(SystemExit) as exit_code:
        main(["org", "import", str(bad)])
    assert exit_code.value.code == 1
    err = capsys.readouterr().err
    assert "line 2, reports_to_id: reporting cycle 1 -> 2 -> 1" in err and "nothing was imported" in err


def test_operators_list_show_and_decide(
    server: str,  # noqa: F811
    token_issuer_session: TokenIssuer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import httpx

    alice = token_issuer_session.mint(sub="alice-cli", roles=["finance"])
    bob = token_issuer_session.mint(sub="bob-cli", roles=["manager"])
    body = {"target_role": "manager", "task_type": "budget_approval", "title": "CLI budget"}
    auth = {"authorization": f"Bearer {alice}"}
    task = httpx.post(f"{server}/api/v1/tasks", json=body, headers=auth).json()
    approval = httpx.post(
        f"{server}/api/v1/approvals", json={"task_id": task["id"], "reason": "r"}, headers=auth
    ).json()
    assert main(["approval", "list", "--url", server, "--token", bob]) == 0
    assert approval["id"] in capsys.readouterr().out
    assert (
        main(["approval", "approve", approval["id"], "--comment", "fine", "--url", server, "--token", bob])
        == 0
    )
    assert "approved" in capsys.readouterr().out
    assert main(["task", "show", task["id"], "--url", server, "--token", alice, "--json"]) == 0
    assert '"approval": "approved"' in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:
        main(["task", "cancel", task["id"], "--url", server, "--token", bob])
    assert refused.value.code == 1 and "403 not_task_sender" in capsys.readouterr().err
