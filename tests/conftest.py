from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import emulator
import index
import pytest
from cloudformation import STACK_ID, Context, ResponseServer
from declarations import Declarations
from lambda_api import Api, Deadline
from local_cloud import create_function

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/async-invoke-test"


@pytest.fixture(scope="session")
def endpoint() -> Iterator[str]:
    """LocalStack, started once per run. A failure to start fails the tests that need it; nothing is skipped."""
    running = emulator.start()
    try:
        yield running.endpoint
    finally:
        running.stop()


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
    """Sends events to the handler as CloudFormation would and returns the answer the response server received."""

    server: ResponseServer
    client: Any
    store: Declarations

    def send(self, request_type: str, properties: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        event = self.server.event(request_type, properties, **kwargs)
        index.on_event(event, Context(), client=self.client, store=self.store)
        answers = self.server.answers(event)
        assert len(answers) == 1, answers
        return answers[0]


@pytest.fixture
def cfn(aws: Aws) -> Iterator[CloudFormation]:
    with ResponseServer() as server:
        store = Declarations(Api(aws.client("ssm"), Deadline.after(3600)), STACK_ID)
        yield CloudFormation(server, aws.client("lambda"), store)
