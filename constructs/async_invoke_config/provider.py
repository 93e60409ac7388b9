"""The one custom-resource handler per stack: its function, role, log group, the IAM scope of its API calls, and the
drift check."""

from __future__ import annotations

import hashlib
import json
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    ArnFormat,
    Aspects,
    Aws,
    CfnResource,
    CustomResource,
    Duration,
    Fn,
    IAspect,
    IResolvable,
    IResolveContext,
    IStableStringProducer,
    Lazy,
    RemovalPolicy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

from .bridge import stack_of, unresolved
from .handler.contract import (
    BARE_NAME_MAX,
    CONFIGS,
    CONFIGS_SEPARATOR,
    DECLARATIONS,
    DEPLOY_TOKEN,
    DRIFT_CHECK_TYPE,
    LATEST,
    PARAMETER_ROOT,
    SCHEDULE_KEY,
    SERVICE_TIMEOUT,
    SERVICE_TOKEN,
    InvalidProperty,
)

HANDLER_DIR = (Path(__file__).parent / "handler").resolve()
PROVIDER_ID = "AsyncInvokeConfigProvider"
# The targets' managed policies' logical ids: this (AsyncInvokeConfig's initials) and a hash of what each grants.
# Every config names its policy in its DependsOn, so the prefix is short; the path metadata gives the full name.
TARGETS_ID = "AICTargets"
HANDLER_TIMEOUT = Duration.minutes(5)
# The handler's own asynchronous invocations (CloudFormation invokes it asynchronously): an event waits at most a
# minute, and one that failed is never run again. So every run ends within 60 s + the 5-minute timeout of being
# sent, before CloudFormation stops waiting (SERVICE_TIMEOUT_SECONDS): no event runs after CloudFormation gave up on it.
HANDLER_MAX_EVENT_AGE = Duration.seconds(60)
HANDLER_RETRY_ATTEMPTS = 0
SERVICE_TIMEOUT_SECONDS = 7 * 60
ACTIONS = [f"lambda:{verb}FunctionEventInvokeConfig" for verb in ("Get", "Put", "Update", "Delete")]
# The stack's own records (written under its stack id's last part), and every stack's claims (read only).
RECORD_ACTIONS = ["ssm:GetParameter", "ssm:GetParameters", "ssm:PutParameter", "ssm:DeleteParameter"]
CLAIM_ACTIONS = ["ssm:GetParametersByPath"]
STACK_ACTIONS = ["cloudformation:DescribeStacks", "cloudformation:ListStackResources"]
TOKEN_CONTEXT = "async-invoke-config:deploy-token"
# IAM's default quotas, whitespace aside: a managed policy holds 6,144 characters, and a role takes 10 of them.
MANAGED_POLICY_SIZE = 6144
MANAGED_POLICIES_PER_ROLE = 10
# Unresolved parts of an ARN are counted at their longest: the longest partition and region, a 64-character name.
FUNCTION_ARN_PREFIX = len("arn:aws-us-gov:lambda:ap-southeast-2:123456789012:function:")
_providers: weakref.WeakKeyDictionary[Stack, Provider] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PolicyTarget:
    """A function the handler may act on: its unqualified ARN and its name (each a literal or a token), and what
    tells, at synth time, whether a token will resolve to another function: for an in-app function, its name as the
    template gives it (a new name replaces the function); None when nothing tells (a parameter, say)."""

    arn: str
    name: str
    identity: str | None = ""


