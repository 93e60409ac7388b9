"""The handler's logs and runtime, per stack (`configure_handler`): its log group's retention and encryption key, its
architecture, and its application log level under Lambda's JSON log format."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Annotations, ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .bridge import path_of, unresolved
from .validation import Problems

LOGS_ID = "Logs"
ARCHITECTURES = (lambda_.Architecture.X86_64.name, lambda_.Architecture.ARM_64.name)
# Above INFO, Lambda would drop the handler's decisions (INFO records) and its drift metrics: the metrics line has no
# level of its own, and Lambda's log-level filtering counts such a line as INFO.
LOG_LEVELS = (lambda_.ApplicationLogLevel.TRACE, lambda_.ApplicationLogLevel.DEBUG, lambda_.ApplicationLogLevel.INFO)
# What CloudWatch Logs does with a log group's key, as aws-cdk-lib's ECS grants it for a cluster's exec-command logs.
KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


@dataclass(frozen=True)
class HandlerSettings:
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH
    log_key: kms.IKey | None = None
    architecture: lambda_.Architecture = lambda_.Architecture.X86_64
    log_level: lambda_.ApplicationLogLevel = lambda_.ApplicationLogLevel.INFO


def configure_handler(
    scope: Construct,
    *,
    log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    log_key: kms.IKey | None = None,
    architecture: lambda_.Architecture = lambda_.Architecture.X86_64,
    log_level: lambda_.ApplicationLogLevel = lambda_.ApplicationLogLevel.INFO,
) -> None:
    """Set the logs and runtime of the handler of the stack that holds `scope` (its two functions, `Handler` and
    `Expired`, and their log group), before or after the stack's configs; once per stack.

    :param log_retention: how long the log group keeps the handler's logs. Default: ``RetentionDays.ONE_MONTH``.
    :param log_key: the KMS key that encrypts the log group; its key policy is given a statement that lets CloudWatch
        Logs (``logs.<region>.amazonaws.com``) use it for the log groups of the stack's account and region (an imported
        key's policy cannot be changed: a warning says so). Default: none, CloudWatch Logs' own encryption.
    :param architecture: ``Architecture.X86_64`` or ``Architecture.ARM_64`` (the handler is pure Python).
        Default: ``Architecture.X86_64``.
    :param log_level: the application log level under Lambda's JSON log format: ``TRACE``, ``DEBUG`` or ``INFO``.
        Above ``INFO``, Lambda would drop the handler's decisions and its drift metrics. Default:
        ``ApplicationLogLevel.INFO``.
    """
    problems = Problems()
    if not isinstance(log_retention, logs.RetentionDays):
        problems.add(f"`log_retention` must be an aws_logs.RetentionDays; got {log_retention!r}.")
    if log_key is not None and not (hasattr(log_key, "key_arn") and hasattr(log_key, "add_to_resource_policy")):
        problems.add(f"`log_key` must be an aws_kms.IKey; got {log_key!r}.")
    if not isinstance(architecture, lambda_.Architecture) or architecture.name not in ARCHITECTURES:
        shown = architecture.name if isinstance(architecture, lambda_.Architecture) else repr(architecture)
        problems.add(f"`architecture` must be Architecture.X86_64 or Architecture.ARM_64; got {shown}.")
    if log_level not in LOG_LEVELS:
        shown = log_level.value if isinstance(log_level, lambda_.ApplicationLogLevel) else repr(log_level)
        problems.add(
            f"`log_level` must be TRACE, DEBUG or INFO; got {shown}: above INFO, Lambda would drop the handler's "
            "decisions and its drift metrics."
        )
    problems.raise_any(lambda: f"`configure_handler` on {path_of(scope) or 'the app'}")
    from .provider import Provider  # which builds its handler with this module's defaults

    Provider.of(scope).configure_handler(HandlerSettings(log_retention, log_key, architecture, log_level))


def log_group(scope: Construct, settings: HandlerSettings) -> logs.LogGroup:
    """The handler's log group, encrypted with `log_key` if one is given, which CloudWatch Logs may then use."""
    group = logs.LogGroup(
        scope,
        LOGS_ID,
        retention=settings.log_retention,
        encryption_key=settings.log_key,
        removal_policy=RemovalPolicy.DESTROY,
    )
    if settings.log_key is not None:
        _let_logs_use(scope, settings.log_key)
    return group


def _let_logs_use(scope: Construct, key: kms.IKey) -> None:
    """A key policy statement for CloudWatch Logs, which encrypts and decrypts the log group's data with the key; the
    log group's ARN is left a wildcard, as naming it in the policy of a key the log group refers to is a cycle."""
    stack = Stack.of(scope)
    log_groups = stack.format_arn(
        service="logs", resource="log-group", resource_name="*", arn_format=ArnFormat.COLON_RESOURCE_NAME
    )
    statement = iam.PolicyStatement(
        actions=KEY_ACTIONS,
        resources=["*"],
        principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
        conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
    )
    if not key.add_to_resource_policy(statement, True).statement_added:
        region = "<region>" if unresolved(stack.region) else stack.region
        Annotations.of(scope).add_warning_v2(
            "async-invoke-config:log-key-policy",
            "`log_key` is an imported key, whose policy the app cannot change: it must let "
            f"logs.{region}.amazonaws.com use the key ({', '.join(KEY_ACTIONS)}) for the handler's log group, or "
            "the deploy fails creating the log group.",
        )
