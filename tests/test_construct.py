"""The construct's template: one shared handler, the contract's properties, grants, IAM scope, size at scale."""

from __future__ import annotations

import functools
import json
import re
import uuid
from typing import Any, cast

import aws_cdk as cdk
import iam as iam_checker
import pytest
from async_invoke_config import AsyncInvokeConfig
from async_invoke_config.handler_set import HANDLER_TIMEOUT
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from aws_cdk.assertions import Annotations, Match, Template
from constructs import Construct, IConstruct

ENV = cdk.Environment(account="123456789012", region="us-east-1")
CONFIG = "Custom::LambdaAsyncInvokeConfig"
ACTIONS = [f"lambda:{verb}FunctionEventInvokeConfig" for verb in ("Get", "Put", "Update", "Delete")]


def make_stack(env: cdk.Environment | None = None, path_metadata: bool = False) -> cdk.Stack:
    app = cdk.App(context={"aws:cdk:enable-path-metadata": path_metadata})
    return cdk.Stack(app, "Stack", env=env)


def function(stack: Construct, id_: str = "Fn", name: str | None = None, **props: Any) -> lambda_.Function:
    return lambda_.Function(
        stack,
        id_,
        function_name=name,
        runtime=lambda_.Runtime.PYTHON_3_13,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(e, c):\n    return None\n"),
        **props,
    )


def logical_id(stack: cdk.Stack, construct: IConstruct) -> str:
    element = construct if isinstance(construct, cdk.CfnElement) else construct.node.default_child
    return stack.get_logical_id(cast(cdk.CfnElement, element))


def granted(template: Template) -> list[str]:
    """The IAM policies of the template but the handler's own (which lets it invoke its second function)."""
    return [logical for logical in template.find_resources("AWS::IAM::Policy") if "InvokeExpired" not in logical]


def handler_policies(template: Template) -> dict[str, dict]:
    """The handler role's inline policies by name, and the managed policies of its targets as `Targets`, `Targets1`."""
    roles = template.find_resources("AWS::IAM::Role", {"Properties": {"Policies": Match.any_value()}})
    (role,) = roles.values()
    found = {policy["PolicyName"]: policy["PolicyDocument"] for policy in role["Properties"]["Policies"]}
    managed = template.find_resources("AWS::IAM::ManagedPolicy").values()
    for index, policy in enumerate(managed):
        found[f"Targets{index or ''}"] = policy["Properties"]["PolicyDocument"]
    return found


def target_statements(template: Template) -> tuple[dict, list[dict]]:
    """(the Lambda statement of the one targets' policy, the statements of the claims' inline policy)."""
    policies = handler_policies(template)
    (lambda_statement,) = policies["Targets"]["Statement"]
    return lambda_statement, policies["Claims"]["Statement"]


def test_one_handler_per_stack_however_many_configs():
    stack = make_stack()
    for index in range(3):
        AsyncInvokeConfig(stack, f"Config{index}", function=function(stack, f"Fn{index}"), retry_attempts=0)

    template = Template.from_stack(stack)

    template.resource_count_is(CONFIG, 3)
    template.resource_count_is("AWS::Lambda::Function", 3 + 2)  # the handler, and its second run of an expired event
    template.resource_properties_count_is("AWS::Lambda::Function", {"Handler": "index.on_event"}, 1)
    template.resource_properties_count_is("AWS::Lambda::Function", {"Handler": "index.on_expired"}, 1)
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": "index.on_event",
            "Runtime": "python3.13",
            "Timeout": HANDLER_TIMEOUT.to_seconds(),
            "LoggingConfig": {"LogGroup": Match.any_value()},
        },
    )
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})


def test_every_config_has_a_service_timeout_above_the_handlers_and_at_most_15_minutes():
    stack = make_stack()
    AsyncInvokeConfig(stack, "A", function=function(stack), retry_attempts=0)
    AsyncInvokeConfig(stack, "B", function="other", max_event_age=cdk.Duration.minutes(5))

    configs = Template.from_stack(stack).find_resources(CONFIG)

    timeouts = {int(config["Properties"]["ServiceTimeout"]) for config in configs.values()}
    assert len(configs) == 2
    assert all(HANDLER_TIMEOUT.to_seconds() < timeout <= 900 for timeout in timeouts)


