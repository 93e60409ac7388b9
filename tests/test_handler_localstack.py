"""The handler against LocalStack, driven by CloudFormation-shaped events (string values) with the response PUT to a
local HTTP server. Each test makes its own function, so they are independent."""

from __future__ import annotations

import pytest


def live_config(aws, function_name, qualifier="$LATEST"):
    lam = aws.client("lambda")
    try:
        config = lam.get_function_event_invoke_config(FunctionName=function_name, Qualifier=qualifier)
    except lam.exceptions.ResourceNotFoundException:
        return None
    config.pop("ResponseMetadata")
    return config


def destinations(config):
    return {half: part.get("Destination") for half, part in config["DestinationConfig"].items() if part}


def test_create_puts_the_declared_config(aws, cfn):
    name, queue = aws.function(), aws.queue()

    answer = cfn.send(
        "Create",
        {
            "FunctionName": name,
            "MaximumRetryAttempts": 1,
            "MaximumEventAgeInSeconds": 3600,
            "DestinationConfig": {"OnFailure": {"Destination": queue}},
        },
    )

    config = live_config(aws, name)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == config["FunctionArn"]
    assert answer["PhysicalResourceId"].endswith(f":function:{name}:$LATEST")
    assert answer["Data"]["Action"] == "put"
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert destinations(config) == {"OnFailure": queue}


def test_create_adopts_an_existing_config_with_one_update(aws, cfn):
    name = aws.function()
    aws.client("lambda").put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2, MaximumEventAgeInSeconds=100
    )

    answer = cfn.send("Create", {"FunctionName": name, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 100})

    config = live_config(aws, name)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert (answer["Data"]["Action"], answer["Data"]["ChangedFields"]) == ("update", "MaximumRetryAttempts")
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (0, 100)


def test_update_in_sync_writes_nothing(aws, cfn):
    name, topic = aws.function(), aws.topic()
    props = {
        "FunctionName": name,
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnSuccess": {"Destination": topic}},
    }
    created = cfn.send("Create", props)
    before = live_config(aws, name)

    answer = cfn.send("Update", props, physical_id=created["PhysicalResourceId"], old_properties=props)

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Action"] == "none"
    assert live_config(aws, name)["LastModified"] == before["LastModified"]


def test_update_corrects_out_of_band_drift(aws, cfn):
    name, queue, topic = aws.function(), aws.queue(), aws.topic()
    props = {
        "FunctionName": name,
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnFailure": {"Destination": queue}},
    }
    created = cfn.send("Create", props)
    aws.client("lambda").update_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        MaximumEventAgeInSeconds=600,
        DestinationConfig={"OnSuccess": {"Destination": topic}, "OnFailure": {"Destination": queue}},
    )

    answer = cfn.send("Update", props, physical_id=created["PhysicalResourceId"], old_properties=props)

    config = live_config(aws, name)
    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["Data"]["Action"] == "put"
    assert set(answer["Data"]["ChangedFields"].split(",")) == {
        "MaximumRetryAttempts",
        "MaximumEventAgeInSeconds",
        "DestinationConfig.OnSuccess",
    }
    assert config["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in config
    assert destinations(config) == {"OnFailure": queue}


def test_update_removes_a_destination_no_longer_declared(aws, cfn):
    name, queue, bus = aws.function(), aws.queue(), aws.bus()
    old = {
        "FunctionName": name,
        "MaximumRetryAttempts": 1,
        "DestinationConfig": {"OnSuccess": {"Destination": bus}, "OnFailure": {"Destination": queue}},
    }
    new = {"FunctionName": name, "MaximumRetryAttempts": 1, "DestinationConfig": {"OnFailure": {"Destination": queue}}}
    created = cfn.send("Create", old)
    assert destinations(live_config(aws, name)) == {"OnSuccess": bus, "OnFailure": queue}

    answer = cfn.send("Update", new, physical_id=created["PhysicalResourceId"], old_properties=old)

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert (answer["Data"]["Action"], answer["Data"]["ChangedFields"]) == ("put", "DestinationConfig.OnSuccess")
    assert destinations(live_config(aws, name)) == {"OnFailure": queue}


def test_update_changing_a_field_sends_an_update(aws, cfn):
    name = aws.function()
    old = {"FunctionName": name, "MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 600}
    new = old | {"MaximumEventAgeInSeconds": 60}
    created = cfn.send("Create", old)

    answer = cfn.send("Update", new, physical_id=created["PhysicalResourceId"], old_properties=old)

    assert (answer["Data"]["Action"], answer["Data"]["ChangedFields"]) == ("update", "MaximumEventAgeInSeconds")
    assert live_config(aws, name)["MaximumEventAgeInSeconds"] == 60


def test_alias_qualifier_configures_the_alias_only(aws, cfn):
    name = aws.function()
    lam = aws.client("lambda")
    version = lam.publish_version(FunctionName=name)["Version"]
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)

    answer = cfn.send("Create", {"FunctionName": name, "Qualifier": "live", "MaximumRetryAttempts": 0})

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"].endswith(f":function:{name}:live")
    assert live_config(aws, name, "live")["MaximumRetryAttempts"] == 0
    assert live_config(aws, name) is None


def test_same_function_by_name_then_by_arn_keeps_the_physical_id(aws, cfn):
    name = aws.function()
    by_name = {"FunctionName": name, "MaximumRetryAttempts": 1}
    created = cfn.send("Create", by_name)
    arn = aws.client("lambda").get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    by_arn = {"FunctionName": arn, "MaximumRetryAttempts": 1}

    answer = cfn.send("Update", by_arn, physical_id=created["PhysicalResourceId"], old_properties=by_name)

    assert answer["Status"] == "SUCCESS", answer["Reason"]
    assert answer["PhysicalResourceId"] == created["PhysicalResourceId"]
    assert answer["Data"]["Action"] == "none"


def test_qualifier_change_replaces_and_the_old_config_is_deleted(aws, cfn):
    name = aws.function()
    lam = aws.client("lambda")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=lam.publish_version(FunctionName=name)["Version"])
    old = {"FunctionName": name, "MaximumRetryAttempts": 1}
    new = old | {"Qualifier": "live"}
    created = cfn.send("Create", old)

    updated = cfn.send("Update", new, physical_id=created["PhysicalResourceId"], old_properties=old)
    cleanup = cfn.send("Delete", old, physical_id=created["PhysicalResourceId"])

    assert updated["PhysicalResourceId"] != created["PhysicalResourceId"]
    assert cleanup["Data"]["Action"] == "delete"
    assert live_config(aws, name) is None
    assert live_config(aws, name, "live")["MaximumRetryAttempts"] == 1


