"""Defaults for a whole scope, and the strict check: which Lambda functions and aliases of a scope are the user's,
and whether each already has a config of its own."""

from __future__ import annotations

import json
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Annotations, AspectPriority, Aspects, IAspect, Stack, Stage
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IConstruct, IValidation

from .bridge import holding, path_of, scopes_of, stack_of
from .handler.contract import LATEST, InvalidProperty
from .provider import Provider

Target = lambda_.Function | lambda_.Alias
Predicate = Callable[[Target], object]
DEFAULT_ID = "AsyncInvokeConfig"
EXEMPTION = "async-invoke-config:exempt-from-on-failure"


@dataclass(frozen=True)
class Declaration:
    """What a config declared for one function and qualifier: where, and whether it sends failures somewhere."""

    construct: IConstruct
    on_failure: bool

    @property
    def path(self) -> str:
        return self.construct.node.path


@dataclass(frozen=True)
class Exemption:
    """Why a function or alias (or, with `children`, every one under a construct) needs no on-failure destination."""

    reason: str
    children: bool


Lookup = Callable[[Target], Declaration | None]


def user_targets(stack: Stack, within: Construct, nodes: list[IConstruct] | None = None) -> Iterator[Target]:
    """The Lambda functions (``aws_lambda.Function`` and its subclasses) and aliases of `stack` (not of its nested
    stacks, which are stacks of their own) under `within`, less the functions that are not the user's: this
    library's handler, the function behind each ``SingletonFunction`` (how aws-cdk-lib's ``AwsCustomResource``,
    ``BucketDeployment`` and other construct libraries make their handlers), and a function that an aws-cdk-lib
    construct made as its own part (the framework functions of ``custom_resources.Provider``, say). Log retention,
    bucket notifications and the core ``CustomResourceProvider`` make their functions as plain ``CfnResource``s,
    never an ``aws_lambda.Function``, so they are not candidates in the first place. `nodes`: the stack's
    constructs, when already read (``stack.node.find_all()``)."""
    found = stack.node.find_all() if nodes is None else nodes
    behind_singletons = {node.permissions_node.path for node in found if isinstance(node, lambda_.SingletonFunction)}
    for node in found:
        if not isinstance(node, lambda_.Function | lambda_.Alias) or stack_of(node) is not stack:
            continue
        function = node.version.lambda_ if isinstance(node, lambda_.Alias) else node
        if not _is_within(node, within) or not isinstance(function, lambda_.Function):
            continue
        if (behind_singletons and path_of(function) in behind_singletons) or _made_by_a_library(function):
            continue
        yield node


def qualifier_of(target: Target) -> str:
    return target.alias_name if isinstance(target, lambda_.Alias) else LATEST


class NativeConfigs:
    """The ``AWS::Lambda::EventInvokeConfig`` resources (aws-cdk-lib's own) of a stack (`nodes`: its constructs),
    read once per visit."""

    def __init__(self, stack: Stack, nodes: list[IConstruct]) -> None:
        self.stack = stack
        self.paths: list[str] = []
        self.named: set[tuple[str, Any]] = set()
        for node in nodes:
            if isinstance(node, lambda_.CfnEventInvokeConfig):
                self.paths.append(node.node.path)
                name = json.dumps(stack.resolve(node.function_name), sort_keys=True)
                self.named.add((name, stack.resolve(node.qualifier)))

    def configure(self, target: Target) -> bool:
        """Whether `target` has one: its async props, or an ``EventInvokeConfig`` naming it. Two configs for one
        function and qualifier would overwrite each other."""
        if not self.paths:
            return False
        if any(path.startswith(path_of(target) + "/") for path in self.paths):
            return True
        function = target.version.lambda_ if isinstance(target, lambda_.Alias) else target
        name = json.dumps(self.stack.resolve(function.function_name), sort_keys=True)
        return (name, qualifier_of(target)) in self.named


def native_on_failure(target: Target) -> bool:
    stack = Stack.of(target)
    for node in target.node.find_all():
        if isinstance(node, lambda_.CfnEventInvokeConfig):
            destinations = stack.resolve(node.destination_config) or {}
            if (destinations.get("onFailure") or destinations.get("OnFailure") or {}) != {}:
                return True
    return False