def test_properties_follow_the_contract():
    stack = make_stack()
    fn = function(stack)
    queue = sqs.Queue(stack, "Dlq")
    AsyncInvokeConfig(
        stack,
        "Config",
        function=fn,
        retry_attempts=1,
        max_event_age=cdk.Duration.hours(1),
        on_failure=destinations.SqsDestination(queue),
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )

    Template.from_stack(stack).has_resource_properties(
        CONFIG,
        Match.object_equals(
            {
                "ServiceToken": Match.any_value(),
                "ServiceTimeout": Match.any_value(),
                "Function": {"Ref": logical_id(stack, fn)},
                "RetryAttempts": 1,
                "MaxEventAge": 3600,
                "OnFailure": {"Fn::GetAtt": [logical_id(stack, queue), "Arn"]},
                "RemovalPolicy": "retain",
            }
        ),
    )


def test_alias_and_version_give_their_qualifier():
    stack = make_stack()
    fn = function(stack)
    version = fn.current_version
    alias = lambda_.Alias(stack, "Live", alias_name="live", version=version)
    AsyncInvokeConfig(stack, "OnAlias", function=alias, retry_attempts=0)
    AsyncInvokeConfig(stack, "OnVersion", function=version, retry_attempts=1)
    fn_name = {"Ref": logical_id(stack, fn)}

    template = Template.from_stack(stack)

    template.has_resource_properties(CONFIG, {"Function": fn_name, "Qualifier": "live", "RetryAttempts": 0})
    on_alias = template.find_resources(CONFIG, {"Properties": {"Qualifier": "live"}})
    assert [logical_id(stack, alias) in config["DependsOn"] for config in on_alias.values()] == [True]
    template.has_resource_properties(
        CONFIG, {"Function": fn_name, "Qualifier": {"Fn::GetAtt": Match.any_value()}, "RetryAttempts": 1}
    )


def test_string_function_passes_through_unchanged():
    stack = make_stack()
    AsyncInvokeConfig(stack, "Config", function="orders:live", retry_attempts=2)

    Template.from_stack(stack).has_resource_properties(CONFIG, {"Function": "orders:live", "Qualifier": Match.absent()})


@pytest.mark.parametrize(
    ("env", "imported", "declared"),
    [
        (ENV, "arn:aws:lambda:us-east-1:123456789012:function:legacy", "legacy"),
        (ENV, "arn:aws:lambda:us-east-1:123456789012:function:legacy:live", "legacy:live"),
        (
            None,
            "arn:aws:lambda:us-east-1:123456789012:function:legacy",
            "arn:aws:lambda:us-east-1:123456789012:function:legacy",
        ),
        (
            ENV,
            "arn:aws:lambda:eu-west-1:123456789012:function:legacy",
            "arn:aws:lambda:eu-west-1:123456789012:function:legacy",
        ),
    ],
)
def test_an_imported_function_is_named_by_its_name_only_where_the_stack_is_its_account_and_region(
    env, imported, declared
):
    stack = make_stack(env)
    if env is not None and ":eu-west-1:" in imported:
        with pytest.raises(ValueError, match="region eu-west-1"):
            AsyncInvokeConfig(
                stack, "Config", function=lambda_.Function.from_function_arn(stack, "Fn", imported), retry_attempts=0
            )
        return
    AsyncInvokeConfig(
        stack, "Config", function=lambda_.Function.from_function_arn(stack, "Fn", imported), retry_attempts=0
    )

    Template.from_stack(stack).has_resource_properties(CONFIG, {"Function": declared})


def test_configs_omit_the_default_removal_policies_and_keep_a_declared_one():
    stack = make_stack()
    AsyncInvokeConfig(stack, "Deleted", function="orders", retry_attempts=0)
    kept = AsyncInvokeConfig(stack, "Kept", function="billing", retry_attempts=0)
    kept.resource.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    resources = Template.from_stack(stack).to_json()["Resources"]

    custom = {key: value for key, value in resources.items() if value["Type"].startswith("Custom::")}
    policies = {key: (value.get("DeletionPolicy"), value.get("UpdateReplacePolicy")) for key, value in custom.items()}
    assert policies.pop(logical_id(stack, kept.resource)) == ("Retain", "Retain")
    assert set(policies.values()) == {(None, None)}
    assert len(policies) == 2  # the other config and the drift check


