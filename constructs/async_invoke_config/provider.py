"""The one custom-resource handler per stack: its function, role, log group, the IAM scope of its API calls, and the
drift check."""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Aspects,
    CfnResource,
    CustomResource,
    Duration,
    IAspect,
    IResolvable,
    IResolveContext,
    Stack,
    Token,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from .bridge import stack_of, unresolved
from .drift_check import config_ids, deploy_token, digest, drift_check, schedule_rule
from .grants import Grants, PolicyTarget, effective_qualifier
from .groups import Member, build
from .handler.contract import (
    FUNCTION,
    LATEST,
    SERVICE_TIMEOUT,
    SERVICE_TOKEN,
    InvalidProperty,
)
from .handler_settings import LOGS_ID, HandlerSettings, log_group
from .role_policy import acknowledge, acknowledge_parameters, inline_policies

HANDLER_DIR = (Path(__file__).parent / "handler").resolve()
PROVIDER_ID = "AsyncInvokeConfigProvider"
HANDLER_TIMEOUT = Duration.minutes(5)
# The handler's own asynchronous invocations (CloudFormation invokes it asynchronously). An event that waits longer
# than HANDLER_MAX_EVENT_AGE (the account's concurrency is exhausted: throttled) or whose run fails without answering
# goes to the handler's on-failure destination, a second function (`index.on_expired`) that runs it once more, within
# its own EXPIRED_MAX_EVENT_AGE. Neither retries. So CloudFormation gets an answer within 300 + 240 + 300 = 840 s of
# sending an event, throttled or not, before it stops waiting (SERVICE_TIMEOUT_SECONDS), and no run starts after that.
HANDLER_MAX_EVENT_AGE = Duration.minutes(5)
EXPIRED_MAX_EVENT_AGE = Duration.minutes(4)
HANDLER_RETRY_ATTEMPTS = 0
SERVICE_TIMEOUT_SECONDS = 15 * 60
_providers: weakref.WeakKeyDictionary[Stack, Provider] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Config:
    resource: CfnResource | None  # None for a member until its group is built
    properties: dict[str, Any]
    function: lambda_.IFunction | None
    qualifier: str | None
    grant: tuple[str, str] | None


