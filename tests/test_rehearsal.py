"""The rehearsal's steps against LocalStack, each asserting the live state and the records after it (the example
app, synthesized with `python app.py` at each step's version, driven as CloudFormation would, every call the handler
makes checked against the policy synthesized for that step)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from config_lines import api_shape, settings_of
from rehearsal_scenario import EXPECTED, Rehearsal
from step_report import WIDTH, Step, fit_table, legend
from synth_messages import Message, printed


@pytest.fixture(scope="module")
def steps(endpoint, tmp_path_factory) -> dict[str, Step]:
    with Rehearsal(endpoint, tmp_path_factory.mktemp("rehearsal"), synth="python") as rehearsal:
        return {run.__name__: run() for run in rehearsal.steps()}


def in_line(step: Step) -> dict[str, bool]:
    return {key: settings_of(step.live_after[key]) == settings_of(step.declared[key]) for key in step.declared}


def events(step: Step) -> list[tuple[str, str, str]]:
    assert step.deployment is not None
    return [(sent.request, sent.logical_id.rstrip("0123456789ABCDEF"), sent.status) for sent in step.deployment.sent]


def by_name(values: dict[str, Any]) -> dict[str, Any]:
    return {key.rstrip("0123456789ABCDEF"): value for key, value in values.items()}


def owners(step: Step) -> dict[str, str]:
    """Each config's record's owner, both without CDK's hash suffix."""
    return {
        key.rstrip("0123456789ABCDEF"): owner.split()[0].rstrip("0123456789ABCDEF")
        for key, owner in step.owners.items()
    }


def drifted(step: Step) -> str:
    return next(
        key for key, props in step.declared.items() if "OnSuccess" in api_shape(props).get("DestinationConfig", {})
    )


def test_every_step_ends_as_expected_and_no_call_is_denied(steps):
    assert [step.status for step in steps.values()] == EXPECTED
    assert [call for step in steps.values() if step.deployment for call in step.deployment.denied] == []


def test_deploy_creates_every_config_as_declared_and_owns_it(steps):
    step = steps["deploy"]

    assert len(step.live_after) == 3
    assert all(in_line(step).values())
    assert owners(step) == {key: key for key in ("OrdersAsync", "OrdersLiveAsync", "LegacyBillingAsync")}


def test_out_of_band_change_leaves_one_config_drifted(steps):
    step = steps["change_out_of_band"]

    assert in_line(step) == {key: key != drifted(step) for key in step.declared}
    assert settings_of(step.live_after[drifted(step)]) == {
        "MaximumRetryAttempts": 2,
        "MaximumEventAgeInSeconds": None,
        "Destinations": {},
    }


def test_the_drift_report_between_the_change_and_the_redeploy_names_the_drifted_config(steps):
    step = steps["drift_report"]

    assert step.status == "exit code 1"
    assert step.report[0] == "stack AsyncInvokeConfigExample (CREATE_COMPLETE): 3 configs, 1 not in sync"
    header, *rows = step.report[1:]
    status = slice(header.index("status"), header.index("differs"))
    assert sorted(row[status].strip() for row in rows) == ["drifted", "in sync", "in sync"]
    assert [line for line in step.report if "drifted" in line and "retries, age, on-success, on-failure" in line]
    assert not in_line(step)[drifted(step)]  # the report wrote nothing


def test_redeploy_without_code_change_sends_only_the_drift_check_and_corrects(steps):
    step = steps["redeploy_unchanged"]

    ((request, logical_id, status),) = events(step)
    assert (request, logical_id, status) == ("Update", "AsyncInvokeConfigProviderDriftCheck", "SUCCESS")
    assert step.deployment.sent[0].answer["Data"]["Corrected"] == "1"
    assert all(in_line(step).values())


def test_change_of_settings_updates_and_deletes_the_replaced_physical_id(steps):
    step = steps["change_settings"]

    assert events(step) == [
        ("Update", "LegacyBillingAsync", "SUCCESS"),
        ("Update", "OrdersLiveAsync", "SUCCESS"),
        ("Update", "AsyncInvokeConfigProviderDriftCheck", "SUCCESS"),
        ("Delete", "LegacyBillingAsync", "SUCCESS"),
    ]
    assert all(in_line(step).values())
    physical = step.deployment.sent[0].answer["PhysicalResourceId"]
    assert physical.endswith(":legacy-billing:blue")


