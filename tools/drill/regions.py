"""Local "regions": one real TLS+AUTH redis-server each, probed by the real probe handler.

The AUTH token lives in (moto) Secrets Manager, exactly as in AWS; the probe handler is run from
template.yaml through the Docker-free invoker, so the drill exercises the code that is deployed.
"""

from __future__ import annotations

import contextlib
import io
import json
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import boto3

from tools.invoke import invoke_function
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, make_tls_files


@dataclass
class LocalRegion:
    """A region of the emulated Global Datastore: its name, its replication group and its server."""

    name: str
    replication_group_id: str
    server: RedisServer
    secret_arn: str
    tls: TlsFiles
    last_metrics: dict[str, float] = field(default_factory=dict)

    def probe_env(self, timeout_s: float = 1.0) -> dict[str, str]:
        return {
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.server.port),
            "REDIS_TLS": "true",
            "REDIS_TLS_CA_FILE": str(self.tls.ca_cert),
            "REDIS_AUTH_SECRET_ARN": self.secret_arn,
            "PROBE_TIMEOUT_SECONDS": f"{timeout_s:g}",
            "REPLICATION_GROUP_ID": self.replication_group_id,
        }

    def probe(self, iteration: int = 1, timeout_s: float = 1.0) -> dict[str, Any]:
        """Run the real probe handler for this region; remember the metrics it emitted (EMF)."""
        captured = io.StringIO()
        with contextlib.redirect_stdout(captured):
            result = invoke_function(
                "ProbeFunction",
                {"source": "drill", "execution": f"drill-{self.name}", "iteration": iteration},
                env_vars={"ProbeFunction": self.probe_env(timeout_s)},
                region=self.name,
            )
        self.last_metrics = emf_values(captured.getvalue())
        return dict(result)


def emf_values(stdout: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in stdout.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for directive in blob["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = blob[metric["Name"]]
                values[metric["Name"]] = value[-1] if isinstance(value, list) else value
    return values


@contextlib.contextmanager
def cleanup_on_signals() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks stop every server we started."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def two_regions(primary: str = "us-east-1", secondary: str = "us-west-2") -> Iterator[tuple[LocalRegion, LocalRegion]]:
    """Region A (writer) and region B (replica of A over TLS), AUTH token in Secrets Manager.

    Must run inside moto's ``mock_aws``. Every server is stopped on exit, Ctrl-C and SIGTERM.
    """
    workdir = Path(tempfile.mkdtemp(prefix="gds-drill-"))
    tls = make_tls_files(workdir / "tls")
    servers: list[RedisServer] = []
    with cleanup_on_signals():
        try:
            writer = RedisServer(name="region-a", tls=tls).start()
            servers.append(writer)
            replica = RedisServer(name="region-b", tls=tls).start()
            servers.append(replica)
            replica.replicate_from(writer)
            replica.wait_in_sync()
            regions = []
            for region, group, server in ((primary, "gds-a", writer), (secondary, "gds-b", replica)):
                client = boto3.client("secretsmanager", region_name=region)
                arn = client.create_secret(Name="gds-failover/redis-auth", SecretString=DEFAULT_PASSWORD)["ARN"]
                regions.append(LocalRegion(region, group, server, str(arn), tls))
            yield regions[0], regions[1]
        finally:
            for server in servers:
                server.stop()
