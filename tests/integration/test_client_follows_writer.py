"""gds_client against real servers and a real DNS exchange (dnspython over UDP).

Two engines (tests/conftest.py): TLS+AUTH redis-servers, each certificate naming only its own canonical
endpoint (plus localhost) as an ElastiCache certificate names its cluster, and AUTH valkey-servers (no TLS);
the TLS cases run on redis-server only. ``redis.internal`` is a CNAME served by a small DNS responder.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
import redis

from gds_client import ClientSettings, FollowWriterRedis, Target, connect, dns_resolver
from tests.conftest import redis_only
from tools.localredis import DEFAULT_PASSWORD, TLS_ENGINES, RedisServer, TlsFiles, server_tls_files

pytestmark = pytest.mark.redis

WRITER_A = "master.app-use1.abc123.use1.cache.amazonaws.com"
WRITER_B = "master.app-usw2.def456.usw2.cache.amazonaws.com"


class DnsResponder:
    """Answers A queries from ``records`` the way a recursive resolver would: the CNAME chain, then the A."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, str]] = {}  # name -> ("CNAME", target) | ("A", address)
        self.queries: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.port = int(self._sock.getsockname()[1])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def point(self, name: str, target: str) -> None:
        self.records[name] = ("CNAME", target)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            name = query.question[0].name.to_text(omit_final_dot=True).lower()
            self.queries.append(name)
            for _ in range(8):
                record = self.records.get(name)
                if record is None:
                    if not response.answer:
                        response.set_rcode(dns.rcode.NXDOMAIN)
                    break
                kind, value = record
                response.answer.append(
                    dns.rrset.from_text(f"{name}.", 10, "IN", kind, f"{value}." if kind == "CNAME" else value)
                )
                if kind == "A":
                    break
                name = value
            self._sock.sendto(response.to_wire(), peer)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        self._sock.close()


@pytest.fixture
def dns_server() -> Iterator[DnsResponder]:
    responder = DnsResponder()
    responder.records[WRITER_A] = ("A", "127.0.0.1")
    responder.records[WRITER_B] = ("A", "127.0.0.1")
    responder.point("redis.internal", WRITER_A)
    yield responder
    responder.close()


@pytest.fixture
def regions(engine: str, tls_files: TlsFiles, tmp_path: Path) -> Iterator[dict[str, RedisServer]]:
    """Two servers: A (writer, certificate for WRITER_A) and B (replica of A, WRITER_B); TLS where the
    engine has it."""
    tls = engine in TLS_ENGINES
    a_tls = server_tls_files(tls_files, tmp_path / "a", [WRITER_A]) if tls else None
    b_tls = server_tls_files(tls_files, tmp_path / "b", [WRITER_B]) if tls else None
    a = RedisServer("client-a", tls=a_tls, engine=engine).start()
    b = RedisServer("client-b", tls=b_tls, engine=engine).start()
    try:
        b.replicate_from(a)
        b.wait_in_sync()
        yield {"A": a, "B": b}
    finally:
        a.stop()
        b.stop()


def ports_of(servers: dict[str, RedisServer]) -> dict[str, int]:
    return {WRITER_A: servers["A"].port, WRITER_B: servers["B"].port}


def client_for(
    servers: dict[str, RedisServer],
    dns_server: DnsResponder,
    tls_files: TlsFiles,
    sleeps: list[float] | None = None,
    **settings: object,
) -> FollowWriterRedis:
    """gds_client resolving through the DNS responder; the port follows the canonical name (loopback)."""
    resolve = dns_resolver(nameservers=["127.0.0.1"], port=dns_server.port, lifetime_s=1.0)
    port_of = ports_of(servers)

    def resolver(name: str) -> Target:
        target = resolve(name)
        return Target(target.canonical_name, target.address, port_of[target.canonical_name])

    options = ClientSettings(
        tls=servers["A"].tls is not None,
        ca_file=str(tls_files.ca_cert) if servers["A"].tls else None,
        password=DEFAULT_PASSWORD,
        connect_timeout_s=0.5,
        socket_timeout_s=0.5,
        backoff_base_s=0.01,
        backoff_cap_s=0.05,
    )
    options = dataclasses.replace(options, **settings)
    return FollowWriterRedis(options, resolver=resolver, sleep=sleeps.append if sleeps is not None else time.sleep)


