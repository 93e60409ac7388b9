"""A synthesized template played against the emulator as CloudFormation plays it: resources created and updated in
dependency order (custom resources as early as their dependencies allow, the drift check among them), then the
cleanup phase deleting removed resources and replaced physical ids under the previous template's policies, and
rollbacks with their own cleanup. Native resources the configs refer to are created for real; IAM resources are kept
as state, and the handler role's policy at each moment (inline, and every policy attached to it then) is enforced
on each call the handler makes. The handler runs from its synthesized asset in a process of its own (a warm Lambda
container), answering through the presigned-URL stand-in and reading the stack through its CloudFormation API."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import iam
from cloudformation import STACK_ID, ResponseServer
from local_function import LocalFunction
from natives import Natives, ResourceFailed
from template import (
    CONFIG_TYPE,
    Resolver,
    Resource,
    deletion_order,
    dependencies,
    now,
    order,
    replaces,
    shape,
    statements,
)

Clients = Callable[[str], Any]
HANDLERS = ("index.on_event", "index.on_expired")  # the library's own functions (their native async settings too)


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
        self.changed_at = now()
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

    def handler_statements(self, service_token: str | None = None) -> list[dict[str, Any]]:
        """The policy now of the role of the handler `service_token` names (the stack's first, when None): its inline
        policies and every policy attached to it."""
        handler = next(
            (
                r
                for r in self.resources.values()
                if r.resource_type == "AWS::Lambda::Function"
                and r.properties.get("Handler") == "index.on_event"
                and (service_token is None or r.attributes.get("Arn") == service_token)
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
        return [statement for document in documents for statement in statements(document)]

    def every_handler_statement(self) -> list[dict[str, Any]]:
        """The policies of every handler role of the stack (a stack of many groups has more than one)."""
        tokens = [
            r.attributes.get("Arn")
            for r in self.resources.values()
            if r.resource_type == "AWS::Lambda::Function" and r.properties.get("Handler") == "index.on_event"
        ]
        return [statement for token in tokens for statement in self.handler_statements(token)]

    def world(self, service_token: str | None = None) -> iam.World:
        """The rules the handler (`service_token`'s, or the stack's first) runs under now."""
        granted = self.handler_statements(service_token)
        fresh = [s for s in granted if s in self._attached] if self.status.endswith("_IN_PROGRESS") else []
        return iam.World(granted, set(self.gone), fresh, self.propagation_lag if fresh else 0)

    def configs(self) -> dict[str, Resource]:
        return {key: r for key, r in self.resources.items() if r.resource_type == CONFIG_TYPE}

    def native_configs(self) -> dict[str, Resource]:
        """The native `AWS::Lambda::EventInvokeConfig` resources, but the handler's own."""
        handlers = {r.physical_id for r in self.resources.values() if r.properties.get("Handler") in HANDLERS}
        return {
            key: r
            for key, r in self.resources.items()
            if r.resource_type == "AWS::Lambda::EventInvokeConfig" and r.properties["FunctionName"] not in handlers
        }

    # Events

    def event(self, request: str, logical_id: str, resource: Resource, **kwargs: Any) -> dict[str, Any]:
        """The event CloudFormation sends `resource` of this stack."""
        return self.server.event(
            request,
            resource.properties,
            logical_id=logical_id,
            resource_type=resource.resource_type,
            stack_id=self.stack_id,
            **kwargs,
        )

    def _send(self, deployment: Deployment, request: str, logical_id: str, resource: Resource, **kwargs: Any) -> Sent:
        event = self.event(request, logical_id, resource, **kwargs)
        calls = self.handler.invoke(event, self.world(resource.properties.get("ServiceToken")))
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
        self.status, self.changed_at = "CREATE_IN_PROGRESS" if creating else "UPDATE_IN_PROGRESS", now()
        deployment = Deployment(self.status)
        settled, self._attached = self.every_handler_statement(), []
        changed: dict[str, str] = {}  # logical id -> CREATE, UPDATE or REPLACE, in the order they happened
        attempts: dict[str, Resource] = {}  # what each changed resource became (or was to become)
        try:
            for logical_id in order(wanted):
                self._apply(deployment, logical_id, wanted[logical_id], before.get(logical_id), changed, attempts)
                if logical_id in changed and wanted[logical_id]["Type"].startswith("AWS::IAM::"):
                    self._attached = [s for s in self.every_handler_statement() if s not in settled]
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
        self.export(template)
        return deployment

    def export(self, template: dict[str, Any]) -> None:
        """The template's exported outputs, as CloudFormation publishes them once the stack is deployed."""
        resolver = Resolver(self.resources, self.stack_id, self.server.exports)
        for output in template.get("Outputs", {}).values():
            if "Export" in output:
                self.server.exports[str(resolver.resolve(output["Export"]["Name"]))] = str(
                    resolver.resolve(output["Value"])
                )

    def _apply(
        self,
        deployment: Deployment,
        logical_id: str,
        raw: dict[str, Any],
        old: Resource | None,
        changed: dict[str, str],
        attempts: dict[str, Resource],
    ) -> None:
        new = self._desired(raw, old)
        if old is not None and old.properties == new.properties:
            self.resources[logical_id] = new
            return
        changed[logical_id] = CREATE if old is None else UPDATE
        attempts[logical_id] = new
        if new.is_custom:
            self._apply_custom(deployment, logical_id, new, old, changed, attempts)
            return
        self.resources[logical_id] = attempts[logical_id] = self._apply_native(logical_id, new, old, changed)

    def _desired(self, raw: dict[str, Any], old: Resource | None) -> Resource:
        """A template resource as this operation wants it: its properties resolved, the rest carried from `old`."""
        return Resource(
            resource_type=raw["Type"],
            physical_id=old.physical_id if old else "",
            properties=Resolver(self.resources, self.stack_id, self.server.exports).resolve(raw.get("Properties", {})),
            depends_on=frozenset(dependencies(raw, self.resources)),
            deletion_policy=raw.get("DeletionPolicy", "Delete"),
            replace_policy=raw.get("UpdateReplacePolicy", "Delete"),
            attributes=old.attributes if old else {},
            status=old.status if old else "CREATE_IN_PROGRESS",
        )

    def _apply_native(self, key: str, new: Resource, old: Resource | None, changed: dict[str, str]) -> Resource:
        """A native resource made (or replaced, the old one left for the cleanup) or updated in the emulator."""
        if old is None or replaces(new.resource_type, old.properties, new.properties):
            try:
                physical_id, attributes = self.natives.create(key, new.resource_type, new.properties)
            except ResourceFailed as error:
                raise Failed(key, str(error)) from error
            if old is not None:
                changed[key] = REPLACE
                self.lingering[f"{key} (old)"] = old
            return replace(new, physical_id=physical_id, attributes=attributes, status="CREATE_COMPLETE")
        return replace(self.natives.update(key, old, new.properties), **shape(new))

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
        self.status, self.changed_at = "DELETE_IN_PROGRESS", now()
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
