"""What a request needs from AWS (each client made on first use, every call bounded by the invocation's deadline, a
config resource's lock), and what it answers CloudFormation."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from contract import DATA_ACTION, DATA_CHANGED_FIELDS, DATA_FUNCTION_ARN, is_config_arn, lock_name
from lambda_api import PROPAGATION_WINDOW, Api, Deadline, RateLimiter
from lease import Lock, Unavailable
from log import decision
from plan import NONE, Owner
from reconcile import describe
from records import Records


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    action: str = NONE
    changed: tuple[str, ...] = ()
    data: dict[str, str] = field(default_factory=dict)

    def response_data(self) -> dict[str, str]:
        if self.data:
            return self.data
        arn = self.physical_id if is_config_arn(self.physical_id) else ""
        return {DATA_FUNCTION_ARN: arn, DATA_ACTION: self.action, DATA_CHANGED_FIELDS: ",".join(self.changed)}


@dataclass(frozen=True)
class Hold:
    """A resource's lock, as an event came to hold it: `held` (or not, its wait over), and whether it `waited` for
    another event of the resource first."""

    held: bool
    waited: bool


@dataclass
class Services:
    """What a request needs from AWS: each client made on first use, every call bounded by the deadline."""

    client: Callable[[str], Any]
    stack_id: str
    deadline: Deadline
    sleep: Callable[[float], None]
    limiter: RateLimiter | None = None
    propagation_window: float = PROPAGATION_WINDOW
    wall: Callable[[], float] = time.time
    ends_at: float = 0.0  # wall-clock time by which every call of this invocation has ended

    @cached_property
    def lambda_api(self) -> Api:
        return Api(self.client("lambda"), self.deadline, self.sleep, self.limiter, self.propagation_window)

    @cached_property
    def ssm(self) -> Api:
        return Api(self.client("ssm"), self.deadline, self.sleep, None, self.propagation_window)

    @cached_property
    def records(self) -> Records:
        return Records(self.ssm, self.stack_id)

    @cached_property
    def stack(self) -> Api:
        return Api(self.client("cloudformation"), self.deadline, self.sleep)

    @contextlib.contextmanager
    def one_at_a_time(self, owner: Owner, request_id: str, reserve: float = 0.0) -> Iterator[Hold]:
        """Hold the lock of the resource `owner` while the block runs; not held when it could not be had `reserve`
        seconds before the deadline."""
        lock = Lock(self.ssm, lock_name(owner.stack_id, owner.logical_id), self.wall, self.sleep)
        holder = {"request": request_id, "run": uuid.uuid4().hex[:12]}
        try:
            held = lock.acquire(holder, self.ends_at, Deadline(self.deadline.at - reserve, self.deadline.clock))
        except Unavailable as error:  # the event runs as it would without it: its own writes fail the same way
            decision("lock_unavailable", lock=lock.name, error=str(error))
            yield Hold(True, False)
            return
        try:
            yield Hold(held, lock.waited)
        finally:
            if held:
                try:
                    lock.release()
                except Exception as error:  # noqa: BLE001 - the lock expires at `ends_at`; the event's answer stands
                    decision("lock_not_released", lock=lock.name, error=describe(error))