def test_a_failed_correction_fails_the_deploy_and_the_rollback_does_not_get_stuck(steps):
    step = steps["fail_and_roll_back"]

    (failed, rollback) = step.deployment.sent
    assert (failed.request, failed.status, rollback.request, rollback.status) == (
        "Update",
        "FAILED",
        "Update",
        "SUCCESS",
    )
    assert "legacy-billing:blue" in failed.answer["Reason"]
    assert "MaximumRetryAttempts" in failed.answer["Reason"]


def test_a_rename_keeps_the_config_and_moves_its_ownership(steps):
    step = steps["rename"]

    requests = [(request, name) for request, name, _ in events(step) if "LiveAsync" in name]
    assert requests == [("Create", "AsyncOrdersLiveAsync"), ("Delete", "OrdersLiveAsync")]
    assert owners(step)["OrdersLiveAsync"] == owners(step)["AsyncOrdersLiveAsync"] == "AsyncOrdersLiveAsync"
    assert by_name(step.live_after)["OrdersLiveAsync"] is not None


def test_a_removal_deletes_the_config_it_created(steps):
    step = steps["remove"]

    assert [(r, n) for r, n, _ in events(step) if r == "Delete"] == [("Delete", "AsyncOrdersLiveAsync")]
    assert by_name(step.live_after)["AsyncOrdersLiveAsync"] is None
    assert owners(step)["AsyncOrdersLiveAsync"] == "(no"


def test_a_rollback_after_adopting_a_config_puts_it_back_as_found(steps):
    step = steps["adopt_and_roll_back"]

    assert [(r, n) for r, n, _ in events(step) if "Reports" in n] == [
        ("Create", "LegacyReportsAsync"),
        ("Delete", "LegacyReportsAsync"),
    ]
    reports = by_name(step.live_after)["LegacyReportsAsync"]
    assert settings_of(reports) == {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 900, "Destinations": {}}
    assert owners(step)["LegacyReportsAsync"] == "(no"


def test_the_migration_from_the_native_resource_keeps_the_config_after_every_deploy(steps):
    native = {"MaximumRetryAttempts": 1, "MaximumEventAgeInSeconds": 7200, "Destinations": {}}
    for name in ("add_native", "migrate_retain", "migrate_swap"):
        shipping = {key: live for key, live in by_name(steps[name].live_after).items() if key.startswith("Shipping")}
        assert shipping and all(settings_of(live) == native for live in shipping.values()), (name, shipping)
    assert events(steps["migrate_swap"]) == [
        ("Create", "ShippingAsync", "SUCCESS"),
        ("Update", "AsyncInvokeConfigProviderDriftCheck", "SUCCESS"),
    ]
    assert owners(steps["migrate_swap"])["ShippingAsync"] == "ShippingAsync"


def test_destroy_lists_the_configs_it_leaves_and_not_those_gone_with_the_stacks_functions(steps):
    step = steps["destroy"]

    assert {row.logical_id.rstrip("0123456789ABCDEF"): (row.target, row.after) for row in step.rows} == {
        "LegacyBillingAsync": ("legacy-billing:blue", "r=- a=1800 ok=- fail=legacy-billing-dlq"),  # retained
        "LegacyReportsAsync": ("legacy-reports:$LATEST", "r=2 a=900 ok=- fail=-"),  # put back as found
    }
    assert set(step.owners.values()) == {"(no record)"}
    assert all(row.declared == "(the stack is deleted)" for row in step.rows)
    # The migrated config was found live (the native resource left it) and put back as found, but the stack's delete
    # deletes its function, and the config with it, as it does the orders function's: neither has a block.
    blocks = [line.split()[0] for line in step.render().splitlines() if "; record's owner: " in line]
    assert [name.rstrip("0123456789ABCDEF") for name in blocks] == ["LegacyBillingAsync", "LegacyReportsAsync"]
    (note,) = step.notes
    assert note.startswith("Not listed: the configs of the functions the stack deleted (Orders")
    assert "Shipping" in note and note.endswith("gone with them.")


