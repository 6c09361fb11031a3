"""The dependency rules of docs/architecture.md, checked on the source (not only in prose).

Each rule says: no module under ``package`` imports any of ``forbidden`` (a module or a
package, with everything under it). Imports are read with ``ast`` from every ``.py`` file,
wherever they sit (inside functions and ``if TYPE_CHECKING:`` blocks too: a dependency is a
dependency), ``from . import x`` is resolved against the file's own package, and
``from gateway import http`` counts as importing ``gateway.http``. To add a rule, add a line
to ``RULES``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import REPO


@dataclass(frozen=True)
class Rule:
    package: str  # dotted: "gateway.policy"
    forbidden: tuple[str, ...]  # dotted modules or packages
    why: str


RULES = (
    Rule("guard", ("gateway",), "the guard is a library: gateway -> guard, never back"),
    Rule("signing", ("gateway",), "the bundle format is a library: gateway -> signing, never back"),
    Rule(
        "gateway.policy",
        ("gateway.pipeline", "gateway.http", "gateway.stages", "gateway.call", "gateway.dialects"),
        "policy engines decide; they do not know the request pipeline or HTTP",
    ),
    Rule(
        "gateway.stages",
        ("gateway.app", "gateway.http", "gateway.services"),
        "stages are units the app composes; they know no app, no HTTP, no lifespan",
    ),
    Rule(
        "gateway.dialects",
        ("gateway.stages", "gateway.pipeline", "gateway.app", "gateway.http"),
        "a dialect translates bodies and answers; it knows no stage, pipeline or HTTP",
    ),
    Rule(
        "gateway.upstream", ("gateway.stages", "gateway.pipeline", "gateway.dialects"), "upstreams only send"
    ),
    Rule(
        "gateway.mcp",
        ("gateway.app", "gateway.http", "gateway.services", "gateway.stages", "gateway.pipeline"),
        "the MCP protocol pieces are what stages use; they know no stage, pipeline, app or HTTP",
    ),
)


def module_name(path: Path, root: Path = REPO) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(source: str, module: str, *, is_package: bool = False) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every import in ``source``, the source of ``module``."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: climb level-1 packages up from this one
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:  # `from gateway import http` imports gateway.http
                yield node.lineno, f"{target}.{alias.name}"


def violations(rule: Rule, root: Path = REPO) -> list[str]:
    found = []
    for path in sorted((root / rule.package.replace(".", "/")).rglob("*.py")):
        module = module_name(path, root)
        for line, target in imports(
            path.read_text(encoding="utf-8"), module, is_package=path.stem == "__init__"
        ):
            if any(target == f or target.startswith(f + ".") for f in rule.forbidden):
                found.append(f"{path.relative_to(root)}:{line}: imports {target}")
    return sorted(set(found))


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.package} !-> {','.join(r.forbidden)}")
def test_dependency_rule(rule: Rule) -> None:
    assert (REPO / rule.package.replace(".", "/")).is_dir(), f"no package {rule.package}"
    assert violations(rule) == [], rule.why


def test_the_checker_sees_every_form_of_import() -> None:
    source = (
        "import gateway.app\n"
        "from gateway import http\n"
        "from gateway.pipeline import Gateway\n"
        "def f():\n    from ..http import proxy\n"
        "from . import engine\n"
        "import json\n"
    )
    found = [target for _, target in imports(source, "gateway.policy.remote")]
    assert "gateway.app" in found
    assert "gateway.http" in found
    assert "gateway.pipeline" in found
    assert "gateway.http.proxy" in found  # relative, inside a function
    assert "gateway.policy.engine" in found
    assert "json" in found
    # __init__.py: "." is the package itself.
    assert "guard.detector" in [t for _, t in imports("from .detector import X\n", "guard", is_package=True)]


def test_a_violation_is_reported_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "guard").mkdir()
    (tmp_path / "guard" / "bad.py").write_text("import os\nfrom gateway.settings import Settings\n")
    rule = Rule("guard", ("gateway",), "test")
    found = [v for v in violations(rule, tmp_path) if "bad.py" in v]
    assert found == [
        "guard/bad.py:2: imports gateway.settings",
        "guard/bad.py:2: imports gateway.settings.Settings",
    ]
