"""End to end: synthesize app.py, run the handler from the synthesized asset, and drive every config of the template
through Create, Update and Delete against LocalStack as CloudFormation would (every call checked against the
synthesized policy), with the properties as the template gives them."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cloudformation import ResponseServer, new_stack_id
from config_lines import settings_of
from local_cloud import LocalCloudFormation
from local_function import LocalFunction, handler_asset
from natives import create_function
from template import CONFIG_TYPE

ROOT = Path(__file__).resolve().parent.parent
STACK = "AsyncInvokeConfigExample"


@pytest.fixture(scope="module")
def assembly(tmp_path_factory):
    outdir = tmp_path_factory.mktemp("cdk.out")
    subprocess.run([sys.executable, "app.py"], cwd=ROOT, env=os.environ | {"CDK_OUTDIR": str(outdir)}, check=True)
    return outdir, json.loads((outdir / f"{STACK}.template.json").read_text())


def live(aws, physical_id):
    lam = aws.client("lambda")
    try:
        return lam.get_function_event_invoke_config(FunctionName=physical_id)
    except lam.exceptions.ResourceNotFoundException:
        return None


def test_every_config_of_the_example_app_through_create_update_delete(aws, endpoint, assembly):
    outdir, template = assembly
    lam = aws.client("lambda")
    create_function(lam, "legacy-billing")
    with contextlib.suppress(lam.exceptions.ResourceNotFoundException):  # retained by an earlier run: start clean
        lam.delete_function_event_invoke_config(FunctionName="legacy-billing")
    aws.client("sqs").create_queue(QueueName="legacy-billing-dlq")
    stack_id = new_stack_id("EndToEnd")

    with (
        ResponseServer(stack_id) as server,
        LocalFunction(handler_asset(outdir, template), endpoint, server.url) as handler,
    ):
        stack = LocalCloudFormation(aws.client, handler, server, stack_id)

        created = stack.deploy(template)
        assert (created.status, created.denied) == ("CREATE_COMPLETE", [])
        configs = stack.configs()
        assert len(configs) == 3
        assert {key: r.attributes["Action"] for key, r in configs.items()} == dict.fromkeys(configs, "put")
        for resource in configs.values():
            assert settings_of(live(aws, resource.physical_id)) == settings_of(resource.properties)

        changed = copy.deepcopy(template)
        for resource in changed["Resources"].values():
            if resource["Type"] == CONFIG_TYPE:
                resource["Properties"]["MaxEventAge"] = 120
        updated = stack.deploy(changed)
        assert (updated.status, updated.denied) == ("UPDATE_COMPLETE", [])
        for resource in stack.configs().values():
            assert resource.attributes["ChangedFields"] == "MaximumEventAgeInSeconds"
            assert live(aws, resource.physical_id)["MaximumEventAgeInSeconds"] == 120

        deleted = stack.destroy()
        assert (deleted.status, deleted.denied) == ("DELETE_COMPLETE", [])
        remaining = {
            key.rstrip("0123456789ABCDEF")
            for key, resource in configs.items()
            if live(aws, resource.physical_id) is not None
        }
        assert remaining == {"LegacyBillingAsync"}  # RemovalPolicy.RETAIN