def test_destination_objects_grant_the_functions_role_and_the_config_waits_for_the_grant():
    stack = make_stack()
    fn = function(stack)
    queue = sqs.Queue(stack, "Dlq")
    AsyncInvokeConfig(stack, "Config", function=fn, on_failure=destinations.SqsDestination(queue))
    template = Template.from_stack(stack)
    assert fn.role is not None
    role_policy = logical_id(stack, fn.role.node.find_child("DefaultPolicy"))

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": Match.array_with(["sqs:SendMessage"]),
                                "Resource": {"Fn::GetAtt": [logical_id(stack, queue), "Arn"]},
                            }
                        )
                    ]
                )
            }
        },
    )
    (config,) = template.find_resources(CONFIG).values()
    assert role_policy in config["DependsOn"]
    assert logical_id(stack, fn.role) not in config["DependsOn"]  # the role itself does not change


def test_a_grant_on_an_imported_role_is_waited_for_and_a_config_granting_nothing_waits_for_no_role():
    stack = make_stack(ENV)
    queue = sqs.Queue(stack, "Dlq")
    role = iam.Role.from_role_arn(stack, "Role", "arn:aws:iam::123456789012:role/orders")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    granted = lambda_.Function.from_function_attributes(stack, "Orders", function_arn=f"{arn}orders", role=role)
    plain = lambda_.Function.from_function_attributes(
        stack,
        "Billing",
        function_arn=f"{arn}billing",
        role=iam.Role.from_role_arn(stack, "Other", "arn:aws:iam::123456789012:role/billing"),
    )
    with_grant = AsyncInvokeConfig(stack, "Granted", function=granted, on_failure=destinations.SqsDestination(queue))
    without = AsyncInvokeConfig(stack, "Plain", function=plain, retry_attempts=0)

    resources = Template.from_stack(stack).to_json()["Resources"]

    grant = logical_id(stack, role.node.find_child("Policy"))
    assert grant in resources[logical_id(stack, with_grant.resource)]["DependsOn"]
    waits = resources[logical_id(stack, without.resource)]["DependsOn"]
    assert [resources[key]["Type"] for key in waits] == ["AWS::IAM::ManagedPolicy"]


def test_destination_arn_string_is_granted_to_a_known_role():
    stack = make_stack(ENV)
    AsyncInvokeConfig(
        stack,
        "Config",
        function=function(stack),
        on_failure="arn:aws:sqs:us-east-1:123456789012:dlq",
        on_success="arn:aws:events:us-east-1:123456789012:event-bus/orders",
    )

    template = Template.from_stack(stack)

    template.has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Action": "events:PutEvents",
                                "Resource": "arn:aws:events:us-east-1:123456789012:event-bus/orders",
                            }
                        ),
                        Match.object_like(
                            {"Action": "sqs:SendMessage", "Resource": "arn:aws:sqs:us-east-1:123456789012:dlq"}
                        ),
                    ]
                )
            }
        },
    )


def test_imported_function_without_role_and_a_destination_object_synthesizes_with_a_warning_naming_it():
    stack = make_stack(ENV)
    fn = lambda_.Function.from_function_arn(stack, "Imported", "arn:aws:lambda:us-east-1:123456789012:function:legacy")
    queue = sqs.Queue(stack, "Dlq")
    AsyncInvokeConfig(stack, "Config", function=fn, on_failure=destinations.SqsDestination(queue))

    template = Template.from_stack(stack)

    template.has_resource_properties(CONFIG, {"Function": "legacy"})
    assert granted(template) == []
    named = "the function Stack/Imported (arn:aws:lambda:us-east-1:123456789012:function:legacy) was not granted"
    Annotations.from_stack(stack).has_warning("/Stack/Config", Match.string_like_regexp(re.escape(named)))


def test_function_by_name_with_a_destination_object_warns_naming_the_function_and_grants_nothing():
    stack = make_stack()
    AsyncInvokeConfig(
        stack, "Config", function="legacy", on_failure=destinations.S3Destination(s3.Bucket(stack, "Failed"))
    )

    template = Template.from_stack(stack)

    assert granted(template) == []
    named = "the execution role of the function 'legacy' was not granted permission"
    Annotations.from_stack(stack).has_warning("/Stack/Config", Match.string_like_regexp(re.escape(named)))
    Annotations.from_stack(stack).has_warning("/Stack/Config", Match.string_like_regexp("grant it yourself"))


