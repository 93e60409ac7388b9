"""A config's props checked before any resource exists: every problem is found, each in one sentence that names the
prop and shows the value, and all of them are raised together as one `InvalidProperty` naming the config."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aws_cdk import Duration, Reference, RemovalPolicy, Stack, Stage, Tokenization
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import IConstruct

from .bridge import environment, to_seconds, unresolved
from .handler.contract import (
    EVENT_AGE_RANGE,
    FUNCTION_NAME_PATTERN,
    ON_FAILURE,
    ON_SUCCESS,
    RETRY_ATTEMPTS_RANGE,
    InvalidProperty,
    check_destination,
    check_qualifier,
    check_range,
    is_self_destination,
    parse_function_name,
)

Destination = lambda_.IDestination | str
PROPS = {ON_SUCCESS: "on_success", ON_FAILURE: "on_failure"}
T = TypeVar("T")
# What a user may pass where a destination belongs, and the destination that wraps it.
_NOT_DESTINATIONS: tuple[tuple[type, str, str], ...] = (
    (sqs.IQueue, "queue", "SqsDestination(queue)"),
    (sns.ITopic, "topic", "SnsDestination(topic)"),
    (lambda_.IFunction, "function", "LambdaDestination(function)"),
    (events.IEventBus, "event bus", "EventBridgeDestination(bus)"),
    (s3.IBucket, "bucket", "S3Destination(bucket)"),
)


@dataclass
class Problems:
    """The problems found in one config's props (or one call's settings), raised together."""

    found: list[str] = field(default_factory=list)

    def add(self, problem: str) -> None:
        self.found.append(problem)

    def check(self, check: Callable[[], T]) -> T | None:
        """What `check` returns; None, keeping its message, when it raises `InvalidProperty`."""
        try:
            return check()
        except InvalidProperty as problem:
            self.add(str(problem))
            return None

    def raise_any(self, where: Callable[[], str]) -> None:
        """Raises one `InvalidProperty` listing every problem, prefixed with `where()` (asked only then: a construct's
        path is a call across the jsii bridge)."""
        if not self.found:
            return
        if len(self.found) == 1:
            raise InvalidProperty(f"{where()}: {self.found[0]}")
        listed = "".join(f"\n  - {problem}" for problem in self.found)
        raise InvalidProperty(f"{where()}: {len(self.found)} invalid props:{listed}")


@dataclass(frozen=True)
class Settings:
    """The settings once checked: the maximum event age in seconds, and the destinations fit to bind."""

    seconds: float | None
    destinations: dict[str, Destination]


def check_settings(
    problems: Problems,
    retry_attempts: int | None,
    max_event_age: Duration | None,
    on_success: Destination | None,
    on_failure: Destination | None,
    removal_policy: RemovalPolicy,
) -> Settings:
    """The settings checked, as the construct's and `apply_defaults`' own: each problem added to `problems`."""
    if retry_attempts is not None and not _is_int(retry_attempts):
        problems.add(f"`retry_attempts` must be an int; got {retry_attempts!r}.")
    elif retry_attempts is not None and not unresolved(retry_attempts):
        problems.check(lambda: check_range(retry_attempts, RETRY_ATTEMPTS_RANGE, "retry_attempts"))
    seconds = None
    if max_event_age is not None and not isinstance(max_event_age, Duration):
        problems.add(f"`max_event_age` must be a Duration (`Duration.minutes(5)`); got {max_event_age!r}.")
    elif max_event_age is not None:
        seconds = problems.check(lambda: _seconds(max_event_age))
        if seconds is not None and not unresolved(seconds) and not EVENT_AGE_RANGE[0] <= seconds <= EVENT_AGE_RANGE[1]:
            problems.add(
                "`max_event_age` must be between 60 seconds and 6 hours; "
                f"got {max_event_age.to_human_string()} ({seconds:.0f} s)."
            )
    fit = {
        half: destination
        for half, destination in ((ON_SUCCESS, on_success), (ON_FAILURE, on_failure))
        if destination is not None and check_destination_value(problems, destination, half)
    }
    if all(value is None for value in (retry_attempts, max_event_age, on_success, on_failure)):
        problems.add("Declare at least one of `retry_attempts`, `max_event_age`, `on_success` or `on_failure`.")
    if removal_policy not in (RemovalPolicy.DESTROY, RemovalPolicy.RETAIN):
        problems.add(f"`removal_policy` must be RemovalPolicy.DESTROY or RETAIN; got {removal_policy}.")
    return Settings(seconds, fit)


def check_destination_value(problems: Problems, value: object, half: str) -> bool:
    """Whether `value` may be bound as the `half` destination: a destination ARN (checked when literal), or a
    destination object; anything else (a queue, a topic, a function, a number, ...) is a problem that says what to
    pass instead."""
    prop = PROPS[half]
    if isinstance(value, str):
        return unresolved(value) or problems.check(lambda: check_destination(value, half, prop)) is not None
    if implements(value, lambda_.IDestination):
        if half == ON_SUCCESS and isinstance(value, destinations.S3Destination):
            problems.add("`on_success` cannot be an S3 bucket; S3 is a destination on failure only.")
            return False
        return True
    for interface, kind, wrapper in _NOT_DESTINATIONS:
        if implements(value, interface):
            problems.add(_not_a_destination(prop, half, value, kind, wrapper))
            return False
    problems.add(
        f"`{prop}` must be a destination (an `aws_lambda_destinations` object such as `SqsDestination(queue)`) or a "
        f"destination ARN; got {shown(value)}."
    )
    return False


def _not_a_destination(prop: str, half: str, value: Any, kind: str, wrapper: str) -> str:
    what = f"the {kind} {shown(value, typed=False)}"
    if kind == "bucket" and half == ON_SUCCESS:
        return f"`{prop}` is {what}, not a destination, and S3 is a destination on failure only."
    if kind in ("queue", "topic") and getattr(value, "fifo", False) is True:
        return (
            f"`{prop}` is the FIFO {kind} {shown(value, typed=False)}, not a destination, and Lambda cannot send to a "
            f"FIFO {kind}: pass a standard {kind} as `aws_lambda_destinations.{wrapper}` or its ARN."
        )
    return f"`{prop}` is {what}, not a destination: pass `aws_lambda_destinations.{wrapper}` or the {kind}'s ARN."


def check_bound(problems: Problems, destination: Destination, arn: str, half: str, function_name: str) -> None:
    """The checks only a destination's ARN allows: a bound object's literal ARN as any ARN, a queue or topic that
    is certainly FIFO, and the function as its own destination."""
    prop = PROPS[half]
    if unresolved(arn):
        queue_or_topic = isinstance(destination, destinations.SqsDestination | destinations.SnsDestination)
        fifo = fifo_queue_or_topic(arn) if queue_or_topic else None
        if fifo is not None:
            kind, path = fifo
            problems.add(f"`{prop}` is the FIFO {kind} {path}, which Lambda cannot send to: pass a standard {kind}.")
        return
    if not isinstance(destination, str) and problems.check(lambda: check_destination(arn, half, prop)) is None:
        return
    if not unresolved(function_name) and is_self_destination(function_name, arn):
        problems.add(f"`{prop}` {arn!r} is the function itself; a function cannot be its own destination.")


@functools.lru_cache(maxsize=1024)
def fifo_queue_or_topic(arn: str) -> tuple[str, str] | None:
    """('queue' or 'topic', its construct path) when `arn` is the ARN token of an in-app queue or topic that is FIFO;
    None when it is not, or when that is not known at synth time (an imported queue or topic whose ARN is a token,
    a `fifo_queue` given as a token): only a FIFO-ness that is certain is refused. Cached by the token's text, unique
    in a process: configs that share a queue ask once."""
    reference = Tokenization.reverse(arn, fail_concat=False)
    if not isinstance(reference, Reference):
        return None
    resource = reference.target
    if isinstance(resource, sqs.CfnQueue):
        kind, fifo = "queue", resource.fifo_queue
    elif isinstance(resource, sns.CfnTopic):
        kind, fifo = "topic", resource.fifo_topic
    else:
        return None
    if fifo is not True:
        return None
    owner = resource.node.scope
    return kind, (owner if isinstance(owner, sqs.Queue | sns.Topic) else resource).node.path


def check_function(problems: Problems, function: object) -> bool:
    if isinstance(function, str) or implements(function, lambda_.IFunction):
        return True
    problems.add(
        "`function` must be an `aws_lambda.IFunction` (a Function, Version or Alias) or a function's name or ARN; "
        f"got {shown(function)}."
    )
    return False


def check_qualifier_value(problems: Problems, qualifier: object) -> bool:
    if qualifier is None or (isinstance(qualifier, str) and unresolved(qualifier)):
        return True
    if not isinstance(qualifier, str):
        problems.add(f"`qualifier` must be a str (a version number, an alias name or $LATEST); got {qualifier!r}.")
        return False
    return problems.check(lambda: check_qualifier(qualifier, "qualifier")) is not None


def parse_name(value: str, stack: Stack) -> tuple[str | None, str | None]:
    """(name, qualifier in the name) of a literal function name, checked; (None, None) for a token."""
    if unresolved(value):
        return None, None
    name, in_name = parse_function_name(value, "function")
    match = FUNCTION_NAME_PATTERN.fullmatch(value)
    assert match is not None
    for part, expected in zip(("region", "account"), environment(stack), strict=True):
        given = (match.group(part) or "").rstrip(":")
        if given and not unresolved(expected) and given != expected:
            raise InvalidProperty(
                f"`function` {value!r} is in {part} {given}, but the stack deploys to {expected}; the handler can "
                "only configure functions in its own account and region."
            )
    return name, in_name


def check_agreement(qualifier: str | None, other: str | None, where: str) -> None:
    if qualifier is None or other is None or unresolved(qualifier) or unresolved(other):
        return
    if qualifier != other:
        raise InvalidProperty(f"`qualifier` {qualifier!r} disagrees with the qualifier {other!r} of {where}.")


def check_same_stage(function: Any, stack: Stack) -> None:
    """An in-app function of another stage: CDK references across stacks of one stage (exports, nested stack
    parameters), never across stages, which synthesize and deploy apart."""
    theirs, ours = Stage.of(function), Stage.of(stack)
    if theirs is not None and ours is not None and theirs is not ours:
        raise InvalidProperty(
            f"`function` {function.node.path} is in stage {theirs.node.path or '(the app)'}, the config in stage "
            f"{ours.node.path or '(the app)'}: CDK cannot reference a function across stages; pass the function's "
            "name or ARN as a string instead (the config's stack must deploy to the function's account and region)."
        )


def implements(value: object, interface: type) -> bool:
    """Whether `value` is of `interface` (or of an interface extending it): a jsii class or a Python class that
    declares it (`jsii.implements`), or jsii's proxy for it. jsii's interfaces are protocols `isinstance` cannot
    test."""
    declared = getattr(type(value), "__jsii_ifaces__", None) or ()
    if any(interface in getattr(declared_interface, "__mro__", ()) for declared_interface in declared):
        return True
    fqn = getattr(interface, "__jsii_type__", None)
    return fqn is not None and any(getattr(cls, "__jsii_type__", None) == fqn for cls in type(value).__mro__)


def shown(value: object, typed: bool = True) -> str:
    """A value as a message shows it: a construct by its path (and its type), anything else by its repr."""
    if implements(value, IConstruct):
        path = value.node.path  # type: ignore[attr-defined]
        return f"{type(value).__name__.lstrip('_').removesuffix('Proxy')} {path}" if typed else path
    return repr(value)


def _is_int(value: object) -> bool:
    """An int (not a bool), or a number token (a parameter's ``value_as_number``, a float in Python)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and unresolved(value))


def _seconds(duration: Duration) -> float:
    """The duration in whole seconds, as the API takes it."""
    try:
        return to_seconds(duration)
    except RuntimeError as error:  # jsii's, for a duration that is no whole number of seconds
        raise InvalidProperty(
            "`max_event_age` must be a whole number of seconds; "
            f"got {duration.to_human_string()} ({duration.to_milliseconds():.0f} ms)."
        ) from error
