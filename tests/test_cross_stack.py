"""A config in another stack than its function (the everyday CDK layout), in a nested stack, and across stages: every
reference a template makes names something of that same template (CDK's exports and imports, or a nested stack's
parameters, carry the rest), the local CloudFormation deploys the stacks with the configs live, and a function of
another stage, which CDK cannot reference, fails the synth saying what to pass instead."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig, InvalidProperty
from aws_cdk import aws_lambda as lambda_
from test_construct import function
from test_scenarios import ok

PSEUDO = re.compile(r"AWS::[A-Za-z]+")


def dangling(template: dict[str, Any]) -> list[str]:
    """Each Ref, Fn::GetAtt and Fn::Sub variable of the template that names nothing of the template."""
    names = set(template.get("Resources", {})) | set(template.get("Parameters", {}))
    found: list[str] = []

    def visit(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                visit(item)
        elif isinstance(value, dict):
            if "Ref" in value and not PSEUDO.fullmatch(value["Ref"]) and value["Ref"] not in names:
                found.append(f"Ref {value['Ref']}")
            if "Fn::GetAtt" in value and value["Fn::GetAtt"][0] not in names:
                found.append(f"GetAtt {value['Fn::GetAtt'][0]}")
            if "Fn::Sub" in value:
                text, given = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
                for variable in re.findall(r"\$\{([^}!][^}]*)\}", text):
                    name = variable.split(".")[0]
                    if name not in given and not PSEUDO.fullmatch(variable) and name not in names:
                        found.append(f"Sub ${{{variable}}}")
            for item in value.values():
                visit(item)

    visit(template.get("Resources", {}))
    visit(template.get("Outputs", {}))
    return found


def two_stacks(app: cdk.App, name: str) -> None:
    functions = cdk.Stack(app, "Functions")
    fn = function(functions, "Orders", name)
    live = lambda_.Alias(functions, "Live", alias_name="live", version=fn.current_version)
    configs = cdk.Stack(app, "Configs")
    AsyncInvokeConfig(configs, "OnOrders", function=fn, retry_attempts=0)
    AsyncInvokeConfig(configs, "OnLive", function=live, retry_attempts=1)
    AsyncInvokeConfig(configs, "OnVersion", function=fn.current_version, retry_attempts=2)


def test_a_config_in_another_stack_than_its_function_references_only_its_own_template(h):
    app = cdk.App(context={"async-invoke-config:deploy-token": "x"})
    two_stacks(app, h.name("xstack"))
    assembly = app.synth()

    for stack in ("Functions", "Configs"):
        assert dangling(assembly.get_stack_by_name(stack).template) == [], stack


def test_the_two_stacks_deploy_with_exports_and_imports_and_the_configs_live(h):
    name = h.name("xstack-live")

    deployed = h.deploy_app(lambda app: two_stacks(app, name), "Functions", "Configs")

    ok(deployed["Configs"], "CREATE_COMPLETE")
    version = h.aws.client("lambda").list_versions_by_function(FunctionName=name)["Versions"][-1]["Version"]
    assert h.live(name) == {"MaximumRetryAttempts": 0}
    assert h.live(name, "live") == {"MaximumRetryAttempts": 1}
    assert h.live(name, version) == {"MaximumRetryAttempts": 2}
    assert h.owner(name)[0] == "Configs"


def test_configs_in_and_around_a_nested_stack_reference_only_their_own_templates(tmp_path):
    app = cdk.App(outdir=str(tmp_path), context={"async-invoke-config:deploy-token": "x"})
    parent = cdk.Stack(app, "Parent")
    outer = function(parent, "Outer", "outer-fn")
    nested = cdk.NestedStack(parent, "Nested")
    inner = function(nested, "Inner")
    AsyncInvokeConfig(nested, "OnOuter", function=outer, retry_attempts=0)
    AsyncInvokeConfig(parent, "OnInner", function=inner, retry_attempts=1)
    assembly = app.synth()

    templates = [json.loads(path.read_text()) for path in tmp_path.glob("*.template.json")]
    assert len(templates) == 2  # the parent's, and the nested stack's (an asset of the parent)
    for template in templates:
        assert dangling(template) == []
    assert assembly.get_stack_by_name("Parent").template["Resources"]


def test_a_function_of_another_stage_fails_the_synth_saying_what_to_pass_instead():
    app = cdk.App()
    first = cdk.Stage(app, "First")
    fn = function(cdk.Stack(first, "Functions"), "Orders")
    second = cdk.Stage(app, "Second")

    with pytest.raises(InvalidProperty) as raised:
        AsyncInvokeConfig(cdk.Stack(second, "Configs"), "OnOrders", function=fn, retry_attempts=0)

    message = str(raised.value)
    assert "Second/Configs/OnOrders" in message and "First/Functions/Orders" in message
    assert "cannot reference a function across stages" in message and "name or ARN" in message
