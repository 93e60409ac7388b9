"""CloudFormation's view of a stack (the handler's own, or the one a drift report names), read-only: its status (a
rollback under way? a deploy?) and the configs it holds now."""

from __future__ import annotations

from typing import Any

from contract import RESOURCE_TYPE, is_config_arn
from lambda_api import Api


def status(api: Api, stack_id: str) -> str:
    return describe(api, stack_id)[0]


def describe(api: Api, stack_id: str) -> tuple[str, str]:
    """The stack's status and when it last changed (a deploy changes both)."""
    stack = _stack(api, stack_id)
    return str(stack["StackStatus"]), str(stack.get("LastUpdatedTime") or stack.get("CreationTime") or "")


def find(api: Api, stack_name: str) -> tuple[str, str]:
    """The id and status of the stack of that name (or id) in the caller's account and region."""
    stack = _stack(api, stack_name)
    return str(stack["StackId"]), str(stack["StackStatus"])


def _stack(api: Api, stack_name: str) -> dict[str, Any]:
    stack: dict[str, Any] = api.call("describe_stacks", StackName=stack_name)["Stacks"][0]
    return stack


def name(stack_id: str) -> str:
    """The stack's name, from its id (`arn:aws:cloudformation:REGION:ACCOUNT:stack/NAME/UUID`)."""
    return stack_id.split("/")[1] if stack_id.count("/") >= 2 else stack_id


def is_rolling_back(stack_status: str) -> bool:
    """ROLLBACK_IN_PROGRESS, UPDATE_ROLLBACK_IN_PROGRESS and UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS."""
    return "ROLLBACK" in stack_status and stack_status.endswith("_IN_PROGRESS")


def configs(api: Api, stack_id: str) -> list[tuple[str, str]]:
    """(logical id, physical id) of every config the stack holds, as CloudFormation lists them."""
    found: list[tuple[str, str]] = []
    params = {"StackName": stack_id}
    while True:
        page = api.call("list_stack_resources", **params)
        for resource in page.get("StackResourceSummaries", []):
            physical_id = resource.get("PhysicalResourceId", "")
            if (
                resource["ResourceType"] == RESOURCE_TYPE
                and resource["ResourceStatus"] not in ("CREATE_FAILED", "DELETE_COMPLETE", "DELETE_IN_PROGRESS")
                and is_config_arn(physical_id)
            ):
                found.append((resource["LogicalResourceId"], physical_id))
        if not page.get("NextToken"):
            return found
        params["NextToken"] = page["NextToken"]
