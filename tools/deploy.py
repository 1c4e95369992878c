"""make deploy: deploy one regional stack with its peer wiring read from the peer's stack, not hand-copied.

    python -m tools.deploy --config-env <env> [--peer <env>] [--pair] [--skip-peer] [--dry-run]

1. the offline part of preflight (placeholders, missing values, the template's Rules, the pair);
2. DescribeStacks of the peer environment's stack in the peer's region: its HealthCheckId,
   WriterAlarmName, PromotionTopicArn (and, for the SECONDARY, HostedZoneId) outputs
   (tools/pairing.py); a peer not deployed yet means this deploy goes without peer wiring;
3. ``sam deploy --config-env <env> --parameter-overrides <samconfig's overrides + the wiring>``
   (SAM CLI replaces samconfig's parameter_overrides with the command line's, so all are passed);
4. DescribeStacks of this stack again: when the peer's stack does not carry this stack's current
   outputs yet, print the one command that wires it.

``--pair`` runs that sequence for the environment, its peer, and the environment again when the
first run had no peer to wire to: the first deploy of a pair in one command.
``--skip-peer`` passes no peer values at all (CloudFormation keeps the stack's previous ones): for a
redeploy while the peer's region cannot be read.

Exit codes: 0 deployed (or no changes), 1 refused by preflight or sam deploy failed, 2 usage error
or an AWS error while reading a stack.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gdfailover.awscall import AwsCallError
from tools.awsclients import ClientFactory, StackView, boto3_clients, describe_error, read_stack
from tools.cfn import ROOT, SAMCONFIG, load_template, parameter_defaults
from tools.checks import CHECK_FAILED, OK, USAGE_OR_AWS_ERROR, Level
from tools.pairing import has_zone_source, plan_wiring, stale_peer_parameters
from tools.preflight import offline_checks
from tools.samconfig import DeployEnv, SamConfig, SamConfigError

#: argv -> exit status. Tests inject a recorder; nothing in the test suite runs sam deploy.
Runner = Callable[[list[str]], int]


class DeployRefused(Exception):
    """A one-line reason not to run sam deploy, and the exit code that goes with it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class DeployOutcome:
    code: int
    #: environments whose stack should be deployed next to finish the wiring
    next_envs: list[str] = field(default_factory=list)


def sam_runner(argv: list[str]) -> int:
    try:
        return subprocess.run(argv, cwd=ROOT, check=False).returncode
    except OSError as error:  # no SAM CLI: say so in one line
        print(f"cannot run {argv[0]}: {error.strerror or error} (make venv installs the SAM CLI)")
        return 127


def sam_executable() -> str:
    """The SAM CLI of this virtualenv when there is one (make venv installs it), else the PATH's."""
    candidate = Path(sys.executable).parent / "sam"
    return str(candidate) if candidate.exists() else (shutil.which("sam") or "sam")


def sam_deploy_argv(env: DeployEnv, values: dict[str, str]) -> list[str]:
    overrides = {**env.overrides, **values}
    return [
        sam_executable(),
        "deploy",
        "--config-env",
        env.name,
        "--parameter-overrides",
        *(f"{name}={_quoted(value)}" for name, value in overrides.items()),
    ]


def _quoted(value: str) -> str:
    """SAM CLI splits overrides on spaces; an empty or spaced value needs double quotes."""
    return f'"{value}"' if value == "" or " " in value else value


