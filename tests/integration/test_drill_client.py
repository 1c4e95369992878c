"""The drill's application is gds_client with hostname verification on: a region's certificate names only
its own emulated endpoint, so a write that reached the wrong server for the name would fail."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.drill.client import DrillClient, Endpoint
from tools.drill.sim import Simulation
from tools.drill.world import endpoint_name
from tools.localredis import DEFAULT_PASSWORD, RedisServer, TlsFiles, server_tls_files

pytestmark = pytest.mark.redis

REGION_A = endpoint_name("drill-use1", "us-east-1")
REGION_B = endpoint_name("drill-usw2", "us-west-2")


@pytest.fixture
def region_b(tls_files: TlsFiles, tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer("drill-b", tls=server_tls_files(tls_files, tmp_path / "b", [REGION_B])).start()
    yield server
    server.stop()


def drill_client(tls_files: TlsFiles, endpoint: Endpoint, events: list[str]) -> DrillClient:
    return DrillClient(
        Simulation(),
        resolve=lambda: endpoint,
        ttl_s=10.0,
        ca_file=str(tls_files.ca_cert),
        password=DEFAULT_PASSWORD,
        on_event=lambda kind, text: events.append(text),
    )


def test_writes_through_the_name_the_certificate_carries(region_b: RedisServer, tls_files: TlsFiles) -> None:
    events: list[str] = []
    client = drill_client(tls_files, Endpoint(REGION_B, "127.0.0.1", region_b.port, "B"), events)
    client.tick()
    client.finish()
    assert [ack.endpoint for ack in client.stats.acks] == [REGION_B]
    assert client.stats.failures == []


def test_a_certificate_for_another_endpoint_fails_closed(region_b: RedisServer, tls_files: TlsFiles) -> None:
    events: list[str] = []
    client = drill_client(tls_files, Endpoint(REGION_A, "127.0.0.1", region_b.port, "A"), events)
    client.tick()
    client.finish()
    assert client.stats.acks == []
    assert [(endpoint, kind) for _, endpoint, kind in client.stats.failures] == [(REGION_A, "ConnectionError")]
    with region_b.client() as admin:
        assert admin.dbsize() == 0
