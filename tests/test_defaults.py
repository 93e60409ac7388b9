"""Defaults for a whole scope (`apply_defaults`) and the strict form (`require_on_failure`): which functions and
aliases get a config, which are left alone, where the config lands, and that a defaulted config is finished like an
explicit one."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import cdk_nag
import pytest
from async_invoke_config import AsyncInvokeConfig
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct
from test_construct import function

CONFIG = "Custom::LambdaAsyncInvokeConfig"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:team-dlq"
ENV = cdk.Environment(account="123456789012", region="us-east-1")


@pytest.fixture(autouse=True)
def one_resource_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests look at which functions and aliases get a config and with what: each default config is given a
    resource of its own here, so that the template names it by its path. How defaults are carried together is
    tested in test_group_synth.py and, deployed, in test_groups.py."""
    import async_invoke_config.async_invoke_config as module

    monkeypatch.setattr(module, "making_defaults", contextlib.nullcontext)


def configs(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each config's logical id (without CDK's hash) and properties."""
    return {key[:-8]: value["Properties"] for key, value in template["Resources"].items() if value["Type"] == CONFIG}


def templates(app: cdk.App) -> dict[str, dict[str, Any]]:
    """Every template of the synthesized app, in stages and nested too, by file name."""
    outdir = Path(app.synth().directory)
    return {path.name: json.loads(path.read_text()) for path in outdir.glob("**/*.template.json")}


def template_of(app: cdk.App, prefix: str, nested: bool = False) -> dict[str, Any]:
    (found,) = [
        template
        for name, template in templates(app).items()
        if name.startswith(prefix) and name.endswith(".nested.template.json") == nested
    ]
    return found


def test_every_function_and_alias_without_a_config_gets_the_defaults():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(stack, retry_attempts=1, max_event_age=cdk.Duration.hours(1), on_failure=QUEUE)
    orders = function(stack, "Orders")
    lambda_.Alias(stack, "Live", alias_name="live", version=orders.current_version)

    found = configs(template_of(app, "Team"))

    assert set(found) == {"OrdersAsyncInvokeConfig", "LiveAsyncInvokeConfig"}
    for properties in found.values():
        assert properties["RetryAttempts"] == 1
        assert properties["MaxEventAge"] == 3600
        assert properties["OnFailure"] == QUEUE
    assert "Qualifier" not in found["OrdersAsyncInvokeConfig"]
    assert found["LiveAsyncInvokeConfig"]["Qualifier"] == "live"


def test_an_explicit_config_wins_by_object_by_name_or_by_aws_cdk_lib_props():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(stack, on_failure=QUEUE)
    by_object = function(stack, "ByObject")
    AsyncInvokeConfig(stack, "Own", function=by_object, retry_attempts=0)
    function(stack, "ByName", name="by-name")
    AsyncInvokeConfig(stack, "OwnByName", function="by-name", retry_attempts=2)
    lambda_.Function(
        stack,
        "Native",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c):\n    return None\n"),
        retry_attempts=0,
    )
    live = lambda_.Alias(stack, "Live", alias_name="live", version=by_object.current_version)
    AsyncInvokeConfig(stack, "LiveOwn", function=live, retry_attempts=0)

    found = configs(template_of(app, "Team"))

    assert set(found) == {"Own", "OwnByName", "LiveOwn"}
    assert all("OnFailure" not in properties and "OnSuccess" not in properties for properties in found.values())


def test_a_default_on_a_function_does_not_cover_its_aliases_nor_the_reverse():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(stack, retry_attempts=0)
    orders = function(stack, "Orders")
    AsyncInvokeConfig(stack, "OrdersOwn", function=orders, retry_attempts=2)
    lambda_.Alias(stack, "Live", alias_name="live", version=orders.current_version)

    found = configs(template_of(app, "Team"))

    assert found["OrdersOwn"]["RetryAttempts"] == 2
    assert found["LiveAsyncInvokeConfig"] == found["LiveAsyncInvokeConfig"] | {
        "Qualifier": "live",
        "RetryAttempts": 0,
    }


def test_functions_aws_cdk_lib_makes_for_itself_and_the_handler_are_left_alone():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(app, on_failure=QUEUE)
    user = lambda_.Function(
        stack,
        "User",
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c):\n    return None\n"),
        log_retention=logs.RetentionDays.ONE_WEEK,
    )
    cr.AwsCustomResource(
        stack,
        "Lookup",
        on_create=cr.AwsSdkCall(service="S3", action="listBuckets", physical_resource_id=cr.PhysicalResourceId.of("x")),
        policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE),
    )
    cr.Provider(stack, "Provider", on_event_handler=user)
    s3.Bucket(stack, "Uploads").add_event_notification(s3.EventType.OBJECT_CREATED, s3n.LambdaDestination(user))

    template = template_of(app, "Team")

    functions = [key for key, value in template["Resources"].items() if value["Type"] == "AWS::Lambda::Function"]
    # the user's, the handler and its second function, AwsCustomResource's, Provider's, log retention, S3's
    assert len(functions) == 7
    assert set(configs(template)) == {"UserAsyncInvokeConfig"}


def test_a_function_in_a_nested_stack_gets_its_config_in_that_stack():
    app = cdk.App()
    parent = cdk.Stack(app, "Parent", env=ENV)
    failures = destinations.SqsDestination(sqs.Queue(parent, "Dlq"))
    AsyncInvokeConfig.apply_defaults(parent, retry_attempts=0, on_failure=failures)
    nested = cdk.NestedStack(parent, "Workers")
    function(nested, "Worker")

    assert configs(template_of(app, "Parent")) == {}
    (properties,) = configs(template_of(app, "ParentWorkers", nested=True)).values()
    assert properties["RetryAttempts"] == 0
    assert "Ref" in properties["OnFailure"]  # the parent's queue, passed in


def test_defaults_of_an_app_reach_its_stages_and_an_inner_scope_wins():
    app = cdk.App()
    stage = cdk.Stage(app, "Prod", env=ENV)
    stack = cdk.Stack(stage, "Team")
    AsyncInvokeConfig.apply_defaults(app, retry_attempts=2)
    team = Construct(stack, "Payments")
    AsyncInvokeConfig.apply_defaults(team, retry_attempts=0)
    function(stack, "Orders")
    function(team, "Charge")

    found = configs(template_of(app, "ProdTeam"))

    assert {key: value["RetryAttempts"] for key, value in found.items()} == {
        "OrdersAsyncInvokeConfig": 2,
        "PaymentsChargeAsyncInvokeConfig": 0,
    }


def test_a_stage_created_after_the_defaults_of_its_app_is_an_error_not_a_silent_gap():
    app = cdk.App()
    AsyncInvokeConfig.apply_defaults(app, retry_attempts=0)
    function(cdk.Stack(cdk.Stage(app, "Late"), "Team"), "Orders")

    with pytest.raises(Exception, match="stage Late was created"):
        app.synth()


@pytest.mark.parametrize("stabilization", [False, True], ids=["aspects v1", "aspect stabilization"])
def test_a_defaulted_config_is_finished_like_an_explicit_one(stabilization):
    """The handler's finishing aspect sees the defaulted configs: their policy's wildcards are acknowledged (cdk-nag
    reports nothing), also when the defaults create the stack's first config and so its handler."""
    app = cdk.App(context={"@aws-cdk/core:aspectStabilization": stabilization})
    stack = cdk.Stack(app, "Team", env=ENV)
    team = Construct(stack, "Team")
    AsyncInvokeConfig.apply_defaults(team, retry_attempts=0)
    orders = function(team, "Orders")
    lambda_.Alias(team, "Live", alias_name="live", version=orders.current_version)
    explicit = cdk.Stack(app, "Explicit", env=ENV)
    explicit_orders = function(explicit, "Orders")
    AsyncInvokeConfig(explicit, "OrdersAsync", function=explicit_orders, retry_attempts=0)
    app.synth()

    for checked in (stack, explicit):
        report = cdk_nag.AwsSolutionsChecks(app).validate_scope(checked)
        findings = [violation.rule_name for violation in report.violations]
        assert not [name for name in findings if "IAM5" in name], (checked.stack_name, findings)
    assert len(configs(app.synth().get_stack_by_name("Team").template)) == 2