@jsii.implements(IAspect)
class Defaults:
    """Adds a config with the scope's defaults to each of the user's functions and aliases that has none. It acts
    when it visits a stack, before the stack's children: the configs (and the stack's handler, if this makes the
    first) are then in the tree before the handler's own finishing aspect visits it. Registered on an app or a
    stage, it also checks, when it visits that scope, that no stage inside was created after it (`check_stages`):
    one aspect, since an aspect is called across the jsii bridge for every construct it reaches."""

    def __init__(
        self,
        scope: Construct,
        lookup: Lookup,
        create: Callable[[Target], Any],
        include: Predicate | None = None,
        exclude: Predicate | None = None,
    ) -> None:
        self.scope = scope
        self.lookup = lookup
        self.create = create
        self.include = include
        self.exclude = exclude
        self.check_stages = False

    def visit(self, node: IConstruct) -> None:
        nodes = None
        if isinstance(node, Stack):
            with holding():  # nothing but this library runs until the visit ends: each answer asked once
                nodes = node.node.find_all()
                natives = NativeConfigs(node, nodes)
                for target in user_targets(node, self.scope, nodes):
                    if _nearest_defaults(target) is not self or not self.covers(target):
                        continue
                    if self.lookup(target) is None and not natives.configure(target):
                        self.create(target)
        if self.check_stages and node is self.scope:
            _check_stages(node, node.node.find_all() if nodes is None else nodes)

    def covers(self, target: Target) -> bool:
        """Whether the user's predicates let these defaults reach `target`: `include` (when given) says yes, and
        `exclude` (when given) does not."""
        included = self.include is None or bool(self.include(target))
        return included and not (self.exclude is not None and self.exclude(target))


def _check_stages(scope: IConstruct, nodes: list[IConstruct]) -> None:
    """A stage synthesizes on its own, and aspects of the app around it do not reach into it: a stage created after
    the defaults were applied to its app would be left out without a word. This says so."""
    for stage in nodes:
        if isinstance(stage, Stage) and stage is not scope and not _covered(stage):
            raise ValueError(
                f"`apply_defaults` was applied to {_shown(scope)} before the stage {stage.node.path} was "
                "created, and aspects of an app do not reach into a stage created later: apply it after "
                "creating the stages, or to the stage itself."
            )


def apply(
    scope: Construct,
    lookup: Lookup,
    create: Callable[[Target], Any],
    include: Predicate | None = None,
    exclude: Predicate | None = None,
) -> None:
    """Registers the defaults of `scope`: on the stack that holds it (or on `scope`, an app or a stage, and each
    stage inside it)."""
    for name, predicate in (("include", include), ("exclude", exclude)):
        if predicate is not None and not callable(predicate):
            raise InvalidProperty(
                f"`apply_defaults` on {_shown(scope)}: `{name}` must be a function of a Lambda function or alias "
                f"returning True or False (`{name}=lambda target: ...`); got {predicate!r}."
            )
    aspect = Defaults(scope, lookup, create, include, exclude)
    _applied.setdefault(scope.node.root, []).append(aspect)
    holder: Construct = Stack.of(scope) if _in_a_stack(scope) else scope
    Aspects.of(holder).add(aspect, priority=AspectPriority.MUTATING)
    if holder is scope:
        for stage in scope.node.find_all():
            if isinstance(stage, Stage) and stage is not scope:
                Aspects.of(stage).add(aspect, priority=AspectPriority.MUTATING)
                _covered_stages.setdefault(scope.node.root, set()).add(stage.node.path)
        aspect.check_stages = True


@jsii.implements(IValidation)
class _MissingOnFailure:
    """The strict form: synth fails unless every function and alias of the scope sends its failures somewhere."""

    def __init__(self, scope: Construct, lookup: Lookup) -> None:
        self.scope = scope
        self.lookup = lookup

    def validate(self) -> list[str]:
        stacks = [Stack.of(self.scope)] if _in_a_stack(self.scope) else []
        stacks += [node for node in self.scope.node.find_all() if isinstance(node, Stack) and node not in stacks]
        with holding():  # the app is complete: each answer asked once
            missing = [
                f"{target.node.path} ({qualifier_of(target)})"
                for stack in stacks
                for target in user_targets(stack, self.scope)
                if not self._fails_somewhere(target) and exemption_of(target) is None
            ]
        if not missing:
            return []
        return [
            f"{len(missing)} Lambda function(s) or alias(es) have no on-failure destination (declare one with "
            "AsyncInvokeConfig or `apply_defaults(..., on_failure=...)`, or exempt one that needs none with "
            f"`AsyncInvokeConfig.exempt_from_on_failure(function, reason=...)`): {', '.join(missing)}."
        ]

    def _fails_somewhere(self, target: Target) -> bool:
        declared = self.lookup(target)
        return (declared is not None and declared.on_failure) or native_on_failure(target)


