"""A synthesized template played against the emulator as CloudFormation plays it: resources created and updated in
dependency order (custom resources as early as their dependencies allow, the drift check among them), then the
cleanup phase deleting removed resources and replaced physical ids under the previous template's policies, and
rollbacks with their own cleanup. Native resources the configs refer to are created for real; IAM resources are kept
as state, and the handler role's policy at each moment (inline, and every policy attached to it then) is enforced
on each call the handler makes. The handler runs from its synthesized asset in a process of its own (a warm Lambda
container), answering through the presigned-URL stand-in and reading the stack through its CloudFormation API."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import iam
from cloudformation import STACK_ID, ResponseServer

ACCOUNT = "000000000000"
REGION = "us-east-1"
TOOLS = Path(__file__).resolve().parent
CONFIG_TYPE = "Custom::LambdaAsyncInvokeConfig"
Clients = Callable[[str], Any]
# Properties whose change replaces the resource (a new physical resource, the old one deleted in cleanup).
REPLACED_BY = {
    "AWS::Lambda::Function": {"FunctionName"},
    "AWS::Lambda::Alias": {"Name", "FunctionName"},
    "AWS::Lambda::EventInvokeConfig": {"FunctionName", "Qualifier"},
    "AWS::SQS::Queue": {"QueueName"},
    "AWS::SNS::Topic": {"TopicName"},
    "AWS::IAM::Role": {"RoleName"},
    "AWS::IAM::ManagedPolicy": {"ManagedPolicyName"},
}
ALWAYS_REPLACED = {"AWS::Lambda::Version"}


def references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${X} in Fn::Sub); pseudo parameters included."""
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


