"""A stack whose custom resources' events run concurrently (inprocess.py): what the stack API shows while they run,
the events sent (now and then twice, the copy possibly late) and waited on, and deletes of independent resources at
once. concurrent_cloud.py plays the stack's operations on it."""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any

import iam
from cloudformation import ResponseServer
from inprocess import Flight, InProcessHandler
from local_cloud import Deployment, LocalCloudFormation, Sent
from scheduler import Scheduler, Task
from template import Resource

# A copy of an event comes at once, or late: after whatever is ready now has run.
DUPLICATE_DELAYS = (0.0, 30.0)


class EventCloud(LocalCloudFormation):
    """One stack whose custom resources' events run as scheduler tasks under `scheduler`, each checked against the
    stack's IAM policy of the moment (`live_world`)."""

    def __init__(
        self,
        clients: Callable[[str], Any],
        scheduler: Scheduler,
        server: ResponseServer,
        stack_id: str,
        endpoint: str,
        duplicates: float = 0.0,
    ) -> None:
        self.scheduler = scheduler
        self.live_world = iam.World(caller=self.waited_on, statements_for=self.caller_statements)
        self.inprocess = InProcessHandler(scheduler, endpoint, server.url, self.live_world, self.handler_exists)
        super().__init__(clients, None, server, stack_id)  # type: ignore[arg-type]
        self.duplicates = duplicates
        self.flights: dict[str, Flight] = {}  # those CloudFormation waits on now
        self.of_task: dict[int, Flight] = {}
        self.tasks: list[Task] = []

    @property
    def name(self) -> str:
        return self.stack_id.split("/")[1]

    # What the stack API shows, and the rules the handler runs under

    def summaries(self) -> list[dict[str, str]]:
        """The resources, and those being created (CloudFormation lists them as CREATE_IN_PROGRESS)."""
        listed = super().summaries()
        held = {summary["LogicalResourceId"] for summary in listed}
        for flight in self.flights.values():
            if flight.request == "Create" and flight.key not in held:
                held.add(flight.key)
                listed.append(
                    {
                        "LogicalResourceId": flight.key,
                        "PhysicalResourceId": "",
                        "ResourceType": flight.resource.resource_type,
                        "LastUpdatedTimestamp": self.changed_at,
                        "ResourceStatus": "CREATE_FAILED" if flight.cancelled else "CREATE_IN_PROGRESS",
                    }
                )
        return listed

    def handler_exists(self) -> bool:
        return any(
            r.resource_type == "AWS::Lambda::Function" and r.properties.get("Handler") == "index.on_event"
            for r in self.resources.values()
        )

    def refresh(self) -> None:
        """The handler's IAM world as the stack's resources are now (its policies, functions deleted out of band)."""
        self.live_world.statements = self.handler_statements()
        self.live_world.gone = set(self.gone)

    # Events

    def send_event(self, deployment: Deployment, request: str, key: str, resource: Resource, **kwargs: Any) -> Flight:
        """Send an event (and now and then a copy of it, at once or late); CloudFormation takes the first answer."""
        logical_id = key.split(" ")[0]
        event = self.event(request, logical_id, resource, **kwargs)
        sent = Sent(request, logical_id, {}, self.status)
        deployment.sent.append(sent)
        flight = Flight(key, sent, event, resource)
        copies = 2 if self.scheduler.rng.random() < self.duplicates else 1
        for copy in range(copies):
            delay = self.scheduler.rng.choice(DUPLICATE_DELAYS) if copy else 0.0
            name = f"{self.name} {request} {logical_id}{' (copy)' if copy else ''}"
            flight.tasks.append(self.inprocess.start(name, event, delay))
        self.tasks += flight.tasks
        self.flights[f"{key} {request} {event['RequestId']}"] = flight
        self.of_task |= {id(task): flight for task in flight.tasks}
        return flight

    def waited_on(self) -> tuple[str, bool]:
        """The event making a call, and whether CloudFormation still waits on its answer then."""
        task = self.scheduler.current()
        flight = self.of_task.get(id(task))
        return (task.name if task else "?", flight is not None and not flight.cancelled and not flight.sent.answer)

    def caller_statements(self) -> list[dict[str, Any]] | None:
        """The policy of the role of the handler the calling event was sent to (its ServiceToken): a stack of many
        groups has several handlers, each granted its own groups' functions."""
        handlers = [r for r in self.resources.values() if r.properties.get("Handler") == "index.on_event"]
        if len(handlers) < 2:  # one handler: its policy as `refresh` last saw it
            return None
        flight = self.of_task.get(id(self.scheduler.current()))
        token = (flight.event.get("ResourceProperties") or {}).get("ServiceToken") if flight is not None else None
        return self.handler_statements(token) if token else None

    def denied(self) -> list[tuple[str, str, str]]:
        """Calls IAM refused to events while CloudFormation waited on them (an event it cancelled or has its answer
        of, a copy delivered late, may run on after its resource's permission is gone: refusals are all it meets)."""
        return [
            (str(caller[0]), action, resource)  # type: ignore[index]
            for caller, action, resource, verdict in self.live_world.by_caller
            if verdict == iam.DENIED and caller[1]  # type: ignore[index]
        ]

    def answered(self, flight: Flight) -> dict[str, Any] | None:
        answers = self.server.answers(flight.event)
        if answers and not flight.sent.answer:
            flight.sent.answer = answers[0]
            self.flights = {name: f for name, f in self.flights.items() if f is not flight}
        return answers[0] if answers else None

    def wait(self, flights: list[Flight]) -> Iterator[None]:
        """Yield until every flight has its answer."""
        while not all(self.answered(flight) is not None for flight in flights):
            yield

    def settle(self) -> Iterator[None]:
        """Yield until every event this stack sent has ended (cancelled ones and late copies too)."""
        while any(not task.done for task in self.tasks):
            yield

    def _delete_all(self, deployment: Deployment, doomed: dict[str, Resource]) -> Generator[None, None, bool]:
        """Delete `doomed`, each once nothing else doomed depends on it, independent ones at once; True when every
        custom resource's Delete succeeded."""
        waiting = {
            key: {other for other in doomed if other != key and other.split(" ")[0] in resource.depends_on}
            for key, resource in doomed.items()
        }
        ok = True
        while waiting:
            free = [key for key in waiting if not any(key in needs for needs in waiting.values())]
            flights = []
            for key in free:
                resource = doomed[key]
                del waiting[key]
                if resource.is_custom:
                    flights.append(
                        self.send_event(deployment, "Delete", key, resource, physical_id=resource.physical_id)
                    )
                else:
                    self._delete_native(key, resource)
            yield from self.wait(flights)
            for flight in flights:
                ok = ok and flight.sent.answer["Status"] == "SUCCESS"
                self._forget(flight.key, doomed[flight.key])
        return ok

    def _delete_native(self, key: str, resource: Resource) -> None:
        self.natives.delete(resource)
        if resource.resource_type == "AWS::Lambda::Function":
            self.gone.add(resource.physical_id)
        self._forget(key, resource)

    def _forget(self, key: str, resource: Resource) -> None:
        self.lingering.pop(key, None)
        if self.resources.get(key.split(" ")[0]) is resource:
            del self.resources[key.split(" ")[0]]
        self.refresh()
