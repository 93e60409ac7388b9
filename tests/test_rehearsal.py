"""The rehearsal's steps against LocalStack, each asserting the live state after it (the example app, synthesized
with `python app.py`, driven as CloudFormation would)."""

from __future__ import annotations

import pytest
from rehearsal import Rehearsal, Step, settings_of


@pytest.fixture(scope="module")
def steps(endpoint, tmp_path_factory) -> dict[str, Step]:
    with Rehearsal(endpoint, tmp_path_factory.mktemp("rehearsal"), synth="python") as rehearsal:
        names = (
            "deploy",
            "change_out_of_band",
            "redeploy_unchanged",
            "change_settings",
            "fail_and_roll_back",
            "destroy",
        )
        return {name: getattr(rehearsal, name)() for name in names}


def in_line(step: Step) -> dict[str, bool]:
    return {key: settings_of(step.live_after[key]) == settings_of(step.declared[key]) for key in step.live_after}


def events(step: Step) -> list[tuple[str, str, str]]:
    assert step.deployment is not None
    return [(sent.request, sent.logical_id, sent.status) for sent in step.deployment.sent]


def drifted(step: Step) -> str:
    return next(key for key, props in step.declared.items() if "OnSuccess" in props.get("DestinationConfig", {}))


def test_deploy_creates_every_config_as_declared(steps):
    step = steps["deploy"]

    assert step.status == "CREATE_COMPLETE"
    assert len(step.live_after) == 3
    assert all(in_line(step).values())


def test_out_of_band_change_leaves_one_config_drifted(steps):
    step = steps["change_out_of_band"]

    assert in_line(step) == {key: key != drifted(step) for key in step.live_after}
    assert settings_of(step.live_after[drifted(step)]) == {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": None,
        "Destinations": {},
    }


def test_redeploy_without_code_change_sends_only_the_drift_check_and_corrects(steps):
    step = steps["redeploy_unchanged"]

    assert step.status == "UPDATE_COMPLETE"
    ((request, logical_id, status),) = events(step)
    assert (request, status) == ("Update", "SUCCESS")
    assert "DriftCheck" in logical_id
    assert step.deployment.sent[0].answer["Data"]["Corrected"] == "1"
    assert all(in_line(step).values())


def test_change_of_settings_updates_and_deletes_the_replaced_physical_id(steps):
    step = steps["change_settings"]

    assert step.status == "UPDATE_COMPLETE"
    requests = [(request, logical_id.rstrip("0123456789ABCDEF")) for request, logical_id, _ in events(step)]
    assert requests == [
        ("Update", "LegacyBillingAsync"),
        ("Update", "OrdersLiveAsync"),
        ("Update", "AsyncInvokeConfigProviderDriftCheck"),
        ("Delete", "LegacyBillingAsync"),
    ]
    live = {key.rstrip("0123456789ABCDEF"): value for key, value in step.live_after.items()}
    assert live["OrdersLiveAsync"]["MaximumRetryAttempts"] == 2
    assert live["LegacyBillingAsync"]["FunctionArn"].endswith(":legacy-billing:blue")


def test_a_failed_correction_fails_the_deploy_and_the_rollback_does_not_get_stuck(steps):
    step = steps["fail_and_roll_back"]

    assert step.status == "UPDATE_ROLLBACK_COMPLETE"
    (failed, rollback) = step.deployment.sent
    assert (failed.request, failed.status, rollback.request, rollback.status) == (
        "Update",
        "FAILED",
        "Update",
        "SUCCESS",
    )
    assert "legacy-billing:blue" in failed.answer["Reason"]
    assert "MaximumRetryAttempts" in failed.answer["Reason"]


def test_destroy_deletes_every_config_but_the_retained_one(steps):
    step = steps["destroy"]

    assert step.status == "DELETE_COMPLETE"
    remaining = {key.rstrip("0123456789ABCDEF") for key, value in step.live_after.items() if value is not None}
    assert remaining == {"LegacyBillingAsync"}
