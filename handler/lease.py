"""One config resource's events, one at a time. CloudFormation runs a cancelled Create and its Delete at once, a
cancelled Update and its rollback at once, and may deliver any event twice: each event of a resource first holds
that resource's lock, an SSM parameter created only if absent (`contract.lock_name`), and deletes it when done.

A holder that died (its invocation timed out) leaves its lock behind; the lock names the moment by which every call
of its holder has ended (`until`, the invocation's hard end), and a lock past that moment is broken by the next
event that waits for it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError
from contract import PARAMETER_TIER
from lambda_api import Api, Deadline, error_code
from log import decision

POLL = 1.0


class Unavailable(Exception):
    """The lock cannot be written (SSM refuses the write for good: the account's parameter limit, say)."""


@dataclass
class Lock:
    ssm: Api
    name: str
    wall: Callable[[], float]
    sleep: Callable[[float], None]
    waited: bool = False  # another event held it first: the world may have moved on meanwhile

    def acquire(self, holder: dict[str, str], until: float, give_up: Deadline) -> bool:
        """Hold the lock (True), waiting while another live event holds it; False once `give_up` has passed."""
        value = json.dumps({**holder, "until": round(until, 3)}, sort_keys=True)
        while True:
            try:
                self.ssm.call(
                    "put_parameter", Name=self.name, Value=value, Type="String", Overwrite=False, Tier=PARAMETER_TIER
                )
                return True
            except ClientError as error:
                if error_code(error) != "ParameterAlreadyExists":
                    raise Unavailable(f"{self.name}: {error_code(error)}") from error
            held = self._held()
            self.waited = True
            if give_up.remaining() <= 0:
                decision("lock_not_acquired", lock=self.name, holder=held)
                return False
            if held is not None and float(held.get("until", 0)) <= self.wall():
                decision("lock_broken", lock=self.name, holder=held, reason="its holder's invocation has ended")
                self.release()
            elif held is not None:
                decision("lock_wait", lock=self.name, holder=held)
                self.sleep(min(POLL, give_up.remaining()))

    def release(self) -> None:
        try:
            self.ssm.call("delete_parameter", Name=self.name)
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise

    def _held(self) -> dict[str, str] | None:
        try:
            value = self.ssm.call("get_parameter", Name=self.name)["Parameter"]["Value"]
        except ClientError as error:
            if error_code(error) == "ParameterNotFound":
                return None
            raise
        held: dict[str, str] = json.loads(value)
        return held
