"""make delete: remove one regional stack with the virtualenv's SAM CLI, in an order that works.

    python -m tools.delete --config-env <env> [--dry-run]

Runs ``sam delete --stack-name <stack> --region <region>`` for the samconfig environment (samconfig's
environments keep stack name and region in their ``deploy`` table, which ``sam delete --config-env``
does not read). The stack whose PRIMARY record created the private hosted zone goes last: while a
peer environment's stack still exists, its record lives in that zone and CloudFormation cannot delete
the zone, so the deletion is refused with the command to run first. ``--dry-run`` prints what it would
check and run, with no AWS call.

Exit codes: 0 deleted (or dry run), 1 refused (a peer's stack still exists) or sam delete failed,
2 usage error or a stack could not be read.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gdfailover.awscall import AwsCallError
from tools.awsclients import ClientFactory, boto3_clients, describe_error, read_stack
from tools.cfn import SAMCONFIG
from tools.checks import CHECK_FAILED, OK, USAGE_OR_AWS_ERROR
from tools.deploy import Runner, sam_executable, sam_runner
from tools.pairing import creates_zone
from tools.samconfig import DeployEnv, SamConfig, SamConfigError, template_defaults


def sam_delete_argv(env: DeployEnv) -> list[str]:
    return [sam_executable(), "delete", "--stack-name", env.stack_name, "--region", env.region]


def blocking_peers(config: SamConfig, env: DeployEnv, clients: ClientFactory) -> list[DeployEnv]:
    """Peer environments whose stacks still exist, when this stack owns the zone their records live in."""
    if not creates_zone(env.parameters(template_defaults())):
        return []
    blocking = []
    for peer in config.peers(env):
        stack = read_stack(clients, peer.stack_name, peer.region)
        if stack is not None and stack.status != "DELETE_COMPLETE":
            blocking.append(peer)
    return blocking


def main(
    argv: Sequence[str] | None = None,
    clients: ClientFactory | None = None,
    runner: Runner = sam_runner,
    samconfig: Path = SAMCONFIG,
    say: Callable[[str], None] = print,
) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.delete", description=__doc__.splitlines()[0])
    parser.add_argument("--config-env", required=True, help="the samconfig.toml environment whose stack to delete")
    parser.add_argument("--dry-run", action="store_true", help="print the checks and the sam delete command only")
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:
        return USAGE_OR_AWS_ERROR if exit_.code else OK
    try:
        config = SamConfig.load(samconfig)
        env = config.env(args.config_env)
        owns_zone = creates_zone(env.parameters(template_defaults()))
        peers = config.peers(env)
    except SamConfigError as problem:
        say(f"delete: {problem}")
        return USAGE_OR_AWS_ERROR
    return delete_env(
        config, env, owns_zone=owns_zone, peers=peers, clients=clients, runner=runner, dry_run=args.dry_run, say=say
    )


def delete_env(
    config: SamConfig,
    env: DeployEnv,
    *,
    owns_zone: bool,
    peers: list[DeployEnv],
    clients: ClientFactory | None,
    runner: Runner,
    dry_run: bool,
    say: Callable[[str], None],
) -> int:
    argv_ = sam_delete_argv(env)
    if dry_run:
        if owns_zone and peers:
            names = ", ".join(f"{p.name} ({p.stack_name} in {p.region})" for p in peers)
            say(f"delete {env.name}: owns the hosted zone; a real run first checks that these stacks are gone: {names}")
        say("dry run, not running: " + " ".join(argv_))
        return OK
    try:
        blocking = blocking_peers(config, env, clients or boto3_clients())
    except AwsCallError as failure:
        say(f"delete {env.name}: cannot read a peer stack: {describe_error('DescribeStacks', failure)}")
        return USAGE_OR_AWS_ERROR
    if blocking:
        first = " then ".join(f"make delete CONFIG_ENV={peer.name}" for peer in blocking)
        say(
            f"delete {env.name}: refused: its stack created the hosted zone, and the records of "
            f"{', '.join(peer.name for peer in blocking)} still live in it. First: {first}"
        )
        return CHECK_FAILED
    say(f"delete {env.name}: stack {env.stack_name} in {env.region}: " + " ".join(argv_))
    status = runner(argv_)
    if status != 0:
        say(f"delete {env.name}: sam delete exited {status}")
        return CHECK_FAILED
    say(
        f"delete {env.name}: done. Kept on purpose: the ledger table (DeletionPolicy Retain; delete it by hand "
        "when its promotion history is no longer needed); the KMS key is scheduled for deletion (30 days)"
    )
    return OK


if __name__ == "__main__":
    sys.exit(main())