def dependencies(resource: dict[str, Any], logical_ids: set[str] | dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    named = references(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
    return {name for name in named if name in logical_ids}


@dataclass(frozen=True)
class Resource:
    """A resource as CloudFormation remembers it between events."""

    resource_type: str
    physical_id: str
    properties: dict[str, Any]
    depends_on: frozenset[str] = frozenset()
    deletion_policy: str = "Delete"
    replace_policy: str = "Delete"
    attributes: dict[str, str] = field(default_factory=dict)
    status: str = "CREATE_COMPLETE"

    @property
    def is_custom(self) -> bool:
        return self.resource_type.startswith("Custom::")


def order(resources: dict[str, Any]) -> list[str]:
    """Logical ids, each after everything it depends on. CloudFormation starts every resource whose dependencies are
    met at once; here, of those ready, custom resources go first, then what some custom resource still waits for,
    and the rest last. So a dependency the template leaves out shows up as a failure, not as luck of template order."""
    waiting = {key: dependencies(value, resources) for key, value in resources.items()}
    needed: set[str] = set()
    stack = [key for key, value in resources.items() if value["Type"].startswith("Custom::")]
    while stack:
        for dependency in waiting[stack.pop()] - needed:
            needed.add(dependency)
            stack.append(dependency)

    def rank(key: str) -> int:
        return 0 if resources[key]["Type"].startswith("Custom::") else 1 if key in needed else 2

    done: list[str] = []
    while waiting:
        ready = [key for key, needs in waiting.items() if not needs - set(done)]
        if not ready:
            raise ValueError(f"circular dependencies among {sorted(waiting)}")
        chosen = min(ready, key=rank)
        done.append(chosen)
        del waiting[chosen]
    return done


def deletion_order(doomed: dict[str, Resource]) -> list[str]:
    """Resources to delete (keyed by logical id, with a suffix for the other physical resource of a replaced one),
    each before whatever it depended on directly, in the template that deployed it. Of those free at once, the native
    ones go first: nothing but a direct dependency holds a policy back until the configs that need it are gone, and
    this order proves the template declares one."""
    waiting = {
        key: {other for other in doomed if other != key and other.split(" ")[0] in resource.depends_on}
        for key, resource in doomed.items()
    }
    done: list[str] = []
    while waiting:
        free = [key for key in waiting if not any(key in needs for needs in waiting.values())]
        free.sort(key=lambda key: 1 if doomed[key].is_custom else 0)
        done.append(free[0])
        del waiting[free[0]]
    return done


class Resolver:
    """Resolves intrinsic functions against the stack's resources as they are now."""

    def __init__(self, resources: dict[str, Resource], stack_id: str) -> None:
        self.resources = resources
        self.pseudo = {
            "AWS::AccountId": ACCOUNT,
            "AWS::Region": REGION,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": stack_id,
            "AWS::StackName": stack_id.split("/")[1],
            "AWS::NoValue": None,
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            name = value["Ref"]
            return self.pseudo[name] if name in self.pseudo else self.resources[name].physical_id
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.resources[logical_id].attributes[attribute]
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
            return self.resources[logical_id].attributes[attribute]
        return self.resolve({"Ref": name})


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


DRIVER = """
import contextlib, io, json, sys
sys.path.insert(0, ".")
sys.path.append(sys.argv[1])
import iam
import index

class Context:
    log_stream_name = "local"
    def get_remaining_time_in_millis(self):
        return 300_000

world = iam.World()
iam.install_default(world)
for line in sys.stdin:
    message = json.loads(line)
    world.statements, world.gone = message["statements"], set(message["gone"])
    world.fresh, world.lag = message["fresh"], message["lag"]
    world.calls.clear()
    printed = io.StringIO()  # the handler's own stdout lines (its metrics), kept off this protocol's
    with contextlib.redirect_stdout(printed):
        index.on_event(message["event"], Context())
    print(json.dumps({"calls": world.calls, "stdout": printed.getvalue().splitlines()}), flush=True)
"""


class LocalFunction:
    """The handler from its synthesized asset, in a process of its own that stays warm across events like a Lambda
    container; it builds its own boto3 clients from the environment, pointed at the emulator (and at the local
    CloudFormation API), each call checked against the policy sent with the event."""

    def __init__(self, asset: Path, endpoint: str, cloudformation: str | None = None) -> None:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "PYTHONPATH": "",
        }
        if cloudformation:
            env["AWS_ENDPOINT_URL_CLOUDFORMATION"] = cloudformation
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-c", DRIVER, str(TOOLS)],
            cwd=asset,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def invoke(self, event: dict[str, Any], world: iam.World | None = None) -> list[tuple[str, str, str]]:
        """Run one event under the rules of `world` (its policy, gone functions, propagation); the calls made."""
        assert self.process.stdin is not None and self.process.stdout is not None
        world = world or iam.World()
        message = {
            "event": event,
            "statements": world.statements,
            "gone": sorted(world.gone),
            "fresh": world.fresh,
            "lag": world.lag,
        }
        self.process.stdin.write(json.dumps(message) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line.startswith("{"):
            raise RuntimeError(f"the handler process stopped (exit {self.process.poll()})")
        return [(action, resource, verdict) for action, resource, verdict in json.loads(line)["calls"]]

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


@dataclass
class Sent:
    """One event sent to the handler and CloudFormation's view of the answer, with the calls the handler made."""

    request: str
    logical_id: str
    answer: dict[str, Any]
    phase: str = ""
    calls: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        return str(self.answer["Status"])

    @property
    def denied(self) -> list[tuple[str, str]]:
        return [(action, resource) for action, resource, verdict in self.calls if verdict == iam.DENIED]


@dataclass
class Deployment:
    status: str
    sent: list[Sent] = field(default_factory=list)
    failure: str = ""

    @property
    def denied(self) -> list[tuple[str, str]]:
        return [call for sent in self.sent for call in sent.denied]


class Failed(Exception):
    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(f"{logical_id}: {reason}")
        self.logical_id = logical_id


CREATE, UPDATE, REPLACE = "create", "update", "replace"


class LocalCloudFormation:
    """One stack, deployed, updated, rolled back and deleted as CloudFormation does it."""

    def __init__(
        self, clients: Clients, handler: LocalFunction, server: ResponseServer, stack_id: str = STACK_ID
    ) -> None:
        self.natives = Natives(clients)
        self.handler = handler
        self.server = server
        self.stack_id = stack_id
        self.resources: dict[str, Resource] = {}
        self.status = "REVIEW_IN_PROGRESS"
        self.changed_at = _now()
        self.gone: set[str] = set()  # functions deleted out of band (the emulator cannot delete them)
        self.propagation_lag = 0  # calls refused while a policy attached in this deployment propagates
        self.lingering: dict[str, Resource] = {}  # replaced physical resources, alive until the cleanup deletes them
        self._attached: list[dict[str, Any]] = []
        server.stacks[stack_id] = self

    # What the handler sees

    def summaries(self) -> list[dict[str, str]]:
        return [
            {
                "LogicalResourceId": key,
                "PhysicalResourceId": resource.physical_id,
                "ResourceType": resource.resource_type,
                "LastUpdatedTimestamp": self.changed_at,
                "ResourceStatus": resource.status,
            }
            for key, resource in self.resources.items()
        ]

    def handler_statements(self) -> list[dict[str, Any]]:
        """The handler role's policy now: its inline policies and every policy attached to it."""
        handler = next(
            (
                r
                for r in self.resources.values()
                if r.resource_type == "AWS::Lambda::Function" and r.properties.get("Handler") == "index.on_event"
            ),
            None,
        )
        if handler is None:
            return []
        alive = [*self.resources.values(), *self.lingering.values()]
        role = next(r for r in alive if r.attributes.get("Arn") == handler.properties["Role"])
        documents = [policy["PolicyDocument"] for policy in role.properties.get("Policies", [])]
        documents += [
            r.properties["PolicyDocument"]
            for r in alive
            if r.resource_type in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
            and role.physical_id in r.properties.get("Roles", [])
        ]
        return [statement for document in documents for statement in _statements(document)]

    def world(self) -> iam.World:
        """The rules the handler runs under now."""
        statements = self.handler_statements()
        fresh = [s for s in statements if s in self._attached] if self.status.endswith("_IN_PROGRESS") else []
        return iam.World(statements, set(self.gone), fresh, self.propagation_lag if fresh else 0)

    def configs(self) -> dict[str, Resource]:
        return {key: r for key, r in self.resources.items() if r.resource_type == CONFIG_TYPE}

    def native_configs(self) -> dict[str, Resource]:
        """The native `AWS::Lambda::EventInvokeConfig` resources, but the handler's own."""
        handlers = {r.physical_id for r in self.resources.values() if r.properties.get("Handler") == "index.on_event"}
        return {
            key: r
            for key, r in self.resources.items()
            if r.resource_type == "AWS::Lambda::EventInvokeConfig" and r.properties["FunctionName"] not in handlers
        }

    # Events

    def _send(self, deployment: Deployment, request: str, logical_id: str, resource: Resource, **kwargs: Any) -> Sent:
        event = self.server.event(
            request,
            resource.properties,
            logical_id=logical_id,
            resource_type=resource.resource_type,
            stack_id=self.stack_id,
            **kwargs,
        )
        calls = self.handler.invoke(event, self.world())
        (answer,) = self.server.answers(event)
        sent = Sent(request, logical_id, answer, self.status, calls)
        deployment.sent.append(sent)
        return sent

    def _delete(self, deployment: Deployment, key: str, resource: Resource) -> bool:
        """Delete one physical resource; from then on it is gone, whether its Delete succeeded or not (as in a
        cleanup). `key` is its logical id, with a suffix for the other physical resource of a replaced one."""
        logical_id = key.split(" ")[0]
        ok = True
        if resource.is_custom:
            sent = self._send(deployment, "Delete", logical_id, resource, physical_id=resource.physical_id)
            ok = sent.status == "SUCCESS"
        else:
            self.natives.delete(resource)
            if resource.resource_type == "AWS::Lambda::Function":  # the emulator cannot delete it: it is gone here
                self.gone.add(resource.physical_id)
        self.lingering.pop(key, None)
        if self.resources.get(logical_id) is resource:
            del self.resources[logical_id]
        return ok

    # Deploys

    def deploy(self, template: dict[str, Any]) -> Deployment:
        wanted: dict[str, Any] = template["Resources"]
        before = dict(self.resources)
        creating = not before
        self.status, self.changed_at = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS", _now()
        deployment = Deployment(self.status)
        settled, self._attached = self.handler_statements(), []
        changed: dict[str, str] = {}  # logical id -> CREATE, UPDATE or REPLACE, in the order they happened
        attempts: dict[str, Resource] = {}  # what each changed resource became (or was to become)
        try:
            for logical_id in order(wanted):
                self._apply(deployment, logical_id, wanted[logical_id], before.get(logical_id), changed, attempts)
                if logical_id in changed and wanted[logical_id]["Type"].startswith("AWS::IAM::"):
                    self._attached = [s for s in self.handler_statements() if s not in settled]
        except Failed as failure:
            deployment.failure = str(failure)
            if creating:
                self._roll_back_create(deployment, changed)
            else:
                self._roll_back_update(deployment, before, changed, attempts, failure.logical_id)
            return deployment
        if not creating:
            self.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            doomed = {key: r for key, r in before.items() if key not in wanted and r.deletion_policy != "Retain"}
            doomed |= {key: r for key, r in self.lingering.items() if r.replace_policy != "Retain"}
            for key in deletion_order(doomed):
                self._delete(deployment, key, doomed[key])  # a failure is only reported
            self.resources = {key: r for key, r in self.resources.items() if key in wanted}
            self.lingering.clear()
        self.status = deployment.status = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
        return deployment

    def _apply(
        self,
        deployment: Deployment,
        logical_id: str,
        raw: dict[str, Any],
        old: Resource | None,
        changed: dict[str, str],
        attempts: dict[str, Resource],
    ) -> None:
        properties = Resolver(self.resources, self.stack_id).resolve(raw.get("Properties", {}))
        new = Resource(
            resource_type=raw["Type"],
            physical_id=old.physical_id if old else "",
            properties=properties,
            depends_on=frozenset(dependencies(raw, self.resources)),
            deletion_policy=raw.get("DeletionPolicy", "Delete"),
            replace_policy=raw.get("UpdateReplacePolicy", "Delete"),
            attributes=old.attributes if old else {},
            status=old.status if old else "CREATE_IN_PROGRESS",
        )
        if old is not None and old.properties == properties:
            self.resources[logical_id] = new
            return
        changed[logical_id] = CREATE if old is None else UPDATE
        attempts[logical_id] = new
        if new.is_custom:
            self._apply_custom(deployment, logical_id, new, old, changed, attempts)
            return
        if old is None or _replaces(new.resource_type, old.properties, properties):
            try:
                physical_id, attributes = self.natives.create(logical_id, new.resource_type, properties)
            except ResourceFailed as error:
                raise Failed(logical_id, str(error)) from error
            if old is not None:
                changed[logical_id] = REPLACE
                self.lingering[f"{logical_id} (old)"] = old
            new = replace(new, physical_id=physical_id, attributes=attributes, status="CREATE_COMPLETE")
        else:
            new = replace(self.natives.update(logical_id, old, properties), **_shape(new))
        self.resources[logical_id] = attempts[logical_id] = new

    def _apply_custom(
        self,
        deployment: Deployment,
        logical_id: str,
        new: Resource,
        old: Resource | None,
        changed: dict[str, str],
        attempts: dict[str, Resource],
    ) -> None:
        if old is None:
            sent = self._send(deployment, "Create", logical_id, new)
        else:
            sent = self._send(
                deployment, "Update", logical_id, new, physical_id=old.physical_id, old_properties=old.properties
            )
        physical_id = sent.answer["PhysicalResourceId"]
        if sent.status != "SUCCESS":
            if old is None:  # a failed Create keeps the physical id it answered, for the rollback's Delete
                self.resources[logical_id] = attempts[logical_id] = replace(new, physical_id=physical_id)
            raise Failed(logical_id, sent.answer.get("Reason", ""))
        if old is not None and old.physical_id != physical_id:
            changed[logical_id] = REPLACE
            self.lingering[f"{logical_id} (old)"] = old
        attributes = {key: str(value) for key, value in (sent.answer.get("Data") or {}).items()}
        status = "CREATE_COMPLETE" if old is None else "UPDATE_COMPLETE"
        new = replace(new, physical_id=physical_id, attributes=attributes, status=status)
        self.resources[logical_id] = attempts[logical_id] = new

    def _roll_back_create(self, deployment: Deployment, changed: dict[str, str]) -> None:
        """A failed stack Create deletes what it created, the failed resource too."""
        self.status = "ROLLBACK_IN_PROGRESS"
        created = {key: self.resources[key] for key in changed if key in self.resources}
        ok = all([self._delete(deployment, key, created[key]) for key in deletion_order(created)])
        self.resources.clear()
        self.lingering.clear()
        self.status = deployment.status = "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED"

    def _roll_back_update(
        self,
        deployment: Deployment,
        before: dict[str, Resource],
        changed: dict[str, str],
        attempts: dict[str, Resource],
        failed: str,
    ) -> None:
        """A failed Update sends each custom resource it updated (the failed one too) an Update back to the old
        properties, in reverse order, and puts native ones back; then, in its own cleanup, it deletes what the update
        created and the new physical ids of what it replaced (a custom resource whose rollback Update answered a
        physical id other than the one it had was replaced)."""
        self.status = "UPDATE_ROLLBACK_IN_PROGRESS"
        doomed: dict[str, Resource] = {}
        ok = True
        for key in reversed(list(changed)):
            kind, old, new = changed[key], before.get(key), attempts[key]
            if kind == CREATE or old is None:
                if key in self.resources:  # a native resource that failed to create never existed
                    doomed[key] = self.resources[key]
                continue
            if old.is_custom:
                current = old.physical_id if key == failed else new.physical_id
                sent = self._send(deployment, "Update", key, old, physical_id=current, old_properties=new.properties)
                ok = ok and sent.status == "SUCCESS"
                if sent.status == "SUCCESS" and sent.answer["PhysicalResourceId"] != current:
                    doomed[f"{key} (new)"] = replace(new, physical_id=current)
            elif kind == REPLACE:
                doomed[f"{key} (new)"] = new
            self.lingering.pop(f"{key} (old)", None)
            self.resources[key] = old
            if f"{key} (new)" in doomed:
                self.lingering[f"{key} (new)"] = doomed[f"{key} (new)"]
        if not ok:
            self.status = deployment.status = "UPDATE_ROLLBACK_FAILED"
            return
        self.resources |= before  # the old template again: each resource as it was, dependencies too
        self.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        for key in deletion_order(doomed):
            self._delete(deployment, key, doomed[key])
        self.lingering.clear()
        self.status = deployment.status = "UPDATE_ROLLBACK_COMPLETE"

    def destroy(self) -> Deployment:
        self.status, self.changed_at = "DELETE_IN_PROGRESS", _now()
        deployment = Deployment(self.status)
        kept = {key: r for key, r in self.resources.items() if r.deletion_policy != "Retain"}
        for key in deletion_order(kept):
            if not self._delete(deployment, key, kept[key]):
                self.resources[key] = kept[key]  # still there, as the stack says
                self.status = deployment.status = "DELETE_FAILED"
                return deployment
        self.resources.clear()
        self.status = deployment.status = "DELETE_COMPLETE"
        return deployment


def _replaces(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a change of properties makes CloudFormation replace the resource rather than update it."""
    if resource_type in ALWAYS_REPLACED:
        return True
    return any(old.get(key) != new.get(key) for key in REPLACED_BY.get(resource_type, ()))


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _shape(resource: Resource) -> dict[str, Any]:
    """What the template says of a resource, apart from what the resource reports."""
    return {
        "depends_on": resource.depends_on,
        "deletion_policy": resource.deletion_policy,
        "replace_policy": resource.replace_policy,
    }


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, dict) else list(statement)