def deploy_one(
    config: SamConfig,
    env_name: str,
    clients: ClientFactory,
    runner: Runner,
    *,
    peer_name: str | None = None,
    skip_peer: bool = False,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> DeployOutcome:
    try:
        env = config.env(env_name)
        template = load_template()
        peer = config.peer(env, peer_name)
    except SamConfigError as problem:
        say(f"deploy: {problem}")
        return DeployOutcome(USAGE_OR_AWS_ERROR)
    refused = [f for f in offline_checks(config, env, template, peer_name) if f.level in (Level.FAIL, Level.ERROR)]
    if refused:
        for finding in refused:
            say(finding.line())
        say(f"deploy {env.name}: refused by preflight; fix samconfig.toml (make preflight CONFIG_ENV={env.name})")
        return DeployOutcome(CHECK_FAILED)

    try:
        if dry_run:
            values, peer_stack = _offline_wiring(env, peer, parameter_defaults(template), skip_peer=skip_peer, say=say)
        else:
            values, peer_stack = _wiring(env, peer, parameter_defaults(template), clients, skip_peer=skip_peer, say=say)
    except DeployRefused as refusal:
        say(f"deploy {env.name}: {refusal}")
        return DeployOutcome(refusal.code)

    argv = sam_deploy_argv(env, values)
    say(f"deploy {env.name}: stack {env.stack_name} in {env.region}")
    for name, value in values.items():
        say(f"  {name}={value}")
    if dry_run:
        say("dry run, not running: " + " ".join(argv))
        return DeployOutcome(OK)
    status = runner(argv)
    if status != 0:
        say(f"deploy {env.name}: sam deploy exited {status}")
        return DeployOutcome(CHECK_FAILED)
    return _after_deploy(env, None if skip_peer else peer, peer_stack, clients, say)


def _offline_wiring(
    env: DeployEnv,
    peer: DeployEnv | None,
    defaults: dict[str, str],
    *,
    skip_peer: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, str], None]:
    """DRY_RUN: no AWS call at all (no credentials needed); the peer's outputs are named, not read."""
    if peer is None or skip_peer:
        wiring = plan_wiring(env, None if skip_peer else peer, defaults, None)
        if skip_peer:
            say(f"deploy {env.name}: --skip-peer: the stack keeps its current peer parameters")
            return {}, None
        say(f"deploy {env.name}: no peer environment (same GlobalReplicationGroupId, another region)")
        if wiring.problems:
            raise DeployRefused("; ".join(wiring.problems), CHECK_FAILED)
        return wiring.values, None
    wiring = plan_wiring(env, peer, defaults, None, offline=True)
    if wiring.problems:
        raise DeployRefused("; ".join(wiring.problems), CHECK_FAILED)
    looked_up = [name for name, value in wiring.values.items() if value.startswith("<")]
    say(
        f"deploy {env.name}: dry run, no AWS call: a real run reads {peer.name}'s stack {peer.stack_name} in "
        f"{peer.region} (DescribeStacks) for {', '.join(looked_up) or 'nothing (samconfig sets every peer value)'}"
    )
    return wiring.values, None


def _wiring(
    env: DeployEnv,
    peer: DeployEnv | None,
    defaults: dict[str, str],
    clients: ClientFactory,
    *,
    skip_peer: bool,
    say: Callable[[str], None],
) -> tuple[dict[str, str], StackView | None]:
    if peer is None:
        say(f"deploy {env.name}: no peer environment (same GlobalReplicationGroupId, another region)")
        wiring = plan_wiring(env, None, defaults, None)
        if wiring.problems:
            raise DeployRefused("; ".join(wiring.problems), CHECK_FAILED)
        return wiring.values, None
    if skip_peer:
        say(f"deploy {env.name}: --skip-peer: the stack keeps its current peer parameters")
        if not has_zone_source(env.parameters(defaults)) and _read(clients, env) is None:
            raise DeployRefused(
                f"--skip-peer on a first deploy: {env.name} takes its zone from {peer.name}, which was not read",
                CHECK_FAILED,
            )
        return {}, None
    peer_stack = _read(clients, peer, hint=" (to redeploy keeping the current peer values: SKIP_PEER=1)")
    wiring = plan_wiring(env, peer, defaults, peer_stack)
    for note in wiring.notes:
        say(f"deploy {env.name}: {note}")
    if wiring.problems:
        raise DeployRefused("; ".join(wiring.problems), CHECK_FAILED)
    return wiring.values, peer_stack


def _read(clients: ClientFactory, env: DeployEnv, hint: str = "") -> StackView | None:
    try:
        return read_stack(clients, env.stack_name, env.region)
    except AwsCallError as failure:
        raise DeployRefused(
            f"cannot read {env.name}'s stack {env.stack_name} in {env.region}: "
            f"{describe_error('DescribeStacks', failure)}{hint}",
            USAGE_OR_AWS_ERROR,
        ) from failure