def test_an_in_app_function_whose_destination_is_a_token_is_named_by_its_path_in_the_warning():
    stack = make_stack(ENV)
    dlq = cdk.CfnParameter(stack, "Dlq").value_as_string
    AsyncInvokeConfig(stack, "Config", function=function(stack, "Orders"), on_failure=dlq)

    named = "the execution role of the function Stack/Orders was not granted permission to send to the destination"
    Annotations.from_stack(stack).has_warning("/Stack/Config", Match.string_like_regexp(re.escape(named)))


def test_handler_may_call_only_the_config_actions_on_its_targets_and_read_its_own_stack():
    stack = make_stack()
    fn = function(stack)
    AsyncInvokeConfig(stack, "A", function=fn, retry_attempts=0)
    AsyncInvokeConfig(stack, "B", function="legacy", retry_attempts=0)
    AsyncInvokeConfig(stack, "C", function="legacy:live", retry_attempts=0)
    template = Template.from_stack(stack)

    policies = handler_policies(template)
    lambda_statement, claims = target_statements(template)

    assert lambda_statement["Action"] == ACTIONS
    prefix = "arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:"
    fn_name = f"<{logical_id(stack, fn)}>"
    assert symbolic(lambda_statement["Resource"]) == [
        f"{prefix}{fn_name}:$LATEST",
        f"{prefix}legacy:$LATEST",
        f"{prefix}legacy:live",
    ]
    stack_uuid = {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]}
    parameter = ["arn:", {"Ref": "AWS::Partition"}, ":ssm:", {"Ref": "AWS::Region"}, ":", {"Ref": "AWS::AccountId"}]
    all_claims = [
        {
            "Fn::Join": [
                "",
                [*parameter, ":parameter/async-invoke-config/", {"Ref": "AWS::AccountId"}, "/"]
                + [{"Ref": "AWS::Region"}, "/*"],
            ]
        }
    ]
    tag = "async-invoke-config:stack"
    created_by_this_stack = {
        "StringEquals": {"ssm:Overwrite": "false", f"aws:RequestTag/{tag}": stack_uuid},
        "ForAllValues:StringEquals": {"aws:TagKeys": [tag]},
    }
    assert claims == [
        {"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": all_claims},
        {"Effect": "Allow", "Action": ["ssm:PutParameter"], "Resource": all_claims, "Condition": created_by_this_stack},
        {
            "Effect": "Allow",
            "Action": ["ssm:AddTagsToResource"],
            "Resource": all_claims,
            "Condition": created_by_this_stack,
        },
        {
            "Effect": "Allow",
            "Action": ["ssm:PutParameter", "ssm:DeleteParameter"],
            "Resource": all_claims,
            "Condition": {"StringEquals": {f"aws:ResourceTag/{tag}": stack_uuid}},
        },
    ]
    own_stack, any_stack = policies["Stacks"]["Statement"]
    assert own_stack["Action"] == ["cloudformation:ListStackResources"]
    assert own_stack["Resource"] == [{"Ref": "AWS::StackId"}]
    assert any_stack["Action"] == ["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"]
    assert symbolic(any_stack["Resource"]) == [
        "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*/*"
    ]
    wildcards = {
        arn
        for document in policies.values()
        for statement in document["Statement"]
        for arn in symbolic(statement["Resource"])
        if "*" in arn
    }
    log_group = f"<{logical_id(stack, stack.node.find_child('AsyncInvokeConfigProvider').node.find_child('Logs'))}.Arn>"
    ssm = "arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:parameter/async-invoke-config/"
    assert wildcards == {
        f"{log_group}:*",
        f"{ssm}<AWS::AccountId>/<AWS::Region>/*",
        f"{ssm}locks/<STACK-UUID>/*",
        "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*/*",
    }


def test_configs_on_one_function_share_its_policy_entries():
    stack = make_stack()
    fn = function(stack)
    AsyncInvokeConfig(stack, "Latest", function=fn, retry_attempts=0)
    AsyncInvokeConfig(
        stack,
        "Live",
        function=lambda_.Alias(stack, "A", alias_name="live", version=fn.current_version),
        retry_attempts=1,
    )

    lambda_statement, _ = target_statements(Template.from_stack(stack))

    assert len(symbolic(lambda_statement["Resource"])) == 2


def test_each_config_waits_for_the_policy_that_lets_the_handler_configure_it():
    stack = make_stack()
    AsyncInvokeConfig(stack, "A", function="a", retry_attempts=0)
    AsyncInvokeConfig(stack, "B", function="b", retry_attempts=0)
    template = Template.from_stack(stack)

    ((policy_id, policy),) = template.find_resources("AWS::IAM::ManagedPolicy").items()
    configs = template.find_resources(CONFIG)
    assert all(policy_id in config["DependsOn"] for config in configs.values())
    role = logical_id(stack, stack.node.find_child("AsyncInvokeConfigProvider").node.find_child("Role"))
    assert policy["Properties"]["Roles"] == [{"Ref": role}]


