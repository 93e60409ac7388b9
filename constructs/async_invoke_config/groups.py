"""Many configs per custom resource: the defaults of a stack (and the configs a scope opts in with
`AsyncInvokeConfig.carry_together`) are carried by as few `Custom::LambdaAsyncInvokeConfigs` resources as fit.

Each member has a stable key (a hash of the function and qualifier it configures, never its construct path or its
position), so that adding or removing one function changes that member only, and a member stays in its group as
long as the number of groups does not change (a group is picked by the key's hash). Bounds per group, whichever is
met first:

- CAPACITY members: a group's Create writes each member within one handler run (a new member takes 3 Lambda calls,
  paced at 10 a second, so 200 members take about 60 s of the run's 230);
- PAYLOAD_BOUND bytes of resolved properties (each token counted at its longest): an Update's event carries the old
  and the new properties together, so it stays below 2 x 100 KB plus the event's own fields (about 2 KB), under the
  256 KB Lambda accepts for an asynchronous invocation (the form CloudFormation invokes a custom resource in).

The groups of a stack form a chain (each depends on the one before), so that CloudFormation never runs two of them at
once: a member moving from one group to another is taken over by its new group before its old group's cleanup
gives anything back."""

from __future__ import annotations

import hashlib
import json
import math
import weakref
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aws_cdk import CfnResource
from constructs import Construct, IConstruct

from .bridge import path_of, scopes_of, unresolved
from .handler.contract import (
    DEPLOY_TOKEN,
    DESTINATION_MAX,
    FUNCTION,
    FUNCTION_NAME_MAX,
    GROUP_TYPE,
    MEMBERS,
    QUALIFIER,
    QUALIFIER_MAX,
    SHARED,
    InvalidProperty,
)

CAPACITY = 200
PAYLOAD_BOUND = 100_000
KEY_LENGTH = 10

_carried: weakref.WeakSet[IConstruct] = weakref.WeakSet()
_making_defaults = [False]


def carry_together(scope: IConstruct) -> None:
    _carried.add(scope)


@contextmanager
def making_defaults() -> Iterator[None]:
    """The configs `apply_defaults` makes are carried together."""
    _making_defaults[0] = True
    try:
        yield
    finally:
        _making_defaults[0] = False


def is_carried(scope: IConstruct) -> bool:
    """Whether a config made in `scope` is carried with others: made by the defaults, or under `carry_together`."""
    return _making_defaults[0] or (bool(_carried) and any(ancestor in _carried for ancestor in scopes_of(scope)))


def member_key(identity: tuple[str, ...]) -> str:
    """A member's key: a hash of what the config is for (`app_checks.config_key`), never its construct path."""
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:KEY_LENGTH]


@dataclass
class Member:
    """One config carried by a group: its properties as its own resource would hold them, and what it waits for."""

    key: str
    config: IConstruct
    properties: dict[str, Any]
    dependencies: list[IConstruct] = field(default_factory=list)

    @property
    def path(self) -> str:
        return path_of(self.config)

    @property
    def settings(self) -> dict[str, Any]:
        return {name: value for name, value in self.properties.items() if name not in (FUNCTION, QUALIFIER)}


def build(
    scope: Construct, members: list[Member], custom_properties: Any, token: str | None
) -> list[tuple[CfnResource, list[Member]]]:
    """The groups of a stack: as few as the bounds allow, each member in the group its key's hash picks, each group
    depending on the one before it."""
    seen: dict[str, Member] = {}
    for member in members:
        if member.key in seen:
            first = seen[member.key]
            raise InvalidProperty(f"{member.path} and {first.path}: two configs with the same key {member.key}.")
        seen[member.key] = member
    buckets = _buckets(members)
    groups: list[tuple[CfnResource, list[Member]]] = []
    for index, bucket in enumerate(buckets):
        properties: dict[str, Any] = dict(_shape(bucket))
        if token is not None:
            properties = {DEPLOY_TOKEN: token, **properties}
        resource = CfnResource(
            scope, f"Configs{index}", type=GROUP_TYPE, properties=custom_properties(properties, index)
        )
        waits = list({id(dependency): dependency for member in bucket for dependency in member.dependencies}.values())
        if waits:
            resource.node.add_dependency(*waits)
        if groups:
            resource.add_resource_dependency(groups[-1][0])
        groups.append((resource, bucket))
    return groups


def _buckets(members: list[Member]) -> list[list[Member]]:
    count = max(1, math.ceil(len(members) / CAPACITY))
    while True:
        buckets: list[list[Member]] = [[] for _ in range(count)]
        for member in sorted(members, key=lambda m: m.key):
            buckets[int(member.key, 16) % count].append(member)
        if all(len(b) <= CAPACITY and (not b or _size(b) <= PAYLOAD_BOUND) for b in buckets):  # some may be empty
            return [bucket for bucket in buckets if bucket]
        count += 1


def _shape(bucket: list[Member]) -> dict[str, Any]:
    """`Shared`: the settings most members declare; `Members`: each by key, as its function's name when it declares
    just those settings, else as an object of its own."""
    counts = Counter(_settings_key(member) for member in bucket)
    shared_key = counts.most_common(1)[0][0]
    shared = next(member.settings for member in bucket if _settings_key(member) == shared_key)
    listed: dict[str, Any] = {}
    for member in bucket:
        own = _settings_key(member) != shared_key
        named = {name: value for name, value in member.properties.items() if name in (FUNCTION, QUALIFIER)}
        if own:
            listed[member.key] = member.properties
        elif QUALIFIER in named:
            listed[member.key] = named
        else:
            listed[member.key] = named[FUNCTION]
    return {SHARED: shared, MEMBERS: listed}


def _settings_key(member: Member) -> str:
    """Settings compared as declared: a destination object's ARN is one token wherever it is bound."""
    return json.dumps(member.settings, sort_keys=True)


def _size(bucket: list[Member]) -> int:
    """The group's properties as the handler receives them, at their longest: a token for a function counts as
    the longest name, for a destination as the longest ARN, for a qualifier as the longest qualifier."""
    longest = {FUNCTION: FUNCTION_NAME_MAX, QUALIFIER: QUALIFIER_MAX}

    def measure(name: str, value: Any) -> int:
        if unresolved(value) if isinstance(value, str) else not isinstance(value, int | float):
            return longest.get(name, DESTINATION_MAX)
        return len(json.dumps(value))

    shape = _shape(bucket)
    total = sum(len(name) + 4 + measure(name, value) for name, value in shape[SHARED].items())
    for key, value in shape[MEMBERS].items():
        fields = value.items() if isinstance(value, dict) else [(FUNCTION, value)]
        total += len(key) + 6 + sum(len(name) + 4 + measure(name, field) for name, field in fields)
    return total
