"""What the construct asks aws-cdk-lib over and over, answered in Python where the answer is certain. Each call across
the jsii bridge costs about 0.3 ms; a stack of hundreds of configs would ask thousands of times."""

from __future__ import annotations

import re
import struct
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct, Node

# As aws-cdk-lib tests it (core/lib/private/encoding.js, `unresolved`): a string is a token when it holds a string
# token marker or a stringified number token; a number when the high 16 bits of its double are the token marker.
_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}|-1\.\d{10,16}e\+289")
_DOUBLE_MARKER = 0xFBFF
K = TypeVar("K")
V = TypeVar("V")
_stacks: weakref.WeakKeyDictionary[IConstruct, Stack] = weakref.WeakKeyDictionary()
_environments: weakref.WeakKeyDictionary[Stack, tuple[str, str]] = weakref.WeakKeyDictionary()
_paths: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()
_seconds: weakref.WeakKeyDictionary[Duration, float] = weakref.WeakKeyDictionary()
_roots: weakref.WeakKeyDictionary[Stack, IConstruct] = weakref.WeakKeyDictionary()
_scopes: weakref.WeakKeyDictionary[IConstruct, list[IConstruct]] = weakref.WeakKeyDictionary()
_nodes: weakref.WeakKeyDictionary[IConstruct, Node] = weakref.WeakKeyDictionary()
_arns: weakref.WeakKeyDictionary[lambda_.IFunction, str] = weakref.WeakKeyDictionary()
_names: weakref.WeakKeyDictionary[lambda_.IFunction, str] = weakref.WeakKeyDictionary()
_roles: weakref.WeakKeyDictionary[lambda_.IFunction, iam.IRole | None] = weakref.WeakKeyDictionary()
_held: list[dict[tuple[Callable[..., Any], Any], Any]] = []


def unresolved(value: Any) -> bool:
    """`Token.is_unresolved(value)`, without crossing the bridge for strings and numbers."""
    if isinstance(value, str):
        return "Token[" in value and _STRING_TOKEN.search(value) is not None
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int | float):
        bits: int = struct.unpack("<Q", struct.pack("<d", float(value)))[0]
        return bits >> 48 == _DOUBLE_MARKER
    return bool(Token.is_unresolved(value))


def stack_of(scope: IConstruct) -> Stack:
    """`Stack.of(scope)`, asked once per construct (a construct never changes stacks)."""
    return _once(_stacks, scope, Stack.of)


def environment(stack: Stack) -> tuple[str, str]:
    """The stack's (region, account): literals, or tokens for an environment-agnostic stack."""
    return _once(_environments, stack, lambda known: (known.region, known.account))


def root_of(stack: Stack) -> IConstruct:
    """The app (the root of the tree) that holds `stack`, asked once per stack."""
    return _once(_roots, stack, lambda known: node_of(known).root)


def path_of(construct: IConstruct) -> str:
    """`construct.node.path`, asked once per construct (a path never changes)."""
    return _once(_paths, construct, lambda known: node_of(known).path)


def scopes_of(construct: IConstruct) -> list[IConstruct]:
    """`construct.node.scopes` (the app first, the construct last), asked once per construct (a construct never
    moves)."""
    return _once(_scopes, construct, lambda known: list(node_of(known).scopes))


def node_of(construct: IConstruct) -> Node:
    """`construct.node`, asked once per construct (each construct has one node for life)."""
    return _once(_nodes, construct, lambda known: known.node)


def arn_of(function: lambda_.IFunction) -> str:
    """`function.function_arn`, asked once per function (its attributes are set when it is made or imported)."""
    return _once(_arns, function, lambda known: known.function_arn)


def name_of(function: lambda_.IFunction) -> str:
    """`function.function_name`, asked once per function."""
    return _once(_names, function, lambda known: known.function_name)


def role_of(function: lambda_.IFunction) -> iam.IRole | None:
    """`function.role`, asked once per function that has one."""
    return _once(_roles, function, lambda known: known.role)


@contextmanager
def holding() -> Iterator[None]:
    """While this runs (the library alone at work, as in a visit of the defaults), each answer of a `held` function
    is asked once: what a user's escape hatch may change between two statements (a function's name, its logical id)
    does not change meanwhile."""
    _held.append({})
    try:
        yield
    finally:
        _held.pop()


def held(ask: Callable[[K], V]) -> Callable[[K], V]:
    """`ask`, its answer for each argument kept while `holding` runs (asked afresh otherwise)."""

    def asking(key: K) -> V:
        if not _held:
            return ask(key)
        answers = _held[-1]
        if (ask, key) not in answers:
            answers[ask, key] = ask(key)
        answer: V = answers[ask, key]
        return answer

    asking.__doc__ = ask.__doc__
    return asking


def to_seconds(duration: Duration) -> float:
    """`duration.to_seconds()`, asked once per Duration (a Duration never changes; `apply_defaults` gives one to
    every config)."""
    return _once(_seconds, duration, lambda known: known.to_seconds())


def _once(cache: weakref.WeakKeyDictionary[K, V], key: K, ask: Callable[[K], V]) -> V:
    """What `ask` answers for `key`, asked across the bridge the first time only."""
    value = cache.get(key)
    if value is None:
        value = cache[key] = ask(key)
    return value
