"""The read-only drift report (`python -m async_invoke_config drift`), against a stack the local CloudFormation
deployed to LocalStack: in sync after the deploy, drifted after an out-of-band change (exit 1, naming the fields),
in sync again after the redeploy; every call it makes counted, none a write; run as users run it, in a process that
never loads aws-cdk-lib; errors in one line with exit code 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import iam
import pytest
from async_invoke_config import AsyncInvokeConfig, aws_session, cli
from aws_cdk import Duration
from botocore.stub import Stubber
from cloudformation import StaticStack, new_stack_id
from lambda_api import Deadline
from plan import Owner, Record
from report import DRIFTED, IN_SYNC, UNCHECKED, compare
from settings import Settings, Target
from stack_harness import Harness, Policed, harness

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
# The IAM policy the README gives a CI role for the report (the stack's name in its ARN).
README_POLICY: list[dict[str, Any]] = [
    {
        "Effect": "Allow",
        "Action": ["cloudformation:DescribeStacks", "cloudformation:ListStackResources"],
        "Resource": "arn:aws:cloudformation:*:*:stack/{stack}/*",
    },
    {
        "Effect": "Allow",
        "Action": ["ssm:GetParameters", "ssm:GetParameter"],
        "Resource": "arn:aws:ssm:us-east-1:000000000000:parameter/async-invoke-config/000000000000/us-east-1/*",
    },
    {"Effect": "Allow", "Action": "lambda:GetFunctionEventInvokeConfig", "Resource": "arn:aws:lambda:*:*:function:*"},
]


def readme_policy(stack: str) -> list[dict[str, Any]]:
    return [{**statement, "Resource": statement["Resource"].format(stack=stack)} for statement in README_POLICY]


@dataclass
class Deployed:
    harness: Harness
    stack: str
    orders: str
    billing: str
    queue: str

    def build(self, stack: Any) -> None:
        AsyncInvokeConfig(
            stack,
            "OrdersAsync",
            function=self.orders,
            retry_attempts=1,
            max_event_age=Duration.hours(1),
            on_failure=self.queue,
        )
        AsyncInvokeConfig(stack, "BillingAsync", function=self.billing, retry_attempts=0)

    def deploy(self) -> None:
        deployment = self.harness.deploy(self.stack, self.build)
        assert deployment.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE"), deployment.failure
        assert deployment.denied == []

    def change_out_of_band(self) -> None:
        self.harness.aws.client("lambda").put_function_event_invoke_config(
            FunctionName=self.orders, MaximumRetryAttempts=2
        )

    def env(self) -> dict[str, str]:
        """The standard AWS variables, pointed at the emulator and at the local CloudFormation API."""
        return {
            "AWS_ENDPOINT_URL": self.harness.aws.endpoint,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": self.harness.server.url,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION,
        }


@pytest.fixture(scope="module")
def deployed(aws, tmp_path_factory):
    with harness(aws, tmp_path_factory.mktemp("drift-report")) as running:
        stack = Deployed(running, running.name("DriftReport"), running.function("orders"), running.function("bill"), "")
        stack.queue = aws.queue()
        stack.deploy()
        yield stack


@dataclass
class Run:
    code: int
    out: str
    err: str
    calls: list[str]


def report(deployed: Deployed, monkeypatch, *args: str, stack: str | None = None) -> Run:
    """The report run in this process through a boto3 session whose every call (of every client it makes) is
    counted by a botocore event hook."""
    for key, value in deployed.env().items():
        monkeypatch.setenv(key, value)
    session = boto3.Session()
    calls: list[str] = []
    session.events.register("before-call", lambda model, **_: calls.append(model.name))
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["drift", "--stack", stack or deployed.stack, *args], session=session, out=out, err=err)
    return Run(code, out.getvalue(), err.getvalue(), calls)


def writes(calls: list[str]) -> list[str]:
    return [name for name in calls if not name.startswith(("Get", "List", "Describe"))]


def test_a_deployed_stack_reports_every_config_in_sync_and_exits_0(deployed, monkeypatch):
    deployed.deploy()

    run = report(deployed, monkeypatch)

    assert run.code == 0, run.err
    title, header, *lines = run.out.splitlines()
    assert title == f"stack {deployed.stack} (UPDATE_COMPLETE): 2 configs, all in sync"
    assert header.split() == ["function", "qualifier", "status", "differs", "declared", "live"]
    assert sorted(line.split()[:5] for line in lines) == sorted(
        [name, "$LATEST", "in", "sync", "-"] for name in (deployed.orders, deployed.billing)
    )
    assert writes(run.calls) == []


def test_an_out_of_band_change_exits_1_naming_the_fields_and_writes_nothing(deployed, monkeypatch):
    deployed.deploy()
    deployed.change_out_of_band()

    run = report(deployed, monkeypatch, "--json")

    assert run.code == 1
    by_function = {row["function"]: row for row in json.loads(run.out)}
    orders = by_function[deployed.orders]
    assert orders["status"] == DRIFTED
    assert orders["differs"] == ["MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig.OnFailure"]
    assert orders["declared"] == {
        "MaximumRetryAttempts": 1,
        "MaximumEventAgeInSeconds": 3600,
        "DestinationConfig.OnSuccess": None,
        "DestinationConfig.OnFailure": deployed.queue,
    }
    assert orders["live"]["MaximumRetryAttempts"] == 2
    assert by_function[deployed.billing]["status"] == IN_SYNC
    assert sorted(set(run.calls)) == [
        "DescribeStacks",
        "GetFunctionEventInvokeConfig",
        "GetParameters",
        "ListStackResources",
    ]
    assert run.calls.count("GetFunctionEventInvokeConfig") == 2
    assert writes(run.calls) == []
    assert deployed.harness.live(deployed.orders) == {"MaximumRetryAttempts": 2}  # still drifted: nothing written


def test_the_redeploy_corrects_the_drift_and_the_report_exits_0_again(deployed, monkeypatch):
    deployed.change_out_of_band()
    assert report(deployed, monkeypatch).code == 1

    deployed.deploy()

    assert report(deployed, monkeypatch).code == 0


def test_a_config_deleted_out_of_band_is_drifted_in_every_declared_field(deployed, monkeypatch):
    deployed.deploy()
    deployed.harness.aws.client("lambda").delete_function_event_invoke_config(FunctionName=deployed.billing)

    run = report(deployed, monkeypatch, "--json")

    assert run.code == 1
    (billing,) = [row for row in json.loads(run.out) if row["function"] == deployed.billing]
    assert (billing["status"], billing["differs"], billing["live"]) == (DRIFTED, ["MaximumRetryAttempts"], None)


def test_the_command_runs_in_a_process_that_never_loads_aws_cdk_or_jsii(deployed, tmp_path):
    deployed.deploy()
    deployed.change_out_of_band()

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "async_invoke_config", "drift", "--stack", deployed.stack],
        cwd=tmp_path,
        env=os.environ | deployed.env() | {"PYTHONPATH": str(ROOT / "constructs")},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )

    imported = [line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")]
    messages = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    assert "boto3" in imported and "report" in imported
    assert [name for name in imported if name.split(".")[0] in ("aws_cdk", "jsii", "constructs")] == []
    assert messages == []  # no jsii banner, no Node warning, no traceback
    assert result.returncode == 1
    drifted = [line for line in result.stdout.splitlines() if line.startswith(deployed.orders)]
    assert len(drifted) == 1 and "drifted" in drifted[0] and "retries, age, on-failure" in drifted[0]


def test_the_profile_option_uses_the_profiles_keys_region_and_endpoints(deployed, monkeypatch, tmp_path):
    """`--profile`, as `cdk deploy --profile`: the profile's keys, region and endpoints (here the emulator's and the
    local CloudFormation's), whatever AWS_PROFILE says."""
    for key in [key for key in os.environ if key.startswith("AWS_")]:
        monkeypatch.delenv(key)
    config = tmp_path / "config"
    config.write_text(
        f"[profile local]\naws_access_key_id = test\naws_secret_access_key = test\nregion = {REGION}\n"
        f"endpoint_url = {deployed.harness.aws.endpoint}\nservices = local\n"
        f"[services local]\ncloudformation =\n  endpoint_url = {deployed.harness.server.url}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_PROFILE", "my-team")
    deployed.deploy()
    out, err = io.StringIO(), io.StringIO()

    code = cli.main(["drift", "--stack", deployed.stack, "--profile", "local"], out=out, err=err)

    assert (code, err.getvalue()) == (0, "")
    assert out.getvalue().startswith(f"stack {deployed.stack} (UPDATE_COMPLETE): 2 configs, all in sync")


