"""CloudFormation's view of a stack (the handler's own, the one a drift report names, or the stack a claim names as
its owner), read-only: its status (a rollback under way? a deploy?), the configs and groups it holds now, and
whether a claim's owner still exists."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from contract import GROUP_ID_PREFIX, GROUP_TYPE, RESOURCE_TYPE, carrier, is_config_arn
from lambda_api import Api, error_code, error_message


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


@dataclass(frozen=True)
class Holdings:
    """What a stack holds now of this library's resources, as CloudFormation lists them: each config resource's
    (logical id, physical id), and the logical ids of its groups."""

    configs: list[tuple[str, str]]
    groups: frozenset[str]


def configs(api: Api, stack_id: str) -> list[tuple[str, str]]:
    """(logical id, physical id) of every config resource the stack holds, as CloudFormation lists them."""
    return holdings(api, stack_id).configs


def holdings(api: Api, stack_id: str) -> Holdings:
    """The stack's config resources and groups, one ListStackResources per 100 resources of the stack."""
    found: list[tuple[str, str]] = []
    groups: set[str] = set()
    params: dict[str, Any] = {"StackName": stack_id}
    while True:
        page = api.call("list_stack_resources", **params)
        for resource in page.get("StackResourceSummaries", []):
            physical_id = resource.get("PhysicalResourceId", "")
            if resource["ResourceStatus"] in ("CREATE_FAILED", "DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
                continue
            if resource["ResourceType"] == RESOURCE_TYPE and is_config_arn(physical_id):
                found.append((resource["LogicalResourceId"], physical_id))
            elif resource["ResourceType"] == GROUP_TYPE and physical_id.startswith(GROUP_ID_PREFIX):
                groups.add(resource["LogicalResourceId"])
        if not page.get("NextToken"):
            return Holdings(found, frozenset(groups))
        params["NextToken"] = page["NextToken"]


def gone(api: Api, stack_id: str, logical_id: str, config_arn: str, leaving: bool = False) -> str | None:
    """Why the resource `logical_id` of stack `stack_id` no longer owns the config `config_arn` (its stack is deleted,
    or, at rest, no longer holds the resource or holds it with another physical id), or None while it may: it is
    there with that physical id, or its stack has an operation under way (whose events may still run: a rollback's
    Delete, a cancelled Create). A config a group carries (`<group>/<key>`) is gone with its group, or, at rest, when
    the group dropped it (`leaving`) and its cleanup did not give it back."""
    try:
        stack_status = status(api, stack_id)
    except ClientError as error:
        if _missing(error):
            return "its stack no longer exists"
        raise
    if stack_status == "DELETE_COMPLETE":
        return "its stack was deleted"
    if stack_status.endswith("_IN_PROGRESS"):
        return None
    group = carrier(logical_id)
    try:
        detail = api.call("describe_stack_resource", StackName=stack_id, LogicalResourceId=group or logical_id)
    except ClientError as error:
        if _missing(error):
            return f"its stack ({stack_status}) no longer holds the resource"
        raise
    resource = detail["StackResourceDetail"]
    resource_status, physical_id = str(resource["ResourceStatus"]), str(resource.get("PhysicalResourceId") or "")
    if resource_status.endswith("_IN_PROGRESS"):
        return None
    deleted = resource_status in ("DELETE_COMPLETE", "DELETE_SKIPPED")
    if group is not None and not deleted:
        return f"its group {group} dropped it and did not give it back" if leaving else None
    if not deleted and physical_id == config_arn:
        return None
    return f"the resource is {resource_status} with physical id {physical_id or '(none)'}"


def _missing(error: ClientError) -> bool:
    """CloudFormation's answer for a stack or resource that does not exist: a ValidationError saying so."""
    return error_code(error) == "ValidationError" and "does not exist" in error_message(error)


def current_physical_id(api: Api, stack_id: str, logical_id: str) -> str | None:
    """The physical id the stack holds now for `logical_id` (None: it holds no such resource, or it is deleted)."""
    try:
        detail = api.call("describe_stack_resource", StackName=stack_id, LogicalResourceId=logical_id)
    except ClientError as error:
        if _missing(error):
            return None
        raise
    resource = detail["StackResourceDetail"]
    if str(resource["ResourceStatus"]).startswith("DELETE_"):
        return None
    return str(resource.get("PhysicalResourceId") or "")
