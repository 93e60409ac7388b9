"""The handler's logs and runtime in the template: Lambda's JSON log format at an application log level, and what
`configure_handler` sets for the stack (log retention, the log group's KMS key, architecture, log level)."""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig, InvalidProperty, configure_handler
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk.assertions import Annotations, Match, Template

HANDLER_DIR = Path(__file__).resolve().parent.parent / "handler"
HANDLERS = ("index.on_event", "index.on_expired")
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LOGS_PRINCIPAL = {"Service": {"Fn::Join": ["", ["logs.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]}}


def synth(configure: Callable[[cdk.Stack], None] | None = None, before: bool = False) -> tuple[cdk.Stack, Template]:
    """A stack of one config, `configure` called before the config (the provider made by it) or after."""
    stack = cdk.Stack(cdk.App(), "Stack")
    if configure and before:
        configure(stack)
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=0)
    if configure and not before:
        configure(stack)
    return stack, Template.from_stack(stack)


def handlers(template: Template) -> list[dict[str, Any]]:
    functions = template.find_resources("AWS::Lambda::Function").values()
    found = [f["Properties"] for f in functions if f["Properties"]["Handler"] in HANDLERS]
    assert sorted(f["Handler"] for f in found) == sorted(HANDLERS)
    return found


def the_log_group(template: Template) -> tuple[str, dict[str, Any]]:
    ((logical_id, group),) = template.find_resources("AWS::Logs::LogGroup").items()
    return logical_id, group["Properties"]


def logs_policy(template: Template) -> list[dict[str, Any]]:
    (role,) = template.find_resources("AWS::IAM::Role", {"Properties": {"Policies": Match.any_value()}}).values()
    (policy,) = [p for p in role["Properties"]["Policies"] if p["PolicyName"] == "Logs"]
    return list(policy["PolicyDocument"]["Statement"])


def test_by_default_both_functions_log_in_lambdas_json_format_at_info_to_a_log_group_kept_a_month():
    _, template = synth()

    logical_id, group = the_log_group(template)
    for function in handlers(template):
        assert function["LoggingConfig"] == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "INFO",
            "SystemLogLevel": "INFO",
            "LogGroup": {"Ref": logical_id},
        }
        assert "Architectures" not in function  # Lambda's default, x86_64
    assert group == {"RetentionInDays": 30}
    assert len(logs_policy(template)) == 1  # no key to use


@pytest.mark.parametrize("before", [True, False], ids=["before the configs", "after the configs"])
@pytest.mark.parametrize(
    "configure_with", [configure_handler, AsyncInvokeConfig.configure_handler], ids=["function", "static method"]
)
def test_configure_handler_sets_both_functions_and_their_one_log_group(before, configure_with):
    def configure(stack: cdk.Stack) -> None:
        configure_with(
            stack,
            log_retention=logs.RetentionDays.ONE_YEAR,
            architecture=lambda_.Architecture.ARM_64,
            log_level=lambda_.ApplicationLogLevel.DEBUG,
        )

    _, template = synth(configure, before)

    logical_id, group = the_log_group(template)
    for function in handlers(template):
        assert function["Architectures"] == ["arm64"]
        assert function["LoggingConfig"] == {
            "LogFormat": "JSON",
            "ApplicationLogLevel": "DEBUG",
            "SystemLogLevel": "INFO",
            "LogGroup": {"Ref": logical_id},
        }
    assert group == {"RetentionInDays": 365}
    assert logical_id == the_log_group(synth()[1])[0]  # the same log group, changed in place


def test_a_log_key_encrypts_the_log_group_and_lets_cloudwatch_logs_and_the_handler_use_it():
    def configure(stack: cdk.Stack) -> None:
        configure_handler(stack, log_key=kms.Key(stack, "LogKey"))

    stack, template = synth(configure)

    (key_id,) = template.find_resources("AWS::KMS::Key")
    _, group = the_log_group(template)
    assert group["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        {
                            "Effect": "Allow",
                            "Principal": LOGS_PRINCIPAL,
                            "Action": Match.array_with(["kms:Encrypt*", "kms:Decrypt*", "kms:GenerateDataKey*"]),
                            "Resource": "*",
                            "Condition": {
                                "ArnLike": {
                                    "kms:EncryptionContext:aws:logs:arn": {
                                        "Fn::Join": [
                                            "",
                                            [
                                                "arn:",
                                                {"Ref": "AWS::Partition"},
                                                ":logs:",
                                                {"Ref": "AWS::Region"},
                                                ":",
                                                {"Ref": "AWS::AccountId"},
                                                ":log-group:*",
                                            ],
                                        ]
                                    }
                                }
                            },
                        }
                    ]
                )
            }
        },
    )
    (_, through_logs) = logs_policy(template)
    assert through_logs["Action"] == ["kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKey"]
    assert through_logs["Resource"] == [{"Fn::GetAtt": [key_id, "Arn"]}]
    assert through_logs["Condition"] == {"StringEquals": {"kms:ViaService": LOGS_PRINCIPAL["Service"]}}


