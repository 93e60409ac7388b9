"""The effects: AWS calls (Lambda's event-invoke-config, SSM's records, CloudFormation's view of the stack), each
retried within the invocation's deadline."""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, HTTPClientError
from log import decision

# Throttling codes: Lambda TooManyRequestsException, SSM ThrottlingException, CloudFormation Throttling.
TRANSIENT_CODES = frozenset(
    {
        "TooManyRequestsException",
        "Throttling",
        "ResourceConflictException",
        "ServiceException",
        "ThrottlingException",
        "InternalServerError",
    }
)
# Lambda's checks of the execution role right after a deploy grants it the send permission (IAM propagation).
PROPAGATION = re.compile(r"execution role does not have permissions|The destination ARN .* is invalid")
# The handler's own permissions right after the deploy changed its policy: IAM is eventually consistent, and a new
# statement can be refused for a while (Lambda and SSM say AccessDeniedException, CloudFormation AccessDenied).
DENIED_CODES = frozenset({"AccessDeniedException", "AccessDenied"})
# Both kinds are retried for up to 2 minutes: the window the Terraform provider gives the same Lambda checks, far
# beyond the seconds IAM usually needs, and well inside the handler's 5-minute timeout.
PROPAGATION_WINDOW = 120.0
BACKOFF_BASE = 0.5
BACKOFF_CAP = 8.0


class DeadlineReached(Exception):
    """The next retry would end after the invocation's deadline, or the deadline has passed."""


class StillDenied(Exception):
    """A call still refused by IAM after the propagation window: says which action on which resource."""


@dataclass
class Deadline:
    at: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return self.at - self.clock()


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return type(error).__name__


def error_message(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Message", ""))
    return str(error)


def is_not_found(error: Exception) -> bool:
    return error_code(error) == "ResourceNotFoundException"


def full_jitter(ceiling: float) -> float:
    return random.uniform(0, ceiling)


def retry_kind(error: Exception) -> str | None:
    """ "transient" (throttling, conflict, service or network fault), "propagation" (IAM not yet consistent) or None."""
    if not isinstance(error, ClientError) or error_code(error) in TRANSIENT_CODES:
        return "transient"
    if error_code(error) in DENIED_CODES:
        return "propagation"
    if error_code(error) == "InvalidParameterValueException" and PROPAGATION.search(error_message(error)):
        return "propagation"
    return None


def subject(operation: str, params: dict[str, Any]) -> str:
    """What a call acts on, for a message: the function and qualifier, the parameter or the stack."""
    for key in ("FunctionName", "Name", "Names", "StackName"):
        if key in params:
            qualifier = f" (Qualifier {params['Qualifier']})" if "Qualifier" in params else ""
            return f"{params[key]}{qualifier}"
    return operation


class RateLimiter:
    """Spaces calls shared by several threads to at most `rate` a second."""

    def __init__(
        self, rate: float, clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.interval = 1.0 / rate
        self.clock = clock
        self.sleep = sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.sleep(start - now)


@dataclass
class Api:
    """One AWS client's calls, each retried on throttling, conflicts and faults until the deadline."""

    client: Any
    deadline: Deadline
    sleep: Callable[[float], None] = time.sleep
    limiter: RateLimiter | None = None
    propagation_window: float = PROPAGATION_WINDOW

    def get(self, **params: Any) -> dict[str, Any] | None:
        try:
            return self.call("get_function_event_invoke_config", **params)
        except ClientError as error:
            if is_not_found(error):
                return None
            raise

    def put(self, **params: Any) -> dict[str, Any]:
        return self.call("put_function_event_invoke_config", **params)

    def update(self, **params: Any) -> dict[str, Any]:
        return self.call("update_function_event_invoke_config", **params)

    def delete(self, **params: Any) -> bool:
        """Delete the config; False when it (or its alias or function) was already gone."""
        try:
            self.call("delete_function_event_invoke_config", **params)
        except ClientError as error:
            if is_not_found(error):
                return False
            raise
        return True

    def action(self, operation: str) -> str:
        """The IAM action of an operation: `lambda:GetFunctionEventInvokeConfig`."""
        meta = self.client.meta
        return f"{meta.service_model.signing_name}:{meta.method_to_api_mapping.get(operation, operation)}"

    def call(self, operation: str, *, final: Callable[[], bool] | None = None, **params: Any) -> dict[str, Any]:
        """The call, retried; a refusal by IAM is taken as final at once when `final` says so (a refusal it
        explains), else retried as IAM propagation."""
        attempt = 0
        propagation_since: float | None = None
        while True:
            if self.deadline.remaining() <= 0:
                raise DeadlineReached(f"{operation} not started: the invocation's deadline has passed")
            if self.limiter is not None:
                self.limiter.acquire()
            try:
                response: dict[str, Any] = getattr(self.client, operation)(**params)
                return response
            except (ClientError, ConnectionError, HTTPClientError) as error:
                kind = retry_kind(error)
                if kind is None:
                    raise
                if kind == "propagation" and final is not None and error_code(error) in DENIED_CODES and final():
                    raise
                if kind == "propagation":
                    now = self.deadline.clock()
                    propagation_since = now if propagation_since is None else propagation_since
                    if now - propagation_since >= self.propagation_window:
                        if error_code(error) not in DENIED_CODES:
                            raise
                        raise StillDenied(
                            f"{self.action(operation)} on {subject(operation, params)} still denied after "
                            f"{self.propagation_window:.0f} s of IAM propagation: {error_message(error)}"
                        ) from error
                delay = full_jitter(min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))
                if delay >= self.deadline.remaining():
                    raise DeadlineReached(
                        f"{operation} still failing near the deadline after {attempt + 1} attempts: "
                        f"{error_code(error)}: {error_message(error)}"
                    ) from error
                decision(
                    "retry", operation=operation, attempt=attempt + 1, error=error_code(error), delay=round(delay, 2)
                )
                self.sleep(delay)
                attempt += 1