def require(scope: Construct, lookup: Lookup) -> None:
    scope.node.add_validation(_MissingOnFailure(scope, lookup))


def exempt(construct: IConstruct, reason: object, apply_to_children: bool) -> None:
    """Records that `construct` (a function or an alias; with `apply_to_children`, every one under any construct)
    needs no on-failure destination, and why: an info annotation on it, which `cdk synth` prints and the cloud
    assembly keeps, as cdk-nag's suppressions are kept."""
    if not isinstance(construct, Construct):
        raise InvalidProperty(
            "`function_or_alias` must be an `aws_lambda.Function` or `Alias` of this app, or a construct with "
            f"`apply_to_children=True`; got {construct!r}."
        )
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidProperty(
            f"{_shown(construct)}: `reason` must say why it needs no on-failure destination (a reviewer reads it); "
            f"got {reason!r}."
        )
    if not apply_to_children and not isinstance(construct, lambda_.Function | lambda_.Alias):
        raise InvalidProperty(
            f"{_shown(construct)}: `function_or_alias` must be an `aws_lambda.Function` or `Alias` of this app (what "
            f"`require_on_failure` checks); got a {type(construct).__name__.lstrip('_')}. Pass "
            "`apply_to_children=True` to exempt every function and alias under a construct."
        )
    _exemptions[construct] = Exemption(reason.strip(), apply_to_children)
    under = "every Lambda function and alias under this construct needs" if apply_to_children else "needs"
    Annotations.of(construct).add_info(
        f"[{EXEMPTION}] {under} no on-failure destination (exempt from `require_on_failure`): {reason.strip()}"
    )


def exemption_of(target: Target) -> Exemption | None:
    """The exemption of `target`: its own, else the nearest one given to a construct above it for its children."""
    own = _exemptions.get(target)
    if own is not None:
        return own
    for ancestor in reversed(scopes_of(target)[:-1]):
        found = _exemptions.get(ancestor)
        if found is not None and found.children:
            return found
    return None


_applied: weakref.WeakKeyDictionary[IConstruct, list[Defaults]] = weakref.WeakKeyDictionary()
_exemptions: weakref.WeakKeyDictionary[IConstruct, Exemption] = weakref.WeakKeyDictionary()
_covered_stages: weakref.WeakKeyDictionary[IConstruct, set[str]] = weakref.WeakKeyDictionary()


def _covered(stage: Stage) -> bool:
    return stage.node.path in _covered_stages.get(stage.node.root, set()) or any(
        aspect.scope is stage for aspect in _applied.get(stage.node.root, [])
    )


def _nearest_defaults(target: Target) -> Defaults | None:
    """The defaults of the innermost scope that holds `target`: a stack's defaults win over its app's."""
    within = [aspect for aspect in _applied.get(scopes_of(target)[0], []) if _is_within(target, aspect.scope)]
    return max(within, key=lambda aspect: len(scopes_of(aspect.scope)), default=None)


def _is_within(node: IConstruct, scope: IConstruct) -> bool:
    return any(ancestor is scope for ancestor in scopes_of(node))


def _in_a_stack(scope: IConstruct) -> bool:
    return any(isinstance(ancestor, Stack) for ancestor in scope.node.scopes)


def _made_by_a_library(function: lambda_.Function) -> bool:
    """A function that an aws-cdk-lib construct made as a part of itself (its parent is such a construct, not a
    stack, a stage or the user's own construct), or this library's handler."""
    scopes = scopes_of(function)
    if any(isinstance(ancestor, Provider) for ancestor in scopes):
        return True
    parent = scopes[-2] if len(scopes) > 1 else None
    if parent is None or isinstance(parent, Stack | Stage):
        return False
    return type(parent).__module__.split(".")[0] == "aws_cdk"


def _shown(scope: IConstruct) -> str:
    return scope.node.path or "the app"