def test_the_policy_the_readme_gives_is_enough(deployed, monkeypatch):
    world = iam.World(readme_policy(deployed.stack))

    out, err = io.StringIO(), io.StringIO()
    code = cli.main(
        ["drift", "--stack", deployed.stack], session=Policed(deployed.harness, world, REGION), out=out, err=err
    )

    assert code in (0, 1), err.getvalue()
    assert world.denied == []
    assert {action for action, _, _ in world.calls} == {
        "cloudformation:DescribeStacks",
        "cloudformation:ListStackResources",
        "ssm:GetParameters",
        "lambda:GetFunctionEventInvokeConfig",
    }


def test_access_denied_exits_2_in_one_line_naming_the_action(deployed):
    world = iam.World(readme_policy(deployed.stack)[:1])  # no ssm:GetParameters, no lambda:Get...

    err = io.StringIO()
    code = cli.main(
        ["drift", "--stack", deployed.stack],
        session=Policed(deployed.harness, world, REGION),
        out=io.StringIO(),
        err=err,
    )

    assert code == 2
    assert err.getvalue().count("\n") == 1
    assert err.getvalue().startswith("python -m async_invoke_config drift: access denied: ssm:GetParameters: User:")


def test_an_unknown_stack_exits_2_in_one_line(deployed, monkeypatch):
    run = report(deployed, monkeypatch, stack="NoSuchStack")

    assert run.code == 2
    assert run.out == ""
    assert run.err == (
        "python -m async_invoke_config drift: stack 'NoSuchStack' not found in us-east-1, in the credentials' account\n"
    )