def test_require_on_failure_lists_every_function_and_alias_without_one():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.require_on_failure(app)
    dlq = destinations.SqsDestination(sqs.Queue(stack, "Dlq"))
    covered = function(stack, "Covered")
    AsyncInvokeConfig(stack, "CoveredAsync", function=covered, on_failure=QUEUE)
    bare = function(stack, "Bare")
    lambda_.Alias(stack, "BareLive", alias_name="live", version=bare.current_version)
    retries_only = function(cdk.NestedStack(stack, "Workers"), "RetriesOnly")
    AsyncInvokeConfig(retries_only, "Async", function=retries_only, retry_attempts=0)
    for name, settings in (("NativeCovered", {"on_failure": dlq}), ("NativeRetries", {"retry_attempts": 0})):
        lambda_.Function(
            stack,
            name,
            runtime=lambda_.Runtime.PYTHON_3_13,
            handler="index.handler",
            code=lambda_.Code.from_inline("def handler(e, c):\n    return None\n"),
            **settings,
        )

    with pytest.raises(Exception, match="no on-failure destination") as raised:
        app.synth()

    message = str(raised.value)
    assert "4 Lambda function(s) or alias(es)" in message
    assert "Team/Bare ($LATEST)" in message and "Team/BareLive (live)" in message
    assert "Team/Workers/RetriesOnly ($LATEST)" in message
    assert "Team/NativeRetries ($LATEST)" in message
    assert "Covered" not in message


