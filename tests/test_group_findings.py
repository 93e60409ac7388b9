"""What the interleaving suite found in groups (tests/test_group_interleavings.py), each finding played in one chosen
order: the group's events sent to the handler against LocalStack, the stack's status set by hand as CloudFormation
would have it, every call checked against the stack's policy."""

from __future__ import annotations

import uuid
from typing import Any

from contract import GROUP_TYPE
from natives import create_function
from test_findings import BORROWED, Pausing, claims, settings, stack_of


def group(functions: list[str], retries: int = 1) -> dict[str, Any]:
    return {"Shared": {"RetryAttempts": retries}, "Members": {f"k{name[-4:]}": name for name in functions}}


def test_a_cancelled_group_update_s_rollback_gives_back_the_members_it_added(aws, server):
    """A group's Update adds a member and completes its writes, and only then is it cancelled (another resource
    failed): CloudFormation ignores its answer, sends the rollback's Update (old properties, the old physical id)
    and, the Update never having answered for it, no Delete of any other id. The rollback marked the added member as
    dropped and answered a new physical id, whose cleanup Delete never came: the member stayed claimed and written
    (found while adding the group interleavings, by following this path of the failing update's scenario). Now the
    rollback gives such members back itself, as a config's rollback lets go of a config its cancelled Update moved
    to (`config_events.abandoned`), and keeps its physical id."""
    names = [f"g1-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    for name in names:
        create_function(aws.client("lambda"), name)
    aws.client("lambda").put_function_event_invoke_config(FunctionName=names[2], **BORROWED)
    stack_id, view = stack_of(server, "Rolled", "CREATE_IN_PROGRESS")
    handler = Pausing(aws, server, stack_id, names)
    old, new = group(names[:2]), group(names, retries=2)
    kwargs: dict[str, Any] = {"logical_id": "Configs0", "resource_type": GROUP_TYPE}

    created = handler.run("create", "Create", old, **kwargs)
    assert created["Status"] == "SUCCESS", created
    view.status = "UPDATE_IN_PROGRESS"
    physical_id = created["PhysicalResourceId"]
    updated = handler.run("update", "Update", new, physical_id=physical_id, old_properties=old, **kwargs)
    assert updated["Status"] == "SUCCESS", updated  # ignored: CloudFormation had cancelled it meanwhile
    assert settings(aws, names[2]) == {"MaximumRetryAttempts": 2}

    view.status = "UPDATE_ROLLBACK_IN_PROGRESS"
    back = handler.run("rollback", "Update", old, physical_id=physical_id, old_properties=new, **kwargs)
    view.status = "UPDATE_ROLLBACK_COMPLETE"

    assert back["Status"] == "SUCCESS", back
    assert settings(aws, names[2]) == BORROWED and claims(aws, names[2]) == []
    for name in names[:2]:
        assert settings(aws, name) == {"MaximumRetryAttempts": 1}
        assert [claim.owner.logical_id.split("/")[0] for claim in claims(aws, name)] == ["Configs0"]
    assert handler.world.denied == []
    assert back["PhysicalResourceId"] == physical_id  # nothing is left for a Delete of another id to give back
