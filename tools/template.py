"""A CloudFormation template as CloudFormation reads it: what each resource refers to and depends on, the order of
creation and of deletion, the intrinsic functions resolved against the resources of the moment, and which property
changes replace a resource."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "000000000000"
REGION = "us-east-1"
CONFIG_TYPE = "Custom::LambdaAsyncInvokeConfig"
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

    def __init__(self, resources: dict[str, Resource], stack_id: str, exports: dict[str, str] | None = None) -> None:
        self.resources = resources
        self.exports = exports if exports is not None else {}  # the account and region's, by export name
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
        if "Fn::ImportValue" in value:
            return self.exports[str(self.resolve(value["Fn::ImportValue"]))]
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


def replaces(resource_type: str, old: dict[str, Any], new: dict[str, Any]) -> bool:
    """Whether a change of properties makes CloudFormation replace the resource rather than update it."""
    if resource_type in ALWAYS_REPLACED:
        return True
    return any(old.get(key) != new.get(key) for key in REPLACED_BY.get(resource_type, ()))


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shape(resource: Resource) -> dict[str, Any]:
    """What the template says of a resource, apart from what the resource reports."""
    return {
        "depends_on": resource.depends_on,
        "deletion_policy": resource.deletion_policy,
        "replace_policy": resource.replace_policy,
    }


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statement = document.get("Statement", [])
    return [statement] if isinstance(statement, dict) else list(statement)
