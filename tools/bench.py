"""make bench: warm probe latency against a local TLS+AUTH redis-server, and cold import time.

Numbers, not assertions: run on demand and quote them. Each probe opens a fresh TLS connection
(the probe's design), so the latency includes TCP + TLS handshake + AUTH + PING + SET + GET.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gdfailover.cluster_probe import run_cluster_probe
from gdfailover.config import ProbeSettings
from gdfailover.credentials import Credentials
from gdfailover.probe import run_probe
from gdfailover.redis_client import connect
from tools.cfn import ROOT
from tools.localcluster import LocalCluster
from tools.localredis import DEFAULT_PASSWORD, RedisServer, make_tls_files

HANDLER_IMPORTS = (
    "import boto3, botocore.config, redis; "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; "
    "from aws_lambda_powertools.utilities.parameters import SecretsProvider; "
    "import aws_xray_sdk.core"
)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def warm_probe_latency(iterations: int) -> list[float]:
    tls = make_tls_files(Path(tempfile.mkdtemp(prefix="gds-bench-")))
    with RedisServer(name="bench", tls=tls) as server:
        settings = ProbeSettings(
            host="127.0.0.1",
            port=server.port,
            tls_ca_file=str(tls.ca_cert),
            region="bench",
            replication_group_id="bench",
        )
        creds = Credentials(password=DEFAULT_PASSWORD)
        for _ in range(5):  # warm-up: imports, first TLS context
            run_probe(settings, lambda: creds, connect)
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            result = run_probe(settings, lambda: creds, connect)
            samples.append((time.perf_counter() - started) * 1000)
            if result.status != "healthy":
                raise RuntimeError(f"bench probe unhealthy: {result}")
        return samples


def warm_cluster_probe_latency(shards: int, iterations: int) -> tuple[list[float], float]:
    """The cluster-mode probe against ``shards`` primaries (TLS + AUTH, cluster bus over TLS): discovery on a
    fresh connection, then one fresh connection per shard (at most MAX_PARALLEL_SHARDS at a time)."""
    tls = make_tls_files(Path(tempfile.mkdtemp(prefix="gds-bench-cluster-")))
    with LocalCluster(f"bench{shards}", shards=shards, tls=tls) as cluster:
        entry = cluster.nodes[0].server
        settings = ProbeSettings(
            host="127.0.0.1",
            port=entry.port,
            tls_ca_file=str(tls.ca_cert),
            region="bench",
            replication_group_id=f"bench{shards}",
            cluster_mode=True,
        )
        creds = Credentials(password=DEFAULT_PASSWORD)
        for _ in range(5):
            run_cluster_probe(settings, lambda: creds, connect)
        samples = []
        for _ in range(iterations):
            started = time.perf_counter()
            result = run_cluster_probe(settings, lambda: creds, connect)
            samples.append((time.perf_counter() - started) * 1000)
            if result.status != "healthy" or result.shard_count != shards:
                raise RuntimeError(f"bench cluster probe unhealthy: {result.status} {result.detail}")
        return samples, settings.timeout_seconds * 1000


def cold_import_seconds(code: str, runs: int, extra_env: dict[str, str] | None = None) -> list[float]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers/shared'}:{ROOT / 'functions/probe'}",
        "REDIS_HOST": "127.0.0.1",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_SAM_LOCAL": "true",
        "POWERTOOLS_SERVICE_NAME": "gds-failover",
        "PYTHONDONTWRITEBYTECODE": "1",
        **(extra_env or {}),
    }
    timer = f"import time; t=time.perf_counter(); {code}; print(time.perf_counter()-t)"
    samples = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, "-c", timer], env=env, capture_output=True, text=True, check=True, timeout=60
        )
        samples.append(float(out.stdout.strip().splitlines()[-1]))
    return samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--import-runs", type=int, default=7)
    parser.add_argument("--shards", type=int, nargs="*", default=[3, 15], help="cluster-mode probe sizes (none: skip)")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]} on {os.cpu_count()} cores")
    latency = warm_probe_latency(args.iterations)
    print(
        f"warm probe (fresh TLS conn + AUTH + PING + SET + GET), n={len(latency)}: "
        f"p50 {percentile(latency, 0.5):.2f} ms, p99 {percentile(latency, 0.99):.2f} ms, "
        f"max {max(latency):.2f} ms"
    )
    single_p50 = percentile(latency, 0.5)
    for shards in args.shards:
        samples, budget_ms = warm_cluster_probe_latency(shards, args.iterations)
        p50 = percentile(samples, 0.5)
        print(
            f"warm cluster probe, {shards} shards (CLUSTER SHARDS + per shard: fresh TLS conn + AUTH + PING + SET + "
            f"GET), n={len(samples)}: p50 {p50:.2f} ms ({p50 / single_p50:.1f}x the single group), "
            f"p99 {percentile(samples, 0.99):.2f} ms, max {max(samples):.2f} ms (budget {budget_ms:.0f} ms)"
        )
    handler = cold_import_seconds("import app", args.import_runs)
    clustered = cold_import_seconds("import app", args.import_runs, {"REDIS_CLUSTER_MODE": "true"})
    libraries = cold_import_seconds(HANDLER_IMPORTS, args.import_runs)
    print(
        f"cold import, probe handler module (app.py, incl. libraries): median "
        f"{statistics.median(handler) * 1000:.0f} ms over {len(handler)} runs"
    )
    print(
        f"cold import, probe handler module with REDIS_CLUSTER_MODE=true (imports gdfailover.cluster_probe): "
        f"median {statistics.median(clustered) * 1000:.0f} ms over {len(clustered)} runs"
    )
    print(
        f"cold import, its libraries alone (boto3, redis, powertools, xray): median "
        f"{statistics.median(libraries) * 1000:.0f} ms over {len(libraries)} runs"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
