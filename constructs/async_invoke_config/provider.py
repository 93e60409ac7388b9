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
    Stack,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct

from .bridge import stack_of, unresolved
from .drift_check import config_ids, deploy_token, digest, drift_check, schedule_rule
from .grants import PolicyTarget, effective_qualifier
from .groups import Member, build
from .handler.contract import (
    FUNCTION,
    GROUP_TYPE,
    LATEST,
    SERVICE_TIMEOUT,
    SERVICE_TOKEN,
    InvalidProperty,
)
from .handler_set import GROUPS_PER_SET, HandlerSet, Late
from .handler_settings import LOGS_ID, HandlerSettings, log_group
from .role_policy import inline_policies

HANDLER_DIR = (Path(__file__).parent / "handler").resolve()
PROVIDER_ID = "AsyncInvokeConfigProvider"
# CloudFormation waits this long for an answer (see `handler_set`: the handler answers within 840 s, throttled or not).
SERVICE_TIMEOUT_SECONDS = 15 * 60
_providers: weakref.WeakKeyDictionary[Stack, Provider] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class _Config:
    resource: CfnResource | None  # None for a member until its group is built
    properties: dict[str, Any]
    function: lambda_.IFunction | None
    qualifier: str | None
    grant: tuple[str, str] | None
    handler: int = 0  # the stack's handler (`sets`) that runs its events and holds its grant
    pending: tuple[PolicyTarget | None, str, bool] | None = None  # a member's grant, made once its group is known


