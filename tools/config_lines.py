"""How a config reads in the rehearsal's report: its target as `function:qualifier`, its settings on one line
(`r= a= ok= fail=`), and the comparable part of a declaration or a response."""

from __future__ import annotations

from typing import Any

from template import ACCOUNT, REGION

FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"


def target_of(physical_id: str) -> str:
    """A config's target as `function:qualifier`."""
    return physical_id.split(":function:")[-1]


def function_of(physical_id: str) -> str:
    return target_of(physical_id).split(":")[0]


def short(arn: str | None) -> str:
    return arn.split(":")[-1].split("/")[-1] if arn else "-"


def api_shape(config: dict[str, Any]) -> dict[str, Any]:
    """A config's declared properties in the API's shape (as responses, and declarations of earlier versions, have it):
    `RetryAttempts`, `MaxEventAge` and `OnSuccess: ARN` (handler/contract.py) as `MaximumRetryAttempts`, ...,
    `DestinationConfig: {OnSuccess: {Destination: ARN}}`."""
    current = ("RetryAttempts", "MaxEventAge", "OnSuccess", "OnFailure")
    if "DestinationConfig" in config or not any(key in config for key in current):
        return config
    shaped = {
        name: config[key]
        for key, name in (("RetryAttempts", "MaximumRetryAttempts"), ("MaxEventAge", "MaximumEventAgeInSeconds"))
        if key in config
    }
    halves = {half: {"Destination": config[half]} for half in ("OnSuccess", "OnFailure") if config.get(half)}
    return shaped | ({"DestinationConfig": halves} if halves else {})


def describe(settings: dict[str, Any] | None) -> str:
    """A config's settings on one line; the same for declared properties and API responses."""
    if settings is None:
        return "(none)"
    settings = api_shape(settings)
    destinations = settings.get("DestinationConfig") or {}
    success = short((destinations.get("OnSuccess") or {}).get("Destination"))
    failure = short((destinations.get("OnFailure") or {}).get("Destination"))
    return (
        f"r={settings.get('MaximumRetryAttempts', '-')} a={settings.get('MaximumEventAgeInSeconds', '-')} "
        f"ok={success} fail={failure}"
    )


def settings_of(config: dict[str, Any] | None) -> dict[str, Any] | None:
    """The comparable part of a config, as declared or as read: numbers as numbers, empty destinations dropped."""
    if config is None:
        return None
    config = api_shape(config)
    destinations = config.get("DestinationConfig") or {}
    kept = {half: part["Destination"] for half, part in destinations.items() if part and part.get("Destination")}
    numbers = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds")
    return {key: None if config.get(key) is None else int(config[key]) for key in numbers} | {"Destinations": kept}