def test_require_on_failure_passes_when_the_defaults_send_failures_somewhere():
    app = cdk.App()
    stage = cdk.Stage(app, "Prod", env=ENV)
    stack = cdk.Stack(stage, "Team")
    AsyncInvokeConfig.apply_defaults(stage, on_failure=QUEUE)
    AsyncInvokeConfig.require_on_failure(stage)
    orders = function(stack, "Orders")
    lambda_.Alias(stack, "Live", alias_name="live", version=orders.current_version)
    function(cdk.NestedStack(stack, "Workers"), "Worker")

    assert len(configs(template_of(app, "ProdTeam"))) == 2


def test_apply_defaults_checks_its_settings_at_the_call():
    stack = cdk.Stack(cdk.App(), "Team")

    with pytest.raises(ValueError, match="`retry_attempts` must be between 0 and 2; got 3"):
        AsyncInvokeConfig.apply_defaults(stack, retry_attempts=3)
    with pytest.raises(ValueError, match="at least one of"):
        AsyncInvokeConfig.apply_defaults(stack)


def test_exclude_leaves_out_the_functions_and_aliases_it_returns_true_for():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    asked: list[str] = []

    def synchronous(target: lambda_.Function | lambda_.Alias) -> bool:
        asked.append(f"{type(target).__name__} {target.node.path}")
        return target.node.id.startswith("Sync")

    AsyncInvokeConfig.apply_defaults(stack, retry_attempts=0, exclude=synchronous)
    orders = function(stack, "Orders")
    lambda_.Alias(stack, "OrdersLive", alias_name="live", version=orders.current_version)
    lookup = function(stack, "SyncLookup")
    lambda_.Alias(stack, "SyncLookupLive", alias_name="live", version=lookup.current_version)

    found = configs(template_of(app, "Team"))

    assert set(found) == {"OrdersAsyncInvokeConfig", "OrdersLiveAsyncInvokeConfig"}
    assert sorted(asked) == [
        "Alias Team/OrdersLive",
        "Alias Team/SyncLookupLive",
        "Function Team/Orders",
        "Function Team/SyncLookup",
    ]


def test_include_gives_the_defaults_only_to_what_it_returns_true_for():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(stack, retry_attempts=0, include=lambda target: isinstance(target, lambda_.Alias))
    orders = function(stack, "Orders")
    lambda_.Alias(stack, "Live", alias_name="live", version=orders.current_version)

    assert set(configs(template_of(app, "Team"))) == {"LiveAsyncInvokeConfig"}


def test_what_an_inner_scopes_defaults_leave_out_gets_no_defaults_from_an_outer_scope():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.apply_defaults(app, retry_attempts=2)
    payments = Construct(stack, "Payments")
    AsyncInvokeConfig.apply_defaults(payments, retry_attempts=0, exclude=lambda target: True)
    function(stack, "Orders")
    function(payments, "Charge")

    assert set(configs(template_of(app, "Team"))) == {"OrdersAsyncInvokeConfig"}


