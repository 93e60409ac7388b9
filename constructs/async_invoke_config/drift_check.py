"""The stack's drift check (`Custom::LambdaAsyncInvokeConfigDriftCheck`): a resource whose properties change at each
deploy (the deploy token) and whenever a config is added, removed, renamed or changes (its physical ids, the digest
of the declarations), and, optionally, a schedule that invokes the handler between deploys."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jsii
from aws_cdk import Aws, CfnResource, CustomResource, Duration, IStableStringProducer, Lazy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from .handler.contract import CONFIGS, CONFIGS_SEPARATOR, DECLARATIONS, DEPLOY_TOKEN, DRIFT_CHECK_TYPE, SCHEDULE_KEY

TOKEN_CONTEXT = "async-invoke-config:deploy-token"


def drift_check(
    scope: Construct, service_token: str, configs: Any, declarations: Callable[[], str], service_timeout: int
) -> CustomResource:
    """The drift check, its `Configs` and `Declarations` produced once every config of the stack is known."""
    resource = CustomResource(
        scope,
        "DriftCheck",
        service_token=service_token,
        resource_type=DRIFT_CHECK_TYPE,
        properties={
            DEPLOY_TOKEN: deploy_token(scope),
            CONFIGS: configs,
            DECLARATIONS: Lazy.string(_Once(declarations)),
        },
        service_timeout=Duration.seconds(service_timeout),
    )
    omit_default_removal_policy(resource)
    return resource


def schedule_rule(scope: Construct, handlers: list[tuple[lambda_.IFunction, list[str]]], rate: Duration) -> events.Rule:
    """An EventBridge rule that invokes the stack's handler (and only it) with the stack id, at `rate`; a stack of
    several handlers (`handler_set`), each with the logical ids of its groups (`Groups`; the first also checks the
    configs of their own resources, `Own`)."""

    def target(handler: lambda_.IFunction, groups: list[str], own: bool) -> targets.LambdaFunction:
        detail: dict[str, Any] = {"StackId": Aws.STACK_ID}
        if len(handlers) > 1:
            detail |= {"Groups": groups, "Own": own}
        return targets.LambdaFunction(
            handler, event=events.RuleTargetInput.from_object({SCHEDULE_KEY: detail}), retry_attempts=0
        )

    return events.Rule(
        scope,
        "DriftCheckSchedule",
        schedule=events.Schedule.rate(rate),
        description="Runs the async-invoke-config drift check between deploys.",
        targets=[target(handler, groups, index == 0) for index, (handler, groups) in enumerate(handlers)],
    )


def config_ids(logical_ids: list[str]) -> Any:
    """The configs' physical ids in one `Fn::Sub` string (`${Config1},${Config2}`): each costs its logical id and
    three characters, and CloudFormation still waits for every config before the check runs."""
    return {"Fn::Sub": CONFIGS_SEPARATOR.join(f"${{{logical_id}}}" for logical_id in logical_ids)}


def digest(logical_ids: list[str], declarations: list[Any]) -> str:
    """A digest of every config's logical id and (resolved) declaration: it changes exactly when a config is added,
    removed, renamed or changes, so that even with a fixed token the drift check runs then."""
    declared = [list(pair) for pair in zip(logical_ids, declarations, strict=True)]
    return hashlib.sha256(json.dumps(sorted(declared, key=str), sort_keys=True).encode()).hexdigest()[:16]


def deploy_token(scope: Construct) -> str:
    """A new value each synth, so every deploy updates the drift check; fixed by the context value
    `async-invoke-config:deploy-token` for byte-identical templates (snapshot tests, reviews)."""
    fixed = scope.node.try_get_context(TOKEN_CONTEXT)
    return str(fixed) if fixed is not None else datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")


def omit_default_removal_policy(resource: CustomResource) -> None:
    """No `DeletionPolicy`/`UpdateReplacePolicy: Delete` in the template: for a custom resource, Delete is what
    CloudFormation does without them. A policy applied later (`apply_removal_policy(RETAIN)`) is still written."""
    cfn = resource.node.default_child
    assert isinstance(cfn, CfnResource)
    cfn.cfn_options.deletion_policy = None
    cfn.cfn_options.update_replace_policy = None


@jsii.implements(IStableStringProducer)
class _Once:
    def __init__(self, produce: Callable[[], str]) -> None:
        self._produce = produce

    def produce(self) -> str:
        return self._produce()
