"""A synthesized template played against the emulator, as CloudFormation would: the resources a config refers to are
created for real, intrinsic functions are resolved against them, and the handler runs from its synthesized asset in
a process of its own (a warm Lambda container), answering through the presigned-URL stand-in."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudformation import STACK_ID, ResponseServer

ACCOUNT = "000000000000"
REGION = "us-east-1"
PSEUDO = {
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
CONFIG_TYPE = "Custom::LambdaAsyncInvokeConfig"
Clients = Callable[[str], Any]


def references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return {value["Ref"]}
        if "Fn::GetAtt" in value:
            return {value["Fn::GetAtt"][0]}
        found: set[str] = set()
        for key, item in value.items():
            if key == "Fn::Sub":
                text = item if isinstance(item, str) else item[0]
                found |= {name.split(".")[0] for name in re.findall(r"\$\{([^}!]+)\}", text)}
            found |= references(item)
        return found
    if isinstance(value, list):
        return set().union(*(references(item) for item in value)) if value else set()
    return set()


class Template:
    """Resolves intrinsic functions against what `provision` created."""

    def __init__(self, template: dict[str, Any], clients: Clients, stack_id: str = STACK_ID) -> None:
        self.resources: dict[str, Any] = template["Resources"]
        self.clients = clients
        self.pseudo = PSEUDO | {"AWS::StackId": stack_id, "AWS::StackName": stack_id.split("/")[1]}
        self.refs: dict[str, str] = {}
        self.attributes: dict[tuple[str, str], str] = {}

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            name = value["Ref"]
            return self.pseudo.get(name) or self.refs[name]
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attributes[(logical_id, attribute)]
        if "Fn::Join" in value:
            separator, parts = value["Fn::Join"]
            return separator.join(str(self.resolve(part)) for part in parts)
        if "Fn::Sub" in value:
            text, variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self._variable(m.group(1), variables)), text)
        if "Fn::Select" in value:
            index, items = value["Fn::Select"]
            return self.resolve(items)[int(index)]
        if "Fn::Split" in value:
            separator, text = value["Fn::Split"]
            return str(self.resolve(text)).split(separator)
        return {key: self.resolve(item) for key, item in value.items()}

    def _variable(self, name: str, variables: dict[str, Any]) -> Any:
        if name in variables:
            return self.resolve(variables[name])
        if "." in name:
            logical_id, attribute = name.split(".", 1)
            return self.attributes[(logical_id, attribute)]
        return self.resolve({"Ref": name})

    def order(self) -> list[str]:
        """Logical ids, each after everything it refers to or depends on."""
        done: list[str] = []

        def visit(logical_id: str) -> None:
            if logical_id in done or logical_id not in self.resources:
                return
            resource = self.resources[logical_id]
            depends = resource.get("DependsOn", [])
            for other in sorted(
                references(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
            ):
                visit(other)
            done.append(logical_id)

        for logical_id in self.resources:
            visit(logical_id)
        return done

    def configs(self) -> dict[str, dict[str, Any]]:
        return {key: value for key, value in self.resources.items() if value["Type"] == CONFIG_TYPE}

    def provision(self) -> None:
        """Create what the configs refer to; everything else gets a placeholder id."""
        for logical_id in self.order():
            resource = self.resources[logical_id]
            if resource["Type"] == CONFIG_TYPE:
                continue
            create = getattr(self, "_" + resource["Type"].replace("::", "_"), None)
            properties = self.resolve(resource.get("Properties", {}))
            if create is None:
                self.refs[logical_id] = f"{logical_id}-{uuid.uuid4().hex[:8]}"
                self.attributes[(logical_id, "Arn")] = (
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.refs[logical_id]}"
                )
            else:
                create(logical_id, properties)

    def _name(self, logical_id: str) -> str:
        return f"{logical_id[:40]}-{uuid.uuid4().hex[:8]}"

    def _AWS_IAM_Role(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        name = self._name(logical_id)
        self.refs[logical_id] = name
        self.attributes[(logical_id, "Arn")] = f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def _AWS_Lambda_Function(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        name = properties.get("FunctionName") or self._name(logical_id)
        arn = create_function(self.clients("lambda"), name, properties.get("Runtime", "python3.13"))
        self.refs[logical_id] = name
        self.attributes[(logical_id, "Arn")] = arn

    def _AWS_Lambda_Version(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        published = self.clients("lambda").publish_version(FunctionName=properties["FunctionName"])
        self.refs[logical_id] = published["FunctionArn"]
        self.attributes[(logical_id, "Version")] = published["Version"]

    def _AWS_Lambda_Alias(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        alias = self.clients("lambda").create_alias(
            FunctionName=properties["FunctionName"],
            Name=properties["Name"],
            FunctionVersion=properties["FunctionVersion"],
        )
        self.refs[logical_id] = alias["AliasArn"]

    def _AWS_SQS_Queue(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        sqs = self.clients("sqs")
        url = sqs.create_queue(QueueName=properties.get("QueueName") or self._name(logical_id))["QueueUrl"]
        self.refs[logical_id] = url
        self.attributes[(logical_id, "Arn")] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def _AWS_SNS_Topic(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        arn = self.clients("sns").create_topic(Name=properties.get("TopicName") or self._name(logical_id))["TopicArn"]
        self.refs[logical_id] = arn
        self.attributes[(logical_id, "TopicArn")] = arn

    def _AWS_Events_EventBus(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        name = properties.get("Name") or self._name(logical_id)
        events = self.clients("events")
        try:
            arn = events.create_event_bus(Name=name)["EventBusArn"]
        except events.exceptions.ResourceAlreadyExistsException:  # a named bus made by an earlier run
            arn = events.describe_event_bus(Name=name)["Arn"]
        self.refs[logical_id] = name
        self.attributes[(logical_id, "Arn")] = arn

    def _AWS_S3_Bucket(self, logical_id: str, properties: dict[str, Any]) -> None:  # noqa: N802
        name = (properties.get("BucketName") or self._name(logical_id)).lower()
        self.clients("s3").create_bucket(Bucket=name)
        self.refs[logical_id] = name
        self.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"


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


DRIVER = """
import json, sys
sys.path.insert(0, ".")
import index