def promote_b(servers: dict[str, RedisServer]) -> None:
    """What FailoverGlobalReplicationGroup does underneath: B becomes the writer, A its replica (after B
    acknowledged every write A took, as a planned switchover waits for)."""
    if servers["A"].running:
        with servers["A"].client() as writer:
            writer.execute_command("WAIT", 1, 2000)
    servers["B"].replicate_from(None)
    servers["A"].replicate_from(servers["B"])
    servers["A"].wait_in_sync()


def test_dns_resolver_follows_the_cname_chain_to_the_canonical_endpoint(dns_server: DnsResponder) -> None:
    # A Kubernetes ExternalName Service adds one more CNAME in front of redis.internal.
    dns_server.point("redis.apps.svc.cluster.local", "redis.internal")
    resolve = dns_resolver(nameservers=["127.0.0.1"], port=dns_server.port, lifetime_s=1.0)

    assert resolve("redis.internal") == Target(WRITER_A, "127.0.0.1")
    assert resolve("redis.apps.svc.cluster.local") == Target(WRITER_A, "127.0.0.1")
    dns_server.point("redis.internal", WRITER_B)
    assert resolve("redis.apps.svc.cluster.local") == Target(WRITER_B, "127.0.0.1")


def test_a_name_that_does_not_resolve_is_a_bounded_connection_error(
    regions: dict[str, RedisServer], dns_server: DnsResponder, tls_files: TlsFiles
) -> None:
    del dns_server.records["redis.internal"]
    with client_for(regions, dns_server, tls_files, retries=1) as client, pytest.raises(redis.ConnectionError) as error:
        client.ping()
    assert "cannot resolve redis.internal" in str(error.value)
    assert dns_server.queries.count("redis.internal") == 2  # one retry, one more lookup


@redis_only
def test_connects_verifying_tls_against_the_canonical_name(
    regions: dict[str, RedisServer], dns_server: DnsResponder, tls_files: TlsFiles
) -> None:
    with client_for(regions, dns_server, tls_files) as client:
        assert client.set("k", "v")
        assert client.last_target == Target(WRITER_A, "127.0.0.1", regions["A"].port)
    assert dns_server.queries == ["redis.internal"]


def test_cname_change_is_followed_on_reconnect(
    regions: dict[str, RedisServer], dns_server: DnsResponder, tls_files: TlsFiles
) -> None:
    with client_for(regions, dns_server, tls_files) as client:
        client.set("before", "a")
        promote_b(regions)
        regions["A"].kill()  # the old writer is gone: its pooled connection breaks
        dns_server.point("redis.internal", WRITER_B)

        assert client.set("after", "b")  # one call: connection error -> retry -> reconnect -> re-resolve

        assert client.last_target is not None
        assert client.last_target.canonical_name == WRITER_B
        assert [t.canonical_name for t in client.targets_seen] == [WRITER_A, WRITER_B]
    with regions["B"].client() as b:
        assert b.get("after") == "b"
        assert b.get("before") == "a"  # replicated before the promotion