@pytest.mark.parametrize("prop", ["include", "exclude"])
def test_include_and_exclude_must_be_functions(prop):
    stack = cdk.Stack(cdk.App(), "Team")

    with pytest.raises(ValueError, match=f"`apply_defaults` on Team: `{prop}` must be a function .*; got 'Sync'"):
        AsyncInvokeConfig.apply_defaults(stack, retry_attempts=0, **{prop: "Sync"})  # type: ignore[arg-type]


def test_an_exempt_function_passes_require_on_failure_and_its_reason_is_listed_as_info():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.require_on_failure(app)
    lookup = function(stack, "Lookup")
    AsyncInvokeConfig.exempt_from_on_failure(lookup, reason="Invoked only synchronously, by the API.")
    retries = function(stack, "Retries")
    AsyncInvokeConfig(stack, "RetriesAsync", function=retries, retry_attempts=0)
    AsyncInvokeConfig.exempt_from_on_failure(retries, reason="  Failures are logged and alarmed on.  ")
    live = lambda_.Alias(stack, "RetriesLive", alias_name="live", version=retries.current_version)
    AsyncInvokeConfig.exempt_from_on_failure(live, reason="Its callers retry.")

    app.synth()

    annotations = cdk.assertions.Annotations.from_stack(stack)
    for path, reason in (
        ("/Team/Lookup", "Invoked only synchronously, by the API."),
        ("/Team/Retries", "Failures are logged and alarmed on."),
        ("/Team/RetriesLive", "Its callers retry."),
    ):
        expected = (
            "[async-invoke-config:exempt-from-on-failure] needs no on-failure destination (exempt from "
            f"`require_on_failure`): {reason}"
        )
        annotations.has_info(path, expected)


def test_a_functions_exemption_does_not_cover_its_aliases():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.require_on_failure(app)
    lookup = function(stack, "Lookup")
    lambda_.Alias(stack, "LookupLive", alias_name="live", version=lookup.current_version)
    AsyncInvokeConfig.exempt_from_on_failure(lookup, reason="Invoked only synchronously, by the API.")

    with pytest.raises(Exception, match="1 Lambda function") as raised:
        app.synth()

    assert "Team/LookupLive (live)" in str(raised.value)
    assert "Team/Lookup ($LATEST)" not in str(raised.value)
    assert "exempt_from_on_failure" in str(raised.value)  # the message says how


def test_apply_to_children_exempts_every_function_and_alias_under_a_construct():
    app = cdk.App()
    stack = cdk.Stack(app, "Team", env=ENV)
    AsyncInvokeConfig.require_on_failure(app)
    api = Construct(stack, "Api")
    lookup = function(api, "Lookup")
    lambda_.Alias(api, "LookupLive", alias_name="live", version=lookup.current_version)
    function(stack, "Orders")
    AsyncInvokeConfig.exempt_from_on_failure(
        api, reason="The API's handlers run synchronously.", apply_to_children=True
    )

    with pytest.raises(Exception, match="1 Lambda function") as raised:
        app.synth()

    assert "Team/Orders ($LATEST)" in str(raised.value)
    assert "Team/Api/" not in str(raised.value)


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_an_exemption_needs_a_reason(reason):
    lookup = function(cdk.Stack(cdk.App(), "Team"), "Lookup")

    with pytest.raises(ValueError, match=f"Team/Lookup: `reason` must say why .*; got {reason!r}"):
        AsyncInvokeConfig.exempt_from_on_failure(lookup, reason=reason)


def test_only_a_function_or_an_alias_is_exempt_without_apply_to_children():
    stack = cdk.Stack(cdk.App(), "Team")

    with pytest.raises(ValueError, match="Team/Api: `function_or_alias` must be an `aws_lambda.Function` or `Alias`"):
        AsyncInvokeConfig.exempt_from_on_failure(Construct(stack, "Api"), reason="Synchronous handlers.")


def test_a_name_is_not_exempt_only_a_construct_of_the_app():
    with pytest.raises(
        ValueError, match="`function_or_alias` must be an `aws_lambda.Function` or `Alias`.*; got 'orders'"
    ):
        AsyncInvokeConfig.exempt_from_on_failure("orders", reason="Synchronous.")  # type: ignore[arg-type]
