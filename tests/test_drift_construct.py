"""The drift check in the template: a per-deploy token, determinism on request, opt-out, and the schedule."""

from __future__ import annotations

import json
from typing import cast

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from aws_cdk.assertions import Match, Template
from drift import Report, Result
from index import emit_metrics

DRIFT = "Custom::LambdaAsyncInvokeConfigDriftCheck"
TOKEN_CONTEXT = "async-invoke-config:deploy-token"
STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Orders/5b2f1a40-0000-11f0-0000-000000000000"


def synth(context: dict | None = None, configure=None, count: int = 3) -> dict:
    app = cdk.App(context=context or {})
    stack = cdk.Stack(app, "Stack")
    for index in range(count):
        AsyncInvokeConfig(stack, f"Config{index}", function=f"function-{index}", retry_attempts=index % 3)
    if configure:
        configure(stack)
    return dict(Template.from_stack(stack).to_json())


def drift_checks(template: dict) -> dict[str, dict]:
    return {key: value for key, value in template["Resources"].items() if value["Type"] == DRIFT}


def test_one_drift_check_per_stack_runs_after_every_config_and_reads_only_those():
    template = synth(count=5)

    (check,) = drift_checks(template).values()
    configs = [
        key for key, value in template["Resources"].items() if value["Type"] == "Custom::LambdaAsyncInvokeConfig"
    ]
    joined = check["Properties"]["Configs"]["Fn::Sub"]
    assert sorted(part.removeprefix("${").removesuffix("}") for part in joined.split(",")) == sorted(configs)
    assert set(check["Properties"]) == {"ServiceToken", "ServiceTimeout", "DeployToken", "Configs", "Declarations"}


def test_each_synth_gets_a_new_token_and_only_the_drift_check_changes():
    first, second = synth(), synth()

    changed = [key for key in first["Resources"] if first["Resources"][key] != second["Resources"][key]]

    assert changed == list(drift_checks(first))
    (token_1,) = (check["Properties"]["DeployToken"] for check in drift_checks(first).values())
    (token_2,) = (check["Properties"]["DeployToken"] for check in drift_checks(second).values())
    assert token_1 < token_2


def test_a_fixed_token_makes_the_template_byte_identical():
    context = {TOKEN_CONTEXT: "review"}

    first, second = synth(context), synth(context)

    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)
    (check,) = drift_checks(first).values()
    assert check["Properties"]["DeployToken"] == "review"


def test_a_stack_can_opt_out():
    template = synth(configure=lambda stack: AsyncInvokeConfig.configure_drift_check(stack, on_deploy=False))

    assert drift_checks(template) == {}
    assert len([v for v in template["Resources"].values() if v["Type"] == "Custom::LambdaAsyncInvokeConfig"]) == 3


def test_opting_out_before_any_config_still_has_none():
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    AsyncInvokeConfig.configure_drift_check(stack, on_deploy=False)
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=0)

    Template.from_stack(stack).resource_count_is(DRIFT, 0)


def test_schedule_adds_a_rule_that_invokes_only_the_handler():
    app = cdk.App()
    stack = cdk.Stack(app, "Stack")
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=0)
    AsyncInvokeConfig.configure_drift_check(stack, schedule=cdk.Duration.hours(1))
    template = Template.from_stack(stack)
    provider = stack.node.find_child("AsyncInvokeConfigProvider")
    handler = stack.get_logical_id(cast(cdk.CfnElement, provider.node.find_child("Handler").node.default_child))

    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "ScheduleExpression": "rate(1 hour)",
            "State": "ENABLED",
            "Targets": [
                Match.object_like(
                    {
                        "Arn": {"Fn::GetAtt": [handler, "Arn"]},
                        "Input": {
                            "Fn::Join": [
                                "",
                                ['{"AsyncInvokeConfigDriftCheck":{"StackId":"', {"Ref": "AWS::StackId"}, '"}}'],
                            ]
                        },
                        "RetryPolicy": {"MaximumRetryAttempts": 0},
                    }
                )
            ],
        },
    )
    template.has_resource_properties(
        "AWS::Lambda::Permission",
        {
            "Action": "lambda:InvokeFunction",
            "FunctionName": {"Fn::GetAtt": [handler, "Arn"]},
            "Principal": "events.amazonaws.com",
            "SourceArn": {"Fn::GetAtt": [Match.any_value(), "Arn"]},
        },
    )
    template.resource_count_is("AWS::Lambda::Permission", 1)