def policy_id(build) -> str:
    app = cdk.App(context={"async-invoke-config:deploy-token": uuid.uuid4().hex})  # each synth a deploy of its own
    stack = cdk.Stack(app, "Stack")
    build(stack)
    (found,) = Template.from_stack(stack).find_resources("AWS::IAM::ManagedPolicy")
    return found


def test_the_policy_is_replaced_exactly_when_what_it_grants_may_change():
    """A new logical id means CloudFormation creates the new policy in the update and deletes the old one only in
    the cleanup, after the configs that still need it."""

    def named(*names):
        return lambda stack: [AsyncInvokeConfig(stack, n, function=n, retry_attempts=0) for n in names]

    def in_stack(name):
        return lambda stack: AsyncInvokeConfig(stack, "Config", function=function(stack, name=name), retry_attempts=0)

    def by_parameter(stack):
        arn = cdk.CfnParameter(stack, "FunctionArn").value_as_string
        AsyncInvokeConfig(
            stack, "Config", function=lambda_.Function.from_function_arn(stack, "Fn", arn), retry_attempts=0
        )

    assert policy_id(named("a", "b")) == policy_id(named("a", "b"))
    assert policy_id(named("a", "b")) != policy_id(named("a"))
    assert policy_id(named("a")) != policy_id(named("c"))
    assert policy_id(in_stack("x")) == policy_id(in_stack("x"))
    assert policy_id(in_stack("x")) != policy_id(in_stack("y"))  # a new name replaces the function: a new ARN
    assert policy_id(by_parameter) != policy_id(by_parameter)  # a parameter may name another function any deploy


def test_a_stack_with_no_config_has_no_empty_policy():
    stack = make_stack()
    AsyncInvokeConfig.configure_drift_check(stack, schedule=cdk.Duration.hours(1))
    template = Template.from_stack(stack)

    template.resource_count_is("AWS::IAM::ManagedPolicy", 0)
    documents = handler_policies(template).values()
    assert all(statement["Resource"] for document in documents for statement in document["Statement"])


def test_every_event_is_answered_before_cloudformation_stops_waiting_even_when_throttled():
    """An event waits at most the handler's maximum event age, runs at most its timeout; one that waited longer (or
    whose run failed) goes to the handler's on-failure destination, the second function, which runs it once more
    within its own maximum event age and timeout. Neither retries, and both end before the ServiceTimeout."""
    stack = make_stack()
    AsyncInvokeConfig(stack, "A", function="a", retry_attempts=0)
    template = Template.from_stack(stack)

    functions = template.find_resources("AWS::Lambda::Function")
    settings = template.find_resources("AWS::Lambda::EventInvokeConfig")
    (config,) = template.find_resources(CONFIG).values()

    def own(handler: str) -> tuple[str, dict, dict]:
        ((logical, function),) = [(k, f) for k, f in functions.items() if f["Properties"]["Handler"] == handler]
        (found,) = [s for s in settings.values() if s["Properties"]["FunctionName"] == {"Ref": logical}]
        return logical, function["Properties"], found["Properties"]

    _, handler, handler_settings = own("index.on_event")
    expired_id, expired, expired_settings = own("index.on_expired")
    assert handler_settings["MaximumRetryAttempts"] == expired_settings["MaximumRetryAttempts"] == 0
    destination = handler_settings["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": [expired_id, "Arn"]}
    assert "DestinationConfig" not in expired_settings
    latest_answer = (
        handler_settings["MaximumEventAgeInSeconds"] + expired_settings["MaximumEventAgeInSeconds"] + expired["Timeout"]
    )
    assert handler_settings["MaximumEventAgeInSeconds"] + handler["Timeout"] < latest_answer
    assert latest_answer < int(config["Properties"]["ServiceTimeout"]) <= 900


