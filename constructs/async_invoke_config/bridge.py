"""What the construct asks aws-cdk-lib over and over, answered in Python where the answer is certain. Each call across
the jsii bridge costs about 0.3 ms; a stack of hundreds of configs would ask thousands of times."""

from __future__ import annotations

import re
import struct
import weakref
from typing import Any

from aws_cdk import Duration, Stack, Token
from constructs import IConstruct

# As aws-cdk-lib tests it (core/lib/private/encoding.js, `unresolved`): a string is a token when it holds a string
# token marker or a stringified number token; a number when the high 16 bits of its double are the token marker.
_STRING_TOKEN = re.compile(r"\$\{Token\[[a-zA-Z0-9:._-]+\]\}|-1\.\d{10,16}e\+289")
_DOUBLE_MARKER = 0xFBFF
_stacks: weakref.WeakKeyDictionary[IConstruct, Stack] = weakref.WeakKeyDictionary()
_environments: weakref.WeakKeyDictionary[Stack, tuple[str, str]] = weakref.WeakKeyDictionary()
_paths: weakref.WeakKeyDictionary[IConstruct, str] = weakref.WeakKeyDictionary()
_seconds: weakref.WeakKeyDictionary[Duration, float] = weakref.WeakKeyDictionary()


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
    stack = _stacks.get(scope)
    if stack is None:
        stack = _stacks[scope] = Stack.of(scope)
    return stack


def environment(stack: Stack) -> tuple[str, str]:
    """The stack's (region, account): literals, or tokens for an environment-agnostic stack."""
    known = _environments.get(stack)
    if known is None:
        known = _environments[stack] = (stack.region, stack.account)
    return known


def path_of(construct: IConstruct) -> str:
    """`construct.node.path`, asked once per construct (a path never changes)."""
    path = _paths.get(construct)
    if path is None:
        path = _paths[construct] = construct.node.path
    return path


def to_seconds(duration: Duration) -> float:
    """`duration.to_seconds()`, asked once per Duration (a Duration never changes; `apply_defaults` gives one to
    every config)."""
    known = _seconds.get(duration)
    if known is None:
        known = _seconds[duration] = duration.to_seconds()
    return known
