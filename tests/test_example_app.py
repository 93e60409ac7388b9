"""The example app synthesizes with no AWS account, through `python app.py` and the real CDK CLI, and passes
cdk-nag's AwsSolutions pack and cfn-lint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import aws_cdk as cdk
import cdk_nag
import pytest
from async_invoke_config import AsyncInvokeConfig

import app as example

ROOT = Path(__file__).resolve().parent.parent
STACK = "AsyncInvokeConfigExample"
TEAM = "AsyncInvokeConfigTeamDefaults"
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def configs(template_path: Path) -> dict[str, dict]:
    resources = json.loads(template_path.read_text())["Resources"]
    return {key: value for key, value in resources.items() if value["Type"] == "Custom::LambdaAsyncInvokeConfig"}


def test_python_app_synthesizes(tmp_path):
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=os.environ | {"CDK_OUTDIR": str(tmp_path)}, check=True)

    assert len(configs(tmp_path / f"{STACK}.template.json")) == 3
    team = json.loads((tmp_path / f"{TEAM}.template.json").read_text())["Resources"]
    assert {key[:-8] for key in configs(tmp_path / f"{TEAM}.template.json")} == {"NotifyAsync"}  # its own config
    (group,) = [value for value in team.values() if value["Type"] == "Custom::LambdaAsyncInvokeConfigs"]
    ingest = next(key for key, value in team.items() if key.startswith("Ingest") and value["Type"].endswith("Function"))
    assert sorted(map(str, group["Properties"]["Members"].values())) == sorted(  # the defaults' (Lookup left out)
        [str({"Ref": ingest}), str({"Function": {"Ref": ingest}, "Qualifier": "live"})]
    )


def test_cdk_cli_synthesizes_the_app(tmp_path):
    result = subprocess.run(
        [str(CDK), "synth", "--no-notices", "-o", str(tmp_path), "--quiet"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert len(configs(tmp_path / f"{STACK}.template.json")) == 3
    assert "async-invoke-config:not-granted" in result.stderr
    assert "the execution role of the function 'legacy-billing' was not granted" in result.stderr
    assert (  # the exemption, with its reason, as the CLI lists an info annotation
        "INFO [async-invoke-config:exempt-from-on-failure] needs no on-failure destination (exempt from "
        "`require_on_failure`): Invoked only synchronously; it has no async events. (Construct Annotations)\n"
        f"   {TEAM}/Lookup\n"
    ) in result.stderr


def large_stack(app: cdk.App, count: int = 400) -> cdk.Stack:
    stack = cdk.Stack(app, "Large")
    for index in range(count):
        AsyncInvokeConfig(
            stack,
            f"Config{index}",
            function=f"function-{index:03d}",
            retry_attempts=0,
            on_failure=stack.format_arn(service="sqs", resource="dlq", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME),
        )
    return stack


@pytest.mark.parametrize(
    "build",
    [lambda app: example.ExampleStack(app, STACK), lambda app: example.TeamDefaultsStack(app, TEAM), large_stack],
    ids=["example app", "team defaults", "400 configs"],
)
def test_aws_solutions_pack_reports_no_errors(build):
    app = cdk.App()
    stack = build(app)
    app.synth()  # as `cdk synth` would, before the pack runs: aspects included

    report = cdk_nag.AwsSolutionsChecks(app).validate_scope(stack)

    assert [violation.rule_name for violation in report.violations] == []
    assert report.success


def test_cfn_lint_reports_no_errors(tmp_path):
    app = cdk.App(outdir=str(tmp_path))
    example.ExampleStack(app, STACK)
    example.TeamDefaultsStack(app, TEAM)
    large_stack(app, 50)
    app.synth()
    templates = sorted(str(path) for path in tmp_path.glob("*.template.json"))

    cfn_lint = Path(sys.executable).parent / "cfn-lint"

    result = subprocess.run([str(cfn_lint), *templates], capture_output=True, text=True, check=False)

    assert len(templates) == 3
    assert result.returncode in (0, 4, 8, 12), result.stdout + result.stderr  # 2: errors; 1 or 32: did not run
    assert not [line for line in result.stdout.splitlines() if line.startswith("E")], result.stdout
