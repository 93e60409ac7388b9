"""The app-level checks: one config per function and qualifier in an app, and no native config beside one (found once
the app is complete, as a validation of the app). The configs declared so far, by app, are also what the team
defaults ask about a function."""

from __future__ import annotations

import re
import weakref
from typing import Any

import jsii
from aws_cdk import Stack
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct, IValidation

from .bridge import path_of, root_of, stack_of, unresolved
from .defaults import Declaration, Target
from .grants import flatten
from .provider import Provider
from .targets import ConfigTarget, config_key, resolve
from .validation import (
    Problems,
)

_declared: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Declaration]] = weakref.WeakKeyDictionary()
_watched: weakref.WeakSet[Any] = weakref.WeakSet()


def check_unique(problems: Problems, stack: Stack, target: ConfigTarget) -> tuple[str, ...]:
    """One config per function and qualifier in an app: two would overwrite each other on every deploy. Returns the
    config's key."""
    key, shown, qualifier = config_key(stack, target)
    declared = _declared.get(root_of(stack), {}).get(key)
    if declared is not None:
        problems.add(
            f"`function` {shown} (qualifier {qualifier}) already has an AsyncInvokeConfig at {declared.path}; "
            "declare one config per function and qualifier."
        )
    return key


def register(scope: Construct, provider: Provider, key: tuple[str, ...], on_failure: bool) -> None:
    """Records the config by its key (see `check_unique`). A native config (`aws_lambda.EventInvokeConfig`, or a
    Function's own async settings) for the same function and qualifier is an error too, found once the app is
    complete (a validation of the app)."""
    root = provider.root
    _declared.setdefault(root, {})[key] = Declaration(scope, on_failure)
    if root not in _watched:
        _watched.add(root)
        root.node.add_validation(_NativeConfigs(root))


def declaration(target: Target) -> Declaration | None:
    """The config declared so far for an in-app function's ``$LATEST`` or for an alias, however it was named."""
    stack = stack_of(target)
    found = resolve(Problems(), stack, target, None)
    if found is None:
        return None
    key, _, _ = config_key(stack, found)
    return _declared.get(root_of(stack), {}).get(key)


@jsii.implements(IValidation)
class _NativeConfigs:
    """Fails the synth when a native config and an AsyncInvokeConfig configure the same function and qualifier: each
    would undo the other on every deploy."""

    def __init__(self, root: IConstruct) -> None:
        self.root = root

    def validate(self) -> list[str]:
        declared = _declared.get(self.root, {})
        nodes = self.root.node.find_all()
        ours = tuple(f"{path_of(node)}/" for node in nodes if isinstance(node, Provider))  # the handlers' own settings
        natives = [
            node
            for node in nodes
            if isinstance(node, lambda_.CfnEventInvokeConfig) and not node.node.path.startswith(ours)
        ]
        functions = {
            (path_of(stack_of(node)), stack_of(node).get_logical_id(node)): node.node.scope
            for node in (nodes if natives else [])
            if isinstance(node, lambda_.CfnFunction)
        }
        errors = []
        for node in natives:
            stack = stack_of(node)
            name, function = _native_function(stack, node.function_name, functions)
            if name is None and function is None:
                continue  # a reference this app cannot follow
            target = ConfigTarget(name or node.function_name, node.qualifier, function, None)
            key, shown, qualifier = config_key(stack, target)
            if key in declared:
                errors.append(
                    f"`function` {shown} (qualifier {qualifier}) has two async-invoke configs: the AsyncInvokeConfig "
                    f"at {declared[key].path} and the native EventInvokeConfig at {node.node.path} (from "
                    "aws_lambda.EventInvokeConfig, or a Function's on_success/on_failure/retry_attempts/max_event_age)."
                    " Keep one; to move to AsyncInvokeConfig with no gap, see the README's migration section."
                )
        return errors


def _native_function(
    stack: Stack, function_name: str, functions: dict[tuple[str, str], IConstruct | None]
) -> tuple[str | None, lambda_.Function | None]:
    """What a native config's `FunctionName` names: a literal name (given, or the last part of an imported function's
    ARN), or an in-app function (a Ref to it)."""
    if not unresolved(function_name):
        return function_name, None
    resolved = stack.resolve(function_name)
    if isinstance(resolved, dict) and "Ref" in resolved:
        function = functions.get((path_of(stack), resolved["Ref"]))
        return None, function if isinstance(function, lambda_.Function) else None
    if isinstance(resolved, dict) and "Fn::Select" in resolved:  # an imported function's name, from its ARN
        index, source = resolved["Fn::Select"]
        if isinstance(source, dict) and source.get("Fn::Split", [None])[0] == ":":
            parts = re.sub(r"<[^>]*>", "?", flatten(source["Fn::Split"][1])).split(":")  # <AWS::Region> and such
            if int(index) < len(parts) and re.fullmatch(r"[a-zA-Z0-9_.-]+", parts[int(index)]):
                return parts[int(index)], None
    return None, None