def _wanted(
    properties: dict[str, Any], target: PolicyTarget | None, qualifier: str | None, version_token: bool
) -> tuple[PolicyTarget | None, str, bool]:
    """What a config asks of its handler's grants (`Grants.add`): its function and the qualifier it configures."""
    declared = str(properties[FUNCTION]) if target is not None else ""
    return target, effective_qualifier(qualifier, declared), version_token


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
        self.code = lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"])
        self.token = deploy_token(self)
        self.sets = [HandlerSet(self, self.code, self.log_group, self.token, self._inline_policies)]
        self.role, self.function, self.expired = self.sets[0].role, self.sets[0].function, self.sets[0].expired
        self.grants = self.sets[0].grants
        self.service_token = self.function.function_arn
        self.drift_check: CustomResource | None = drift_check(
            self, self.function.function_arn, Late(self._config_ids), self._digest, SERVICE_TIMEOUT_SECONDS
        )
        for dependency in self.async_settings():
            self.drift_check.node.add_dependency(dependency)
        self.schedule: events.Rule | None = None  # made once the groups are known (`schedule_checks`)
        self.schedule_rate: Duration | None = None
        Aspects.of(self).add(_Finish(self))

    def async_settings(self) -> list[CfnResource]:
        """The stack's first handler's own asynchronous-invocation settings (see `HandlerSet.async_settings`)."""
        return self.sets[0].async_settings()

    def handler_set(self, group: int) -> HandlerSet:
        """The handler of the group of that index (made when first needed): a new one every GROUPS_PER_SET groups."""
        number = group // GROUPS_PER_SET
        while len(self.sets) <= number:
            scope = Construct(self, f"HandlerSet{len(self.sets)}")
            added = HandlerSet(scope, self.code, self.log_group, self.token, self._inline_policies)
            if self.handler_settings is not None:
                added.configure(self.handler_settings, self.log_group)
            self.sets.append(added)
        return self.sets[number]

    def custom_resource_properties(self, properties: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """A config's properties as its custom resource holds them: the handler (the first, unless `token` names
        another), and how long CloudFormation waits."""
        handler = token or self.service_token
        return {SERVICE_TOKEN: handler, SERVICE_TIMEOUT: str(SERVICE_TIMEOUT_SECONDS), **properties}

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
        self._check_open(lambda: resource.node.path)
        grant = self.grants.add(*_wanted(properties, target, qualifier, version_token))
        self._configs.append(_Config(resource, properties, function, qualifier, grant))

    def add_member(
        self,
        member: Member,
        target: PolicyTarget | None,
        function: lambda_.IFunction | None,
        qualifier: str | None,
        version_token: bool = False,
    ) -> None:
        """Register one config carried with others: as `add_config`, its resource (and so the handler that grants
        it) being its group's, once known."""
        self._check_open(lambda: member.path)
        pending = _wanted(member.properties, target, qualifier, version_token)
        self._members.append((member, _Config(None, member.properties, function, qualifier, None, pending=pending)))

    def _check_open(self, path: Callable[[], str]) -> None:
        """A config added once the handler is finished would be neither granted nor checked: refused (its path is
        asked only then, since every question to the construct tree crosses the jsii bridge)."""
        if self.finished:
            raise InvalidProperty(
                f"{path()}: an AsyncInvokeConfig was added after the stack's handler was finished "
                "(by an Aspect of a later priority than aws_cdk.AspectPriority.MUTATING?)."
            )

    def build_groups(self) -> None:
        """The groups that carry the members, once every config is known; each member's config then waits (and is
        granted) through its group."""
        if not self._members:
            return
        token = self.token if self.drift_check is not None else None

        def properties(shape: dict[str, Any], index: int) -> dict[str, Any]:
            return self.custom_resource_properties(shape, self.handler_set(index).function.function_arn)

        built = build(self, [member for member, _ in self._members], properties, token)
        configs = {id(member): config for member, config in self._members}
        for index, (resource, bucket) in enumerate(built):
            number = index // GROUPS_PER_SET
            for member in bucket:
                config = configs[id(member)]
                assert config.pending is not None
                grant = self.sets[number].grants.add(*config.pending)
                self._configs.append(replace(config, resource=resource, grant=grant, handler=number, pending=None))

    def configure(self, on_deploy: bool, schedule: Duration | None) -> None:
        if not on_deploy and self.drift_check is not None:
            self.node.try_remove_child("DriftCheck")
            self.drift_check = None
        if schedule is not None:
            if self.schedule_rate is not None:
                raise InvalidProperty("`schedule`: the stack's drift check already has a schedule.")
            self.schedule_rate = schedule

    def configure_handler(self, settings: HandlerSettings) -> None:
        """The handler's logs and runtime as `configure_handler` sets them: a log group of the same id (so the same
        log group, changed in place), which both functions name, at their log level and architecture."""
        if self.handler_settings is not None:
            raise InvalidProperty(f"`configure_handler`: the handler of {self.stack.node.path} is already configured.")
        self.handler_settings = settings
        self.node.try_remove_child(LOGS_ID)
        self.log_group = log_group(self, settings)
        for handler in self.sets:
            handler.configure(settings, self.log_group)

    def grant_targets(self) -> None:
        """The targets' permissions, once every config is known: one ARN per function and qualifier declared."""
        for number, handler in enumerate(self.sets):
            handler.finish([(config.resource, config.grant) for config in self._built() if config.handler == number])

    def acknowledge_wildcards(self) -> None:
        """The wildcards of the handler's policies, each acknowledged with its reason (cdk-nag names each finding by
        the resource, so this runs once every target is known)."""
        for handler in self.sets:
            handler.acknowledge_wildcards(self.lists_claims())

    def lists_claims(self) -> bool:
        """Whether the scheduled drift check must find group members by their claims (a schedule and a group)."""
        return self.schedule_rate is not None and bool(self._members)

    def schedule_checks(self) -> None:
        """The drift check's schedule, once the groups (and so the handlers) are known: each handler checks what it
        is granted."""
        if self.schedule_rate is None:
            return
        groups: list[list[str]] = [[] for _ in self.sets]
        for config in self._built():
            if config.resource.cfn_resource_type == GROUP_TYPE:
                logical_id = self.stack.resolve(config.resource.logical_id)
                if logical_id not in groups[config.handler]:
                    groups[config.handler].append(logical_id)
        handlers: list[tuple[lambda_.IFunction, list[str]]] = list(
            zip([s.function for s in self.sets], groups, strict=True)
        )
        self.schedule = schedule_rule(self, handlers, self.schedule_rate)

    def _inline_policies(self) -> list[dict[str, Any]]:
        key = self.handler_settings.log_key if self.handler_settings is not None else None
        return inline_policies(self.stack, self.log_group.log_group_arn, key, self.lists_claims())

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
            self.provider.schedule_checks()
            self.provider.wait_for_qualifiers()
            self.provider.grant_targets()
            self.provider.acknowledge_wildcards()
            self.provider.finished = True
