"""The planned switchover command: move the Global Datastore's writer to an in-sync secondary, with pre-checks.

    python -m tools.switchover --global-replication-group-id ldgnf-my-gds \\
        --target-region us-east-1 --target-replication-group-id my-gds-use1 \\
        --ledger-table <LedgerTableName output of the target region's stack> [--dry-run] [--force]
    python -m tools.switchover --config-env primary [--dry-run] [--force]     (make switchover CONFIG_ENV=primary)

The target may be any SECONDARY member (with three regions, either secondary); the other members are
reported. Exit codes: 0 switched or nothing to do (dry run: the pre-checks pass), 1 a pre-check failed (no change
made), 2 usage error, AWS error, or a failover not confirmed within the wait. See docs/switchover.md.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from gdfailover.awscall import BOUNDED_CONFIG, AwsCallError
from gdfailover.clock import SystemClock
from gdfailover.cloudwatch import ProbeMetrics, WriterHealth
from gdfailover.elasticache import ElastiCacheGlobalDatastores
from gdfailover.ledger import PromotionLedger
from gdfailover.switchover import (
    DEFAULT_COOLDOWN,
    DEFAULT_MAX_LAG_SECONDS,
    DEFAULT_MAX_METRIC_AGE,
    DEFAULT_WAIT_SECONDS,
    SwitchoverRequest,
    run_switchover,
)
from tools.awsclients import ClientFactory, boto3_clients, describe_error, read_stack
from tools.cfn import SAMCONFIG
from tools.samconfig import SamConfig, SamConfigError

USAGE_ERROR = 2
TARGET_OPTIONS = ("global_replication_group_id", "target_region", "target_replication_group_id", "ledger_table")


class TargetUnknown(Exception):
    """The samconfig environment does not name a usable target: a one-line reason."""


def target_from_samconfig(args: argparse.Namespace, clients: ClientFactory, samconfig: Path = SAMCONFIG) -> None:
    """Fill the target options left empty from the samconfig environment and its stack's LedgerTableName output."""
    try:
        env = SamConfig.load(samconfig).env(args.config_env)
    except SamConfigError as problem:
        raise TargetUnknown(str(problem)) from None
    args.target_region = args.target_region or env.region
    args.global_replication_group_id = args.global_replication_group_id or env.global_replication_group_id
    args.target_replication_group_id = args.target_replication_group_id or env.overrides.get("ReplicationGroupId", "")
    for name in ("global_replication_group_id", "target_replication_group_id"):
        if not getattr(args, name):
            raise TargetUnknown(f"samconfig environment {env.name} sets no {name.replace('_id', 'Id')}")
    if args.ledger_table:
        return
    try:
        stack = read_stack(clients, env.stack_name, env.region)
    except AwsCallError as failure:
        raise TargetUnknown(f"cannot read {env.name}'s stack: {describe_error('DescribeStacks', failure)}") from None
    if stack is None or not stack.outputs.get("LedgerTableName"):
        raise TargetUnknown(f"{env.name}'s stack {env.stack_name} in {env.region} has no LedgerTableName output")
    args.ledger_table = stack.outputs["LedgerTableName"]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.switchover",
        description="Planned switchover of an ElastiCache Global Datastore to a chosen secondary (failback).",
    )
    parser.add_argument(
        "--config-env",
        help="the target's samconfig.toml environment: fills the four options below (make switchover CONFIG_ENV=)",
    )
    parser.add_argument("--global-replication-group-id")
    parser.add_argument("--target-region", help="the region that becomes the writer")
    parser.add_argument("--target-replication-group-id", help="its member replication group")
    parser.add_argument("--ledger-table", help="the target region stack's LedgerTableName output (promotion latch)")
    parser.add_argument(
        "--max-lag-seconds",
        type=float,
        default=DEFAULT_MAX_LAG_SECONDS,
        help=(
            "largest writer HeartbeatAge seen on the target (default %(default)s: the slowest probe cadence "
            "the template allows plus 10 s of replication lag)"
        ),
    )
    parser.add_argument(
        "--max-metric-age-seconds",
        type=float,
        default=DEFAULT_MAX_METRIC_AGE.total_seconds(),
        help="older probe datapoints mean the target's probe is not running (default %(default)s)",
    )
    parser.add_argument(
        "--cooldown-minutes",
        type=float,
        default=DEFAULT_COOLDOWN.total_seconds() / 60,
        help="latch the target region's promoter this long, like a promotion (default %(default)s)",
    )
    parser.add_argument("--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS, help="default %(default)s")
    parser.add_argument("--namespace", default="Custom/Redis", help="the probe's metric namespace")
    parser.add_argument("--service", default="gds-failover", help="the probe's `service` dimension")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and the pre-checks only")
    parser.add_argument("--force", action="store_true", help="override an active promotion latch (cooldown)")
    args = parser.parse_args(argv)
    missing = [f"--{name.replace('_', '-')}" for name in TARGET_OPTIONS if not getattr(args, name)]
    if missing and not args.config_env:
        parser.error(f"name the target with --config-env or with {', '.join(missing)}")
    for name in ("max_lag_seconds", "max_metric_age_seconds", "cooldown_minutes", "wait_seconds"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    return args


def main(argv: Sequence[str] | None = None, clients: ClientFactory | None = None, samconfig: Path = SAMCONFIG) -> int:
    args = parse_args(argv)
    import boto3

    if args.config_env:
        try:
            target_from_samconfig(args, clients or boto3_clients(), samconfig)
        except TargetUnknown as problem:
            print(f"switchover: {problem}: no change made", file=sys.stderr)
            return USAGE_ERROR

    region = args.target_region
    try:
        session = boto3.session.Session(region_name=region)
        if session.get_credentials() is None:
            print("no AWS credentials found (environment, ~/.aws, SSO, instance role): no change made", file=sys.stderr)
            return USAGE_ERROR
        datastores = ElastiCacheGlobalDatastores(session.client("elasticache", config=BOUNDED_CONFIG))
        cloudwatch = session.client("cloudwatch", config=BOUNDED_CONFIG)
        probe_metrics = ProbeMetrics(cloudwatch, args.namespace, args.service)
        writer_health = WriterHealth(cloudwatch, args.namespace, args.service)
        ledger = PromotionLedger(session.client("dynamodb", config=BOUNDED_CONFIG), args.ledger_table)
    except Exception as error:  # no credentials, unknown region, ...: say so, no traceback
        print(f"cannot build AWS clients for {region}: {error}", file=sys.stderr)
        return USAGE_ERROR
    request = SwitchoverRequest(
        global_replication_group_id=args.global_replication_group_id,
        target_region=region,
        target_replication_group_id=args.target_replication_group_id,
        max_lag_seconds=args.max_lag_seconds,
        max_metric_age=timedelta(seconds=args.max_metric_age_seconds),
        cooldown=timedelta(minutes=args.cooldown_minutes),
        force=args.force,
        operator=_operator_name(),
    )
    result = run_switchover(
        request,
        datastores=datastores,
        probe_metrics=probe_metrics,
        ledger=ledger,
        clock=SystemClock(),
        dry_run=args.dry_run,
        wait_seconds=args.wait_seconds,
        writer_health=writer_health,
    )
    print(result.describe())
    return result.exit_code


def _operator_name() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "operator"


if __name__ == "__main__":
    sys.exit(main())
