"""In-memory stand-ins for the SSM records and CloudFormation's view of the stack, for tests that are not about
them; each answers like the real API (same errors, versions that grow with each write)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

_META = {
    service: boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x").meta
    for service in ("ssm", "cloudformation")
}


class MemorySsm:
    meta = _META["ssm"]

    def __init__(self) -> None:
        self.parameters: dict[str, tuple[str, int]] = {}
        self.tags: dict[str, dict[str, str]] = {}
        self.calls: list[str] = []

    def _missing(self, operation: str, name: str) -> ClientError:
        error = {"Error": {"Code": "ParameterNotFound", "Message": f"Parameter {name} not found."}}
        return ClientError(error, operation)  # type: ignore[arg-type]

    def get_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803 - the API's names
        self.calls.append("GetParameter")
        if Name not in self.parameters:
            raise self._missing("GetParameter", Name)
        value, version = self.parameters[Name]
        return {"Parameter": {"Name": Name, "Value": value, "Version": version}}

    def get_parameters(self, Names: list[str]) -> dict[str, Any]:  # noqa: N803
        self.calls.append("GetParameters")
        assert len(Names) <= 10
        found = [
            {"Name": name, "Value": self.parameters[name][0], "Version": self.parameters[name][1]}
            for name in Names
            if name in self.parameters
        ]
        return {"Parameters": found, "InvalidParameters": [name for name in Names if name not in self.parameters]}

    def get_parameters_by_path(self, Path: str, NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        """The parameters one level below the path, as SSM pages them (10 at most per page)."""
        self.calls.append("GetParametersByPath")
        below = sorted(name for name in self.parameters if name.rsplit("/", 1)[0] == Path.rstrip("/"))
        start = int(NextToken or 0)
        page = [
            {"Name": name, "Value": self.parameters[name][0], "Version": self.parameters[name][1]}
            for name in below[start : start + 10]
        ]
        more = {"NextToken": str(start + 10)} if start + 10 < len(below) else {}
        return {"Parameters": page} | more

    def put_parameter(  # noqa: PLR0913
        self,
        Name: str,  # noqa: N803
        Value: str,  # noqa: N803
        Type: str,  # noqa: N803
        Overwrite: bool,  # noqa: N803
        Tier: str = "Standard",  # noqa: N803
        Tags: list[dict[str, str]] | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        self.calls.append("PutParameter")
        assert Tier == "Standard", Tier
        if Tags and Overwrite:
            error = {"Error": {"Code": "ValidationException", "Message": "tags and overwrite can't be used together"}}
            raise ClientError(error, "PutParameter")  # type: ignore[arg-type]
        if Name in self.parameters and not Overwrite:
            error = {"Error": {"Code": "ParameterAlreadyExists", "Message": "The parameter already exists."}}
            raise ClientError(error, "PutParameter")  # type: ignore[arg-type]
        version = self.parameters.get(Name, ("", 0))[1] + 1
        self.parameters[Name] = (Value, version)
        if Name not in self.tags or Tags:
            self.tags[Name] = {tag["Key"]: tag["Value"] for tag in Tags or []}
        return {"Version": version, "Tier": "Standard"}

    def delete_parameter(self, Name: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append("DeleteParameter")
        if Name not in self.parameters:
            raise self._missing("DeleteParameter", Name)
        del self.parameters[Name]
        self.tags.pop(Name, None)
        return {}


class FakeStack:
    """DescribeStacks, DescribeStackResource and ListStackResources of the handler's stack (any stack id not in
    `others`), with the status and resources a test sets; `others` holds other stacks' statuses, `held` the
    resources of any stack that hold a config (stack id, logical id) -> physical id."""

    meta = _META["cloudformation"]

    def __init__(self, status: str = "UPDATE_IN_PROGRESS") -> None:
        self.status = status
        self.statuses: list[str] = []  # statuses the next DescribeStacks calls return, in turn, before `status`
        self.resources: list[dict[str, str]] = []
        self.others: dict[str, str] = {}
        self.held: dict[tuple[str, str], str] = {}
        self.calls: list[str] = []

    def alive(self, owner: Any, physical_id: str) -> None:
        """The resource `owner` (an Owner) exists in its stack, holding `physical_id`."""
        self.held[(owner.stack_id, owner.logical_id)] = physical_id

    def _status(self, stack_id: str) -> str:
        if stack_id in self.others:
            if self.others[stack_id] == "(none)":
                error = {"Error": {"Code": "ValidationError", "Message": f"Stack with id {stack_id} does not exist"}}
                raise ClientError(error, "DescribeStacks")  # type: ignore[arg-type]
            return self.others[stack_id]
        if self.statuses:
            return self.statuses.pop(0)
        return self.status

    def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append("DescribeStacks")
        status = self._status(StackName)
        return {"Stacks": [{"StackId": StackName, "StackName": StackName.split("/")[1], "StackStatus": status}]}

    def describe_stack_resource(self, StackName: str, LogicalResourceId: str) -> dict[str, Any]:  # noqa: N803
        self.calls.append("DescribeStackResource")
        if (StackName, LogicalResourceId) in self.held:
            physical_id = self.held[(StackName, LogicalResourceId)]
            detail = {"LogicalResourceId": LogicalResourceId, "PhysicalResourceId": physical_id}
            return {"StackResourceDetail": detail | {"ResourceStatus": "UPDATE_COMPLETE"}}
        message = f"Resource {LogicalResourceId} does not exist for stack {StackName}"
        error = {"Error": {"Code": "ValidationError", "Message": message}}
        raise ClientError(error, "DescribeStackResource")  # type: ignore[arg-type]

    def list_stack_resources(self, StackName: str, NextToken: str | None = None) -> dict[str, Any]:  # noqa: N803
        self.calls.append("ListStackResources")
        return {"StackResourceSummaries": self.resources}


def clients(**given: Any) -> Callable[[str], Any]:
    """A client factory for `index.on_event`: the given clients, in-memory SSM and CloudFormation for the rest."""
    made = {"ssm": MemorySsm(), "cloudformation": FakeStack()} | given
    return made.__getitem__
