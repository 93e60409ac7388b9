"""What the stack's handler may configure: exactly the (function, qualifier) pairs its configs declare, one ARN each
(`function:NAME:QUALIFIER`, the resource Lambda authorizes a config call on when it names a qualifier, as the handler
always does), packed into as few managed policies as IAM's quotas allow. No wildcard covers a function or qualifier
that no config declares; only a function given as a token of unknown form (a parameter that may hold a name or an
ARN) widens the grant to every function of the stack's account and region, with a synth note."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from aws_cdk import Acknowledgment, Annotations, Aws, CfnResource, Fn, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import Construct

from .bridge import unresolved
from .handler.contract import BARE_NAME_MAX, FUNCTION_NAME_PATTERN, LATEST, QUALIFIER_MAX, InvalidProperty

# The targets' managed policies' logical ids: this (AsyncInvokeConfig's initials) and a hash of what each grants.
# Every config names its policy in its DependsOn, so the prefix is short; the path metadata gives the full name.
TARGETS_ID = "AICTargets"
ACTIONS = [f"lambda:{verb}FunctionEventInvokeConfig" for verb in ("Get", "Put", "Update", "Delete")]
# IAM's default quotas, whitespace aside: a managed policy holds 6,144 characters, and a role takes 10 of them.
MANAGED_POLICY_SIZE = 6144
MANAGED_POLICIES_PER_ROLE = 10
# Unresolved parts of an ARN are counted at their longest: the longest partition and region, a 64-character name, a
# version number of 10 digits (a Version's own), any other qualifier at the API's 128 characters.
FUNCTION_ARN_PREFIX = len("arn:aws-us-gov:lambda:ap-southeast-2:123456789012:function:")
VERSION_DIGITS = 10


@dataclass(frozen=True)
class PolicyTarget:
    """A function the handler may act on: its unqualified ARN and its name (each a literal or a token), and what
    tells, at synth time, whether a token will resolve to another function: for an in-app function, its name as the
    template gives it (a new name replaces the function); None when nothing tells (a parameter, say)."""

    arn: str
    name: str
    identity: str | None = ""
    local: bool = True  # an in-app function of the config's own stack: its references may be named in an Fn::Sub
    name_length: int | None = None  # a name known only as a reference, whose function has a literal name


@dataclass(frozen=True)
class Grant:
    """One (function, qualifier) a config declares; the qualifier is a literal or a token (a Version's number)."""

    target: PolicyTarget
    qualifier: str
    version_token: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.target.arn, self.qualifier


class Grants:
    """The stack's targets' managed policies, made once every config is known (`finish`)."""

    def __init__(self, scope: Construct, stack: Stack, role: iam.IRole, token: str) -> None:
        self.scope = scope
        self.stack = stack
        self.role = role
        self.token = token
        self.grants: dict[tuple[str, str], Grant] = {}
        self.wide = False
        self.policies: list[iam.CfnManagedPolicy] = []

    def add(self, target: PolicyTarget | None, qualifier: str, version_token: bool = False) -> tuple[str, str] | None:
        """Grant one (function, qualifier); None as target, when only a token name is known, grants every function
        of the stack's account and region. Returns the grant's key, for `finish`."""
        if target is None:
            self._widen("a config names its function by a token whose ARN is not known at synth time")
            return None
        grant = Grant(target, qualifier, version_token)
        self.grants.setdefault(grant.key, grant)
        return grant.key

    def finish(self, waiting: list[tuple[CfnResource, tuple[str, str] | None]], after: list[CfnResource]) -> None:
        """The policies, in as few as fit IAM's quotas, each config (`waiting`) waiting for the one that grants its
        function and qualifier, and each policy waiting for `after` (the handler's own async settings)."""
        if not waiting:
            return
        if self.wide:
            groups: list[list[Grant | None]] = [[None]]
        else:
            groups = [list(group) for group in _pack(list(self.grants.values()))]
            if len(groups) > MANAGED_POLICIES_PER_ROLE:
                raise InvalidProperty(
                    f"The stack's configs name {len(self.grants)} functions and qualifiers: their permissions need "
                    f"{len(groups)} managed policies, more than the {MANAGED_POLICIES_PER_ROLE} IAM attaches to a "
                    "role by default. Split the configs across stacks."
                )
        granting: dict[tuple[str, str], iam.CfnManagedPolicy] = {}
        for index, group in enumerate(groups):
            policy = iam.CfnManagedPolicy(
                self.scope,
                f"Targets{index}" if index else "Targets",
                policy_document=self._listing(group),
                roles=[self.role.role_name],
                description="What the AsyncInvokeConfig handler may configure (replaced whenever its targets change).",
            )
            policy.override_logical_id(f"{TARGETS_ID}{self._hash(policy, group)}")
            for dependency in after:
                policy.add_resource_dependency(dependency)
            self.policies.append(policy)
            granting |= {grant.key: policy for grant in group if grant is not None}
        waits: dict[tuple[int, int], tuple[CfnResource, iam.CfnManagedPolicy]] = {}
        for resource, key in waiting:  # a group waits once for each policy its members need
            policy = granting[key] if key is not None and not self.wide else self.policies[0]
            waits[id(resource), id(policy)] = (resource, policy)
        for resource, policy in waits.values():
            resource.add_resource_dependency(policy)

    def _listing(self, group: list[Grant | None]) -> dict[str, Any]:
        """A policy that lists the group's ARNs compactly: one `Fn::Sub` of `${F}NAME:QUALIFIER,${P0}NAME:...`
        split at the commas, with `F` the stack's `arn:...:function:` prefix and `P0`... each other prefix a literal
        ARN has (IAM sees the resolved list; the template does not repeat the prefixes)."""
        variables: dict[str, Any] = {}
        prefixes: dict[str, str] = {}
        parts = []
        references = [  # this stack's references in the group, resolved at once
            value
            for grant in group
            if grant is not None and grant.target.local
            for value in (grant.target.name, grant.qualifier)
            if unresolved(value)
        ]
        resolved = dict(zip(references, self.stack.resolve(references), strict=True)) if references else {}
        for grant in group:
            if grant is None:
                parts.append("${F}*")
                continue
            target = grant.target
            if not unresolved(target.arn):
                prefix, _, name = target.arn.rpartition(":function:")
                key = prefixes.setdefault(f"{prefix}:function:", f"P{len(prefixes)}")
                head = "${" + key + "}" + name
            else:
                head = "${F}" + _sub(target.name, variables, resolved)
            parts.append(f"{head}:{_sub(grant.qualifier, variables, resolved)}")
        body = ",".join(parts)
        variables |= {key: prefix for prefix, key in prefixes.items()}
        if "${F}" in body:
            variables["F"] = f"arn:{Aws.PARTITION}:lambda:{self.stack.region}:{self.stack.account}:function:"
        listed = Fn.split(",", Fn.sub(body, variables) if variables else body)
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ACTIONS, "Resource": listed}]}

    def acknowledge(self) -> None:
        """The one wildcard a targets' policy can hold (`function:*`, for a function named by a token of unknown
        form), acknowledged with its reason (cdk-nag names each finding by the resource)."""
        if not self.wide:
            return
        reason = (
            "A function named by a token of unknown form (a parameter that may hold a name or an ARN) scopes the "
            "policy to the stack's account and region (`function:*`), never `*`."
        )
        for policy in self.policies:
            for statement in self.stack.resolve(policy.policy_document)["Statement"]:
                listed = statement["Resource"]
                for resource in listed if isinstance(listed, list) else [listed]:
                    if "*" in flatten(resource):
                        Validations.of(policy).acknowledge(
                            Acknowledgment(id=f"AwsSolutions-IAM5[Resource::{flatten(resource)}]", reason=reason)
                        )

    def _hash(self, policy: iam.CfnManagedPolicy, group: list[Grant | None]) -> str:
        """A hash of what the policy grants. A template that names a function by a reference grants whatever that
        reference resolves to at deploy time, so the hash takes in what replaces such a function too (or, when
        nothing tells, the deploy token: then every deploy replaces the policy). A deploy that changes a policy so
        creates a new one, and deletes the old one only in the cleanup phase, after the Deletes of the configs that
        depended on it (which still need their function's permission)."""
        identities = [
            grant.target.identity if grant is not None and grant.target.identity is not None else self.token
            for grant in group
        ]
        content = [self.stack.resolve(policy.policy_document), identities]
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8].upper()

    def _widen(self, why: str) -> None:
        if not self.wide:
            self.wide = True
            Annotations.of(self.scope).add_info(
                f"The handler's IAM policy is scoped to every function of the stack's account and region "
                f"(lambda:...:function:*) because {why}."
            )


