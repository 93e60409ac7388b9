"""Declared and live async-invoke settings, normalised so that they compare equal when Lambda would behave the same."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from contract import (
    DESTINATION,
    DESTINATION_CONFIG,
    DESTINATION_PATTERN,
    EVENT_AGE_RANGE,
    FUNCTION,
    FUNCTION_NAME,
    FUNCTION_NAME_PATTERN,
    GROUP_PROPERTIES,
    LATEST,
    MAX_EVENT_AGE,
    MAXIMUM_EVENT_AGE_IN_SECONDS,
    MAXIMUM_RETRY_ATTEMPTS,
    MEMBERS,
    ON_FAILURE,
    ON_SUCCESS,
    PROPERTIES,
    QUALIFIER,
    REMOVAL_DESTROY,
    REMOVAL_POLICIES,
    REMOVAL_POLICY,
    RETRY_ATTEMPTS,
    RETRY_ATTEMPTS_RANGE,
    SHARED,
    InvalidProperty,
    check_destination,
    check_range,
    current_properties,
    is_self_destination,
    member_properties,
    parse_function_name,
    resolve_qualifier,
)

INTEGER = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Settings:
    """One config's settings; None means the field is not set (AWS applies its default)."""

    retry_attempts: int | None = None
    max_event_age: int | None = None
    on_success: str | None = None
    on_failure: str | None = None

    def labelled(self) -> dict[str, Any]:
        return {LABELS[f.name]: getattr(self, f.name) for f in fields(self)}

    def is_empty(self) -> bool:
        return all(value is None for value in self.labelled().values())

    def destination_config(self) -> dict[str, dict[str, str]]:
        halves = ((ON_SUCCESS, self.on_success), (ON_FAILURE, self.on_failure))
        return {half: {DESTINATION: arn} for half, arn in halves if arn is not None}

    def request(self, only: tuple[str, ...] | None = None) -> dict[str, Any]:
        """API parameters for these settings: all that are set, or just the labelled fields in `only`.

        Destinations always travel as the whole declared DestinationConfig.
        """
        wanted = set(LABELS.values()) if only is None else set(only)
        params: dict[str, Any] = {}
        if MAXIMUM_RETRY_ATTEMPTS in wanted and self.retry_attempts is not None:
            params[MAXIMUM_RETRY_ATTEMPTS] = self.retry_attempts
        if MAXIMUM_EVENT_AGE_IN_SECONDS in wanted and self.max_event_age is not None:
            params[MAXIMUM_EVENT_AGE_IN_SECONDS] = self.max_event_age
        if wanted & {SUCCESS_LABEL, FAILURE_LABEL} and self.destination_config():
            params[DESTINATION_CONFIG] = self.destination_config()
        return params


SUCCESS_LABEL = f"{DESTINATION_CONFIG}.{ON_SUCCESS}"
FAILURE_LABEL = f"{DESTINATION_CONFIG}.{ON_FAILURE}"
LABELS = {
    "retry_attempts": MAXIMUM_RETRY_ATTEMPTS,
    "max_event_age": MAXIMUM_EVENT_AGE_IN_SECONDS,
    "on_success": SUCCESS_LABEL,
    "on_failure": FAILURE_LABEL,
}


@dataclass(frozen=True)
class Target:
    function_name: str
    qualifier: str

    @classmethod
    def of_arn(cls, arn: str) -> Target:
        """The config a qualified function ARN (a physical id) names."""
        _, qualifier = parse_function_name(arn)
        return cls(arn, qualifier or LATEST)

    def params(self) -> dict[str, str]:
        return {FUNCTION_NAME: self.function_name, QUALIFIER: self.qualifier}

    def arn(self, stack_id: str) -> str:
        """The qualified ARN Lambda reports for this config; what the name leaves out is the stack's."""
        match = FUNCTION_NAME_PATTERN.fullmatch(self.function_name)
        stack = DESTINATION_PATTERN.fullmatch(stack_id)
        assert match is not None and stack is not None, (self.function_name, stack_id)
        partition = (match.group("arn") or "").split(":")[1:2] or [stack.group("partition")]
        region = (match.group("region") or "").rstrip(":") or stack.group("region")
        account = (match.group("account") or "").rstrip(":") or stack.group("account")
        return f"arn:{partition[0]}:lambda:{region}:{account}:function:{match.group('name')}:{self.qualifier}"

    def __str__(self) -> str:
        return f"{self.function_name} ({QUALIFIER} {self.qualifier})"


@dataclass(frozen=True)
class Declared:
    target: Target
    settings: Settings
    removal_policy: str


