"""AsyncInvokeConfig: a Lambda function's asynchronous-invocation settings, kept in line with the live function."""

from __future__ import annotations

import json
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import jsii
from aws_cdk import Annotations, ArnFormat, CfnResource, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct, IValidation

from .bridge import environment, path_of, root_of, stack_of, unresolved
from .defaults import DEFAULT_ID, Declaration, Target, apply, exempt, require
from .grants import PolicyTarget, flatten
from .handler.contract import (
    DATA_FUNCTION_ARN,
    DESTINATION_PATTERN,
    FUNCTION,
    FUNCTION_NAME_PATTERN,
    LATEST,
    MAX_EVENT_AGE,
    METRIC_CHECKED,
    METRIC_CORRECTED,
    METRIC_FAILED,
    METRICS_DIMENSION,
    METRICS_NAMESPACE,
    ON_SUCCESS,
    QUALIFIER,
    REMOVAL_POLICY,
    REMOVAL_RETAIN,
    RESOURCE_TYPE,
    RETRY_ATTEMPTS,
    InvalidProperty,
)
from .provider import Provider
from .validation import (
    PROPS,
    Destination,
    Problems,
    check_agreement,
    check_bound,
    check_function,
    check_qualifier_value,
    check_same_stage,
    check_settings,
    implements,
    parse_name,
)

SEND_ACTIONS = {
    "sqs": ["sqs:SendMessage"],
    "sns": ["sns:Publish"],
    "lambda": ["lambda:InvokeFunction"],
    "events": ["events:PutEvents"],
    "s3": ["s3:PutObject", "s3:ListBucket"],
}
DRIFT_METRICS = (METRIC_CHECKED, METRIC_CORRECTED, METRIC_FAILED)
_declared: weakref.WeakKeyDictionary[Any, dict[tuple[str, ...], Declaration]] = weakref.WeakKeyDictionary()
_watched: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class _Target:
    """What the config applies to, as the custom resource and the IAM policy need it."""

    function_name: str
    qualifier: str | None
    function: lambda_.IFunction | None
    policy: PolicyTarget | None
    version_token: bool = False  # the qualifier is a Version's number, known only at deploy time


