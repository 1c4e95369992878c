"""Virtual time for the drill: a discrete-event scheduler whose clock moves from event to event.

Real work (Redis commands, handler code, moto calls) takes wall time but no emulated time; emulated
delays (waits, alarm periods, promotion) cost no wall time. That is what lets ten emulated minutes
run in a few seconds, deterministically.

Code that sleeps on the clock (the promoter's polls and hold retries, the state machine's Wait) runs
as an *actor*: a thread that holds the baton until it sleeps or ends. Exactly one of the scheduler
and the actors runs at any moment, so every actor sees a consistent emulated world.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

#: A wedged actor must not hang CI: give up after this much wall time waiting for one to yield.
ACTOR_WALL_TIMEOUT_S = 60.0


class DrillStuck(RuntimeError):
    """An actor neither slept nor finished within ACTOR_WALL_TIMEOUT_S of wall time."""


@dataclass(order=True)
class _Scheduled:
    at: float
    seq: int
    action: Callable[[], None] = field(compare=False)


class VirtualClock:
    """gdfailover.clock.Clock on emulated time. ``sleep`` is only legal inside an actor."""

    def __init__(self, simulation: Simulation, epoch: datetime) -> None:
        self._simulation = simulation
        self.epoch = epoch
        self.elapsed = 0.0  # emulated seconds since the epoch

    def now(self) -> datetime:
        return self.epoch + timedelta(seconds=self.elapsed)

    def time(self) -> float:
        """Unix time in emulated seconds (the probe's heartbeat timestamps)."""
        return self.epoch.timestamp() + self.elapsed

    def monotonic(self) -> float:
        return 10_000.0 + self.elapsed

    def sleep(self, seconds: float) -> None:
        self._simulation.actor_sleep(seconds)


class Simulation:
    def __init__(self, epoch: datetime | None = None) -> None:
        start = epoch or datetime.now(UTC).replace(second=0, microsecond=0)
        self.clock = VirtualClock(self, start)
        self._queue: list[_Scheduled] = []
        self._sequence = itertools.count()
        self._baton = threading.Condition()
        self._running_actors = 0
        self.actor_errors: list[BaseException] = []

    @property
    def now(self) -> float:
        return self.clock.elapsed

    def at(self, when: float, action: Callable[[], None]) -> None:
        with self._baton:
            heapq.heappush(self._queue, _Scheduled(max(when, self.now), next(self._sequence), action))

    def after(self, delay: float, action: Callable[[], None]) -> None:
        self.at(self.now + delay, action)

    def every(self, interval: float, action: Callable[[], None], start: float | None = None) -> None:
        def tick() -> None:
            action()
            self.after(interval, tick)

        self.at(self.now if start is None else start, tick)

    def spawn(self, name: str, work: Callable[[], None]) -> None:
        """Run ``work`` as an actor now; return when it sleeps or ends."""

        def body() -> None:
            try:
                work()
            except BaseException as error:  # reported after the run; the drill must not hang on it
                self.actor_errors.append(error)
            finally:
                with self._baton:
                    self._running_actors -= 1
                    self._baton.notify_all()

        with self._baton:
            self._running_actors += 1
        threading.Thread(target=body, name=f"drill-{name}", daemon=True).start()
        self.settle()

    def enter_actor(self) -> None:
        """A thread we did not start (moto's) becomes an actor; pair with ``leave_actor``."""
        with self._baton:
            self._running_actors += 1

    def leave_actor(self) -> None:
        with self._baton:
            self._running_actors -= 1
            self._baton.notify_all()

    def actor_sleep(self, seconds: float) -> None:
        wake = threading.Event()

        def resume() -> None:
            with self._baton:
                self._running_actors += 1
            wake.set()
            self.settle()

        self.after(max(0.0, seconds), resume)
        with self._baton:
            self._running_actors -= 1
            self._baton.notify_all()
        wake.wait()

    def settle(self) -> None:
        """Wait (wall time) until every actor sleeps or has ended."""
        started = time.monotonic()
        with self._baton:
            while self._running_actors > 0:
                self._baton.wait(timeout=0.05)
                if time.monotonic() - started > ACTOR_WALL_TIMEOUT_S:
                    raise DrillStuck(f"{self._running_actors} actor(s) did not yield")

    def run_until(self, end: float, on_tick: Callable[[float], None] | None = None) -> None:
        while True:
            with self._baton:
                if not self._queue or self._queue[0].at > end:
                    break
                item = heapq.heappop(self._queue)
            self.clock.elapsed = max(self.clock.elapsed, item.at)
            item.action()
            self.settle()
            if on_tick is not None:
                on_tick(self.clock.elapsed)
        self.clock.elapsed = max(self.clock.elapsed, end)
