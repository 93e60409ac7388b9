"""The rehearsal's second stack against LocalStack: the team's defaults over fifty functions (app.py's
TeamDefaultsStack, synthesized with `python app.py` at each step's version), their configs carried by one group,
through deploy, a change out of band, the drift report, a redeploy, three functions left out, and destroy; each step
asserted on the live configs, the claims and the writes the handler made (every call checked against the policy)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from config_lines import settings_of
from rehearsal_fleet import Fleet, Member
from rehearsal_team import CHANGED, CLEANUP, LEFT_OUT, TEAM_EXPECTED, TeamRehearsal
from step_report import WIDTH, Step


@dataclass
class Played:
    steps: dict[str, Step]
    targets: dict[str, str]  # a worker's id in app.py -> its config's target, function:qualifier

    def fleet(self, step: str) -> Fleet:
        fleet = self.steps[step].fleet
        assert fleet is not None, step
        return fleet

    def of(self, *ids: str) -> set[str]:
        return {self.targets[logical_id] for logical_id in ids}


@pytest.fixture(scope="module")
def played(endpoint, tmp_path_factory) -> Played:
    with TeamRehearsal(endpoint, tmp_path_factory.mktemp("team"), synth="python") as rehearsal:
        deploy, *rest = rehearsal.steps()
        steps = {"deploy": deploy()}
        targets = {logical_id: f"{rehearsal.function(logical_id)}:$LATEST" for logical_id in CHANGED + LEFT_OUT}
        steps |= {run.__name__: run() for run in rest}
    return Played(steps, targets)


def group_events(step: Step) -> list[tuple[str, str, dict[str, str]]]:
    assert step.deployment is not None
    return [
        (sent.phase, sent.request, sent.answer.get("Data") or {})
        for sent in step.deployment.sent
        if sent.logical_id.startswith("AsyncInvokeConfigProviderConfigs")
    ]


def test_every_team_step_ends_as_expected_with_no_surprise_and_no_call_denied(played):
    assert [step.status for step in played.steps.values()] == TEAM_EXPECTED
    assert {name: step.surprises for name, step in played.steps.items() if step.surprises} == {}
    assert [call for step in played.steps.values() if step.deployment for call in step.deployment.denied] == []


def test_the_deploy_carries_52_configs_in_one_group_each_written_once_and_claimed_by_it(played):
    fleet = played.fleet("deploy")

    assert len(fleet.after) == 52 and len({member.group for member in fleet.after.values()}) == 1
    assert all(fleet.in_line(target) for target in fleet.after)
    assert all(fleet.owners[t].startswith(f"{m.group}/") for t, m in fleet.after.items())
    assert sorted(fleet.written) == sorted(("CREATE_IN_PROGRESS", "Put", target) for target in fleet.after)
    assert [rows.logical_id[:11] for rows in played.steps["deploy"].rows] == ["NotifyAsync"]  # its own config
    ((_, _, data),) = group_events(played.steps["deploy"])
    assert (data["Checked"], data["Corrected"]) == ("52", "52")


def test_an_out_of_band_change_leaves_exactly_the_two_changed_out_of_line(played):
    fleet = played.fleet("change_out_of_band")

    assert {target for target in fleet.targets if not fleet.in_line(target)} == played.of(*CHANGED)
    first, second = (played.targets[logical_id] for logical_id in CHANGED)
    declared = settings_of(fleet.after[first].declared)
    assert declared is not None and set(declared["Destinations"]) == {"OnFailure"}
    assert (declared["MaximumRetryAttempts"], declared["MaximumEventAgeInSeconds"]) == (1, 3600)
    assert settings_of(fleet.live_after[first]) == declared | {"MaximumRetryAttempts": 2}
    assert settings_of(fleet.live_after[second]) == declared | {"Destinations": {}}  # the Put left no destination
    assert fleet.written == []


def test_the_drift_report_lists_the_two_configs_changed_in_the_group(played):
    step = played.steps["drift_report"]

    assert step.status == "exit code 1"
    assert step.report[0].startswith("stack AsyncInvokeConfigTeamDefaults (CREATE_COMPLETE): 53 configs, 2 not in sync")
    drifted = {target.split(":")[0] for target in played.of(*CHANGED)}
    assert {name for name in drifted if any(name in line for line in step.report)} == drifted
    assert not step.surprises


def test_a_redeploy_with_no_code_change_writes_back_exactly_the_two_changed(played):
    fleet = played.fleet("redeploy_unchanged")

    assert set(fleet.written_to()) == played.of(*CHANGED)
    assert all(len(verbs) == 1 for verbs in fleet.written_to().values())
    assert all(fleet.in_line(target) for target in fleet.targets)
    assert [(phase, request, data) for phase, request, data in group_events(played.steps["redeploy_unchanged"])] == [
        ("UPDATE_IN_PROGRESS", "Update", {"Checked": "52", "Corrected": "2"})
    ]


def test_three_functions_left_out_lose_their_configs_in_the_cleanup_and_the_rest_is_untouched(played):
    fleet, left = played.fleet("leave_out"), played.of(*LEFT_OUT)

    assert [(phase, request) for phase, request, _ in group_events(played.steps["leave_out"])] == [
        ("UPDATE_IN_PROGRESS", "Update"),
        (CLEANUP, "Delete"),
    ]
    assert group_events(played.steps["leave_out"])[1][2] == {"Released": "3"}
    assert sorted(fleet.written) == sorted((CLEANUP, "Delete", target) for target in left)
    assert set(fleet.before) - set(fleet.after) == left and len(fleet.after) == 49
    for target in fleet.targets:
        if target in left:
            assert fleet.live_after[target] is None and fleet.owners[target] == "(no record)", target
        else:
            assert settings_of(fleet.live_after[target]) == settings_of(fleet.live_before[target]), target
            assert fleet.in_line(target), target
            assert fleet.owners[target].startswith(f"{fleet.after[target].group}/"), target


def test_destroy_gives_back_every_config_the_group_carries(played):
    fleet = played.fleet("destroy")

    assert len(fleet.before) == 49 and fleet.after == {} and fleet.deleted
    assert all(fleet.live_after[target] is None for target in fleet.targets)
    assert set(fleet.owners.values()) == {"(no record)"}
    assert sorted(fleet.written) == sorted(("DELETE_IN_PROGRESS", "Delete", target) for target in fleet.before)
    assert group_events(played.steps["destroy"])[0][2] == {"Released": "49"}


def test_each_team_step_fits_120_columns_and_names_only_the_configs_that_stand_out(played):
    rendered = {name: step.render() for name, step in played.steps.items()}

    assert max(len(line) for text in rendered.values() for line in text.splitlines()) <= WIDTH
    flat = {name: " ".join(text.split()) for name, text in rendered.items()}
    assert "live after 52 as declared written 52 Put, in CREATE_IN_PROGRESS claims 52 owned by" in flat["deploy"]
    first, second = sorted(played.of(*CHANGED))
    assert f"written 2 Update, in UPDATE_IN_PROGRESS: {first}, {second} 50 not written" in flat["redeploy_unchanged"]
    assert flat["deploy"].count(":$LATEST") == 1  # only Notify's own block names a target
    assert f"3 Delete, in {CLEANUP}: {', '.join(sorted(played.of(*LEFT_OUT)))} 49 not written" in flat["leave_out"]


def test_a_groups_block_counts_alike_configs_and_names_five_or_fewer():
    declared = {"RetryAttempts": 1}
    members = {f"fn-{index}:$LATEST": Member("Configs0", f"fn-{index}:$LATEST", declared) for index in range(8)}
    fleet = Fleet(
        members,
        members,
        {target: {"MaximumRetryAttempts": 1} for target in members},
        {target.split(":")[0] for target in members},
        live_after={target: {"MaximumRetryAttempts": 2 if target == "fn-3:$LATEST" else 1} for target in members},
        owners={target: "Configs0/abc" if target != "fn-5:$LATEST" else "(no record)" for target in members},
        written=[("UPDATE_IN_PROGRESS", "Update", "fn-2:$LATEST")],
    )

    assert fleet.render() == [
        "   Configs0 (a group): 8 configs (8 before the step), counted",
        "      declared       8  r=1 a=- ok=- fail=-",
        "      live before    8  as declared",
        "      live after     7  as declared",
        "                     1  r=2 a=- ok=- fail=-, not as declared: fn-3:$LATEST",
        "      written        1  Update, in UPDATE_IN_PROGRESS: fn-2:$LATEST",
        "                     7  not written",
        "      claims         7  owned by Configs0/<member key>",
        "                     1  (no record): fn-5:$LATEST",
    ]
