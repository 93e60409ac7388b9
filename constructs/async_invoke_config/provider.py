"""The one custom-resource handler per stack: its function, role, log group and the IAM scope of its API calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import (
    Acknowledgment,
    Annotations,
    ArnFormat,
    Aws,
    CustomResource,
    Duration,
    Fn,
    IResolvable,
    IResolveContext,
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
from constructs import Construct

from .handler.contract import DEPLOY_TOKEN, DRIFT_CHECK_TYPE, PARAMETER_ROOT, SCHEDULE_KEY, InvalidProperty

HANDLER_DIR = (Path(__file__).parent / "handler").resolve()
PROVIDER_ID = "AsyncInvokeConfigProvider"
HANDLER_TIMEOUT = Duration.minutes(5)
SERVICE_TIMEOUT = Duration.minutes(6)
ACTIONS = [f"lambda:{verb}FunctionEventInvokeConfig" for verb in ("Get", "Put", "Update", "Delete")]
PARAMETER_ACTIONS = ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParametersByPath"]
TOKEN_CONTEXT = "async-invoke-config:deploy-token"
# IAM allows 10,240 characters of inline policy per role. Listing each target (two ARNs of up to ~120 characters)
# stops well before that; past this estimate the policy scopes to the stack's account and region instead.
POLICY_BUDGET = 8000
TOKEN_ARN_ESTIMATE = 120


class Provider(Construct):
    """Created once per stack by the first AsyncInvokeConfig in it."""

    @classmethod
    def of(cls, scope: Construct) -> Provider:
        stack = Stack.of(scope)
        existing = stack.node.try_find_child(PROVIDER_ID)
        return existing if isinstance(existing, Provider) else cls(stack, PROVIDER_ID)

    def __init__(self, scope: Construct, id_: str) -> None:
        super().__init__(scope, id_)
        self._targets: dict[str, str] = {}
        self.wide = False
        stack = Stack.of(self)

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
        cfn_role.add_property_override("Policies", _Late(self._policies))
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
            description="Keeps Lambda async-invoke configs as declared (cdk-async-invoke-config).",
        )
        stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
        path = stack.format_arn(
            service="ssm", resource="parameter", resource_name=f"{PARAMETER_ROOT.lstrip('/')}/{stack_uuid}"
        )
        self._parameters = [path, f"{path}/*"]
        self._all_functions = stack.format_arn(
            service="lambda", resource="function", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
        )
        _acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Log streams are created under the handler's own log group (`:*`), and each target function's configs "
            "live on its versions and aliases (`function:NAME:*`); past the size budget the scope is the stack's "
            "account and region (`function:*`), never `*`.",
        )
        _acknowledge(self.function, "AwsSolutions-L1", "The handler is built and tested for the Python 3.13 runtime.")
        self.drift_check: CustomResource | None = CustomResource(
            self,
            "DriftCheck",
            service_token=self.function.function_arn,
            resource_type=DRIFT_CHECK_TYPE,
            properties={DEPLOY_TOKEN: deploy_token(self)},
            service_timeout=SERVICE_TIMEOUT,
        )
        self.schedule: events.Rule | None = None

    def add_config(self, config: CustomResource, arns: tuple[str, str] | None) -> None:
        """Register one config: the handler may act on its function, and the drift check runs after it."""
        self.add_target(arns)
        if self.drift_check is not None:
            self.drift_check.node.add_dependency(config)

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

    def add_target(self, arns: tuple[str, str] | None) -> None:
        """Allow the handler the config actions on one more function, given as its ARN and the ARN of its versions
        and aliases (`:*`); None, when only a token name is known, scopes the policy to the account and region."""
        if arns is None:
            self._widen("a config names its function by a token whose ARN is not known at synth time")
        elif arns[0] not in self._targets:
            self._targets[arns[0]] = arns[1]
            if self._estimate() > POLICY_BUDGET:
                self._widen(
                    f"listing {len(self._targets)} functions would pass the {POLICY_BUDGET}-character budget of "
                    "the role's inline policies"
                )

    def _widen(self, why: str) -> None:
        if not self.wide:
            self.wide = True
            Annotations.of(self).add_info(
                f"The handler's IAM policy is scoped to every function of the stack's account and region "
                f"(lambda:...:function:*) because {why}."
            )

    def _estimate(self) -> int:
        return sum((TOKEN_ARN_ESTIMATE if Token.is_unresolved(arn) else len(arn)) * 2 + 8 for arn in self._targets)

    def _policies(self) -> list[dict[str, Any]]:
        resources = [self._all_functions] if self.wide else [a for pair in self._targets.items() for a in pair]
        return [
            {
                "PolicyName": "Logs",
                "PolicyDocument": _document(
                    ["logs:CreateLogStream", "logs:PutLogEvents"],
                    [self.log_group.log_group_arn, f"{self.log_group.log_group_arn}:*"],
                ),
            },
            {"PolicyName": "EventInvokeConfig", "PolicyDocument": _document(ACTIONS, resources)},
            {"PolicyName": "Declarations", "PolicyDocument": _document(PARAMETER_ACTIONS, self._parameters)},
        ]


def deploy_token(scope: Construct) -> str:
    """A new, increasing value each synth, so every deploy updates the drift check; fixed by the context value
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


def _document(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}],
    }


def _acknowledge(scope: Construct, rule: str, reason: str) -> None:
    """A policy-validation finding (cdk-nag v3) accepted with its reason, through aws-cdk-lib's own API."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