def _integer(props: Mapping[str, Any], prop: str, bounds: tuple[int, int]) -> int | None:
    raw = props.get(prop)
    if raw is None:
        return None
    if isinstance(raw, str) and INTEGER.fullmatch(raw.strip()):
        raw = int(raw)
    return check_range(raw, bounds, prop)


def _destination(props: Mapping[str, Any], half: str) -> str | None:
    arn = props.get(half)
    if arn in (None, ""):
        return None
    if not isinstance(arn, str):
        raise InvalidProperty(f"`{half}` must be a destination ARN string; got {arn!r}.")
    return check_destination(arn, half, half)


def _string(props: Mapping[str, Any], prop: str) -> str | None:
    value = props.get(prop)
    if value is None or (isinstance(value, str) and value):
        return value
    raise InvalidProperty(f"`{prop}` must be a non-empty string; got {value!r}.")


def from_properties(props: Mapping[str, Any]) -> Declared:
    """Validate the custom resource's properties (every scalar a string), in either shape (contract.py), before
    anything is written."""
    props = current_properties(props)
    unknown = sorted(set(props) - PROPERTIES)
    if unknown:
        raise InvalidProperty(f"Unknown properties {unknown}; expected some of {sorted(PROPERTIES)}.")
    function_name = _string(props, FUNCTION)
    if function_name is None:
        raise InvalidProperty(f"`{FUNCTION}` is required.")
    qualifier = resolve_qualifier(function_name, _string(props, QUALIFIER))
    settings = Settings(
        retry_attempts=_integer(props, RETRY_ATTEMPTS, RETRY_ATTEMPTS_RANGE),
        max_event_age=_integer(props, MAX_EVENT_AGE, EVENT_AGE_RANGE),
        on_success=_destination(props, ON_SUCCESS),
        on_failure=_destination(props, ON_FAILURE),
    )
    if settings.is_empty():
        raise InvalidProperty(
            f"Declare at least one of `{RETRY_ATTEMPTS}`, `{MAX_EVENT_AGE}`, `{ON_SUCCESS}` or `{ON_FAILURE}`."
        )
    for half, arn in ((ON_SUCCESS, settings.on_success), (ON_FAILURE, settings.on_failure)):
        if arn is not None and is_self_destination(function_name, arn):
            raise InvalidProperty(f"`{half}` {arn!r} is the function itself; a function cannot be its own destination.")

    removal = (_string(props, REMOVAL_POLICY) or REMOVAL_DESTROY).lower()
    if removal not in REMOVAL_POLICIES:
        raise InvalidProperty(f"`{REMOVAL_POLICY}` must be one of {list(REMOVAL_POLICIES)}; got {removal!r}.")
    return Declared(Target(function_name, qualifier), settings, removal)


def members_of(props: Mapping[str, Any]) -> dict[str, Declared]:
    """A group's members by key, each validated as a config of its own (the message names the member); two members
    of one function and qualifier are refused."""
    unknown = sorted(set(props) - GROUP_PROPERTIES)
    if unknown:
        raise InvalidProperty(f"Unknown properties {unknown}; expected some of {sorted(GROUP_PROPERTIES)}.")
    members = props.get(MEMBERS) or {}
    if not isinstance(members, Mapping):
        raise InvalidProperty(f"`{MEMBERS}` must be an object of configs by key; got {members!r}.")
    found: dict[str, Declared] = {}
    for key, value in members.items():
        try:
            found[key] = from_properties(member_properties(props.get(SHARED) or {}, value, key))
        except InvalidProperty as error:
            raise InvalidProperty(f"`{MEMBERS}.{key}` ({value!r}): {error}") from error
    targets = [declared.target for declared in found.values()]
    twice = sorted({str(target) for target in targets if targets.count(target) > 1})
    if twice:
        raise InvalidProperty(f"Two members configure {', '.join(twice)}; declare one config per function, qualifier.")
    return found


def from_api(response: Mapping[str, Any]) -> Settings:
    """Settings from a Get/Put/Update response: an empty destination half ({} or a null Destination) is unset."""
    config = response.get(DESTINATION_CONFIG) or {}
    return Settings(
        retry_attempts=response.get(MAXIMUM_RETRY_ATTEMPTS),
        max_event_age=response.get(MAXIMUM_EVENT_AGE_IN_SECONDS),
        on_success=(config.get(ON_SUCCESS) or {}).get(DESTINATION) or None,
        on_failure=(config.get(ON_FAILURE) or {}).get(DESTINATION) or None,
    )