def _sub(value: str, variables: dict[str, Any], resolved: dict[str, Any]) -> str:
    """`value` as part of an `Fn::Sub` string: a literal as it is, a reference to a resource of this stack (as
    `resolved` gives it) as `${Logical}` or `${Logical.Attribute}`, anything else (a reference to another stack's
    resource, which CDK turns into an import only where it sees the token) as a variable of its own."""
    if not unresolved(value):
        return value.replace("${", "${!")
    reference = resolved.get(value)
    if isinstance(reference, dict) and list(reference) == ["Ref"]:
        return "${" + str(reference["Ref"]) + "}"
    if isinstance(reference, dict) and list(reference) == ["Fn::GetAtt"]:
        return "${" + ".".join(reference["Fn::GetAtt"]) + "}"
    key = next((name for name, given in variables.items() if given == value), f"N{len(variables)}")
    variables[key] = value
    return "${" + key + "}"


def qualifier_in(function_name: str) -> str | None:
    """The qualifier inside a literal function name (`name:alias`, an ARN with a version), if any."""
    if unresolved(function_name):
        return None
    match = FUNCTION_NAME_PATTERN.fullmatch(function_name)
    return match.group("qualifier") if match is not None else None


def effective_qualifier(qualifier: str | None, function_name: str) -> str:
    return qualifier if qualifier is not None else qualifier_in(function_name) or LATEST