def test_retain_leaves_the_config_on_delete(aws, cfn):
    name = aws.function()
    props = {"FunctionName": name, "MaximumRetryAttempts": 1, "RemovalPolicy": "retain"}
    created = cfn.send("Create", props)

    answer = cfn.send("Delete", props, physical_id=created["PhysicalResourceId"])

    assert (answer["Status"], answer["Data"]["Action"]) == ("SUCCESS", "none")
    assert live_config(aws, name)["MaximumRetryAttempts"] == 1


def test_delete_twice_succeeds_both_times(aws, cfn):
    name = aws.function()
    props = {"FunctionName": name, "MaximumRetryAttempts": 1}
    created = cfn.send("Create", props)

    first = cfn.send("Delete", props, physical_id=created["PhysicalResourceId"])
    second = cfn.send("Delete", props, physical_id=created["PhysicalResourceId"])

    assert (first["Status"], first["Data"]["Action"]) == ("SUCCESS", "delete")
    assert (second["Status"], second["Data"]["Action"]) == ("SUCCESS", "none")
    assert live_config(aws, name) is None


@pytest.mark.parametrize("form", ["name:alias", "partial ARN", "qualified ARN"])
def test_every_function_name_form_reaches_the_same_config(aws, cfn, form):
    name = aws.function()
    lam = aws.client("lambda")
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion=lam.publish_version(FunctionName=name)["Version"])
    arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    account = arn.split(":")[4]
    function_name = {
        "name:alias": f"{name}:live",
        "partial ARN": f"{account}:function:{name}:live",
        "qualified ARN": f"{arn}:live",
    }[form]

    answer = cfn.send("Create", {"FunctionName": function_name, "MaximumEventAgeInSeconds": 120})

    assert answer["PhysicalResourceId"] == f"{arn}:live"
    assert live_config(aws, name, "live")["MaximumEventAgeInSeconds"] == 120


def test_create_for_a_missing_function_fails_with_the_api_reason(aws, cfn):
    answer = cfn.send("Create", {"FunctionName": "no-such-function-4f2a", "MaximumRetryAttempts": 1})

    assert answer["Status"] == "FAILED"
    assert "ResourceNotFoundException" in answer["Reason"]
    assert not answer["PhysicalResourceId"].startswith("arn:")
