"""AsyncInvokeConfig: a Lambda function's asynchronous-invocation settings, kept in line with the live function."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any, cast

from aws_cdk import Annotations, ArnFormat, CfnResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from .app_checks import check_unique, declaration, register
from .bridge import arn_of, node_of, path_of, role_of, stack_of, unresolved
from .defaults import DEFAULT_ID, Target, apply, exempt, require
from .groups import Member, carry_together, is_carried, making_defaults, member_key
from .handler.contract import (
    DATA_FUNCTION_ARN,
    DESTINATION_PATTERN,
    FUNCTION,
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
from .handler_settings import configure_handler
from .provider import Provider
from .targets import ConfigTarget, declared_name, function_shown, resolve, unknown
from .validation import (
    PROPS,
    Destination,
    Problems,
    check_bound,
    check_settings,
)

SEND_ACTIONS = {
    "sqs": ["sqs:SendMessage"],
    "sns": ["sns:Publish"],
    "lambda": ["lambda:InvokeFunction"],
    "events": ["events:PutEvents"],
    "s3": ["s3:PutObject", "s3:ListBucket"],
}
DRIFT_METRICS = (METRIC_CHECKED, METRIC_CORRECTED, METRIC_FAILED)


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
        target = resolve(problems, stack, function, qualifier)
        settings = check_settings(problems, retry_attempts, max_event_age, on_success, on_failure, removal_policy)
        key = check_unique(problems, stack, target) if target is not None else None
        grant = target is not None and not problems.found  # a config that fails grants nothing
        bound = {
            half: self._bind(problems, destination, half, target or unknown(function), grant)
            for half, destination in settings.destinations.items()
        }
        problems.raise_any(lambda: path_of(self))
        assert target is not None and key is not None

        provider = Provider.of(scope)
        register(self, provider, key, on_failure is not None)
        properties: dict[str, Any] = {FUNCTION: declared_name(provider.stack, target)}
        if target.qualifier is not None:
            properties[QUALIFIER] = target.qualifier
        if retry_attempts is not None:
            properties[RETRY_ATTEMPTS] = retry_attempts
        if settings.seconds is not None:
            properties[MAX_EVENT_AGE] = settings.seconds
        properties.update(bound)
        if removal_policy == RemovalPolicy.RETAIN:
            properties[REMOVAL_POLICY] = REMOVAL_RETAIN

        plain = target.function is not None and getattr(target.function, "lambda_", target.function) is target.function
        waits = self._waits_for(provider.stack, target, granted=bool(bound))
        self._resource: CfnResource | None = None
        if is_carried(scope):
            member = Member(member_key(key), self, properties, waits)
            plain_function = target.function if plain else None
            provider.add_member(member, target.policy, plain_function, target.qualifier, target.version_token)
            return
        self._resource = resource = CfnResource(
            self, "Resource", type=RESOURCE_TYPE, properties=provider.custom_resource_properties(properties)
        )
        provider.add_config(
            resource,
            properties,
            target.policy,
            target.function if plain else None,
            target.qualifier,
            target.version_token,
        )
        for dependency in waits:
            resource.node.add_dependency(dependency)

    @property
    def resource(self) -> CfnResource:
        """The custom resource (``Custom::LambdaAsyncInvokeConfig``), as a ``CfnResource``. A config carried with
        others (``apply_defaults``, ``carry_together``) has none of its own: asking for it raises."""
        if self._resource is None:
            raise InvalidProperty(
                f"{path_of(self)}: this config is carried with others (apply_defaults or carry_together) in a "
                "resource of several configs, and has no `resource` or `function_arn` of its own."
            )
        return self._resource

    @cached_property
    def function_arn(self) -> str:
        """The qualified ARN of the function the config belongs to, as Lambda reports it (a config of its own
        resource only)."""
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
            with making_defaults():  # carried together, as few resources as fit
                AsyncInvokeConfig(target, DEFAULT_ID, function=target, **settings)

        apply(scope, declaration, create, include, exclude)

    @staticmethod
    def carry_together(scope: Construct) -> None:
        """Carry the configs declared under `scope` (a stack, or any construct in one; declared after this call) in
        as few custom resources as fit, with the defaults of ``apply_defaults``, rather than one resource each: for
        stacks of hundreds of configs (CloudFormation's 500 resources), in fewer template bytes. Each config keeps
        its promises (its claim, its drift check, its rollback); only ``resource`` and ``function_arn`` are its
        group's and not its own. Changing a deployed config between the two forms moves nothing live: the new
        resource takes it over before the old one goes."""
        carry_together(scope)

    @staticmethod
    def require_on_failure(scope: Construct) -> None:
        """Fail the synth, listing them, if any Lambda function or alias in `scope` has no on-failure destination:
        no config of its own with ``on_failure`` (this construct, or aws-cdk-lib's async props), no such default
        from ``apply_defaults``, and no exemption (``exempt_from_on_failure``). The same functions are left out as
        by ``apply_defaults``."""
        require(scope, declaration)

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

    # The handler's logs and runtime, as `async_invoke_config.configure_handler` (beside the other per-stack settings)
    configure_handler = staticmethod(configure_handler)

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

    def _waits_for(self, stack: Stack, target: ConfigTarget, granted: bool) -> list[IConstruct]:
        """The policies that hold the send grants on the function's role (not the role itself: nothing of it
        changes), and a version or alias named only by a literal qualifier; a plain function is already waited for
        through its name."""
        function = target.function
        if function is None:
            return []
        underlying = getattr(function, "lambda_", function)
        role = role_of(function) if granted else None
        grants = [c for c in node_of(role).children if isinstance(c, iam.Policy)] if role is not None else []
        in_stack = role is not None and stack_of(role) is stack  # a policy is in its role's stack
        found: list[IConstruct] = [grant for grant in grants if in_stack]
        if underlying is not function and stack_of(function) is stack:
            found.append(function)
        return found

    def _bind(self, problems: Problems, destination: Destination, half: str, target: ConfigTarget, grant: bool) -> str:
        """The destination's ARN; the function's role gets the permission to send to it where the role is known and
        `grant` holds (the config has no problem so far). An object is bound in any case, since only its ARN says
        whether it is a FIFO queue or topic, or the function itself: to a stand-in that grants nothing if not."""
        prop = PROPS[half]
        function = target.function
        if isinstance(destination, str):
            check_bound(problems, destination, destination, half, target.function_name)
            if not grant:
                return destination
            if function is not None and role_of(function) is not None and not unresolved(destination):
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
        if not grant or function is None or role_of(function) is None:
            arn = destination.bind(self, self._stand_in(target), type=kind).destination
            if grant:
                self._warn_not_granted(prop, arn, target)
        else:
            arn = destination.bind(self, function, type=kind).destination
        if function is not None and arn == arn_of(getattr(function, "lambda_", function)):
            problems.add(f"`{prop}` is the function itself; a function cannot be its own destination.")
            return arn
        check_bound(problems, destination, arn, half, target.function_name)
        return arn

    def _stand_in(self, target: ConfigTarget) -> lambda_.IFunction:
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

    def _warn_not_granted(self, prop: str, arn: str, target: ConfigTarget) -> None:
        shown = "the destination" if unresolved(arn) else arn
        Annotations.of(self).add_warning_v2(
            "async-invoke-config:not-granted",
            f"`{prop}`: the execution role of the function {function_shown(target)} was not granted permission to "
            f"send to {shown}, because the role (or the destination's service) is not known at synth time; grant it "
            "yourself, or Lambda rejects the destination.",
        )