def _after_deploy(
    env: DeployEnv,
    peer: DeployEnv | None,
    peer_stack: StackView | None,
    clients: ClientFactory,
    say: Callable[[str], None],
) -> DeployOutcome:
    if peer is None:
        say(f"deploy {env.name}: done")
        return DeployOutcome(OK)
    try:
        this_stack = read_stack(clients, env.stack_name, env.region)
    except AwsCallError as failure:
        say(f"deploy {env.name}: deployed, but cannot read it back: {describe_error('DescribeStacks', failure)}")
        return DeployOutcome(USAGE_OR_AWS_ERROR)
    if this_stack is None:
        say(f"deploy {env.name}: sam deploy succeeded but {env.stack_name} is not in {env.region} (another region?)")
        return DeployOutcome(USAGE_OR_AWS_ERROR)
    if peer_stack is None:
        say(
            f"deploy {env.name}: done without peer wiring. Next: make deploy CONFIG_ENV={peer.name}, "
            f"then make deploy CONFIG_ENV={env.name} again"
        )
        return DeployOutcome(OK, [peer.name, env.name])
    stale = stale_peer_parameters(this_stack, peer_stack)
    if stale:
        say(
            f"deploy {env.name}: done. {peer.name}'s stack does not carry {env.name}'s current "
            f"{', '.join(stale)} yet. Next: make deploy CONFIG_ENV={peer.name}"
        )
        return DeployOutcome(OK, [peer.name])
    say(f"deploy {env.name}: done; {env.name} and {peer.name} are wired to each other")
    return DeployOutcome(OK)


def deploy_pair(
    config: SamConfig,
    env_name: str,
    clients: ClientFactory,
    runner: Runner,
    *,
    peer_name: str | None = None,
    dry_run: bool = False,
    say: Callable[[str], None] = print,
) -> int:
    """The environment, then whatever the wiring still needs, at most three deploys in all."""
    queue, done = [env_name], 0
    while queue and done < 3:
        current = queue.pop(0)
        peer = peer_name if current == env_name else env_name
        outcome = deploy_one(config, current, clients, runner, peer_name=peer, dry_run=dry_run, say=say)
        done += 1
        if outcome.code != OK:
            return outcome.code
        if dry_run:  # nothing deployed, so nothing more to wire
            return OK
        queue = outcome.next_envs
    return OK


def main(
    argv: Sequence[str] | None = None,
    clients: ClientFactory | None = None,
    runner: Runner = sam_runner,
    samconfig: Path = SAMCONFIG,
    say: Callable[[str], None] = print,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.deploy", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", required=True, help="the samconfig.toml environment to deploy")
    parser.add_argument("--peer", help="the peer environment, when more than one shares the Global Datastore")
    parser.add_argument("--pair", action="store_true", help="also deploy the peer, and this env again if needed")
    parser.add_argument("--skip-peer", action="store_true", help="do not read the peer; keep current peer values")
    parser.add_argument("--dry-run", action="store_true", help="print the sam deploy command, run nothing")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return USAGE_OR_AWS_ERROR if exit_.code else OK
    if args.pair and args.skip_peer:
        say("deploy: --pair and --skip-peer contradict each other")
        return USAGE_OR_AWS_ERROR
    try:
        config = SamConfig.load(samconfig)
    except SamConfigError as problem:
        say(f"deploy: {problem}")
        return USAGE_OR_AWS_ERROR
    factory = clients or boto3_clients()
    if args.pair:
        return deploy_pair(config, args.config_env, factory, runner, peer_name=args.peer, dry_run=args.dry_run, say=say)
    outcome = deploy_one(
        config,
        args.config_env,
        factory,
        runner,
        peer_name=args.peer,
        skip_peer=args.skip_peer,
        dry_run=args.dry_run,
        say=say,
    )
    return outcome.code


if __name__ == "__main__":
    sys.exit(main())
