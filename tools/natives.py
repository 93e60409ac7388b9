"""Native resources a template holds, made in the emulator where the configs refer to them (functions, aliases,
versions, queues, topics, buses, buckets, native async-invoke configs), otherwise only remembered (IAM)."""

from __future__ import annotations

import contextlib
import io
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from template import ACCOUNT, REGION, Resource

Clients = Callable[[str], Any]


class ResourceFailed(Exception):
    """A native resource the emulator refused: the stack fails and rolls back."""


class Natives:
    """Native resources, created for real where the configs refer to them, otherwise only remembered."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients

    def create(self, logical_id: str, resource_type: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:
        make = getattr(self, "_" + resource_type.replace("::", "_"), None)
        try:
            if make is not None:
                made: tuple[str, dict[str, str]] = make(logical_id, properties)
                return made
        except Exception as error:
            raise ResourceFailed(f"{resource_type} {logical_id}: {error}") from error
        physical = f"{logical_id}-{uuid.uuid4().hex[:8]}"
        return physical, {"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical}"}

    def update(self, logical_id: str, resource: Resource, properties: dict[str, Any]) -> Resource:
        if resource.resource_type == "AWS::Lambda::EventInvokeConfig":
            self._put_config(properties)
        if resource.resource_type == "AWS::Lambda::Alias":
            self.clients("lambda").update_alias(
                FunctionName=properties["FunctionName"],
                Name=properties["Name"],
                FunctionVersion=properties["FunctionVersion"],
            )
        return replace(resource, properties=properties, status="UPDATE_COMPLETE")

    def delete(self, resource: Resource) -> None:
        """Deleting from the emulator is not needed for what the tests observe (and it cannot delete functions), so
        only an alias, whose configs must go with it, and a native async-invoke config are deleted for real."""
        if resource.resource_type == "AWS::Lambda::EventInvokeConfig":
            lam = self.clients("lambda")
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.delete_function_event_invoke_config(
                    FunctionName=resource.properties["FunctionName"], Qualifier=resource.properties["Qualifier"]
                )
        if resource.resource_type == "AWS::Lambda::Alias":
            lam = self.clients("lambda")
            with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
                lam.delete_alias(FunctionName=resource.properties["FunctionName"], Name=resource.properties["Name"])

    def _name(self, logical_id: str) -> str:
        return f"{logical_id[:40]}-{uuid.uuid4().hex[:8]}"

    def _AWS_IAM_Role(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        name = properties.get("RoleName") or self._name(logical_id)
        return name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"}

    def _AWS_IAM_ManagedPolicy(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        name = properties.get("ManagedPolicyName") or self._name(logical_id)
        return f"arn:aws:iam::{ACCOUNT}:policy/{name}", {}

    def _AWS_Lambda_Function(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        name = properties.get("FunctionName") or self._name(logical_id)
        arn = create_function(self.clients("lambda"), name, properties.get("Runtime", "python3.13"))
        return name, {"Arn": arn}

    def _AWS_Lambda_Version(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        published = self.clients("lambda").publish_version(FunctionName=properties["FunctionName"])
        return published["FunctionArn"], {"Version": published["Version"]}

    def _AWS_Lambda_Alias(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        alias = self.clients("lambda").create_alias(
            FunctionName=properties["FunctionName"],
            Name=properties["Name"],
            FunctionVersion=properties["FunctionVersion"],
        )
        return alias["AliasArn"], {}

    def _AWS_Lambda_EventInvokeConfig(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        """The native resource: a Put on Create and on Update (what it does not declare goes), a Delete on Delete."""
        self._put_config(properties)
        return f"{properties['FunctionName']}|{properties['Qualifier']}", {}

    def _put_config(self, properties: dict[str, Any]) -> None:
        fields = ("FunctionName", "Qualifier", "MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")
        self.clients("lambda").put_function_event_invoke_config(
            **{
                key: int(value) if key.startswith("Maximum") else value
                for key, value in properties.items()
                if key in fields
            }
        )

    def _AWS_SQS_Queue(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        sqs = self.clients("sqs")
        url = sqs.create_queue(QueueName=properties.get("QueueName") or self._name(logical_id))["QueueUrl"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
        return url, {"Arn": attributes["QueueArn"], "QueueName": url.rsplit("/", 1)[-1]}

    def _AWS_SNS_Topic(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        arn = self.clients("sns").create_topic(Name=properties.get("TopicName") or self._name(logical_id))["TopicArn"]
        return arn, {"TopicArn": arn}

    def _AWS_Events_EventBus(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        name = properties.get("Name") or self._name(logical_id)
        events = self.clients("events")
        try:
            arn = events.create_event_bus(Name=name)["EventBusArn"]
        except events.exceptions.ResourceAlreadyExistsException:  # a named bus made by an earlier run
            arn = events.describe_event_bus(Name=name)["Arn"]
        return name, {"Arn": arn}

    def _AWS_S3_Bucket(self, logical_id: str, properties: dict[str, Any]) -> tuple[str, dict[str, str]]:  # noqa: N802
        name = (properties.get("BucketName") or self._name(logical_id)).lower()
        self.clients("s3").create_bucket(Bucket=name)
        return name, {"Arn": f"arn:aws:s3:::{name}"}


def create_function(client: Any, name: str, runtime: str = "python3.13") -> str:
    """A function in the emulator (it cannot run code without Docker, but its configs work); returns its ARN. One
    that already exists (made by an earlier run against the same emulator) is reused."""
    try:
        return str(client.get_function(FunctionName=name)["Configuration"]["FunctionArn"])
    except client.exceptions.ResourceNotFoundException:
        pass
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("index.py", "def handler(event, context):\n    return None\n")
    return str(
        client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=f"arn:aws:iam::{ACCOUNT}:role/local",
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )["FunctionArn"]
    )
