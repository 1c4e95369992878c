"""EMULATION of the network between the drill's regions: what a partition cuts, and Redis's repl-timeout
on emulated time.

- Every replica replicates from its writer through a :class:`ReplicationPath`, a TCP relay on loopback
  that stands for the inter-region link. Blocked, it stops moving bytes without closing anything: the
  replica's connection stays open and silent, as behind a blackhole (no RST). A writer process that is
  killed closes its sockets: the relay closes the replica's side at once (connection reset).
- :class:`Partitions` says, per pair of regions, whether replication flows and whether each region's
  regional APIs (CloudWatch, ElastiCache, DynamoDB) answer callers in the other one, independently. Route
  53's health checkers sit outside every region: a partition between two regions does not hide a writer
  alarm from them.
- repl-timeout: Redis drops a replica's link after ``repl-timeout`` seconds without a byte from its master
  (redis.conf: "repl-timeout 60"; the master pings replicas every repl-ping-replica-period, 10 s, so a live
  master is never that silent). ElastiCache does not expose it: ASSUMPTION that it keeps Redis's 60 s. A
  longer timeout keeps the replica's link "up" longer, which the promoter reads as "writer alive": it makes
  promotion later, never more likely. The real servers run with a repl-timeout far beyond any drill's wall
  time, and the drill drops the link itself after REPL_TIMEOUT_S *emulated* seconds of silence, for every
  replica of a writer that stops answering (paused, blackholed, region lost).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

#: Redis's default repl-timeout (redis.conf); ASSUMPTION for ElastiCache, which does not expose it.
REPL_TIMEOUT_S = 60.0
#: What the real redis-servers run with: no real-time timer may fire while emulated time runs ~100x faster.
WALL_REPL_TIMEOUT_S = 24 * 3600


class ReplicationPath:
    """A TCP relay from replicas in one region to a writer in another: the inter-region link.

    ``fail_fast_when`` (client paths only): while it holds, the relay resets the client's connections
    and refuses new ones. A real client waits its socket timeout on a silent server (0.5 s in the drill's
    gds_client settings) while emulated time stands still; failing at once gives the same outcome inside
    the 1 s client tick without spending that wall time (EMULATION: the client sees a reset where AWS
    would give it a timeout; the outage it measures is unchanged to within the tick)."""

    def __init__(self, name: str, fail_fast_when: Callable[[], bool] | None = None) -> None:
        self.name = name
        self._fail_fast = fail_fast_when or (lambda: False)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._target: int | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name=f"path-{name}", daemon=True).start()

    @property
    def blocked(self) -> bool:
        return not self._flowing.is_set()

    def point_to(self, port: int) -> None:
        self._target = port

    def block(self) -> None:
        self._flowing.clear()

    def heal(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self._closed.set()
        self._flowing.set()
        self._close_all()

    def _close_all(self) -> None:
        """The listening socket and every relayed connection (both ends)."""
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()
            self._sockets.clear()

    def _accept(self) -> None:
        self._listener.settimeout(0.05)
        while not self._closed.is_set():
            if self._fail_fast():
                self._refuse_while_silent()
                continue
            try:
                downstream, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closed.is_set():
                    return
                continue
            downstream.settimeout(None)
            threading.Thread(target=self._connect, args=(downstream,), daemon=True).start()

    def _refuse_while_silent(self) -> None:
        """Client paths: reset every connection and refuse new ones (nothing listens on the port) until
        the server answers again, so a client fails before it even builds a TLS context."""
        self._close_all()
        while self._fail_fast() and not self._closed.is_set():
            time.sleep(0.02)
        if not self._closed.is_set():
            self._listener = socket.create_server(("127.0.0.1", self.port))
            self._listener.settimeout(0.05)

    def _connect(self, downstream: socket.socket) -> None:
        # Behind a blackhole the replica's connection attempt gets nowhere: wait until the path heals.
        self._flowing.wait()
        if self._closed.is_set() or self._target is None or self._fail_fast():
            downstream.close()
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self._target), timeout=5)
        except OSError:
            downstream.close()  # nothing listens there: connection refused, as across a working network
            return
        upstream.settimeout(None)
        with self._lock:
            self._sockets += [downstream, upstream]
        threading.Thread(target=self._pump, args=(downstream, upstream), daemon=True).start()
        threading.Thread(target=self._pump, args=(upstream, downstream), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while not self._closed.is_set():
                self._flowing.wait()
                ready, _, _ = select.select([source], [], [], 0.2)
                if not ready or not self._flowing.is_set():
                    continue
                data = source.recv(65536)
                if not data or self._fail_fast():
                    break  # the other end closed (a killed process resets its connections)
                sink.sendall(data)
        except (OSError, ValueError):  # ValueError: select() on a socket another thread closed
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()


@dataclass
class Partitions:
    """Which inter-region paths are cut. Pairs are unordered for replication; API reachability is per
    direction ("caller region" -> "callee region")."""

    replication_cut: set[frozenset[str]] = field(default_factory=set)
    apis_cut: set[tuple[str, str]] = field(default_factory=set)  # (caller, callee)

    def cut(
        self, first: str, second: str, *, replication: bool, apis_first_to_second: bool, apis_second_to_first: bool
    ) -> None:
        if replication:
            self.replication_cut.add(frozenset((first, second)))
        if apis_first_to_second:
            self.apis_cut.add((first, second))
        if apis_second_to_first:
            self.apis_cut.add((second, first))

    def heal(self, first: str, second: str) -> None:
        self.replication_cut.discard(frozenset((first, second)))
        self.apis_cut.discard((first, second))
        self.apis_cut.discard((second, first))

    def replication_flows(self, first: str, second: str) -> bool:
        return frozenset((first, second)) not in self.replication_cut

    def apis_reachable(self, caller: str, callee: str) -> bool:
        return (caller, callee) not in self.apis_cut


@dataclass
class LinkWatch:
    """One replica's view of its writer's silence, for the emulated repl-timeout."""

    silent_since: float | None = None
    dropped: bool = False