def test_a_log_key_of_another_stack_is_granted_in_its_own_stack():
    app = cdk.App()
    keys = cdk.Stack(app, "Keys")
    key = kms.Key(keys, "LogKey")
    stack = cdk.Stack(app, "Stack")
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=0)

    configure_handler(stack, log_key=key)

    Template.from_stack(keys).has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Principal": LOGS_PRINCIPAL})])}},
    )
    _, group = the_log_group(Template.from_stack(stack))
    assert "Fn::ImportValue" in group["KmsKeyId"]


def test_an_imported_log_key_warns_that_its_own_policy_must_let_cloudwatch_logs_use_it():
    def configure(stack: cdk.Stack) -> None:
        configure_handler(stack, log_key=kms.Key.from_key_arn(stack, "Imported", KEY_ARN))

    stack, template = synth(configure)

    _, group = the_log_group(template)
    assert group["KmsKeyId"] == KEY_ARN
    Annotations.from_stack(stack).has_warning(
        "/Stack/AsyncInvokeConfigProvider", Match.string_like_regexp(r"`log_key` is an imported key.*logs\.")
    )


def test_invalid_props_fail_together_each_named_with_its_value():
    stack = cdk.Stack(cdk.App(), "Stack")

    with pytest.raises(InvalidProperty) as raised:
        configure_handler(
            stack,
            log_retention=30,  # type: ignore[arg-type]
            log_key=KEY_ARN,  # type: ignore[arg-type]
            architecture=lambda_.Architecture.custom("riscv64"),
            log_level="DEBUG",  # type: ignore[arg-type]
        )

    message = str(raised.value)
    assert message.startswith("`configure_handler` on Stack: 4 invalid props:")
    for problem in (
        "`log_retention` must be an aws_logs.RetentionDays; got 30.",
        f"`log_key` must be an aws_kms.IKey; got '{KEY_ARN}'.",
        "`architecture` must be Architecture.X86_64 or Architecture.ARM_64; got riscv64.",
        "`log_level` must be TRACE, DEBUG or INFO; got 'DEBUG'",
    ):
        assert problem in message


@pytest.mark.parametrize("level", ["WARN", "ERROR", "FATAL"])
def test_a_log_level_above_info_is_refused_as_it_would_drop_the_decisions_and_drift_metrics(level):
    stack = cdk.Stack(cdk.App(), "Stack")

    with pytest.raises(InvalidProperty, match=f"got {level}: above INFO, Lambda would drop .* drift metrics"):
        configure_handler(stack, log_level=getattr(lambda_.ApplicationLogLevel, level))
    assert stack.node.try_find_child("AsyncInvokeConfigProvider") is None  # refused before anything was made


def test_configure_handler_twice_in_a_stack_fails():
    stack = cdk.Stack(cdk.App(), "Stack")
    configure_handler(stack, log_level=lambda_.ApplicationLogLevel.DEBUG)

    with pytest.raises(InvalidProperty, match="the handler of Stack is already configured"):
        configure_handler(stack)


def test_the_handler_is_pure_python_on_either_architecture():
    """The same asset on x86_64 and arm64: only the standard library, its own modules, and the runtime's boto3."""
    own = {path.stem for path in HANDLER_DIR.glob("*.py")}
    allowed = set(sys.stdlib_module_names) | own | {"boto3", "botocore"}

    imported = set()
    for path in HANDLER_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])

    assert imported - allowed == set()
    assert [path.name for path in HANDLER_DIR.iterdir() if path.is_file() and path.suffix != ".py"] == []