@dataclass(frozen=True)
class _Config:
    resource: CfnResource
    properties: dict[str, Any]
    function: lambda_.IFunction | None
    qualifier: str | None
    target: PolicyTarget | None


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
        self._targets: dict[str, PolicyTarget] = {}
        self._configs: list[_Config] = []
        self._logical_ids: list[str] | None = None
        self.wide = False
        self.finished = False
        self.stack = stack_of(self)
        self.root = self.stack.node.root

        self.log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Reads and writes Lambda async-invoke configs for the AsyncInvokeConfig custom resources.",
        )
        cfn_role = self.role.node.default_child
        assert isinstance(cfn_role, iam.CfnRole)
        cfn_role.add_property_override("Policies", _Late(self._inline_policies))
        self.function = lambda_.Function(
            self,
            "Handler",
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.on_event",
            code=lambda_.Code.from_asset(str(HANDLER_DIR), exclude=["__pycache__", "*.pyc", "__init__.py"]),
            timeout=HANDLER_TIMEOUT,
            memory_size=256,
            role=self.role,
            log_group=self.log_group,
            max_event_age=HANDLER_MAX_EVENT_AGE,
            retry_attempts=HANDLER_RETRY_ATTEMPTS,
            description="Keeps Lambda async-invoke configs as declared (cdk-async-invoke-config).",
        )
        self.service_token = self.function.function_arn
        self.targets_policies: list[iam.CfnManagedPolicy] = []
        _acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Log streams are created under the handler's own log group (`:*`).",
        )
        _acknowledge(self.function, "AwsSolutions-L1", "The handler is built and tested for the Python 3.13 runtime.")
        self.drift_check: CustomResource | None = CustomResource(
            self,
            "DriftCheck",
            service_token=self.function.function_arn,
            resource_type=DRIFT_CHECK_TYPE,
            properties={
                DEPLOY_TOKEN: deploy_token(self),
                CONFIGS: _Late(self._config_ids),
                DECLARATIONS: Lazy.string(_Once(self._digest)),
            },
            service_timeout=Duration.seconds(SERVICE_TIMEOUT_SECONDS),
        )
        omit_default_removal_policy(self.drift_check)
        self.schedule: events.Rule | None = None
        Aspects.of(self).add(_Finish(self))

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
    ) -> None:
        """Register one config: the handler may act on its function (the config waits for that permission), and the
        drift check reads it. None as target, when only a token name is known, scopes the permission to the stack's
        account and region."""
        if self.finished:
            raise InvalidProperty(
                f"{resource.node.path}: an AsyncInvokeConfig was added after the stack's handler was finished "
                "(by an Aspect of a later priority than aws_cdk.AspectPriority.MUTATING?)."
            )
        self._configs.append(_Config(resource, properties, function, qualifier, target))
        if target is None:
            self._widen("a config names its function by a token whose ARN is not known at synth time")
        else:
            self._targets.setdefault(target.arn, target)

    def configure(self, on_deploy: bool, schedule: Duration | None) -> None:
        if not on_deploy and self.drift_check is not None:
            self.node.try_remove_child("DriftCheck")
            self.drift_check = None
        if schedule is not None:
            if self.schedule is not None:
                raise InvalidProperty("`schedule`: the stack's drift check already has a schedule.")
            self.schedule = events.Rule(
                self,
                "DriftCheckSchedule",
                schedule=events.Schedule.rate(schedule),
                description="Runs the async-invoke-config drift check between deploys.",
                targets=[
                    targets.LambdaFunction(
                        self.function,
                        event=events.RuleTargetInput.from_object({SCHEDULE_KEY: {"StackId": Aws.STACK_ID}}),
                        retry_attempts=0,
                    )
                ],
            )

    def grant_targets(self) -> None:
        """The targets' permissions, once every config is known, in as few managed policies as fit IAM's quotas, each
        config waiting for the one that grants its function. While one policy holds them, each function is listed
        with its versions and aliases (`function:NAME`, `function:NAME:*`); past that, as `function:NAME*` (a
        trailing wildcard: also any function whose name starts with NAME), so that ten policies hold some 450
        functions even at 64-character names."""
        if not self._configs:
            return
        groups: list[list[tuple[PolicyTarget | None, str]]]
        if self.wide:
            groups = [[(None, "*")]]
        else:
            targets = list(self._targets.values())
            groups = _pack(targets, ("", ":*"))
            if len(groups) > 1:
                groups = _pack(targets, ("*",))
            if len(groups) > MANAGED_POLICIES_PER_ROLE:
                raise InvalidProperty(
                    f"The stack's configs name {len(targets)} functions: their permissions need {len(groups)} "
                    f"managed policies, more than the {MANAGED_POLICIES_PER_ROLE} IAM attaches to a role by default. "
                    "Split the configs across stacks."
                )
        granting: dict[str, iam.CfnManagedPolicy] = {}
        for index, group in enumerate(groups):
            policy = iam.CfnManagedPolicy(
                self,
                f"Targets{index}" if index else "Targets",
                policy_document=self._listing(group),
                roles=[self.role.role_name],
                description="What the AsyncInvokeConfig handler may configure (replaced whenever its targets change).",
            )
            policy.override_logical_id(f"{TARGETS_ID}{self._hash(policy, [target for target, _ in group])}")
            self.targets_policies.append(policy)
            granting |= {target.arn: policy for target, _ in group if target is not None}
        for config in self._configs:
            wait = (
                granting[config.target.arn] if config.target is not None and not self.wide else self.targets_policies[0]
            )
            config.resource.add_resource_dependency(wait)

    def _listing(self, group: list[tuple[PolicyTarget | None, str]]) -> dict[str, Any]:
        """A policy that lists the group's ARNs compactly: one `Fn::Sub` of `${F}NAME*,${P0}NAME*,...` split at the
        commas, with `F` the stack's `arn:...:function:` prefix and `P0`... each other prefix a literal ARN has (IAM
        sees the resolved list; the template does not repeat the prefixes)."""
        variables: dict[str, Any] = {}
        prefixes: dict[str, str] = {}
        parts = []
        for target, suffix in group:
            if target is None:
                parts.append("${F}" + suffix)
            elif not unresolved(target.arn):
                prefix, _, name = target.arn.rpartition(":function:")
                key = prefixes.setdefault(f"{prefix}:function:", f"P{len(prefixes)}")
                parts.append("${" + key + "}" + name + suffix)
            elif not unresolved(target.name):
                parts.append("${F}" + target.name + suffix)
            else:
                name = self.stack.resolve(target.name)
                if isinstance(name, dict) and list(name) == ["Ref"]:
                    parts.append("${F}${" + str(name["Ref"]) + "}" + suffix)
                else:
                    key = f"N{len(variables)}"
                    variables[key] = target.name
                    parts.append("${F}${" + key + "}" + suffix)
        body = ",".join(parts)
        variables |= {key: prefix for prefix, key in prefixes.items()}
        if "${F}" in body:
            variables["F"] = f"arn:{Aws.PARTITION}:lambda:{self.stack.region}:{self.stack.account}:function:"
        listed = Fn.split(",", Fn.sub(body, variables) if variables else body)
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": listed}]}

    def acknowledge_wildcards(self) -> None:
        """The targets' policies' wildcards, each acknowledged with its reason (cdk-nag names each finding by the
        resource, so this runs once every target is known)."""
        reason = (
            "Each target function's configs live on its versions and aliases (`function:NAME:*`, or `function:NAME*` "
            "when ten policies would not hold them otherwise); a function named by a token of unknown form scopes "
            "the policy to the stack's account and region (`function:*`), never `*`."
        )
        for policy in self.targets_policies:
            findings = []
            for statement in self.stack.resolve(policy.policy_document)["Statement"]:
                listed = statement["Resource"]
                for resource in listed if isinstance(listed, list) else [listed]:
                    flat = flatten(resource)
                    if "*" in flat:
                        findings.append(Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{flat}]", reason=reason))
            if findings:
                Validations.of(policy).acknowledge(*findings)
        _acknowledge(
            self.role,
            f"AwsSolutions-IAM5[Resource::{flatten(self.stack.resolve(self._record_arn('*')))}]",
            "Any stack's claims on a config are read (never written) under `async-invoke-config/`, so that two stacks "
            "never both own one config.",
        )

    def _hash(self, policy: iam.CfnManagedPolicy, targets: list[PolicyTarget | None]) -> str:
        """A hash of what the policy grants. A template that names a function by a reference grants whatever that
        reference resolves to at deploy time, so the hash takes in what replaces such a function too (or, when
        nothing tells, the deploy token: then every deploy replaces the policy). A deploy that changes a policy so
        creates a new one, and deletes the old one only in the cleanup phase, after the Deletes of the configs that
        depended on it (which still need their function's permission)."""
        identities = [
            target.identity if target is not None and target.identity is not None else self._token for target in targets
        ]
        content = [self.stack.resolve(policy.policy_document), identities]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8].upper()

    @cached_property
    def _token(self) -> str:
        return deploy_token(self)

    def _widen(self, why: str) -> None:
        if not self.wide:
            self.wide = True
            Annotations.of(self).add_info(
                f"The handler's IAM policy is scoped to every function of the stack's account and region "
                f"(lambda:...:function:*) because {why}."
            )

    def _inline_policies(self) -> list[dict[str, Any]]:
        log_group = self.log_group.log_group_arn
        return [
            {
                "PolicyName": "Logs",
                "PolicyDocument": _document(
                    [(["logs:CreateLogStream", "logs:PutLogEvents"], [log_group, f"{log_group}:*"])]
                ),
            },
            {"PolicyName": "Stack", "PolicyDocument": _document([(STACK_ACTIONS, [Aws.STACK_ID])])},
            {
                "PolicyName": "Records",
                "PolicyDocument": _document(
                    [
                        (RECORD_ACTIONS, [self._record_arn(f"*/{Fn.select(2, Fn.split('/', Aws.STACK_ID))}")]),
                        (CLAIM_ACTIONS, [self._record_arn("*")]),
                    ]
                ),
            },
        ]

    def _function_arn(self, name: str) -> str:
        return self.stack.format_arn(
            service="lambda", resource="function", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )

    def _record_arn(self, path: str) -> str:
        return self.stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{PARAMETER_ROOT.lstrip('/')}/{path}"
        )

    def _config_ids(self) -> Any:
        """The configs' physical ids in one `Fn::Sub` string (`${Config1},${Config2}`): each costs its logical id and
        three characters, and CloudFormation still waits for every config before the check runs."""
        if not self._configs:
            return []
        return {"Fn::Sub": CONFIGS_SEPARATOR.join(f"${{{logical_id}}}" for logical_id in self.logical_ids())}

    def _digest(self) -> str:
        """A digest of every config's logical id and declaration: it changes exactly when a config is added, removed,
        renamed or changes, so that even with a fixed token the drift check runs then."""
        declarations = self.stack.resolve([config.properties for config in self._configs])
        declared = [list(pair) for pair in zip(self.logical_ids(), declarations, strict=True)]
        return hashlib.sha256(json.dumps(sorted(declared, key=str), sort_keys=True).encode()).hexdigest()[:16]

    def logical_ids(self) -> list[str]:
        """The configs' logical ids, asked of the stack once the configs are final."""
        if self._logical_ids is not None:
            return self._logical_ids
        ids = [self.stack.get_logical_id(config.resource) for config in self._configs]
        if self.finished:  # no config can be added any more
            self._logical_ids = ids
        return ids

    def wait_for_qualifiers(self) -> None:
        """A config that names an alias or version of an in-app function by its qualifier alone waits for the aliases
        (by name) and versions of that function, so that the first deploy does not configure them before they exist."""
        pending = [c for c in self._configs if c.function is not None and c.qualifier not in (None, LATEST)]
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
            self.provider.wait_for_qualifiers()
            self.provider.grant_targets()
            self.provider.acknowledge_wildcards()
            self.provider.finished = True