class AsyncInvokeConfig(Construct):
    """Declares the asynchronous-invocation settings of a Lambda function, version or alias, and keeps the live
    config in line with them: each deploy reads the live config and writes only what differs.

    :param function: the function, version or alias (any ``IFunction``), or its name, ``name:alias``, partial or
        full ARN as a string. A string may name a function outside the app.
    :param qualifier: version number, alias or ``$LATEST``. Default: the version or alias ``function`` is, else the
        qualifier inside the name, else ``$LATEST``.
    :param retry_attempts: retries after the function returns an error. Minimum: 0, maximum: 2.
        Default: not declared (AWS applies 2).
    :param max_event_age: how long Lambda keeps an event to process. Minimum: 60 seconds, maximum: 6 hours.
        Default: not declared (AWS applies 6 hours).
    :param on_success: where records of successful invocations go: an ``aws_lambda_destinations`` object (SQS, SNS,
        Lambda, EventBridge; not a FIFO queue or topic), or a destination ARN. Default: none.
    :param on_failure: as ``on_success``, plus an S3 bucket. Default: none.
    :param removal_policy: ``DESTROY`` deletes the live config when this resource goes; ``RETAIN`` leaves it.
        Default: ``RemovalPolicy.DESTROY``.

    At least one of ``retry_attempts``, ``max_event_age``, ``on_success`` or ``on_failure`` is required. A field
    left undeclared is removed from the live config. Props the API would refuse raise one ``InvalidProperty`` naming
    this construct's path and listing every problem.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction | str,
        qualifier: str | None = None,
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
        on_success: Destination | None = None,
        on_failure: Destination | None = None,
        removal_policy: RemovalPolicy = RemovalPolicy.DESTROY,
    ) -> None:
        super().__init__(scope, id)
        stack = stack_of(scope)
        problems = Problems()
        target = _target(problems, stack, function, qualifier)
        settings = check_settings(problems, retry_attempts, max_event_age, on_success, on_failure, removal_policy)
        key = _check_unique(problems, stack, target) if target is not None else None
        grant = target is not None and not problems.found  # a config that fails grants nothing
        bound = {
            half: self._bind(problems, destination, half, target or _unknown(function), grant)
            for half, destination in settings.destinations.items()
        }
        problems.raise_any(lambda: path_of(self))
        assert target is not None and key is not None

        provider = Provider.of(scope)
        _register(self, provider, key, on_failure is not None)
        properties: dict[str, Any] = {FUNCTION: _declared_name(provider.stack, target)}
        if target.qualifier is not None:
            properties[QUALIFIER] = target.qualifier
        if retry_attempts is not None:
            properties[RETRY_ATTEMPTS] = retry_attempts
        if settings.seconds is not None:
            properties[MAX_EVENT_AGE] = settings.seconds
        properties.update(bound)
        if removal_policy == RemovalPolicy.RETAIN:
            properties[REMOVAL_POLICY] = REMOVAL_RETAIN

        self.resource = CfnResource(
            self, "Resource", type=RESOURCE_TYPE, properties=provider.custom_resource_properties(properties)
        )
        """The custom resource (``Custom::LambdaAsyncInvokeConfig``), as a ``CfnResource``."""
        plain = target.function is not None and getattr(target.function, "lambda_", target.function) is target.function
        provider.add_config(
            self.resource,
            properties,
            target.policy,
            target.function if plain else None,
            target.qualifier,
            target.version_token,
        )
        self._depend_on_target(provider.stack, target, granted=bool(bound))

    @cached_property
    def function_arn(self) -> str:
        """The qualified ARN of the function the config belongs to, as Lambda reports it."""
        return Token.as_string(self.resource.get_att(DATA_FUNCTION_ARN))

    @staticmethod
    def apply_defaults(
        scope: Construct,
        *,
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
        on_success: Destination | None = None,
        on_failure: Destination | None = None,
        include: Callable[[Target], object] | None = None,
        exclude: Callable[[Target], object] | None = None,
    ) -> None:
        """Give every Lambda function and alias in `scope` (an app, a stage, a stack or any construct) that has no
        config of its own a config with these settings, when the app synthesizes (a CDK Aspect). The new config is
        the child ``AsyncInvokeConfig`` of the function or alias, in its stack (a nested stack's own).

        :param include: called with each function (``aws_lambda.Function``) and alias (``aws_lambda.Alias``) in
            `scope`, at synth; only those it returns True for get the defaults. Default: all of them.
        :param exclude: called likewise; those it returns True for get no defaults (a function only ever invoked
            synchronously, say). Default: none.

        A config declared for a function or alias (this construct, by object or by name, or aws-cdk-lib's async
        props) wins. A function's default covers its ``$LATEST``; each alias gets a default of its own. Left
        alone: this library's handler, and the functions aws-cdk-lib and construct libraries make for their own
        workings (custom-resource providers such as ``AwsCustomResource``'s, log retention, bucket notifications).
        Defaults applied to an inner scope win over those of an outer one, also when they leave a function out.
        The settings are checked as the construct's own, now.
        """
        problems = Problems()
        check_settings(problems, retry_attempts, max_event_age, on_success, on_failure, RemovalPolicy.DESTROY)
        problems.raise_any(lambda: f"`apply_defaults` on {path_of(scope) or 'the app'}")
        settings: dict[str, Any] = {
            "retry_attempts": retry_attempts,
            "max_event_age": max_event_age,
            "on_success": on_success,
            "on_failure": on_failure,
        }

        def create(target: Target) -> None:
            AsyncInvokeConfig(target, DEFAULT_ID, function=target, **settings)

        apply(scope, _declaration, create, include, exclude)

    @staticmethod
    def require_on_failure(scope: Construct) -> None:
        """Fail the synth, listing them, if any Lambda function or alias in `scope` has no on-failure destination:
        no config of its own with ``on_failure`` (this construct, or aws-cdk-lib's async props), no such default
        from ``apply_defaults``, and no exemption (``exempt_from_on_failure``). The same functions are left out as
        by ``apply_defaults``."""
        require(scope, _declaration)

    @staticmethod
    def exempt_from_on_failure(function_or_alias: IConstruct, *, reason: str, apply_to_children: bool = False) -> None:
        """Exempt a Lambda function or alias from ``require_on_failure``, saying why (a function only ever invoked
        synchronously, say), as a cdk-nag suppression does: the exemption is an info annotation on it with the
        reason, printed by ``cdk synth`` and kept in the cloud assembly.

        :param function_or_alias: an ``aws_lambda.Function`` (its ``$LATEST``; its aliases are checked apart) or
            ``Alias``; with `apply_to_children`, any construct.
        :param reason: why no on-failure destination is needed; required, not blank.
        :param apply_to_children: exempt every function and alias under `function_or_alias`. Default: False.
        """
        exempt(function_or_alias, reason, apply_to_children)

    @staticmethod
    def configure_drift_check(scope: Construct, *, on_deploy: bool = True, schedule: Duration | None = None) -> None:
        """Set the drift check of the stack that holds `scope`.

        :param on_deploy: every deploy re-reads every config of the stack and corrects drift, even when nothing in
            the app changed (one resource, the drift check, shows as changed in ``cdk diff``). ``False`` opts the
            stack out. Default: ``True``.
        :param schedule: also run the check between deploys at this rate (an EventBridge rule invokes the handler).
            Default: no schedule.
        """
        if schedule is not None and not unresolved(schedule.to_seconds()) and schedule.to_seconds() < 60:
            raise InvalidProperty(f"`schedule` must be at least 1 minute; got {schedule.to_human_string()}.")
        Provider.of(scope).configure(on_deploy, schedule)

    @staticmethod
    def metric_drift(
        scope: Construct, metric_name: str, *, period: Duration | None = None, statistic: str = "Sum"
    ) -> cloudwatch.Metric:
        """A metric of the drift checks of the stack that holds `scope` (on deploy and on schedule), for alarms.

        :param metric_name: ``Checked``, ``Corrected`` or ``Failed``: configs checked, corrected, and whose
            correction failed, per check.
        :param period: Default: 5 minutes.
        :param statistic: Default: ``Sum``.
        """
        if metric_name not in DRIFT_METRICS:
            raise InvalidProperty(f"`metric_name` must be one of {', '.join(DRIFT_METRICS)}; got {metric_name!r}.")
        return cloudwatch.Metric(
            namespace=METRICS_NAMESPACE,
            metric_name=metric_name,
            dimensions_map={METRICS_DIMENSION: Stack.of(scope).stack_name},
            period=period,
            statistic=statistic,
        )

    @staticmethod
    def metric_drift_checked(scope: Construct, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Configs the drift checks of the stack that holds `scope` read (sum over `period`, default 5 minutes)."""
        return AsyncInvokeConfig.metric_drift(scope, METRIC_CHECKED, period=period)

    @staticmethod
    def metric_drift_corrected(scope: Construct, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Configs found drifted and corrected (sum over `period`, default 5 minutes): someone changed them."""
        return AsyncInvokeConfig.metric_drift(scope, METRIC_CORRECTED, period=period)

    @staticmethod
    def metric_drift_failed(scope: Construct, *, period: Duration | None = None) -> cloudwatch.Metric:
        """Configs found drifted whose correction failed (sum over `period`, default 5 minutes)."""
        return AsyncInvokeConfig.metric_drift(scope, METRIC_FAILED, period=period)

    def _depend_on_target(self, stack: Stack, target: _Target, granted: bool) -> None:
        """Wait for the policies that hold the send grants on the function's role (not the role itself: nothing of it
        changes), and for a version or alias named only by a literal qualifier; a plain function is already waited
        for through its name."""
        function = target.function
        if function is None:
            return
        underlying = getattr(function, "lambda_", function)
        role = function.role if granted else None
        grants = [c for c in role.node.children if isinstance(c, iam.Policy)] if role is not None else []
        for dependency in (*grants, None if underlying is function else function):
            if dependency is not None and stack_of(dependency) is stack:
                self.resource.node.add_dependency(dependency)

    def _bind(self, problems: Problems, destination: Destination, half: str, target: _Target, grant: bool) -> str:
        """The destination's ARN; the function's role gets the permission to send to it where the role is known and
        `grant` holds (the config has no problem so far). An object is bound in any case, since only its ARN says
        whether it is a FIFO queue or topic, or the function itself: to a stand-in that grants nothing if not."""
        prop = PROPS[half]
        function = target.function
        if isinstance(destination, str):
            check_bound(problems, destination, destination, half, target.function_name)
            if not grant:
                return destination
            if function is not None and function.role is not None and not unresolved(destination):
                service = DESTINATION_PATTERN.fullmatch(destination)
                assert service is not None
                resources = [destination, f"{destination}/*"] if service.group("service") == "s3" else [destination]
                function.add_to_role_policy(
                    iam.PolicyStatement(actions=SEND_ACTIONS[service.group("service")], resources=resources)
                )
            else:
                self._warn_not_granted(prop, destination, target)
            return destination
        kind = lambda_.DestinationType.SUCCESS if half == ON_SUCCESS else lambda_.DestinationType.FAILURE
        if not grant or function is None or function.role is None:
            arn = destination.bind(self, self._stand_in(target), type=kind).destination
            if grant:
                self._warn_not_granted(prop, arn, target)
        else:
            arn = destination.bind(self, function, type=kind).destination
        if function is not None and arn == getattr(function, "lambda_", function).function_arn:
            problems.add(f"`{prop}` is the function itself; a function cannot be its own destination.")
            return arn
        check_bound(problems, destination, arn, half, target.function_name)
        return arn

    def _stand_in(self, target: _Target) -> lambda_.IFunction:
        """An imported function whose role absorbs grants: its real role is unknown, so nothing is granted."""
        existing = self.node.try_find_child("Target")
        if existing is not None:
            return cast(lambda_.IFunction, existing)
        stack = stack_of(self)
        role = iam.Role.from_role_arn(
            self,
            "UnknownRole",
            stack.format_arn(service="iam", region="", resource="role", resource_name="unknown"),
            mutable=False,
        )
        arn = (
            target.policy.arn
            if target.policy
            else stack.format_arn(
                service="lambda", resource="function", resource_name="unknown", arn_format=ArnFormat.COLON_RESOURCE_NAME
            )
        )
        return lambda_.Function.from_function_attributes(self, "Target", function_arn=arn, role=role)

    def _warn_not_granted(self, prop: str, arn: str, target: _Target) -> None:
        shown = "the destination" if unresolved(arn) else arn
        Annotations.of(self).add_warning_v2(
            "async-invoke-config:not-granted",
            f"`{prop}`: the execution role of the function {_function_shown(target)} was not granted permission to "
            f"send to {shown}, because the role (or the destination's service) is not known at synth time; grant it "
            "yourself, or Lambda rejects the destination.",
        )


def _target(problems: Problems, stack: Stack, function: object, qualifier: object) -> _Target | None:
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
        target = _Target(written, given, None, _policy_target(written) if name else None)
        return target if len(problems.found) == before else None

    function = cast(lambda_.IFunction, function)
    alias_name = getattr(function, "alias_name", None)
    version = getattr(function, "version", None)
    underlying: lambda_.IFunction = getattr(function, "lambda_", function)
    derived = alias_name if alias_name is not None else version if isinstance(version, str) else None
    problems.check(lambda: check_agreement(given, derived, "the alias or version given as `function`"))
    version_token = given is None and alias_name is None and derived is not None and unresolved(derived)
    arn = underlying.function_arn
    if not unresolved(arn):
        parsed = problems.check(lambda: parse_name(arn, stack))
        if parsed is not None:
            problems.check(lambda: check_agreement(given or derived, parsed[1], repr(arn)))
        target = _Target(arn, given or derived, function, _policy_target(arn) if parsed else None, version_token)
    else:
        local = stack_of(underlying) is stack and stack_of(function) is stack
        if not local:
            problems.check(lambda: check_same_stage(function, stack))
        policy = PolicyTarget(arn, underlying.function_name, _identity(underlying), local)
        target = _Target(arn, given or derived, function, policy, version_token)
    return target if len(problems.found) == before else None


def _unknown(function: object) -> _Target:
    """A stand-in target for binding the destinations of a config whose `function` or `qualifier` is wrong."""
    known = function if implements(function, lambda_.IFunction) else None
    return _Target(function if isinstance(function, str) else "", None, cast(lambda_.IFunction | None, known), None)


def _function_shown(target: _Target) -> str:
    """The function as a message names it: a string as given; an object by its construct path, and by its name or
    ARN where that is a literal (an imported function)."""
    if target.function is None:
        return repr(target.function_name)
    path = path_of(target.function)
    return path if unresolved(target.function_name) else f"{path} ({target.function_name})"


def _declared_name(stack: Stack, target: _Target) -> str:
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
        return underlying.function_name if in_stack else target.function_name
    match = FUNCTION_NAME_PATTERN.fullmatch(target.function_name)
    assert match is not None
    region, account = (match.group("region") or "").rstrip(":"), (match.group("account") or "").rstrip(":")
    if (region, account) != environment(stack):
        return target.function_name
    qualifier = match.group("qualifier")
    return match.group("name") + (f":{qualifier}" if qualifier else "")


def _identity(function: lambda_.IFunction) -> str | None:
    """What changes when a function known only by a reference is replaced: an in-app function's name as its template
    gives it (absent: CloudFormation names it once). None for a function imported by a reference (a parameter, an
    import), which may resolve to another function in any deploy."""
    cfn = function.node.default_child if isinstance(function, lambda_.Function) else None
    if not isinstance(cfn, lambda_.CfnFunction):
        return None
    stack = stack_of(function)
    return json.dumps([stack.get_logical_id(cfn), stack.resolve(cfn.function_name), cfn.package_type])


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


def _check_unique(problems: Problems, stack: Stack, target: _Target) -> tuple[str, ...]:
    """One config per function and qualifier in an app: two would overwrite each other on every deploy. Returns the
    config's key."""
    key, shown, qualifier = _config_key(stack, target)
    declared = _declared.get(root_of(stack), {}).get(key)
    if declared is not None:
        problems.add(
            f"`function` {shown} (qualifier {qualifier}) already has an AsyncInvokeConfig at {declared.path}; "
            "declare one config per function and qualifier."
        )
    return key


def _register(scope: Construct, provider: Provider, key: tuple[str, ...], on_failure: bool) -> None:
    """Records the config by its key (see `_check_unique`). A native config (`aws_lambda.EventInvokeConfig`, or a
    Function's own async settings) for the same function and qualifier is an error too, found once the app is
    complete (a validation of the app)."""
    root = provider.root
    _declared.setdefault(root, {})[key] = Declaration(scope, on_failure)
    if root not in _watched:
        _watched.add(root)
        root.node.add_validation(_NativeConfigs(root))


def _declaration(target: Target) -> Declaration | None:
    """The config declared so far for an in-app function's ``$LATEST`` or for an alias, however it was named."""
    stack = stack_of(target)
    found = _target(Problems(), stack, target, None)
    if found is None:
        return None
    key, _, _ = _config_key(stack, found)
    return _declared.get(root_of(stack), {}).get(key)


def _config_key(stack: Stack, target: _Target) -> tuple[tuple[str, ...], str, str]:
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
            target = _Target(name or node.function_name, node.qualifier, function, None)
            key, shown, qualifier = _config_key(stack, target)
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


def _own_name(function: lambda_.IFunction | None) -> str | None:
    """A function's literal name when the app knows it: given one in its own props, or imported by name or ARN."""
    if function is None:
        return None
    stack = stack_of(function)
    cfn = function.node.default_child if isinstance(function, lambda_.Function) else None
    if isinstance(cfn, lambda_.CfnFunction):
        name = stack.resolve(cfn.function_name)
        return name if isinstance(name, str) else None
    named = re.search(r":function:([a-zA-Z0-9_.-]+)$", flatten(stack.resolve(function.function_arn)))
    return named.group(1) if named else None