def test_readonly_drops_the_whole_pool_and_follows_the_new_writer(
    regions: dict[str, RedisServer],
    dns_server: DnsResponder,
    tls_files: TlsFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def addresses_on_a() -> set[str]:
        """Client connections on A, not counting the one asking."""
        with regions["A"].client() as a:
            me = str(a.client_id())
            return {entry["addr"] for entry in a.client_list(_type="normal") if str(entry["id"]) != me}

    before = addresses_on_a()
    sleeps: list[float] = []
    with client_for(regions, dns_server, tls_files, sleeps) as client:
        pool = client.connection_pool
        held = [pool.get_connection(), pool.get_connection(), pool.get_connection()]
        for connection in held:
            pool.release(connection)
        assert client.set("before", "a")
        ours = addresses_on_a() - before
        assert len(ours) == 3  # the three pooled connections

        promote_b(regions)  # A answers, now as a replica: writes there get READONLY
        dns_server.point("redis.internal", WRITER_B)
        with caplog.at_level(logging.WARNING, logger="gds_client"):
            assert client.set("after", "b")

        assert len(sleeps) == 1  # one READONLY, one retry
        assert any("READONLY" in record.getMessage() for record in caplog.records)
        assert not addresses_on_a() & ours  # the whole pool was dropped, not only the connection that failed
    with regions["B"].client() as b:
        assert b.get("after") == "b"


def test_readonly_retries_are_bounded(
    regions: dict[str, RedisServer], dns_server: DnsResponder, tls_files: TlsFiles
) -> None:
    sleeps: list[float] = []
    with client_for(regions, dns_server, tls_files, sleeps, readonly_retries=2) as client:
        dns_server.point("redis.internal", WRITER_B)  # DNS names the replica (promotion not done yet)
        with pytest.raises(redis.ReadOnlyError):
            client.set("k", "v")
    assert sleeps == [0.02, 0.04]  # ExponentialBackoff(base 0.01): 0.01 * 2**failures
    with regions["A"].client() as a:
        assert a.exists("k") == 0


def test_stopped_server_times_out_within_the_bound(
    regions: dict[str, RedisServer], dns_server: DnsResponder, tls_files: TlsFiles
) -> None:
    with client_for(regions, dns_server, tls_files, retries=1) as client:
        client.ping()
        regions["A"].pause()
        try:
            started = time.monotonic()
            with pytest.raises((redis.TimeoutError, redis.ConnectionError)):
                client.set("k", "v")
            elapsed = time.monotonic() - started
        finally:
            regions["A"].resume()
    # 0.5 s per attempt; at most (retries + 1) command attempts, each reconnecting with (retries + 1)
    # connect attempts: 4 x 0.5 s plus backoff, never a hang.
    assert 0.5 <= elapsed < 3.0


@redis_only
@pytest.mark.parametrize("claimed_name", ["redis.internal", "master.someone-else.xyz789.use1.cache.amazonaws.com"])
def test_tls_name_mismatch_fails_closed(
    regions: dict[str, RedisServer], tls_files: TlsFiles, claimed_name: str
) -> None:
    """A certificate that does not name the endpoint is refused, even with the right CA and password."""

    def resolver(name: str) -> Target:
        return Target(claimed_name, "127.0.0.1", regions["A"].port)

    settings = ClientSettings(ca_file=str(tls_files.ca_cert), password=DEFAULT_PASSWORD, retries=1, backoff_base_s=0.01)
    with connect(settings, resolver=resolver) as client, pytest.raises(redis.ConnectionError) as failure:
        client.set("k", "v")
    assert "certificate verify failed" in str(failure.value)
    assert "Hostname mismatch" in str(failure.value) or "doesn't match" in str(failure.value)
    with regions["A"].client() as a:
        assert a.exists("k") == 0


def test_no_secret_in_logs_or_errors(
    regions: dict[str, RedisServer],
    dns_server: DnsResponder,
    tls_files: TlsFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "not-the-token-s3cr3t"
    with caplog.at_level(logging.DEBUG):
        with client_for(regions, dns_server, tls_files, password=wrong) as client:
            with pytest.raises(redis.AuthenticationError) as failure:
                client.ping()
            text = f"{failure.value} {client!r} {client.settings!r}"
        with client_for(regions, dns_server, tls_files) as client:
            client.ping()
            text += f" {client!r} {client.settings!r}"
    logged = " ".join(record.getMessage() for record in caplog.records)
    for secret in (wrong, DEFAULT_PASSWORD):
        assert secret not in text
        assert secret not in logged
