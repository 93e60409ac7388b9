"""The stack's handler run in process under a seeded scheduler (scheduler.py): each event a scheduler task running
handler/index.py (the code the asset holds), its calls checked against the stack's IAM policy of that moment (iam.py);
the events CloudFormation waits on; and `play`, which runs stack operations together to their end."""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import emulator
import iam
import index
from cloudformation import Context
from local_cloud import Sent
from scheduler import Scheduler, Task, gated
from template import Resource

Operation = Generator[None, None, None]


class InProcessHandler:
    """The stack's handler: each event a scheduler task running `index.on_event`, with clients that wait for the
    scheduler's turn at every call and are checked against the stack's IAM world at that moment."""

    def __init__(
        self,
        scheduler: Scheduler,
        endpoint: str,
        cloudformation: str,
        world: iam.World,
        exists: Callable[[], bool] = lambda: True,
    ) -> None:
        self.scheduler = scheduler
        self.endpoint = endpoint
        self.cloudformation = cloudformation
        self.world = world
        self.exists = exists  # the handler function: an event that comes once it is deleted never runs
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            url = self.cloudformation if service == "cloudformation" else self.endpoint
            self._clients[service] = gated(iam.install(emulator.client(url, service), self.world), self.scheduler)
        return self._clients[service]

    def start(self, name: str, event: dict[str, Any], delay: float = 0.0) -> Task:
        def run() -> Any:
            if delay:
                self.scheduler.sleep(delay)
            if not self.exists():
                return None
            return index.on_event(
                event,
                Context(),
                clients=self.client,
                sleep=self.scheduler.sleep,
                clock=self.scheduler.monotonic,
                wall=self.scheduler.wall,
            )

        return self.scheduler.spawn(name, run)


@dataclass
class Flight:
    """An event CloudFormation sent and waits on, unless it cancelled it."""

    key: str
    sent: Sent
    event: dict[str, Any]
    resource: Resource
    old: Resource | None = None
    tasks: list[Task] = field(default_factory=list)
    cancelled: bool = False

    @property
    def request(self) -> str:
        return self.sent.request


def play(scheduler: Scheduler, *operations: Operation, limit: int = 200_000) -> None:
    """Run operations (of one stack or several) together to their end: each advances as its events are answered,
    while the scheduler steps the events' calls."""
    running = list(operations)
    for _ in range(limit):
        if not running:
            return
        for operation in list(running):
            try:
                next(operation)
            except StopIteration:
                running.remove(operation)
        if running and not scheduler.step():
            raise RuntimeError(f"seed {scheduler.seed}: operations wait, but no event is running")
    raise RuntimeError(f"seed {scheduler.seed}: no end after {limit} steps")
