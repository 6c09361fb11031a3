"""The org chart from CSV: who reports to whom, checked whole before anything is stored.

The file has a header row naming (at least) ``user_id, reports_to_id, name, role, email,
department``; ``reports_to_id`` is empty for people at the top. Every problem is reported
with the line it is on (the header is line 1), and all of them at once, so one fix-up round
is enough:

* a missing column, an empty required field, a malformed role or email, a duplicate user_id;
* a dangling manager (``reports_to_id`` names nobody in the file) or someone reporting to
  themself;
* a reporting cycle (``4 -> 7 -> 4``), named with the line of each person in it.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.db.controller import Person

COLUMNS = ("user_id", "reports_to_id", "name", "role", "email", "department")
MAX_PEOPLE = 100_000
MAX_REPORTED = 20  # problems named in the error; the rest are counted
_ROLE = re.compile(r"[a-z][a-z0-9_-]{0,63}")
_USER_ID = re.compile(r"[A-Za-z0-9._@:+-]{1,128}")
_EMAIL = re.compile(r"[^@\s]{1,128}@[^@\s]{1,255}")
_TEXT_LIMIT = 256


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    field: str | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", {self.field}" if self.field else "")
        return f"{where}: {self.message}"


class OrgChartError(ValueError):
    """The file is not a valid org chart; ``problems`` says where and why."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = problems[:MAX_REPORTED]
        more = len(problems) - len(shown)
        text = "; ".join(str(p) for p in shown) + (f"; and {more} more" if more else "")
        super().__init__(f"invalid org chart: {text}")
        self.problems = problems


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    person: Person


def parse_org_chart(text: str, tenant: str) -> list[Person]:
    """The people of a CSV org chart, or ``OrgChartError`` naming every problem."""
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise OrgChartError([Problem(1, None, f"not valid CSV: {exc}")]) from exc
    missing = [c for c in COLUMNS if c not in (header or ())]
    if missing:
        raise OrgChartError([Problem(1, None, f"missing column(s): {', '.join(missing)}")])
    rows, problems = _read_rows(reader, tenant)
    if not problems:
        problems = _check_structure(rows)
    if problems:
        raise OrgChartError(problems)
    return [row.person for row in rows]


def _read_rows(reader: csv.DictReader[str], tenant: str) -> tuple[list[_Row], list[Problem]]:
    rows: list[_Row] = []
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    try:
        for record in reader:
            line = reader.line_num
            if len(rows) >= MAX_PEOPLE:
                problems.append(Problem(line, None, f"more than {MAX_PEOPLE} people"))
                break
            if None in record:  # more fields than the header has
                problems.append(Problem(line, None, "more fields than the header"))
                continue
            found = _check_row(record, line)
            if found:
                problems.extend(found)
                continue
            person = _person(record, tenant)
            if person.user_id in first_line:
                message = f"user_id {person.user_id} is already on line {first_line[person.user_id]}"
                problems.append(Problem(line, "user_id", message))
                continue
            first_line[person.user_id] = line
            rows.append(_Row(line, person))
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, None, f"not valid CSV: {exc}"))
    return rows, problems


def _check_row(record: dict[str, str], line: int) -> list[Problem]:
    problems = []
    values = {c: (record.get(c) or "").strip() for c in COLUMNS}
    for column in ("user_id", "name", "role", "email", "department"):
        if not values[column]:
            problems.append(Problem(line, column, "is empty"))
    for column, pattern in (("user_id", _USER_ID), ("reports_to_id", _USER_ID)):
        if values[column] and not pattern.fullmatch(values[column]):
            problems.append(Problem(line, column, "must be 1-128 letters, digits or . _ @ : + -"))
    if values["role"] and not _ROLE.fullmatch(values["role"]):
        problems.append(Problem(line, "role", "must be a role name (lower-case letters, digits, _ -)"))
    if values["email"] and not _EMAIL.fullmatch(values["email"]):
        problems.append(Problem(line, "email", "is not an email address"))
    for column in ("name", "department"):
        if len(values[column]) > _TEXT_LIMIT:
            problems.append(Problem(line, column, f"is longer than {_TEXT_LIMIT} characters"))
    return problems


def _person(record: dict[str, str], tenant: str) -> Person:
    value = {c: (record.get(c) or "").strip() for c in COLUMNS}
    return Person(
        tenant=tenant,
        user_id=value["user_id"],
        reports_to=value["reports_to_id"] or None,
        name=value["name"],
        role=value["role"],
        email=value["email"],
        department=value["department"],
    )


def _check_structure(rows: list[_Row]) -> list[Problem]:
    lines = {row.person.user_id: row.line for row in rows}
    problems = []
    for row in rows:
        manager = row.person.reports_to
        if manager is None:
            continue
        if manager == row.person.user_id:
            problems.append(Problem(row.line, "reports_to_id", "a person cannot report to themself"))
        elif manager not in lines:
            message = f"reports_to_id {manager} is not a user_id in the file (dangling manager)"
            problems.append(Problem(row.line, "reports_to_id", message))
    cycles = [_cycle_problem(cycle, lines) for cycle in _cycles(rows, lines)]
    return sorted(problems + cycles, key=lambda p: p.line)


def _cycles(rows: Iterable[_Row], known: dict[str, int]) -> list[list[str]]:
    """Each reporting cycle once, as the user_ids in it (walks are linear: one manager each).
    A dangling manager ends a walk (it is reported on its own); a self-report is no cycle."""
    manager = {
        row.person.user_id: row.person.reports_to
        if row.person.reports_to in known and row.person.reports_to != row.person.user_id
        else None
        for row in rows
    }
    done: set[str] = set()
    cycles = []
    for start in manager:
        path: dict[str, int] = {}
        node: str | None = start
        while node is not None and node not in done and node not in path:
            path[node] = len(path)
            node = manager[node]
        if node is not None and node in path:  # walked back into this walk: a new cycle
            members = list(path)[path[node] :]
            cycles.append(members)
        done.update(path)
    return cycles


def _cycle_problem(cycle: list[str], lines: dict[str, int]) -> Problem:
    chain = " -> ".join([*cycle, cycle[0]])
    where = ", ".join(f"{uid} on line {lines[uid]}" for uid in cycle)
    first = min(lines[uid] for uid in cycle)
    return Problem(first, "reports_to_id", f"reporting cycle {chain} ({where})")