def test_the_first_deploys_events_already_run_under_the_handlers_own_async_settings():
    stack = make_stack()
    AsyncInvokeConfig(stack, "A", function="a", retry_attempts=0)
    template = Template.from_stack(stack).to_json()["Resources"]

    settings = {k for k, r in template.items() if r["Type"] == "AWS::Lambda::EventInvokeConfig"}
    for logical, resource in template.items():
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "Custom::LambdaAsyncInvokeConfigDriftCheck"):
            assert settings <= set(resource["DependsOn"]), logical
        if resource["Type"] == CONFIG:  # through the policy that grants it
            assert any(template[d]["Type"] == "AWS::IAM::ManagedPolicy" for d in resource["DependsOn"])


def test_a_config_named_by_qualifier_waits_for_that_alias_or_version_of_the_stack():
    stack = make_stack()
    fn = function(stack)
    live = lambda_.Alias(stack, "Live", alias_name="live", version=fn.current_version)
    lambda_.Alias(stack, "Beta", alias_name="beta", version=fn.current_version)
    AsyncInvokeConfig(stack, "OnLive", function=fn, qualifier="live", retry_attempts=0)
    AsyncInvokeConfig(stack, "OnVersion", function=fn, qualifier="1", retry_attempts=0)
    AsyncInvokeConfig(stack, "OnLatest", function=fn, retry_attempts=0)
    template = Template.from_stack(stack).to_json()["Resources"]

    def depends(construct_id):
        config = cast(AsyncInvokeConfig, stack.node.find_child(construct_id))
        return set(template[logical_id(stack, config.resource)].get("DependsOn", []))

    assert logical_id(stack, live) in depends("OnLive")
    assert logical_id(stack, stack.node.find_child("Beta")) not in depends("OnLive")
    version = logical_id(stack, fn.current_version)  # its logical id gets a hash of the function when synthesized
    assert any(dependency.startswith(version) for dependency in depends("OnVersion"))
    assert logical_id(stack, live) not in depends("OnLatest")


@functools.cache
def many(count: int) -> tuple[cdk.Stack, Template]:
    """A stack of `count` configs on functions named by string, as `cdk synth` writes it (with path metadata)."""
    stack = make_stack(path_metadata=True)
    queue = sqs.Queue(stack, "Dlq")
    for index in range(count):
        AsyncInvokeConfig(
            stack,
            f"OrdersConfig{index}",
            function=f"orders-function-{index:03d}",
            retry_attempts=index % 3,
            max_event_age=cdk.Duration.hours(1),
            on_failure=queue.queue_arn,
        )
    return stack, Template.from_stack(stack)


def test_each_config_is_granted_exactly_its_function_and_qualifier():
    _, template = many(20)

    lambda_statement, _ = target_statements(template)

    prefix = "arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:"
    expected = [f"{prefix}orders-function-{index:03d}:$LATEST" for index in range(20)]
    assert symbolic(lambda_statement["Resource"]) == expected
    template.resource_count_is("AWS::IAM::ManagedPolicy", 1)


def targets_policies(template: Template) -> dict[str, list[str]]:
    """Each targets' policy's logical id and the resources it lists, references as cdk-nag writes them."""
    return {
        logical: [arn for st in policy["Properties"]["PolicyDocument"]["Statement"] for arn in symbolic(st["Resource"])]
        for logical, policy in template.find_resources("AWS::IAM::ManagedPolicy").items()
    }


def test_past_one_policy_each_config_waits_for_the_policy_that_grants_it():
    _, template = many(100)
    policies = targets_policies(template)
    prefix = "arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:"

    assert [arn for listed in policies.values() for arn in listed] == [
        f"{prefix}orders-function-{index:03d}:$LATEST" for index in range(100)
    ]
    assert len(policies) == 2
    for config in template.find_resources(CONFIG).values():
        (granting,) = [
            logical
            for logical, listed in policies.items()
            if listed.count(f"{prefix}{config['Properties']['Function']}:$LATEST")
        ]
        assert granting in config["DependsOn"]
        assert not set(policies).difference({granting}).intersection(config["DependsOn"])


def test_a_function_named_by_a_token_of_unknown_form_scopes_the_policy_to_the_account_and_region():
    stack = make_stack()
    AsyncInvokeConfig(stack, "A", function=cdk.CfnParameter(stack, "Name").value_as_string, retry_attempts=0)
    AsyncInvokeConfig(stack, "B", function="orders", retry_attempts=0)
    template = Template.from_stack(stack)

    (listed,) = targets_policies(template).values()

    assert listed == ["arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:*"]
    Annotations.from_stack(stack).has_info(
        "/Stack/AsyncInvokeConfigProvider", Match.string_like_regexp("scoped to every function")
    )


