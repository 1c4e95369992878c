"""The planned switchover command: move the Global Datastore's writer to an in-sync secondary, with pre-checks.

    python -m tools.switchover --global-replication-group-id ldgnf-my-gds \\
        --target-region us-east-1 --target-replication-group-id my-gds-use1 \\
        --ledger-table <LedgerTableName output of the target region's stack> [--dry-run] [--force]

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

from gdfailover.awscall import BOUNDED_CONFIG
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

USAGE_ERROR = 2


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tools.switchover",
        description="Planned switchover of an ElastiCache Global Datastore to a chosen secondary (failback).",
    )
    parser.add_argument("--global-replication-group-id", required=True)
    parser.add_argument("--target-region", required=True, help="the region that becomes the writer")
    parser.add_argument("--target-replication-group-id", required=True, help="its member replication group")
    parser.add_argument(
        "--ledger-table", required=True, help="the target region stack's LedgerTableName output (promotion latch)"
    )
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
    for name in ("max_lag_seconds", "max_metric_age_seconds", "cooldown_minutes", "wait_seconds"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    import boto3

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
