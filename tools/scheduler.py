"""Events run at once, one step at a time, in an order a seed decides: the local CloudFormation's concurrency.

Each event (a handler invocation) runs in a thread of its own, but only one thread runs at a time: a running thread
stops at each AWS call it is about to make (a botocore `before-call` hook, `gate`) and at each sleep, and the scheduler
then picks, by a seeded random choice among the threads that may go on, which one makes its next call. So any
interleaving of the events' calls can come up, and the same seed gives the same interleaving again. Time is virtual:
a sleep lets the others run and only moves the clock when no thread can go on until it wakes.

    scheduler = Scheduler(seed)
    task = scheduler.spawn("Create Config", lambda: index.on_event(...))
    scheduler.run()                         # until every task has ended
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

START_WALL = 1_900_000_000.0  # the virtual wall clock's start (epoch seconds)


class Abandoned(BaseException):
    """Raised in a task the scheduler stops (`stop`): it unwinds the task's thread, whatever the task catches."""


@dataclass
class Task:
    name: str
    body: Callable[[], Any]
    wake_at: float = 0.0
    parked: bool = False
    done: bool = False
    steps: int = 0
    result: Any = None
    error: BaseException | None = None
    go: threading.Event = field(default_factory=threading.Event)


class Scheduler:
    def __init__(self, seed: int, *, start_wall: float = START_WALL) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.now = 0.0
        self.start_wall = start_wall
        self.tasks: list[Task] = []
        self.trace: list[str] = []
        self.stopping = False
        self._changed = threading.Condition()
        self._local = threading.local()

    # Clocks and sleeps, for the tasks (and anything else that reads time)

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.start_wall + self.now

    def sleep(self, seconds: float) -> None:
        if self.current() is None:
            self.now += max(0.0, seconds)
            return
        self.gate(f"sleep {seconds:.2f}", wake_at=self.now + max(0.0, seconds))

    # The tasks' side

    def current(self) -> Task | None:
        return getattr(self._local, "task", None)

    def gate(self, label: str, wake_at: float | None = None) -> None:
        """Stop the calling task here until the scheduler picks it; outside a task, do nothing."""
        task = self.current()
        if task is None:
            return
        task.wake_at = self.now if wake_at is None else wake_at
        task.go.clear()
        with self._changed:
            task.parked = True
            self._changed.notify_all()
        task.go.wait()
        if self.stopping:
            raise Abandoned(task.name)
        task.steps += 1
        self.trace.append(f"{task.name}: {label}")

    def spawn(self, name: str, body: Callable[[], Any]) -> Task:
        """A task that runs `body` once the scheduler first picks it."""
        task = Task(name, body, wake_at=self.now)

        def run() -> None:
            self._local.task = task
            try:
                self.gate("start")
                task.result = body()
            except Abandoned:
                pass
            except BaseException as error:  # noqa: BLE001 - kept for the caller to see (`raise_errors`)
                task.error = error
            finally:
                with self._changed:
                    task.done = True
                    self._changed.notify_all()

        self.tasks.append(task)
        threading.Thread(target=run, name=name, daemon=True).start()
        with self._changed:
            self._changed.wait_for(lambda: task.parked or task.done)
        return task

    # The scheduler's side

    def live(self) -> list[Task]:
        return [task for task in self.tasks if not task.done]

    def step(self) -> bool:
        """Let one task make its next step: the tasks ready now are chosen among at random; when none is, the clock
        moves to the first wake-up. False when no task is left."""
        live = self.live()
        if not live:
            return False
        ready = [task for task in live if task.wake_at <= self.now]
        if not ready:
            self.now = min(task.wake_at for task in live)
            ready = [task for task in live if task.wake_at <= self.now]
        task = self.rng.choice(ready)
        with self._changed:
            task.parked = False
            task.go.set()
            self._changed.wait_for(lambda: task.parked or task.done)
        return True

    def run(self, until: Callable[[], bool] | None = None, limit: int = 100_000) -> None:
        """Step until every task has ended (or `until` holds)."""
        for _ in range(limit):
            if until is not None and until():
                return
            if not self.step():
                return
        raise RuntimeError(f"seed {self.seed}: no end after {limit} steps; last: {self.trace[-10:]}")

    def stop(self) -> None:
        """End every task still parked (they raise `Abandoned`), and wait for them."""
        self.stopping = True
        for task in self.live():
            task.go.set()
        with self._changed:
            self._changed.wait_for(lambda: not self.live(), timeout=30)

    def raise_errors(self) -> None:
        for task in self.tasks:
            if task.error is not None:
                raise RuntimeError(f"seed {self.seed}: task {task.name} failed") from task.error


def gated(client: Any, scheduler: Scheduler) -> Any:
    """`client`'s calls each wait for the scheduler's turn (a task's calls; others go straight on)."""
    service = client.meta.service_model.signing_name

    def gate(model: Any, **_: Any) -> None:
        scheduler.gate(f"{service}:{model.name}")

    client.meta.events.register_first("before-call", gate)
    return client
