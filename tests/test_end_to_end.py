"""End to end: synthesize app.py, run the handler from the synthesized asset, and drive every config of the template
through Create, Update and Delete against LocalStack, with the properties as the template gives them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from local_cloud import LocalFunction, Template, create_function, handler_asset

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


def settings(config):
    """The four settings of a config, from the template's properties or the API's response (same keys)."""
    destinations = config.get("DestinationConfig", {})
    return {
        "MaximumRetryAttempts": config.get("MaximumRetryAttempts"),
        "MaximumEventAgeInSeconds": config.get("MaximumEventAgeInSeconds"),
        "OnSuccess": destinations.get("OnSuccess", {}).get("Destination"),
        "OnFailure": destinations.get("OnFailure", {}).get("Destination"),
    }


def test_every_config_of_the_example_app_through_create_update_delete(aws, endpoint, assembly, cfn):
    outdir, raw = assembly
    create_function(aws.client("lambda"), "legacy-billing")
    aws.client("sqs").create_queue(QueueName="legacy-billing-dlq")
    template = Template(raw, aws.client)
    template.provision()
    configs = template.configs()
    assert len(configs) == 3

    with LocalFunction(handler_asset(outdir, raw), endpoint) as handler:

        def send(kind, logical_id, properties, **kwargs):
            event = cfn.server.event(kind, properties, logical_id=logical_id, **kwargs)
            handler.invoke(event)
            (answer,) = cfn.server.answers(event)
            assert answer["Status"] == "SUCCESS", answer["Reason"]
            return answer

        created = {}
        for logical_id, resource in configs.items():
            properties = template.resolve(resource["Properties"])
            answer = send("Create", logical_id, properties)
            created[logical_id] = (answer["PhysicalResourceId"], properties)
            assert answer["Data"]["Action"] == "put"
            assert settings(live(aws, answer["PhysicalResourceId"])) == settings(properties)

        for logical_id, (physical_id, old) in created.items():
            new = old | {"MaximumEventAgeInSeconds": 120}
            answer = send("Update", logical_id, new, physical_id=physical_id, old_properties=old)
            assert answer["PhysicalResourceId"] == physical_id
            assert (answer["Data"]["Action"], answer["Data"]["ChangedFields"]) == ("update", "MaximumEventAgeInSeconds")
            assert settings(live(aws, physical_id)) == settings(new)
            created[logical_id] = (physical_id, new)

        for logical_id, (physical_id, properties) in created.items():
            answer = send("Delete", logical_id, properties, physical_id=physical_id)
            retained = properties.get("RemovalPolicy") == "retain"
            assert answer["Data"]["Action"] == ("none" if retained else "delete")
            assert (live(aws, physical_id) is not None) is retained

    assert {physical_id.split(":")[-1] for physical_id, _ in created.values()} == {"$LATEST", "live"}
