"""One result line per check, and the exit code the operator tools share (preflight, verify).

Exit codes: 0 every check passed (warnings allowed), 1 a check failed, 2 usage error or a check
could not run (no credentials, access denied, a region unreachable) and none failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

OK, CHECK_FAILED, USAGE_OR_AWS_ERROR = 0, 1, 2


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    ERROR = "error"  # the check could not run


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str
    message: str

    def line(self) -> str:
        # one line whatever the message holds (AWS error messages can span lines)
        return f"{self.level.value:<5} {self.check}: {' '.join(self.message.split())}"


def ok(check: str, message: str) -> Finding:
    return Finding(Level.OK, check, message)


def warn(check: str, message: str) -> Finding:
    return Finding(Level.WARN, check, message)


def fail(check: str, message: str) -> Finding:
    return Finding(Level.FAIL, check, message)


def error(check: str, message: str) -> Finding:
    return Finding(Level.ERROR, check, message)


def exit_code(findings: Iterable[Finding]) -> int:
    levels = {finding.level for finding in findings}
    if Level.FAIL in levels:
        return CHECK_FAILED
    if Level.ERROR in levels:
        return USAGE_OR_AWS_ERROR
    return OK


def summary(findings: list[Finding]) -> str:
    counts = {level: sum(1 for f in findings if f.level == level) for level in Level}
    return (
        f"{counts[Level.OK]} ok, {counts[Level.WARN]} warnings, {counts[Level.FAIL]} failed, "
        f"{counts[Level.ERROR]} could not run"
    )