def test_schedule_below_one_minute_is_rejected():
    stack = cdk.Stack(cdk.App(), "Stack")

    with pytest.raises(ValueError, match="`schedule` must be at least 1 minute; got 30 seconds"):
        AsyncInvokeConfig.configure_drift_check(stack, schedule=cdk.Duration.seconds(30))


def declarations(build) -> str:
    app = cdk.App(context={TOKEN_CONTEXT: "fixed"})
    stack = cdk.Stack(app, "Stack")
    build(stack)
    (check,) = drift_checks(dict(Template.from_stack(stack).to_json())).values()
    return str(check["Properties"]["Declarations"])


def test_with_a_fixed_token_the_check_changes_exactly_when_a_config_does():
    def configs(*names, retry=0, extra=None):
        def build(stack):
            for name in names:
                AsyncInvokeConfig(stack, name, function=name.lower(), retry_attempts=retry)
            if extra:
                extra(stack)

        return build

    base = declarations(configs("A", "B"))

    assert declarations(configs("A", "B")) == base
    assert declarations(configs("A", "B", extra=lambda s: cdk.aws_sqs.Queue(s, "Unrelated"))) == base
    assert declarations(configs("A")) != base  # removed
    assert declarations(configs("A", "B", "C")) != base  # added
    assert declarations(configs("A", "B", retry=1)) != base  # changed

    def renamed(stack):
        AsyncInvokeConfig(stack, "A", function="a", retry_attempts=0)
        AsyncInvokeConfig(stack, "Renamed", function="b", retry_attempts=0)

    assert declarations(renamed) != base


@pytest.mark.parametrize(
    ("method", "name"),
    [
        (AsyncInvokeConfig.metric_drift_checked, "Checked"),
        (AsyncInvokeConfig.metric_drift_corrected, "Corrected"),
        (AsyncInvokeConfig.metric_drift_failed, "Failed"),
    ],
)
def test_drift_metrics_are_the_ones_the_handler_emits_for_the_stack(method, name, capsys):
    app = cdk.App()
    stack = cdk.Stack(app, "Orders")
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=1)
    emit_metrics(STACK_ID, Report([Result("orders")]))
    (emitted,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (directive,) = emitted["_aws"]["CloudWatchMetrics"]

    metric = method(stack)

    assert metric.namespace == directive["Namespace"]
    assert name in [entry["Name"] for entry in directive["Metrics"]] and metric.metric_name == name
    assert stack.resolve(metric.dimensions) == {key: emitted[key] for keys in directive["Dimensions"] for key in keys}
    assert (metric.statistic, metric.period.to_minutes()) == ("Sum", 5)


def test_an_alarm_on_a_drift_metric_synthesizes_for_the_stack():
    app = cdk.App()
    stack = cdk.Stack(app, "Orders")
    AsyncInvokeConfig(stack, "Config", function="orders", retry_attempts=1)

    AsyncInvokeConfig.metric_drift_failed(stack, period=cdk.Duration.hours(1)).create_alarm(
        stack, "DriftNotCorrected", threshold=1, evaluation_periods=1
    )

    Template.from_stack(stack).has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": "AsyncInvokeConfig",
            "MetricName": "Failed",
            "Dimensions": [{"Name": "Stack", "Value": "Orders"}],
            "Period": 3600,
            "Statistic": "Sum",
        },
    )


def test_an_unknown_drift_metric_is_rejected_naming_it():
    stack = cdk.Stack(cdk.App(), "Orders")

    with pytest.raises(ValueError, match="`metric_name` must be one of Checked, Corrected, Failed; got 'Drifted'"):
        AsyncInvokeConfig.metric_drift(stack, "Drifted")
