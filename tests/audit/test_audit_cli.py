from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from gateway.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from gateway.cli.main import main


def test_verify_an_intact_log(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "verify", "--db", str(audit_db)]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "intact: 5 records" in out


def test_verify_names_the_first_bad_record(
    audit_db: Path, db: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute("UPDATE audit_events SET event = json_set(event, '$.sub', 'mallory') WHERE seq = 2")
    assert main(["audit", "verify", "--db", str(audit_db)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "seq 2" in err
    assert "edited" in err


def test_verify_without_a_log_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "verify", "--db", str(tmp_path / "missing.db")])
    assert exit_info.value.code == EXIT_FAILED
    assert "no audit log" in capsys.readouterr().err


def test_the_default_db_comes_from_settings(
    audit_db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SKEIN_STATE_DIR", str(audit_db.parent))
    assert main(["audit", "verify"]) == EXIT_OK
    assert str(audit_db) in capsys.readouterr().out


def test_export_to_stdout(audit_db: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    assert main(["audit", "export", "--db", str(audit_db), "--decision", "allow"]) == EXIT_OK
    lines = capsysbinary.readouterr().out.splitlines()
    assert [orjson.loads(line)["seq"] for line in lines] == [1, 2, 4, 5]


def test_export_to_a_file_with_a_time_range(audit_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    argv = ["audit", "export", "--db", str(audit_db), "--out", str(out)]
    assert main([*argv, "--since", "2027-01-15T08:00:02Z", "--until", "2027-01-15T08:00:04Z"]) == EXIT_OK
    assert [orjson.loads(line)["seq"] for line in out.read_bytes().splitlines()] == [2, 3]


def test_export_rejects_a_bad_time(audit_db: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "export", "--db", str(audit_db), "--since", "last tuesday"])
    assert exit_info.value.code == EXIT_USAGE


def test_tail_shows_recent_decisions(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "tail", "--db", str(audit_db), "-n", "2"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert "alice [finance]" in lines[1]
    assert "gpt-4o -> gpt-4o-mini" in lines[1]
    assert lines[1].rstrip().endswith("#5")


def test_query_works_on_sqlite_with_filters_and_paging(
    audit_db: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "query", "--db", str(audit_db), "--decision", "deny", "--json"]) == EXIT_OK
    denied = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in denied] == [3]  # records 1..5: only 3 is denied
    assert (
        main(["audit", "query", "--db", str(audit_db), "--sub", "alice", "--limit", "2", "--json"]) == EXIT_OK
    )
    captured = capsys.readouterr()
    assert [orjson.loads(line)["seq"] for line in captured.out.splitlines()] == [5, 3]
    assert "more: --before" in captured.err


def test_verify_lists_every_missing_range(
    audit_db: Path, db: sqlite3.Connection, capsys: pytest.CaptureFixture[str]
) -> None:
    db.execute("DELETE FROM audit_events WHERE seq IN (2, 4)")
    assert main(["audit", "verify", "--db", str(audit_db)]) == EXIT_FAILED
    err = capsys.readouterr().err
    assert "2 missing ranges, 2 records" in err
    assert "seq 2\n" in err and "seq 4\n" in err


def test_query_and_export_filter_by_status(
    audit_db: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    # The conftest log: every third event denied with 403, the others 200.
    assert main(["audit", "export", "--db", str(audit_db), "--status", "4xx"]) == EXIT_OK
    lines = capsysbinary.readouterr().out.splitlines()
    assert [orjson.loads(line)["seq"] for line in lines] == [3]
    assert main(["audit", "query", "--db", str(audit_db), "--status", "200", "--json"]) == EXIT_OK
    lines = capsysbinary.readouterr().out.splitlines()
    assert sorted(orjson.loads(line)["seq"] for line in lines) == [1, 2, 4, 5]


def test_a_bad_status_filter_is_a_usage_error(audit_db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["audit", "query", "--db", str(audit_db), "--status", "4x"])
    assert exit_info.value.code == EXIT_USAGE
    assert "not an HTTP status" in capsys.readouterr().err