def flatten(value: Any) -> str:
    """A resolved ARN written the way cdk-nag names it in a finding: `<Logical.Attr>`, `<AWS::Region>`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", value["Fn::Sub"])
    return json.dumps(value, separators=(",", ":"))  # as JavaScript's JSON.stringify writes it


def omit_default_removal_policy(resource: CustomResource) -> None:
    """No `DeletionPolicy`/`UpdateReplacePolicy: Delete` in the template: for a custom resource, Delete is what
    CloudFormation does without them. A policy applied later (`apply_removal_policy(RETAIN)`) is still written."""
    cfn = resource.node.default_child
    assert isinstance(cfn, CfnResource)
    cfn.cfn_options.deletion_policy = None
    cfn.cfn_options.update_replace_policy = None


def deploy_token(scope: Construct) -> str:
    """A new value each synth, so every deploy updates the drift check; fixed by the context value
    `async-invoke-config:deploy-token` for byte-identical templates (snapshot tests, reviews)."""
    fixed = scope.node.try_get_context(TOKEN_CONTEXT)
    return str(fixed) if fixed is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


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


@jsii.implements(IStableStringProducer)
class _Once:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()


def _pack(targets: list[PolicyTarget], suffixes: tuple[str, ...]) -> list[list[tuple[PolicyTarget | None, str]]]:
    """Each target's ARN with each suffix, in order, in groups that each fit one managed policy as IAM counts it
    (resolved, unresolved parts at their longest); a target's ARNs stay together."""
    room = MANAGED_POLICY_SIZE - len(json.dumps(_document([(ACTIONS, [])]), separators=(",", ":")))
    groups: list[list[tuple[PolicyTarget | None, str]]] = [[]]
    used = 0
    for target in targets:
        if unresolved(target.arn):
            length = FUNCTION_ARN_PREFIX + (BARE_NAME_MAX if unresolved(target.name) else len(target.name))
        else:
            length = len(target.arn)
        cost = sum(length + len(suffix) + 3 for suffix in suffixes)  # "ARN",
        if used + cost > room and groups[-1]:
            groups.append([])
            used = 0
        groups[-1] += [(target, suffix) for suffix in suffixes]
        used += cost
    return groups


def _document(statements: list[tuple[list[str], list[str]]]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": actions, "Resource": resources} for actions, resources in statements
        ],
    }


def _acknowledge(scope: Construct, rule: str, reason: str) -> None:
    """A policy-validation finding (cdk-nag v3) accepted with its reason, through aws-cdk-lib's own API."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
