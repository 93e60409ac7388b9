"""One handler of a stack: its role, its two functions (`Handler`, and `Expired`, its on-failure destination, which
runs once more an event the handler could not), the policy that lets the first invoke the second, and the targets'
managed policies on its role.

A stack has one; a stack whose groups of configs name more functions than one role's 10 managed policies can grant
has one more per GROUPS_PER_SET groups (`HandlerSet{n}`), each granted exactly its groups' functions: no policy
widens to make the quota fit. A group keeps its handler for good (its index decides it), since CloudFormation does
not let a custom resource's ServiceToken change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jsii
from aws_cdk import CfnResource, Duration, IResolvable, IResolveContext, Stack, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .grants import Grants
from .handler_settings import HandlerSettings
from .role_policy import acknowledge, acknowledge_parameters

HANDLER_TIMEOUT = Duration.minutes(5)
# The handler's own asynchronous invocations (CloudFormation invokes it asynchronously). An event that waits longer
# than HANDLER_MAX_EVENT_AGE (the account's concurrency is exhausted: throttled) or whose run fails without answering
# goes to the handler's on-failure destination, a second function (`index.on_expired`) that runs it once more, within
# its own EXPIRED_MAX_EVENT_AGE. Neither retries. So CloudFormation gets an answer within 300 + 240 + 300 = 840 s of
# sending an event, throttled or not, before it stops waiting (SERVICE_TIMEOUT_SECONDS), and no run starts after that.
HANDLER_MAX_EVENT_AGE = Duration.minutes(5)
EXPIRED_MAX_EVENT_AGE = Duration.minutes(4)
HANDLER_RETRY_ATTEMPTS = 0
# Groups per handler: 2 groups of at most 200 members each name at most 400 functions, which one role's 10 managed
# policies grant even when every name is counted at its longest (64 characters).
GROUPS_PER_SET = 2


class HandlerSet:
    """A role and the two functions that run under it, with the targets' policies (`grants`) on that role."""

    def __init__(
        self,
        scope: Construct,
        code: lambda_.Code,
        log_group: logs.ILogGroup,
        token: str,
        inline_policies: Callable[[], list[dict[str, Any]]],
    ) -> None:
        self.scope = scope
        self.code = code
        self.log_group = log_group
        self.role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads and writes Lambda async-invoke configs for the AsyncInvokeConfig custom resources.",
        )
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.add_property_override("Policies", Late(inline_policies))
        self.expired = self._function(
            "Expired",
            "index.on_expired",
            EXPIRED_MAX_EVENT_AGE,
            "Runs once more a custom-resource event the AsyncInvokeConfig handler could not (throttled).",
        )
        self.function = self._function(
            "Handler",
            "index.on_event",
            HANDLER_MAX_EVENT_AGE,
            "Keeps Lambda async-invoke configs as declared (cdk-async-invoke-config).",
            on_failure=Granted(self.expired.function_arn),
        )
        # The handler's role may invoke its on-failure destination; a policy of its own, not the role's default one,
        # which both functions wait for, and which names the second function: that would be a cycle.
        invoke = iam.Policy(
            scope,
            "InvokeExpired",
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.expired.function_arn])],
            roles=[self.role],
        )
        for settings in self.async_settings()[:1]:
            settings.node.add_dependency(invoke)
        self.grants = Grants(scope, Stack.of(scope), self.role, token)
        acknowledge(self.role, "AwsSolutions-IAM5", "Log streams are created under the handler's own log group (`:*`).")
        for function in self.functions:
            acknowledge(function, "AwsSolutions-L1", "The handler is built and tested for the Python 3.13 runtime.")

    @property
    def functions(self) -> tuple[lambda_.Function, lambda_.Function]:
        return self.function, self.expired

    def _function(
        self,
        id: str,
        entry: str,
        max_event_age: Duration,
        description: str,
        on_failure: lambda_.IDestination | None = None,
    ) -> lambda_.Function:
        """One of the handler's two functions: the same code, role and log group, JSON logs, no retries."""
        defaults = HandlerSettings()
        return lambda_.Function(
            self.scope,
            id,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler=entry,
            code=self.code,
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=defaults.log_level,
            system_log_level_v2=lambda_.SystemLogLevel.INFO,
            max_event_age=max_event_age,
            retry_attempts=HANDLER_RETRY_ATTEMPTS,
            on_failure=on_failure,
            description=description,
        )

    def async_settings(self) -> list[CfnResource]:
        """The two functions' own asynchronous-invocation settings, which every event this handler runs waits for,
        so that even the first deploy's events run under them."""
        found = []
        for function in self.functions:
            child = function.node.try_find_child("EventInvokeConfig")
            resource = child.node.default_child if child is not None else None
            if isinstance(resource, CfnResource):
                found.append(resource)
        return found

    def configure(self, settings: HandlerSettings, log_group: logs.ILogGroup) -> None:
        """The logs and runtime `configure_handler` sets, on both functions."""
        for function in self.functions:
            cfn = function.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.add_property_override("LoggingConfig.LogGroup", log_group.log_group_name)
            cfn.add_property_override("LoggingConfig.ApplicationLogLevel", settings.log_level.value)
            if settings.architecture.name != lambda_.Architecture.X86_64.name:  # x86_64 is Lambda's default
                cfn.add_property_override("Architectures", [settings.architecture.name])

    def finish(self, waiting: list[tuple[CfnResource, tuple[str, str] | None]]) -> None:
        """The targets' policies of this role, each config (`waiting`) waiting for the one that grants it."""
        self.grants.finish(waiting, self.async_settings())

    def acknowledge_wildcards(self, lists_claims: bool) -> None:
        self.grants.acknowledge()
        acknowledge_parameters(self.role, Stack.of(self.scope), lists_claims)


@jsii.implements(lambda_.IDestination)
class Granted:
    """A Lambda destination whose send permission is granted elsewhere (`InvokeExpired`)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.arn)


@jsii.implements(IResolvable)
class Late:
    """A value produced at synth time, once every config of the stack is known."""

    def __init__(self, produce: Callable[[], Any]) -> None:
        self._produce = produce

    @property
    def creation_stack(self) -> list[str]:
        return []

    def resolve(self, context: IResolveContext) -> Any:
        return self._produce()

    def to_string(self) -> str:
        return Token.as_string(self)
