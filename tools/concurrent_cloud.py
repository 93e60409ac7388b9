"""CloudFormation's concurrency, played locally under a seeded scheduler (scheduler.py): a stack operation starts
every resource whose dependencies are met at once, and its custom resources' events run together, their calls
interleaved as the seed decides. When a resource fails, the Creates still running are cancelled and their Deletes
sent at once (with a physical id CloudFormation generates), the Updates still running likewise with their rollback's
Update, while the cancelled events may still be running; then the rollback goes on as ever, independent resources
again at once. An event is now and then delivered twice, the copy possibly late; and several stacks' operations can
run together (`play`).

The handler runs in process (handler/index.py, the code the asset holds), each event a scheduler task, every call it
makes checked against its stack's IAM policy of that moment (iam.py). Native resources are made in the emulator as
local_cloud.py makes them, at once (they take no scheduler step)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from concurrent_events import EventCloud
from inprocess import Flight, Operation
from local_cloud import CREATE, REPLACE, UPDATE, Deployment, Failed
from template import Resource, dependencies, now, shape


class ConcurrentCloudFormation(EventCloud):
    """One stack, its operations played concurrently: `deploy_operation` and `destroy_operation` return an operation
    to `play` (with other stacks' operations, if any) and the `Deployment` it fills in as it goes."""

    # Operations

    def deploy_operation(self, template: dict[str, Any]) -> tuple[Deployment, Operation]:
        deployment = Deployment("")
        return deployment, self._deploy(template, deployment)

    def destroy_operation(self) -> tuple[Deployment, Operation]:
        deployment = Deployment("DELETE_IN_PROGRESS")
        return deployment, self._destroy(deployment)

    def _deploy(self, template: dict[str, Any], deployment: Deployment) -> Operation:
        wanted: dict[str, Any] = template["Resources"]
        before = dict(self.resources)
        creating = not before
        self.status, self.changed_at = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS", now()
        deployment.status = self.status
        self.refresh()
        changed: dict[str, str] = {}
        attempts: dict[str, Resource] = {}
        waiting = {key: dependencies(raw, wanted) for key, raw in wanted.items()}
        done: set[str] = set()
        running: dict[str, Flight] = {}
        failed: Failed | None = None
        while (waiting or running) and failed is None:
            ready = [key for key, needs in waiting.items() if needs <= done]
            if not ready and not running:
                raise ValueError(f"circular dependencies among {sorted(waiting)}")
            for key in ready:
                del waiting[key]
                try:
                    flight = self._begin(deployment, key, wanted[key], before.get(key), changed, attempts)
                except Failed as error:
                    failed = error
                    break
                if flight is None:
                    done.add(key)
                else:
                    running[key] = flight
            if failed is not None or ready and not running:
                continue
            yield
            for key, flight in list(running.items()):
                answer = self.answered(flight)
                if answer is None:
                    continue
                del running[key]
                if answer["Status"] == "SUCCESS":
                    self._complete(key, flight, answer, before.get(key), changed, attempts)
                    done.add(key)
                else:
                    if flight.request == "Create":  # its rollback's Delete gets the physical id it answered
                        self.resources[key] = attempts[key] = replace(
                            flight.resource, physical_id=answer["PhysicalResourceId"]
                        )
                    failed = failed or Failed(key, str(answer.get("Reason", "")))
        if failed is not None:
            deployment.failure = str(failed)
            yield from self._cancel(deployment, running, creating)
            if creating:
                yield from self._roll_back_created(deployment, changed)
            else:
                yield from self._roll_back_updated(deployment, before, changed, attempts, set(running))
            yield from self.settle()
            return
        if not creating:
            self.status = "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"
            doomed = {key: r for key, r in before.items() if key not in wanted and r.deletion_policy != "Retain"}
            doomed |= {key: r for key, r in self.lingering.items() if r.replace_policy != "Retain"}
            yield from self._delete_all(deployment, doomed)
            self.resources = {key: r for key, r in self.resources.items() if key in wanted}
            self.lingering.clear()
            self.refresh()
        self.status = deployment.status = "CREATE_COMPLETE" if creating else "UPDATE_COMPLETE"
        yield from self.settle()

    def _begin(
        self,
        deployment: Deployment,
        key: str,
        raw: dict[str, Any],
        old: Resource | None,
        changed: dict[str, str],
        attempts: dict[str, Resource],
    ) -> Flight | None:
        """Start one resource: a custom resource's event (returned), or a native resource made at once (None)."""
        new = self._desired(raw, old)
        if old is not None and old.properties == new.properties:
            self.resources[key] = replace(old, **shape(new))
            return None
        changed[key] = CREATE if old is None else UPDATE
        attempts[key] = new
        if new.is_custom:
            if old is None:
                return self.send_event(deployment, "Create", key, new)
            flight = self.send_event(
                deployment, "Update", key, new, physical_id=old.physical_id, old_properties=old.properties
            )
            flight.old = old
            return flight
        self.resources[key] = attempts[key] = self._apply_native(key, new, old, changed)
        self.refresh()
        return None

    def _complete(
        self,
        key: str,
        flight: Flight,
        answer: dict[str, Any],
        old: Resource | None,
        changed: dict[str, str],
        attempts: dict[str, Resource],
    ) -> None:
        physical_id = str(answer["PhysicalResourceId"])
        if old is not None and old.physical_id != physical_id:
            changed[key] = REPLACE
            self.lingering[f"{key} (old)"] = old
        attributes = {name: str(value) for name, value in (answer.get("Data") or {}).items()}
        status = "CREATE_COMPLETE" if old is None else "UPDATE_COMPLETE"
        self.resources[key] = attempts[key] = replace(
            flight.resource, physical_id=physical_id, attributes=attributes, status=status
        )

    def _cancel(self, deployment: Deployment, running: dict[str, Flight], creating: bool) -> Operation:
        """The events still running when a resource failed: cancelled, each Create's Delete (with a physical id
        CloudFormation generates, the Create never having answered) and each Update's rollback Update sent at
        once."""
        self.status = "ROLLBACK_IN_PROGRESS" if creating else "UPDATE_ROLLBACK_IN_PROGRESS"
        deployment.status = self.status
        compensations = []
        for key, flight in running.items():
            flight.cancelled = True
            if flight.request == "Create":
                generated = f"{self.name}-{key}-{uuid.UUID(int=self.scheduler.rng.getrandbits(128)).hex[:12]}"
                compensations.append(self.send_event(deployment, "Delete", key, flight.resource, physical_id=generated))
            elif flight.old is not None:
                compensations.append(
                    self.send_event(
                        deployment,
                        "Update",
                        key,
                        flight.old,
                        physical_id=flight.old.physical_id,
                        old_properties=flight.resource.properties,
                    )
                )
                self.resources[key] = flight.old
        yield from self.wait(compensations)
        self.flights = {name: f for name, f in self.flights.items() if not f.cancelled}  # deleted, or rolled back
        for flight in compensations:
            if flight.sent.answer.get("Status") != "SUCCESS":
                deployment.failure += f"; {flight.request} of cancelled {flight.key} failed"

    def _roll_back_created(self, deployment: Deployment, changed: dict[str, str]) -> Operation:
        """A failed stack Create deletes what it created (the failed resource too), independent ones at once."""
        created = {key: self.resources[key] for key in changed if key in self.resources}
        ok = yield from self._delete_all(deployment, created)
        self.resources.clear()
        self.lingering.clear()
        self.status = deployment.status = "ROLLBACK_COMPLETE" if ok else "ROLLBACK_FAILED"

    def _roll_back_updated(
        self,
        deployment: Deployment,
        before: dict[str, Resource],
        changed: dict[str, str],
        attempts: dict[str, Resource],
        cancelled: set[str],
    ) -> Operation:
        """An Update back to the old properties for each custom resource the update changed and that was not
        cancelled (those got theirs at once), all at once; native ones put back; then, in the rollback's cleanup,
        the Deletes of what the update created and of the new physical ids of what it replaced."""
        doomed: dict[str, Resource] = {}
        backs: list[tuple[str, Flight, Resource]] = []
        for key, kind in changed.items():
            old, new = before.get(key), attempts[key]
            if kind == CREATE or old is None:
                if key in self.resources and key not in cancelled:
                    doomed[key] = self.resources[key]
                continue
            if old.is_custom and key not in cancelled:
                current = self.resources[key].physical_id if key in self.resources else old.physical_id
                flight = self.send_event(
                    deployment, "Update", key, old, physical_id=current, old_properties=new.properties
                )
                backs.append((key, flight, replace(new, physical_id=current)))
            elif kind == REPLACE and not old.is_custom:
                doomed[f"{key} (new)"] = new
            self.lingering.pop(f"{key} (old)", None)
            self.resources[key] = old
        yield from self.wait([flight for _, flight, _ in backs])
        ok = True
        for key, flight, new in backs:
            ok = ok and flight.sent.answer["Status"] == "SUCCESS"
            if (
                flight.sent.answer["PhysicalResourceId"] != new.physical_id
                and flight.sent.answer["Status"] == "SUCCESS"
            ):
                doomed[f"{key} (new)"] = new
        if not ok:
            self.status = deployment.status = "UPDATE_ROLLBACK_FAILED"
            return
        self.resources |= before
        self.refresh()
        self.status = "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"
        yield from self._delete_all(deployment, doomed)
        self.lingering.clear()
        self.refresh()
        self.status = deployment.status = "UPDATE_ROLLBACK_COMPLETE"

    def _destroy(self, deployment: Deployment) -> Operation:
        self.status, self.changed_at = "DELETE_IN_PROGRESS", now()
        kept = {key: r for key, r in self.resources.items() if r.deletion_policy != "Retain"}
        ok = yield from self._delete_all(deployment, kept)
        if ok:
            self.resources.clear()
            self.status = deployment.status = "DELETE_COMPLETE"
        else:
            self.status = deployment.status = "DELETE_FAILED"
        yield from self.settle()