def test_every_step_fits_a_120_column_terminal_and_step_5_says_what_the_deleted_alias_does(steps):
    lines = [line for step in steps.values() for line in step.render().splitlines()]

    assert max(len(line) for line in lines) <= 120
    explained = " ".join(steps["fail_and_roll_back"].notes)
    assert "The function doesn't exist." in explained and "the function being the alias" in explained
    assert "The function doesn't exist." in " ".join(steps["fail_and_roll_back"].events)


def row(step: Step, name: str, target: str = "") -> Any:
    (found,) = [r for r in step.rows if r.logical_id.rstrip("0123456789ABCDEF") == name and target in r.target]
    return found


def test_a_config_moved_to_a_new_target_shows_what_was_live_there_and_what_it_left(steps):
    step = steps["change_settings"]

    moved = row(step, "LegacyBillingAsync", "legacy-billing:blue")
    assert (moved.before, moved.after) == ("(none)", moved.declared)  # its Update put two fields there
    left = row(step, "LegacyBillingAsync", "legacy-billing:$LATEST")
    assert left.declared.startswith("(replaced: LegacyBillingAsync") and left.declared.endswith(
        "on legacy-billing:blue)"
    )
    assert left.before == left.after == "r=- a=1800 ok=- fail=legacy-billing-dlq"  # retained by its Delete
    assert [r.target for r in step.rows].index(left.target) < [r.target for r in step.rows].index(moved.target)


def test_an_adoption_rolled_back_shows_the_config_it_found_and_put_back_as_found(steps):
    reports = row(steps["adopt_and_roll_back"], "LegacyReportsAsync")

    assert reports.before == reports.after == "r=2 a=900 ok=- fail=-"
    assert reports.declared == "r=0 a=- ok=- fail=- (in the template tried; rolled back, not in the stack)"


def test_a_failed_deploy_names_the_failed_resource_and_its_reason_before_the_rollback(steps):
    rendered = steps["adopt_and_roll_back"].render()

    failure = "the stack's update failed at Unreachable (AWS::SQS::Queue): An error occurred (InvalidParameterValue)"
    assert failure in " ".join(line.strip() for line in rendered.splitlines())
    assert rendered.index("Unreachable") < rendered.index("stack UPDATE_ROLLBACK_IN_PROGRESS")
    assert "the reason above" in steps["fail_and_roll_back"].render()  # a config's failure: its event says why


def test_a_config_is_listed_in_the_step_it_leaves_the_template_and_never_after(steps):
    left = {
        "rename": "OrdersLiveAsync",
        "remove": "AsyncOrdersLiveAsync",
        "migrate_swap": "ShippingEventInvokeConfig",
    }
    names = list(steps)
    for step_name, config in left.items():
        assert row(steps[step_name], config).declared == "(removed from the template)"
        for later in names[names.index(step_name) + 1 :]:
            assert config not in {r.logical_id.rstrip("0123456789ABCDEF") for r in steps[later].rows}, later
    rows = [r for step in steps.values() for r in step.rows]
    assert not [r for r in rows if "(not in the template)" in r.declared or "(not read)" in r.before]


def test_a_target_on_a_function_the_step_creates_had_nothing_live_before(steps):
    assert {r.before for r in steps["deploy"].rows} == {"(none)", "(none: its function is new)"}
    assert row(steps["add_native"], "ShippingEventInvokeConfig").before == "(none: its function is new)"
    assert row(steps["migrate_swap"], "ShippingAsync").before == "r=1 a=7200 ok=- fail=-"  # the native's, found


def test_every_step_says_how_many_handler_calls_it_checked_against_the_policy_and_that_none_was_denied(steps):
    for name, step in steps.items():
        (line,) = [line for line in step.render().splitlines() if line.startswith("   IAM: ")]
        match = re.fullmatch(r"   IAM: (\d+) handler calls checked against the policy, 0 denied(.*)", line)
        assert match, (name, line)
        calls = sum(len(sent.calls) for sent in step.deployment.sent) if step.deployment else 0
        assert int(match[1]) == calls and (calls > 0) == (step.deployment is not None), name


