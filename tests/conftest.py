from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import emulator
import iam
import index
import pytest
from cloudformation import STACK_ID, Context, ResponseServer, StaticStack
from faults import Tally
from natives import create_function
from stack_harness import Harness, harness, synthesized_policy

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/async-invoke-test"


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """LocalStack, started once per run (or one already running at $EMULATOR_ENDPOINT). A failure to start fails the
    tests that need it; nothing is skipped."""
    with emulator.running() as running:
        yield running


@dataclass
class Aws:
    endpoint: str

    def client(self, service: str) -> Any:
        return emulator.client(self.endpoint, service)

    def function(self, prefix: str = "fn") -> str:
        """A new function in the emulator (it cannot run code without Docker, but its configs work)."""
        name = f"{prefix}-{uuid.uuid4().hex[:10]}"
        create_function(self.client("lambda"), name)
        return name

    def queue(self) -> str:
        sqs = self.client("sqs")
        url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:10]}")["QueueUrl"]
        return str(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"])

    def topic(self) -> str:
        return str(self.client("sns").create_topic(Name=f"t-{uuid.uuid4().hex[:10]}")["TopicArn"])

    def bus(self) -> str:
        return str(self.client("events").create_event_bus(Name=f"b-{uuid.uuid4().hex[:10]}")["EventBusArn"])


@pytest.fixture(scope="session")
def aws(endpoint: str) -> Aws:
    return Aws(endpoint)


@dataclass
class CloudFormation:
    """Sends events to the handler as CloudFormation would and returns the answer the response server received.
    Every call the handler makes is checked against the policy a stack declaring the events' functions synthesizes;
    a refused call fails the test."""

    server: ResponseServer
    aws: Aws
    world: iam.World = field(default_factory=iam.World)
    functions: list[tuple[str, str | None]] = field(default_factory=list)
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            endpoint = self.server.url if service == "cloudformation" else self.aws.endpoint
            self.clients[service] = iam.install(emulator.client(endpoint, service), self.world)
        return self.clients[service]

    def send(self, request_type: str, properties: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        declared = (properties["FunctionName"], properties.get("Qualifier"))
        if declared not in self.functions:
            self.functions.append(declared)
            self.world.statements = synthesized_policy(self.functions, STACK_ID)
        event = self.server.event(request_type, properties, **kwargs)
        index.on_event(event, Context(), clients=self.client)
        assert self.world.denied == [], self.world.denied
        answers = self.server.answers(event)
        assert len(answers) == 1, answers
        return answers[0]


@pytest.fixture
def cfn(aws: Aws) -> Iterator[CloudFormation]:
    with ResponseServer() as server:
        server.stacks[STACK_ID] = StaticStack()
        yield CloudFormation(server, aws)


@pytest.fixture
def h(aws: Aws, tmp_path: Path) -> Iterator[Harness]:
    """Stacks synthesized in process and played by the local CloudFormation against LocalStack."""
    with harness(aws, tmp_path) as running:
        yield running


@pytest.fixture
def server() -> Iterator[ResponseServer]:
    """The presigned-URL stand-in alone, for the interleaving suites' stacks (each registers itself)."""
    with ResponseServer() as running:
        yield running


@pytest.fixture(scope="session")
def tally() -> Iterator[Tally]:
    """Rows for RELIABILITY.md (fault or input, how many tried, outcome); appended to $RELIABILITY_RECORD when set,
    as `scripts/reliability` does."""
    rows = Tally()
    yield rows
    if os.environ.get("RELIABILITY_RECORD"):
        rows.append_to(Path(os.environ["RELIABILITY_RECORD"]))