def _length(grant: Grant) -> int:
    """The grant's ARN as IAM counts it (resolved; unresolved parts at their longest)."""
    target = grant.target
    if unresolved(target.arn):
        name = target.name_length or (BARE_NAME_MAX if unresolved(target.name) else len(target.name))
        arn = FUNCTION_ARN_PREFIX + name
    else:
        arn = len(target.arn)
    if not unresolved(grant.qualifier):
        return arn + 1 + len(grant.qualifier)
    return arn + 1 + (VERSION_DIGITS if grant.version_token else QUALIFIER_MAX)


def _pack(grants: list[Grant]) -> list[list[Grant]]:
    """The grants, in order, in groups that each fit one managed policy as IAM counts it."""
    room = MANAGED_POLICY_SIZE - len(json.dumps(_document(ACTIONS, []), separators=(",", ":")))
    groups: list[list[Grant]] = [[]]
    used = 0
    for grant in grants:
        cost = _length(grant) + 3  # "ARN",
        if used + cost > room and groups[-1]:
            groups.append([])
            used = 0
        groups[-1].append(grant)
        used += cost
    return groups


def _document(actions: list[str], resources: list[str]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resources}]}


def flatten(value: Any) -> str:
    """A resolved ARN written the way cdk-nag names it in a finding: `<Logical.Attr>`, `<AWS::Region>`."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return f"<{value['Ref']}>"
    if "Fn::GetAtt" in value:
        return f"<{'.'.join(value['Fn::GetAtt'])}>"
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(flatten(part) for part in parts)
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", r"<\1>", value["Fn::Sub"])
    return json.dumps(value, separators=(",", ":"))  # as JavaScript's JSON.stringify writes it