def test_a_stack_without_configs_exits_2_in_one_line(deployed, monkeypatch):
    stack_id = new_stack_id(deployed.harness.name("Empty"))
    deployed.harness.server.stacks[stack_id] = StaticStack("CREATE_COMPLETE")

    run = report(deployed, monkeypatch, stack=stack_id.split("/")[1])

    assert run.code == 2
    assert run.err.count("\n") == 1 and "holds no async-invoke config" in run.err


def test_a_write_is_refused_before_it_is_sent():
    client = boto3.client("lambda", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)  # no response queued: a call that reached the client would fail differently
    api = aws_session.ReadOnlyApi(client, Deadline.after(10))

    with stub, pytest.raises(aws_session.ReportError, match="lambda:PutFunctionEventInvokeConfig refused: the command"):
        api.put(FunctionName="orders", MaximumRetryAttempts=1)


def test_a_service_error_exits_2_in_one_line_not_a_traceback():
    client = boto3.client("cloudformation", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("describe_stacks", "InternalFailure", "Something broke,\non two lines", 500)
    stub.activate()

    class Session:
        region_name = REGION

        def client(self, service: str, **kwargs: Any) -> Any:
            return client

    err = io.StringIO()
    code = cli.main(["drift", "--stack", "Orders"], session=Session(), out=io.StringIO(), err=err)

    assert code == 2
    assert err.getvalue() == (
        "python -m async_invoke_config drift: An error occurred (InternalFailure) when calling the DescribeStacks "
        "operation: Something broke, on two lines\n"
    )


STACK_ID = "arn:aws:cloudformation:us-east-1:111111111111:stack/Orders/5b2f1a40-0000-11f0-0000-000000000000"
TARGET = Target("arn:aws:lambda:us-east-1:111111111111:function:orders:$LATEST", "$LATEST")
OWNER = Owner(STACK_ID, "OrdersAsync")
DECLARED = Settings(retry_attempts=1, on_failure="arn:aws:sqs:us-east-1:111111111111:orders-dlq")


@pytest.mark.parametrize(
    ("record", "live", "status", "differs", "reason"),
    [
        (Record(OWNER, DECLARED), DECLARED, IN_SYNC, (), ""),
        (
            Record(OWNER, DECLARED),
            Settings(retry_attempts=2),
            DRIFTED,
            ("MaximumRetryAttempts", "DestinationConfig.OnFailure"),
            "fields differ",
        ),
        (Record(OWNER, DECLARED), None, DRIFTED, ("MaximumRetryAttempts", "DestinationConfig.OnFailure"), "no config"),
        (None, DECLARED, UNCHECKED, (), "no record"),
        (Record(Owner(STACK_ID, "Other"), DECLARED), DECLARED, UNCHECKED, (), "the record names resource Other"),
    ],
    ids=["in sync", "drifted", "gone", "no record", "another owner"],
)
def test_each_config_is_in_sync_drifted_or_unchecked_by_its_record(record, live, status, differs, reason):
    row = compare(TARGET, OWNER, record, live)

    assert (row.status, row.differs) == (status, differs)
    assert row.reason.startswith(reason)
