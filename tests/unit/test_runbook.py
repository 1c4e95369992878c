"""docs/runbook.md, "you were paged": every decision code the code can emit has an entry, so a new code cannot
ship without one. The codes are read from the source (the promoter's helpers and records), not listed here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "runbook.md"
PACKAGE = ROOT / "layers" / "shared" / "gdfailover"
#: Where decision codes are made: the pure decision, the orchestration, the handler's service, make promote.
SOURCES = (
    PACKAGE / "decision.py",
    PACKAGE / "promoter.py",
    PACKAGE / "promote_service.py",
    ROOT / "tools" / "promote.py",
)
#: helper -> index of the positional argument that is the code
CODE_ARGUMENT = {"_noop": 0, "_refuse": 0, "_hold": 0, "_timed_hold": 0, "_on_failure": 0, "Decision": 1, "_demote": 1}
CODE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)+$|^[a-z]+$")


def _constants(tree: ast.Module) -> dict[str, str]:
    """Module-level NAME = "text" (a code may be named, e.g. PAUSED)."""
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    found[target.id] = node.value.value
    return found


def _strings(node: ast.expr | None, constants: dict[str, str]) -> set[str]:
    """The codes an expression can be: a string, a named constant, either branch of a conditional."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.IfExp):
        return _strings(node.body, constants) | _strings(node.orelse, constants)
    return set()


def _called(node: ast.Call) -> str:
    return (
        node.func.id
        if isinstance(node.func, ast.Name)
        else node.func.attr
        if isinstance(node.func, ast.Attribute)
        else ""
    )


def emitted_codes(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    constants = {**_constants(ast.parse((PACKAGE / "decision.py").read_text())), **_constants(tree)}
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            index = CODE_ARGUMENT.get(_called(node))
            if index is not None and len(node.args) > index:
                codes |= _strings(node.args[index], constants)
            codes |= {c for k in node.keywords if k.arg == "code" for c in _strings(k.value, constants)}
        elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "code" for t in node.targets):
            codes |= _strings(node.value, constants)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "code":
                    codes |= _strings(value, constants)
    return {code for code in codes if CODE.match(code)}


def yield_codes() -> set[str]:
    """decision.py refuses ``yield-<code>`` for every Succession(Verdict.YIELD, "<code>") of gdfailover.succession."""
    tree = ast.parse((PACKAGE / "succession.py").read_text(encoding="utf-8"))
    codes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _called(node) == "Succession" and len(node.args) >= 2:
            verdict, code = node.args[0], node.args[1]
            if isinstance(verdict, ast.Attribute) and verdict.attr == "YIELD" and isinstance(code, ast.Constant):
                codes.add(f"yield-{code.value}")
    return codes


def all_codes() -> set[str]:
    return set().union(*(emitted_codes(path) for path in SOURCES)) | yield_codes()


def test_the_collector_finds_the_codes_we_know_of() -> None:
    codes = all_codes()
    for known in (
        "paused",
        "no-outside-confirmation",
        "writer-alive",
        "lag-above-gate",
        "outside-says-alive",
        "cooldown",
        "failover-denied",
        "promote-unconfirmed",
        "yield-rival-latched",
        "rejected-input",
        "manual-promote",
        "datastore-modifying",
        "promote",
    ):
        assert known in codes
    assert len(codes) >= 40


def test_every_decision_code_has_a_runbook_entry() -> None:
    text = RUNBOOK.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z][a-z0-9-]*)`", text))
    missing = sorted(all_codes() - documented)
    assert not missing, f"docs/runbook.md has no entry for: {', '.join(missing)}"