# Realistic values for what the template leaves to CloudFormation, at their longest where it matters: a region of 14
# characters, and a function name CloudFormation generates (stack name, logical id, random suffix) of 64.
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": "ap-southeast-2", "AWS::AccountId": "123456789012"}
STACK_ID = "arn:aws:cloudformation:ap-southeast-2:123456789012:stack/Stack/5b2f1a40-0000-11f0-0000-000000000000"


def evaluate(value, ref, attribute):
    """A template value with its intrinsic functions evaluated, `ref` and `attribute` giving what Ref and GetAtt do."""

    def again(item):
        return evaluate(item, ref, attribute)

    if isinstance(value, list):
        return [again(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return ref(value["Ref"])
    if "Fn::GetAtt" in value:
        return attribute(*value["Fn::GetAtt"])
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(again(part) for part in parts)
    if "Fn::Sub" in value:
        text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]

        def variable(match):
            name, attr = match[1], match[2]
            return again(variables[name]) if name in variables else attribute(name, attr) if attr else ref(name)

        return re.sub(r"\$\{([^}.]+)(?:\.([^}]+))?\}", variable, text)
    if "Fn::Select" in value:
        index, items = value["Fn::Select"]
        return again(items)[index]
    if "Fn::Split" in value:
        separator, text = value["Fn::Split"]
        return again(text).split(separator)
    return {key: again(item) for key, item in value.items()}


def resolved(value, names: dict[str, str]):
    """A template value as CloudFormation resolves it, with `names` the physical names of the stack's functions."""

    def ref(name: str) -> str:
        if name == "AWS::StackId":
            return STACK_ID
        return PSEUDO.get(name) or names[name]

    def arn(name: str, attribute: str) -> str:
        if attribute == "Version":
            return "VERSION"
        assert attribute == "Arn"
        account = f"{PSEUDO['AWS::Region']}:{PSEUDO['AWS::AccountId']}"
        if name not in names:  # the handler's log group, named by CloudFormation too
            return f"arn:aws:logs:{account}:log-group:Stack-{name}-".ljust(64 + 51, "X")
        return f"arn:aws:lambda:{account}:function:{names[name]}"

    return evaluate(value, ref, arn)


def symbolic(value):
    """A template value with references written as cdk-nag writes them: `<AWS::Region>`, `<Logical.Arn>`."""

    def ref(name: str) -> str:
        return (
            "arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/<STACK>/<STACK-UUID>"
            if (name == "AWS::StackId")
            else f"<{name}>"
        )

    return evaluate(value, ref, lambda name, attribute: f"<{name}.{attribute}>")


def iam_size(document: dict, names: dict[str, str]) -> int:
    """The policy's size as IAM counts it: resolved, white space aside."""
    return len(json.dumps(resolved(document, names), separators=(",", ":")))


def generated(count: int) -> tuple[cdk.Stack, Template]:
    """A stack of `count` configs on as many functions that CloudFormation names (the stack's resource limit lifted:
    what is measured is the handler's policies, not the functions)."""
    app = cdk.App(context={"@aws-cdk/core:stackResourceLimit": 0})
    stack = cdk.Stack(app, "Stack")
    role = iam.Role(stack, "FunctionsRole", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    for index in range(count):
        fn = function(stack, f"Fn{index}", role=role)
        AsyncInvokeConfig(stack, f"Config{index}", function=fn, retry_attempts=index % 3)
    return stack, Template.from_stack(stack)


def longest_names(template: Template) -> dict[str, str]:
    """Each function's physical name as CloudFormation generates it, at its longest (64 characters)."""
    return {
        logical: f"Stack-{logical}-".ljust(52, "X")[:52] + "AbCdEfGhIjKl"
        for logical in template.find_resources("AWS::Lambda::Function")
    }


@pytest.mark.parametrize("names", ["given", "generated"])
def test_400_functions_fit_iams_default_quotas_with_no_wildcard(names):
    count = 400
    if names == "given":
        stack = make_stack()
        for index in range(count):
            AsyncInvokeConfig(stack, f"Config{index}", function=f"orders-{index:03d}-".ljust(64, "x"), retry_attempts=0)
        template = Template.from_stack(stack)
    else:
        stack, template = generated(count)
    physical = longest_names(template)
    policies = handler_policies(template)
    managed = {name: document for name, document in policies.items() if name.startswith("Targets")}
    inline = {name: document for name, document in policies.items() if not name.startswith("Targets")}
    sizes = sorted(iam_size(document, physical) for document in managed.values())
    listed = [
        resource for d in managed.values() for st in d["Statement"] for resource in resolved(st["Resource"], physical)
    ]

    assert len(managed) <= 10 and sizes[-1] <= 6144, sizes
    assert sum(iam_size(document, physical) for document in inline.values()) <= 10240
    assert len(listed) == count and all(arn.endswith(":$LATEST") and "*" not in arn for arn in listed)
    assert len({arn.split(":function:")[1] for arn in listed}) == count


@pytest.mark.parametrize("count", [1, 100, 400])
def test_scale_one_resource_per_config_and_deployable_policies(count):
    stack, template = many(count)
    resources = template.to_json()["Resources"]
    policies = handler_policies(template)
    managed = [name for name in policies if name.startswith("Targets")]

    # configs; handler and its second function, their async settings, role, the policy that lets the handler invoke
    # the second, log group, drift check; the targets' policies; the queue
    assert len(resources) == count + 8 + len(managed) + 1
    assert len(resources) < 500
    assert all(iam_size(policies.pop(name), {}) <= 6144 for name in managed)
    assert sum(iam_size(document, {}) for document in policies.values()) <= 10240


def template_bytes(template: Template) -> int:
    return len(json.dumps(template.to_json(), separators=(",", ":")))


def test_template_bytes_per_config_stay_within_700():
    per_config = (template_bytes(many(400)[1]) - template_bytes(many(1)[1])) / 399

    assert per_config <= 700


def test_functions_given_by_literal_arns_are_listed_exactly_with_their_prefix_written_once_per_policy():
    stack = make_stack()  # environment-agnostic: ARNs of any region are accepted
    arns = [f"arn:aws:lambda:{region}:123456789012:function:orders-{region}" for region in ("eu-west-1", "us-east-1")]
    for index, arn in enumerate([*arns, arns[0].replace("orders-", "billing-")]):
        AsyncInvokeConfig(stack, f"Config{index}", function=arn, retry_attempts=0)
    AsyncInvokeConfig(stack, "Named", function="shipping", retry_attempts=0)
    template = Template.from_stack(stack)

    lambda_statement, _ = target_statements(template)
    listed = resolved(lambda_statement["Resource"], {})
    body = json.dumps(lambda_statement["Resource"])

    named = "arn:aws:lambda:ap-southeast-2:123456789012:function:shipping"
    expected = [arns[0], arns[1], arns[0].replace("orders-", "billing-"), named]
    assert listed == [f"{arn}:$LATEST" for arn in expected]
    assert body.count("arn:aws:lambda:eu-west-1:123456789012:function:") == 1


def test_no_grant_opens_a_function_or_qualifier_no_config_declares():
    """Past one policy, grants stay exact: declaring `billing-000` opens neither `billing-000-ledger` (another team's
    function whose name starts with it) nor another qualifier of `billing-000`."""
    stack = make_stack()
    for index in range(120):
        AsyncInvokeConfig(stack, f"Config{index}", function=f"billing-{index:03d}", retry_attempts=0)
    live = lambda_.Alias(stack, "Live", alias_name="live", version=function(stack, "Own").current_version)
    AsyncInvokeConfig(stack, "OnVersion", function=live.version, retry_attempts=0)
    template = Template.from_stack(stack)

    managed = {name: doc for name, doc in handler_policies(template).items() if name.startswith("Targets")}
    statements = [st for doc in managed.values() for st in resolved(doc, longest_names(template))["Statement"]]
    arn = "arn:aws:lambda:ap-southeast-2:123456789012:function:"

    def allowed(resource: str) -> bool:
        return iam_checker.allows(statements, "lambda:PutFunctionEventInvokeConfig", resource)

    assert len(managed) > 1
    assert allowed(f"{arn}billing-000:$LATEST") and allowed(f"{arn}billing-119:$LATEST")
    assert not allowed(f"{arn}billing-000-ledger:$LATEST")
    assert not allowed(f"{arn}billing-000:live")
    assert not allowed(f"{arn}billing-000")
    listed = [resource for st in statements for resource in st["Resource"]]
    assert all("*" not in resource for resource in listed)
    version = next(resource for resource in listed if ":function:Stack-Own" in resource)
    assert version.endswith(":VERSION")  # a Version's number, as CloudFormation resolves its Version attribute
