"""make promote / make pause / make resume: the variables are checked before anything runs, in one line, exit 2;
free text (REASON) reaches the tool through the environment, never through the shell's parser."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_makefile import make

NO_AWS = {  # whatever reaches the tool finds no credentials and changes nothing
    "PATH": "/usr/bin:/bin",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["promote"], "usage: make promote CONFIG_ENV=<env> CONFIRM=<account id>:<Global Datastore id> REASON=<why>"),
        (["promote", "CONFIG_ENV=secondary", "REASON=drill"], "usage: make promote CONFIG_ENV=<env> CONFIRM="),
        (["promote", "CONFIG_ENV=secondary", "CONFIRM=123456789012:ldgnf-x"], "usage: make promote"),
        (
            ["promote", "CONFIG_ENV=secondary", "CONFIRM=1234 ; touch operator-pwned", "REASON=x"],
            "is not <account>:<datastore>",
        ),
        (
            ["promote", "CONFIG_ENV=secondary", "CONFIRM=123:ldgnf-x", "REASON=x"],
            "CONFIRM=123:ldgnf-x is not <12-digit account id>:<Global Datastore id>",
        ),
        (["promote", "CONFIG_ENV=$(shell touch operator-pwned)"], "cannot be a name"),
        (
            ["promote", "CONFIG_ENV=nosuch", "CONFIRM=123456789012:ldgnf-x", "REASON=x"],
            "samconfig.toml has no environment 'nosuch'",
        ),
        (["pause"], "usage: make pause CONFIG_ENV=<env> REASON=<why> [MINUTES=<1-10080, default 60>]"),
        (["pause", "CONFIG_ENV=secondary"], "usage: make pause CONFIG_ENV=<env> REASON=<why>"),
        (["pause", "CONFIG_ENV=secondary", "REASON=x", "MINUTES=ten"], "MINUTES=ten must be a whole number"),
        (["pause", "CONFIG_ENV=secondary", "REASON=x", "MINUTES=-5"], "MINUTES=-5 must be a whole number"),
        (["pause", "CONFIG_ENV=secondary", "REASON=x", "MINUTES=99999"], "from 1 to 10080 (7 days)"),
        (["pause", "CONFIG_ENV=nosuch", "REASON=x"], "samconfig.toml has no environment 'nosuch'"),
        (["pause", "CONFIG_ENV=secondary", "REASON=$(shell touch operator-pwned)x" + "y" * 200], "keep it to 200"),
        (["resume"], "usage: make resume CONFIG_ENV=<env>"),
        (["resume", "CONFIG_ENV=nosuch"], "samconfig.toml has no environment 'nosuch'"),
        # past the input checks, no credentials: one line, nothing changed
        (["pause", "CONFIG_ENV=secondary", "REASON=load test; `touch operator-pwned`"], "no AWS credentials found"),
        (["resume", "CONFIG_ENV=secondary"], "no AWS credentials found"),
        (
            ["promote", "CONFIG_ENV=secondary", "CONFIRM=123456789012:ldgnf-x", "REASON=$$(touch operator-pwned)"],
            "no AWS credentials found",
        ),
    ],
)
def test_bad_input_is_refused_in_one_line_with_exit_2(args: list[str], message: str) -> None:
    completed = make(*args, env=NO_AWS)
    output = (completed.stdout + completed.stderr).strip()
    assert completed.returncode == 2, output
    assert message in output, output
    said = [line for line in output.splitlines() if not line.startswith("make: *** ")]  # make's own trailer
    assert len(said) == 1, output
    assert not Path("operator-pwned").exists()


def test_help_lists_the_operator_targets() -> None:
    listed = make("help").stdout
    for target in ("promote", "pause", "resume"):
        assert f"\n{target} " in listed
