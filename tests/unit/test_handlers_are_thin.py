"""Handlers stay thin (the project's rule: functions/<name>/app.py has at most 60 lines of code)."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

from tests.conftest import ROOT

MAX_CODE_LINES = 60
NOT_CODE = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}


def code_lines(source: str) -> int:
    """Lines holding a token other than a comment or a string statement (docstrings do not count)."""
    lines: set[int] = set()
    tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    for index, token in enumerate(tokens):
        if token.type in NOT_CODE:
            continue
        previous = next((t for t in reversed(tokens[:index]) if t.type not in {tokenize.COMMENT, tokenize.NL}), None)
        is_docstring = token.type == tokenize.STRING and (
            previous is None or previous.type in {tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
        )
        if not is_docstring:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines)


def test_the_counter_ignores_docstrings_and_comments() -> None:
    assert code_lines('"""doc\n\nmore"""\n# note\nx = 1\n\ndef f() -> None:\n    """doc"""\n    return None\n') == 3


@pytest.mark.parametrize("handler", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_handler_has_at_most_60_code_lines(handler: Path) -> None:
    assert code_lines(handler.read_text(encoding="utf-8")) <= MAX_CODE_LINES
