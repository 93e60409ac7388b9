"""What a config applies to: its function and qualifier resolved from the props (any form `function` takes), how the
custom resource names the function, and the key that says whether two configs are for the same function and
qualifier."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import cast

from aws_cdk import Fn, Stack
from aws_cdk import aws_lambda as lambda_

from .bridge import arn_of, environment, held, name_of, node_of, path_of, stack_of, unresolved
from .grants import PolicyTarget, flatten
from .handler.contract import (
    FUNCTION_NAME_PATTERN,
    LATEST,
)
from .validation import (
    Problems,
    check_agreement,
    check_function,
    check_qualifier_value,
    check_same_stage,
    implements,
    parse_name,
)


@dataclass(frozen=True)
class ConfigTarget:
    """What the config applies to, as the custom resource and the IAM policy need it."""

    function_name: str
    qualifier: str | None
    function: lambda_.IFunction | None
    policy: PolicyTarget | None
    version_token: bool = False  # the qualifier is a Version's number, known only at deploy time


def resolve(problems: Problems, stack: Stack, function: object, qualifier: object) -> ConfigTarget | None:
    """What the config applies to; None when `function` or `qualifier` is wrong (each problem added)."""
    before = len(problems.found)
    given = qualifier if check_qualifier_value(problems, qualifier) else None
    assert given is None or isinstance(given, str)
    if not check_function(problems, function):
        return None
    if isinstance(function, str):
        written: str = function
        parsed = problems.check(lambda: parse_name(written, stack))
        if parsed is None:
            return None
        name, in_name = parsed
        problems.check(lambda: check_agreement(given, in_name, repr(written)))
        target = ConfigTarget(written, given, None, _policy_target(written) if name else None)
        return target if len(problems.found) == before else None

    function = cast(lambda_.IFunction, function)
    alias_name = getattr(function, "alias_name", None)
    version = getattr(function, "version", None)
    underlying: lambda_.IFunction = getattr(function, "lambda_", function)
    derived = alias_name if alias_name is not None else version if isinstance(version, str) else None
    problems.check(lambda: check_agreement(given, derived, "the alias or version given as `function`"))
    version_token = given is None and alias_name is None and derived is not None and unresolved(derived)
    arn = arn_of(underlying)
    if not unresolved(arn):
        parsed = problems.check(lambda: parse_name(arn, stack))
        if parsed is not None:
            problems.check(lambda: check_agreement(given or derived, parsed[1], repr(arn)))
        target = ConfigTarget(arn, given or derived, function, _policy_target(arn) if parsed else None, version_token)
    else:
        local = stack_of(underlying) is stack and stack_of(function) is stack
        if not local:
            problems.check(lambda: check_same_stage(function, stack))
        named = _own_name(underlying) if isinstance(underlying, lambda_.Function) else None
        length = len(named) if named else None
        policy = PolicyTarget(arn, name_of(underlying), _identity(underlying), local, length)
        target = ConfigTarget(arn, given or derived, function, policy, version_token)
    return target if len(problems.found) == before else None


def unknown(function: object) -> ConfigTarget:
    """A stand-in target for binding the destinations of a config whose `function` or `qualifier` is wrong."""
    known = function if implements(function, lambda_.IFunction) else None
    return ConfigTarget(
        function if isinstance(function, str) else "", None, cast(lambda_.IFunction | None, known), None
    )


def function_shown(target: ConfigTarget) -> str:
    """The function as a message names it: a string as given; an object by its construct path, and by its name or
    ARN where that is a literal (an imported function)."""
    if target.function is None:
        return repr(target.function_name)
    path = path_of(target.function)
    return path if unresolved(target.function_name) else f"{path} ({target.function_name})"


def declared_name(stack: Stack, target: ConfigTarget) -> str:
    """The function as the custom resource names it, in the fewest bytes the handler resolves to the same config: an
    in-stack function by its name (a `Ref`), a function imported by a literal ARN of the stack's own account and
    region by its name (and the qualifier inside the ARN). Anything else as given: a string as the user wrote it, a
    function of another stack by its ARN (switching to its name would change that stack's exports), a literal ARN
    of an environment-agnostic stack in full (the name alone could resolve to another account or region)."""
    function = target.function
    if function is None:
        return target.function_name
    underlying: lambda_.IFunction = getattr(function, "lambda_", function)
    if unresolved(target.function_name):
        in_stack = isinstance(underlying, lambda_.Function) and stack_of(underlying) is stack
        return name_of(underlying) if in_stack else target.function_name
    match = FUNCTION_NAME_PATTERN.fullmatch(target.function_name)
    assert match is not None
    region, account = (match.group("region") or "").rstrip(":"), (match.group("account") or "").rstrip(":")
    if (region, account) != environment(stack):
        return target.function_name
    qualifier = match.group("qualifier")
    return match.group("name") + (f":{qualifier}" if qualifier else "")


@held
def _identity(function: lambda_.IFunction) -> str | None:
    """What changes when a function known only by a reference is replaced: an in-app function's name as its template
    gives it (absent: CloudFormation names it once). None for a function imported by a reference (a parameter, an
    import), which may resolve to another function in any deploy."""
    cfn = _cfn(function)
    if cfn is None:
        return None
    stack = stack_of(function)
    return json.dumps([stack.get_logical_id(cfn), _resolved_name(function), cfn.package_type])


@held
def _cfn(function: lambda_.IFunction) -> lambda_.CfnFunction | None:
    """An in-app function's ``CfnFunction``; None for an imported one."""
    cfn = node_of(function).default_child if isinstance(function, lambda_.Function) else None
    return cfn if isinstance(cfn, lambda_.CfnFunction) else None


@held
def _resolved_name(function: lambda_.IFunction) -> object:
    """An in-app function's name as its template gives it (None: CloudFormation names it)."""
    cfn = _cfn(function)
    name = cfn.function_name if cfn is not None else None
    return stack_of(function).resolve(name) if unresolved(name) else name


def _policy_target(function: str) -> PolicyTarget:
    """The function's unqualified ARN and name for a literal name in any form; what the name leaves out
    (partition, region, account) is the stack's."""
    match = FUNCTION_NAME_PATTERN.fullmatch(function)
    assert match is not None
    prefix = match.group("arn") or "arn:${AWS::Partition}:lambda:"
    region = match.group("region") or "${AWS::Region}:"
    account = match.group("account") or "${AWS::AccountId}:"
    arn = f"{prefix}{region}{account}function:{match.group('name')}"
    return PolicyTarget(Fn.sub(arn) if "${" in arn else arn, match.group("name"))


def config_key(stack: Stack, target: ConfigTarget) -> tuple[tuple[str, ...], str, str]:
    """What a config is for, as (key, what to show, qualifier). Compared by what the function resolves to, not by
    the construct path: a name (given as a string, or an in-app function's own name) by its account, region and
    name; an in-app function with no name of its own by its construct, wherever it is configured from. A name whose
    account or region is not known (an environment-agnostic stack) is compared within its stack only, since two such
    stacks may deploy apart."""
    qualifier = target.qualifier or LATEST
    underlying = getattr(target.function, "lambda_", target.function)
    name = target.function_name if not unresolved(target.function_name) else _own_name(underlying)

    def home() -> Stack:  # the function's stack, asked only when needed
        return stack_of(underlying) if underlying is not None else stack

    identity: tuple[str, ...]
    if name is not None:
        match = FUNCTION_NAME_PATTERN.fullmatch(name)
        assert match is not None
        region, account = (match.group("region") or "").rstrip(":"), (match.group("account") or "").rstrip(":")
        if not (region and account):
            home_region, home_account = environment(home())
            region, account = region or home_region, account or home_account
        qualifier = qualifier if target.qualifier or not match.group("qualifier") else match.group("qualifier")
        known = not unresolved(account) and not unresolved(region)
        identity = ((account, region) if known else ("stack", path_of(home()))) + (match.group("name"),)
        shown = match.group("name")
    elif underlying is not None:
        identity, shown = ("function", path_of(underlying)), path_of(underlying)
    else:
        identity = ("stack", path_of(stack), json.dumps(stack.resolve(target.function_name), sort_keys=True))
        shown = target.function_name
    resolved = home().resolve(qualifier) if unresolved(qualifier) else qualifier
    return (*identity, json.dumps(resolved)), shown, qualifier


def _own_name(function: lambda_.IFunction | None) -> str | None:
    """A function's literal name when the app knows it: given one in its own props, or imported by name or ARN."""
    if function is None:
        return None
    cfn = _cfn(function)
    if cfn is not None:
        name = _resolved_name(function)
        return name if isinstance(name, str) else None
    named = re.search(r":function:([a-zA-Z0-9_.-]+)$", flatten(stack_of(function).resolve(arn_of(function))))
    return named.group(1) if named else None