class Context:
    log_stream_name = "local"
    def get_remaining_time_in_millis(self):
        return 300_000

for line in sys.stdin:
    index.on_event(json.loads(line), Context())
    print("done", flush=True)
"""


class LocalFunction:
    """The handler from its synthesized asset, in a process of its own that stays warm across events like a Lambda
    container; it builds its own boto3 client from the environment, pointed at the emulator."""

    def __init__(self, asset: Path, endpoint: str) -> None:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PYTHONPATH": "",
        }
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", DRIVER],
            cwd=asset,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def invoke(self, event: dict[str, Any]) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if line.strip() != "done":
            raise RuntimeError(f"the handler process stopped (exit {self.process.poll()})")

    def __enter__(self) -> LocalFunction:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=10)


def handler_asset(cloud_assembly: Path, template: dict[str, Any]) -> Path:
    """The folder of the handler's asset in a synthesized cloud assembly."""
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::Lambda::Function" and resource["Properties"].get("Handler") == "index.on_event":
            return cloud_assembly / f"asset.{resource['Properties']['Code']['S3Key'].removesuffix('.zip')}"
    raise LookupError("no AsyncInvokeConfig handler in the template")


CUSTOM_TYPES = (CONFIG_TYPE, "Custom::LambdaAsyncInvokeConfigDriftCheck")


@dataclass
class Sent:
    """One event sent to the handler and CloudFormation's view of the answer."""

    request: str
    logical_id: str
    answer: dict[str, Any]

    @property
    def status(self) -> str:
        return str(self.answer["Status"])


@dataclass(frozen=True)
class Resource:
    """A custom resource as CloudFormation remembers it between events."""

    resource_type: str
    physical_id: str
    properties: dict[str, Any]


@dataclass
class Deployment:
    status: str
    sent: list[Sent] = field(default_factory=list)


