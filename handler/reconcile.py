"""One config brought in line: read the live config, plan, write only what differs. Shared by the config's own
Create and Update and by the drift check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contract import InvalidProperty
from lambda_api import Api, error_code, error_message
from plan import PUT, UPDATE, Plan, plan
from settings import Declared, Settings, from_api, from_properties


@dataclass(frozen=True)
class Reconciled:
    function_arn: str
    declared: Declared
    live_before: Settings | None
    step: Plan


class WriteFailed(Exception):
    """A planned write was refused; says which config and fields."""

    def __init__(self, target: str, step: Plan, cause: Exception) -> None:
        super().__init__(f"{step.action} of {','.join(step.changed)} on {target}")
        self.target = target
        self.step = step
        self.cause = cause


def reconcile(properties: Mapping[str, Any], api: Api) -> Reconciled:
    declared = from_properties(properties)
    target = declared.target.params()
    live = api.get(**target)
    current = from_api(live) if live is not None else None
    step = plan(declared.settings, current)
    try:
        if step.action == PUT:
            live = api.put(**target, **step.request)
        elif step.action == UPDATE:
            live = api.update(**target, **step.request)
    except Exception as error:
        raise WriteFailed(str(declared.target), step, error) from error
    assert live is not None  # plan() puts whenever nothing was found
    return Reconciled(str(live["FunctionArn"]), declared, current, step)


def describe(error: Exception) -> str:
    """One line for a log or a CloudFormation reason: what was refused, where, and the API's words."""
    if isinstance(error, WriteFailed):
        fields = ", ".join(error.step.changed)
        return f"{error.step.action} of {fields} on {error.target} failed: {describe(error.cause)}"
    if isinstance(error, InvalidProperty):
        return str(error)
    return f"{error_code(error)}: {error_message(error)}"