class Provider(Construct):
    """Created once per stack by the first AsyncInvokeConfig in it."""

    @classmethod
    def of(cls, scope: Construct) -> Provider:
        stack = stack_of(scope)
        provider = _providers.get(stack)
        if provider is None:
            existing = stack.node.try_find_child(PROVIDER_ID)
            provider = _providers[stack] = existing if isinstance(existing, Provider) else cls(stack, PROVIDER_ID)
        return provider

    def __init__(self, scope: Construct, id: str) -> None:
        super().__init__(scope, id)
        self._configs: list[_Config] = []
        self._members: list[tuple[Member, _Config]] = []  # configs carried together, their group found at `_Finish`
        self._logical_ids: list[str] | None = None
        self.finished = False
        self.stack = stack_of(self)
        self.root = self.stack.node.root

        defaults = HandlerSettings()
        self.log_group = log_group(self, defaults)
        self.handler_settings: HandlerSettings | None = None  # set once, by `configure_handler`
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads and writes Lambda async-invoke configs for the AsyncInvokeConfig custom resources.",
        )
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.add_property_override("Policies", _Late(self._inline_policies))
        self.code = lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"])
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
            on_failure=_Granted(self.expired.function_arn),
        )
        # The handler's role may invoke its on-failure destination; a policy of its own, not the role's default one,
        # which both functions wait for, and which names the second function: that would be a cycle.
        invoke = iam.Policy(
            self,
            "InvokeExpired",
            statements=[iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[self.expired.function_arn])],
            roles=[self.role],
        )
        for settings in self.async_settings()[:1]:
            settings.node.add_dependency(invoke)
        self.service_token = self.function.function_arn
        self.grants = Grants(self, self.stack, self.role, deploy_token(self))
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Log streams are created under the handler's own log group (`:*`).",
        )
        for function in (self.function, self.expired):
            acknowledge(function, "AwsSolutions-L1", "The handler is built and tested for the Python 3.13 runtime.")
        self.drift_check: CustomResource | None = drift_check(
            self, self.function.function_arn, _Late(self._config_ids), self._digest, SERVICE_TIMEOUT_SECONDS
        )
        for dependency in self.async_settings():
            self.drift_check.node.add_dependency(dependency)
        self.schedule: events.Rule | None = None
        Aspects.of(self).add(_Finish(self))

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
            self,
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
        """The handler's (and its second function's) own asynchronous-invocation settings, which every event of the
        stack waits for, so that even the first deploy's events run under them."""
        found = []
        for function in (self.function, self.expired):
            child = function.node.try_find_child("EventInvokeConfig")
            resource = child.node.default_child if child is not None else None
            if isinstance(resource, CfnResource):
                found.append(resource)
        return found

    def custom_resource_properties(self, properties: dict[str, Any]) -> dict[str, Any]:
        """A config's properties as its custom resource holds them: the handler, and how long CloudFormation waits."""
        return {SERVICE_TOKEN: self.service_token, SERVICE_TIMEOUT: str(SERVICE_TIMEOUT_SECONDS), **properties}

    def add_config(
        self,
        resource: CfnResource,
        properties: dict[str, Any],
        target: PolicyTarget | None,
        function: lambda_.IFunction | None,
        qualifier: str | None,
        version_token: bool = False,
    ) -> None:
        """Register one config: the handler may act on its function and qualifier (the config waits for that
        permission), and the drift check reads it. None as target, when only a token name is known, scopes the
        permission to the stack's account and region."""
        self._configs.append(self._config(resource, properties, target, function, qualifier, version_token))

    def add_member(
        self,
        member: Member,
        target: PolicyTarget | None,
        function: lambda_.IFunction | None,
        qualifier: str | None,
        version_token: bool = False,
    ) -> None:
        """Register one config carried with others: as `add_config`, its resource being its group's, once known."""
        config = self._config(None, member.properties, target, function, qualifier, version_token)
        self._members.append((member, config))

    def _config(
        self,
        resource: CfnResource | None,
        properties: dict[str, Any],
        target: PolicyTarget | None,
        function: lambda_.IFunction | None,
        qualifier: str | None,
        version_token: bool,
    ) -> _Config:
        if self.finished:
            path = resource.node.path if resource is not None else str(properties.get(FUNCTION))
            raise InvalidProperty(
                f"{path}: an AsyncInvokeConfig was added after the stack's handler was finished "
                "(by an Aspect of a later priority than aws_cdk.AspectPriority.MUTATING?)."
            )
        declared = str(properties[FUNCTION]) if target is not None else ""
        grant = self.grants.add(target, effective_qualifier(qualifier, declared), version_token)
        return _Config(resource, properties, function, qualifier, grant)

    def build_groups(self) -> None:
        """The groups that carry the members, once every config is known; each member's config then waits (and is
        granted) through its group."""
        if not self._members:
            return
        token = self.grants.token if self.drift_check is not None else None
        built = build(self, [member for member, _ in self._members], self.custom_resource_properties, token)
        configs = {id(member): config for member, config in self._members}
        for resource, bucket in built:
            for member in bucket:
                self._configs.append(replace(configs[id(member)], resource=resource))

    def configure(self, on_deploy: bool, schedule: Duration | None) -> None:
        if not on_deploy and self.drift_check is not None:
            self.node.try_remove_child("DriftCheck")
            self.drift_check = None
        if schedule is not None:
            if self.schedule is not None:
                raise InvalidProperty("`schedule`: the stack's drift check already has a schedule.")
            self.schedule = schedule_rule(self, self.function, schedule)

    def configure_handler(self, settings: HandlerSettings) -> None:
        """The handler's logs and runtime as `configure_handler` sets them: a log group of the same id (so the same
        log group, changed in place), which both functions name, at their log level and architecture."""
        if self.handler_settings is not None:
            raise InvalidProperty(f"`configure_handler`: the handler of {self.stack.node.path} is already configured.")
        self.handler_settings = settings
        self.node.try_remove_child(LOGS_ID)
        self.log_group = log_group(self, settings)
        for function in (self.function, self.expired):
            cfn = function.node.default_child
            assert isinstance(cfn, lambda_.CfnFunction)
            cfn.add_property_override("LoggingConfig.LogGroup", self.log_group.log_group_name)
            cfn.add_property_override("LoggingConfig.ApplicationLogLevel", settings.log_level.value)
            if settings.architecture.name != lambda_.Architecture.X86_64.name:  # x86_64 is Lambda's default
                cfn.add_property_override("Architectures", [settings.architecture.name])

    def grant_targets(self) -> None:
        """The targets' permissions, once every config is known: one ARN per function and qualifier declared."""
        self.grants.finish([(config.resource, config.grant) for config in self._built()], self.async_settings())

    def acknowledge_wildcards(self) -> None:
        """The wildcards of the handler's policies, each acknowledged with its reason (cdk-nag names each finding by
        the resource, so this runs once every target is known)."""
        self.grants.acknowledge()
        acknowledge_parameters(self.role, self.stack)

    def _inline_policies(self) -> list[dict[str, Any]]:
        key = self.handler_settings.log_key if self.handler_settings is not None else None
        return inline_policies(self.stack, self.log_group.log_group_arn, key)

    def _config_ids(self) -> Any:
        return config_ids(list(dict.fromkeys(self.logical_ids()))) if self._configs else []

    def _digest(self) -> str:
        return digest(self.logical_ids(), self.stack.resolve([config.properties for config in self._configs]))

    def _built(self) -> list[Any]:
        """The configs with their resources (a member's is its group's, once built)."""
        return [config for config in self._configs if config.resource is not None]

    def logical_ids(self) -> list[str]:
        """The configs' logical ids, asked of the stack once the configs are final."""
        if self._logical_ids is not None:
            return self._logical_ids
        known: dict[int, str] = {}  # a group's asked once for all its members
        ids = []
        for config in self._built():
            if id(config.resource) not in known:
                known[id(config.resource)] = self.stack.get_logical_id(config.resource)
            ids.append(known[id(config.resource)])
        if self.finished:  # no config can be added any more
            self._logical_ids = ids
        return ids

    def wait_for_qualifiers(self) -> None:
        """A config that names an alias or version of an in-app function by its qualifier alone waits for the aliases
        (by name) and versions of that function, so that the first deploy does not configure them before they exist."""
        pending = [c for c in self._built() if c.function is not None and c.qualifier not in (None, LATEST)]
        if not pending:
            return
        by_function: dict[str, list[IConstruct]] = {}
        for node in self.stack.node.find_all():
            if isinstance(node, lambda_.Alias | lambda_.Version):
                version = node.version if isinstance(node, lambda_.Alias) else node
                by_function.setdefault(version.lambda_.node.path, []).append(node)
        for config in pending:
            assert config.function is not None and config.qualifier is not None
            if unresolved(config.qualifier):
                continue
            for node in by_function.get(config.function.node.path, []):
                named = node.alias_name if isinstance(node, lambda_.Alias) else None
                if named == config.qualifier or (named is None and config.qualifier.isdigit()):
                    config.resource.node.add_dependency(node)


@jsii.implements(IAspect)
class _Finish:
    """What needs every config of the stack known: the waits for aliases and versions, the acknowledgments."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.done = False

    def visit(self, node: IConstruct) -> None:
        if node is self.provider and not self.done:
            self.done = True
            self.provider.build_groups()
            self.provider.wait_for_qualifiers()
            self.provider.grant_targets()
            self.provider.acknowledge_wildcards()
            self.provider.finished = True


@jsii.implements(lambda_.IDestination)
class _Granted:
    """A Lambda destination whose send permission is granted elsewhere (`InvokeExpired`)."""

    def __init__(self, arn: str) -> None:
        self.arn = arn

    def bind(
        self, scope: Construct, fn: lambda_.IFunction, *, type: lambda_.DestinationType | None = None
    ) -> lambda_.DestinationConfig:
        return lambda_.DestinationConfig(destination=self.arn)


@jsii.implements(IResolvable)
class _Late:
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