class LocalCloudFormation:
    """CloudFormation's side of a stack of these custom resources: which events a new template causes (Create,
    Update, the Delete of a replaced physical id, Delete of removed resources), in dependency order, and the
    rollback after a FAILED answer (Updates back to the old properties, Deletes of what was created)."""

    def __init__(self, template: Template, handler: LocalFunction, server: ResponseServer) -> None:
        self.template = template
        self.handler = handler
        self.server = server
        self.deployed: dict[str, Resource] = {}  # by logical id

    def _send(
        self, request: str, logical_id: str, resource_type: str, properties: dict[str, Any], **kwargs: Any
    ) -> Sent:
        event = self.server.event(request, properties, logical_id=logical_id, resource_type=resource_type, **kwargs)
        self.handler.invoke(event)
        (answer,) = self.server.answers(event)
        return Sent(request, logical_id, answer)

    def deploy(self, raw: dict[str, Any]) -> Deployment:
        self.template.resources = raw["Resources"]
        wanted = {
            logical_id: (
                raw["Resources"][logical_id]["Type"],
                self.template.resolve(raw["Resources"][logical_id]["Properties"]),
            )
            for logical_id in self.template.order()
            if raw["Resources"][logical_id]["Type"] in CUSTOM_TYPES
        }
        before = dict(self.deployed)
        deployment = Deployment("UPDATE_COMPLETE" if before else "CREATE_COMPLETE")
        attempted: dict[str, Resource] = {}
        replaced: list[tuple[str, Resource]] = []
        for logical_id, (resource_type, properties) in wanted.items():
            old = before.get(logical_id)
            if old is None:
                sent = self._send("Create", logical_id, resource_type, properties)
            elif old.properties != properties:
                sent = self._send(
                    "Update",
                    logical_id,
                    resource_type,
                    properties,
                    physical_id=old.physical_id,
                    old_properties=old.properties,
                )
            else:
                continue
            deployment.sent.append(sent)
            attempted[logical_id] = Resource(resource_type, sent.answer["PhysicalResourceId"], properties)
            if sent.status != "SUCCESS":
                self._roll_back(deployment, before, attempted)
                return deployment
            if old is not None and old.physical_id != attempted[logical_id].physical_id:
                replaced.append((logical_id, old))
            self.deployed[logical_id] = attempted[logical_id]
        for logical_id, old in replaced:
            deployment.sent.append(self._delete(logical_id, old))
        for logical_id in reversed([key for key in before if key not in wanted]):
            deployment.sent.append(self._delete(logical_id, self.deployed.pop(logical_id)))
        return deployment

    def _delete(self, logical_id: str, resource: Resource) -> Sent:
        return self._send(
            "Delete", logical_id, resource.resource_type, resource.properties, physical_id=resource.physical_id
        )

    def _roll_back(self, deployment: Deployment, before: dict[str, Resource], attempted: dict[str, Resource]) -> None:
        """Undo this deployment in reverse: what was updated (the failed resource too) gets an Update back to its
        old properties, what was created gets a Delete with the physical id its answer carried."""
        deployment.status = "UPDATE_ROLLBACK_COMPLETE" if before else "ROLLBACK_COMPLETE"
        for logical_id in reversed(list(attempted)):
            new = attempted[logical_id]
            old = before.get(logical_id)
            if old is not None:
                sent = self._send(
                    "Update",
                    logical_id,
                    new.resource_type,
                    old.properties,
                    physical_id=new.physical_id,
                    old_properties=new.properties,
                )
                self.deployed[logical_id] = old
            else:
                sent = self._delete(logical_id, new)
                self.deployed.pop(logical_id, None)
            deployment.sent.append(sent)
            if sent.status != "SUCCESS":
                deployment.status = "UPDATE_ROLLBACK_FAILED" if before else "ROLLBACK_FAILED"

    def destroy(self) -> Deployment:
        deployment = Deployment("DELETE_COMPLETE")
        for logical_id in reversed(list(self.deployed)):
            sent = self._delete(logical_id, self.deployed.pop(logical_id))
            deployment.sent.append(sent)
            if sent.status != "SUCCESS":
                deployment.status = "DELETE_FAILED"
        return deployment
