"""One config brought in line: read the live config, plan, write only what differs. Shared by a config's own
events, the hand-back and restore of a Delete, and the drift check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from contract import InvalidProperty
from lambda_api import TRANSIENT_CODES, Api, error_code, error_message
from log import decision
from plan import DELETE, NONE, PUT, UPDATE, Plan, plan
from settings import Settings, Target, from_api


@dataclass(frozen=True)
class Reconciled:
    function_arn: str
    desired: Settings
    live_before: Settings | None
    step: Plan


PERMANENT_CODES = frozenset({"ResourceNotFoundException", "InvalidParameterValueException"})


class WriteFailed(Exception):
    """A planned write was refused; says which config and fields."""

    def __init__(self, target: str, step: Plan, cause: Exception) -> None:
        super().__init__(f"{step.action} of {','.join(step.changed)} on {target}")
        self.target = target
        self.step = step
        self.cause = cause


class Refused(Exception):
    """An event this resource may not carry out (the config belongs to another owner)."""


def converge(api: Api, target: Target, desired: Settings, live: dict[str, Any] | None) -> Reconciled:
    """Write what `desired` needs, given the live config already read."""
    current = from_api(live) if live is not None else None
    step = plan(desired, current)
    try:
        if step.action == PUT:
            live = api.put(**target.params(), **step.request)
        elif step.action == UPDATE:
            live = api.update(**target.params(), **step.request)
    except Exception as error:
        raise WriteFailed(str(target), step, error) from error
    assert live is not None  # plan() puts whenever nothing was found
    return Reconciled(str(live["FunctionArn"]), desired, current, step)


def reconcile(api: Api, target: Target, desired: Settings) -> Reconciled:
    return converge(api, target, desired, api.get(**target.params()))


def let_go(api: Api, target: Target, prior: Settings | None) -> str:
    """What a config's owner leaves when it goes (unless it retains the config): the config as found when it was
    borrowed, no config when the owner created it. A prior config Lambda no longer accepts (its destination is gone,
    say) is removed instead, and the log says why; only a fault that outlasts the retries raises."""
    if prior is None:
        return DELETE if api.delete(**target.params()) else NONE
    try:
        return reconcile(api, target, prior).step.action
    except WriteFailed as error:
        if not isinstance(error.cause, ClientError) or error_code(error.cause) in TRANSIENT_CODES:
            raise
        decision("prior_not_restored", function=str(target), prior=prior.labelled(), reason=describe(error))
        return DELETE if api.delete(**target.params()) else NONE


def cannot_succeed(error: Exception) -> bool:
    """A write Lambda refuses for good, however often it is tried: the function, alias or version is gone, or a
    destination it does not accept (gone, or the function's role may not send to it)."""
    cause = error.cause if isinstance(error, WriteFailed) else error
    return isinstance(cause, ClientError) and error_code(cause) in PERMANENT_CODES


def describe(error: Exception) -> str:
    """One line for a log or a CloudFormation reason: what was refused, where, and the API's words."""
    if isinstance(error, WriteFailed):
        fields = ", ".join(error.step.changed)
        return f"{error.step.action} of {fields} on {error.target} failed: {describe(error.cause)}"
    if isinstance(error, InvalidProperty | Refused):
        return str(error)
    return f"{error_code(error)}: {error_message(error)}"