def test_the_synths_warnings_are_shown_once_and_again_when_they_change(steps):
    first = steps["deploy"].render()
    assert "python app.py (context example:version=1) printed 2 messages:" in first
    assert (
        "WARNING at AsyncInvokeConfigExample/LegacyBillingAsync: `on_failure`: the execution role of the function"
        in first
    )
    assert "'legacy-billing' was not" in first
    changed = " ".join(line.strip() for line in steps["change_settings"].render().splitlines())
    assert (
        "python app.py (context example:version=2): the synth's messages changed (the other 1 as shown before):"
        in changed
    )
    assert "WARNING at AsyncInvokeConfigExample/LegacyBillingAsync (changed): `on_failure`" in changed
    assert "'legacy-billing:blue'" in changed
    assert [name for name, step in steps.items() if step.synth] == ["deploy", "change_settings"]


CLI_STDERR = """\
/tmp/tmpqlq740_9/lib/program.js:1:5591
WARNING `on_failure`: the execution role of the function 'legacy-billing' was not granted permission to send to the \
destination, because the role (or the destination's service) is not known at synth time; grant it yourself, or Lambda \
rejects the destination. (Construct Annotations)
   AsyncInvokeConfigExample/LegacyBillingAsync
   Acknowledge with 'Annotation::async-invoke-config:not-granted'

/tmp/tmpqlq740_9/lib/program.js:1:5591
INFO [async-invoke-config:exempt-from-on-failure] needs no on-failure destination (exempt from `require_on_failure`): \
Invoked only synchronously; it has no async events. (Construct Annotations)
   AsyncInvokeConfigTeamDefaults/Lookup
   Acknowledge with 'Annotation::info-annotation'
Successfully synthesized to /tmp/cdk.out.1
Supply a stack id (AsyncInvokeConfigExample, AsyncInvokeConfigTeamDefaults) to display its template.
85 feature flags are not configured. Run 'cdk flags --unstable=flags' to learn more.
"""


def test_what_the_cdk_cli_prints_on_synth_is_read_as_its_messages():
    warning, info, notice = printed(CLI_STDERR)

    assert warning == Message(
        "WARNING",
        "AsyncInvokeConfigExample/LegacyBillingAsync",
        "`on_failure`: the execution role of the function 'legacy-billing' was not granted permission to send to the "
        "destination, because the role (or the destination's service) is not known at synth time; grant it yourself, "
        "or Lambda rejects the destination.",
        "'Annotation::async-invoke-config:not-granted'",
    )
    assert isinstance(info, Message) and (info.level, info.path) == ("INFO", "AsyncInvokeConfigTeamDefaults/Lookup")
    assert notice == "85 feature flags are not configured. Run 'cdk flags --unstable=flags' to learn more."


def test_the_legend_says_what_each_setting_and_column_means():
    text = " ".join(legend())

    for meaning in ("r= retry attempts", "a= maximum event age in seconds", "ok= on-success destination"):
        assert meaning in text
    for meaning in ("fail= on-failure destination", "live before", "IAM:", "(borrowed)"):
        assert meaning in text
    assert max(len(line) for line in legend()) <= WIDTH


def test_a_table_too_wide_keeps_its_first_columns_and_puts_the_others_under_each_row():
    table = [
        f"{'name':<4}  {'status':<7}  {'declared':<17}  live",
        f"{'a':<4}  {'drifted':<7}  {'retries=1 age=60s':<17}  retries=2",
    ]

    assert fit_table(table, 80) == table
    assert fit_table(table, 20) == [
        "name  status",
        "a     drifted",
        "    declared  retries=1 age=60s",
        "    live      retries=2",
        "(the table is 43 columns wide: its columns from `declared` on are shown under each row)",
    ]


def test_no_line_of_the_report_is_wider_than_120_columns_and_the_drift_table_is_not_broken(steps):
    lines = legend() + [line for step in steps.values() for line in step.render().splitlines()]

    assert max(len(line) for line in lines) <= 120
    rendered = steps["drift_report"].render().splitlines()
    header = next(line for line in rendered if line.split()[:4] == ["function", "qualifier", "status", "differs"])
    assert header == header.rstrip() and len(header.split()) == 4
    (drifted,) = [
        line for line in rendered if re.search(r"\$LATEST +drifted +retries, age, on-success, on-failure$", line)
    ]
    assert rendered[rendered.index(drifted) + 1].split()[0] == "declared"
    assert "live      retries=2" in [line.strip() for line in rendered]
