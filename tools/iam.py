"""IAM, as AWS enforces it and the emulator does not: every call a client makes is checked against a policy (the
handler role's policy as synthesized for the step being played) before it is sent, and refused with the error the
service would return. Also stands in for what the emulator cannot do: a function deleted out of band.

Conditions are evaluated as IAM does for the keys the handler's policy uses, each checked against AWS's documentation
(the Service Authorization Reference for Systems Manager, and IAM's condition operators):
- `ssm:Overwrite` (String): the request's `Overwrite`, "true" or "false"; absent when the request omits it.
- `aws:RequestTag/KEY` (String) and `aws:TagKeys` (ArrayOfString): the tags a request sets (PutParameter's `Tags`,
  AddTagsToResource's); absent when it sets none. A PutParameter with `Tags` is also authorized as
  `ssm:AddTagsToResource` on the same parameter.
- `aws:ResourceTag/KEY` (String): the tags the resource has now, read from the emulator; absent for a resource that
  does not exist (a parameter being created).
Operators: StringEquals, StringNotEquals, StringLike, StringNotLike, Bool, Null, with `ForAllValues:`/`ForAnyValue:`
and `...IfExists`. A missing key fails any operator but Null, `...IfExists` and `ForAllValues:`. Within one operator
the keys are ANDed and one key's values ORed; operators are ANDed. An operator or key this checker does not know
makes an Allow not match and a Deny match (fail closed).

    install(client, world)     # on one client
    install_default(world)     # on every client boto3.client() makes from now on (the handler's own)
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

FUNCTION_NAME = re.compile(
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?(?P<region>[a-z]{2}(-gov)?-[a-z]+-\d:)?(?P<account>\d{12}:)?(function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)(:(?P<qualifier>\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9_-]+))?"
)
DENIED_CODE = {"cloudformation": "AccessDenied"}


ALLOWED, DENIED, PROPAGATING = "allowed", "denied", "propagating"


@dataclass
class World:
    """The rules in force now: the caller's policy statements, functions that no longer exist, and IAM's eventual
    consistency: a call that only `fresh` statements (attached moments ago) allow is refused, `lag` times over."""

    statements: list[dict[str, Any]] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    fresh: list[dict[str, Any]] = field(default_factory=list)
    lag: int = 0
    region: str = "us-east-1"
    account: str = "000000000000"
    principal: str = "arn:aws:sts::000000000000:assumed-role/AsyncInvokeConfigHandler/handler"
    calls: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    # The tags a resource has now (None: it does not exist); `install` reads them from the emulator when unset.
    tags: Callable[[str], dict[str, str] | None] | None = field(default=None, repr=False)
    # Who makes each call (an event of a concurrent schedule, say), kept with its verdict in `by_caller`.
    caller: Callable[[], object] | None = field(default=None, repr=False)
    by_caller: list[tuple[object, str, str, str]] = field(default_factory=list)
    # The statements of the role of the handler making the call, where a stack has several (None: `statements`).
    statements_for: Callable[[], list[dict[str, Any]] | None] | None = field(default=None, repr=False)

    def verdict(self, action: str, arns: list[str], request: dict[str, Any] | None = None) -> str:
        def context(arn: str) -> Context:
            return Context(request or {}, lambda: self.tags(arn) if self.tags is not None else None)

        own = self.statements_for() if self.statements_for is not None else None
        statements = self.statements if own is None else own
        if not arns or not all(allows(statements, action, arn, context(arn)) for arn in arns):
            return DENIED
        settled = [statement for statement in statements if statement not in self.fresh]
        with self.lock:
            if self.lag > 0 and not all(allows(settled, action, arn, context(arn)) for arn in arns):
                self.lag -= 1
                return PROPAGATING
        return ALLOWED

    def record(self, action: str, resource: str, verdict: str) -> None:
        with self.lock:
            self.calls.append((action, resource, verdict))
            if self.caller is not None:
                self.by_caller.append((self.caller(), action, resource, verdict))

    @property
    def denied(self) -> list[tuple[str, str]]:
        """Calls the policy does not allow (refusals while a new statement propagates are not counted)."""
        return [(action, resource) for action, resource, verdict in self.calls if verdict == DENIED]


def _values(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(patterns: Iterable[str], value: str, case_sensitive: bool) -> bool:
    for pattern in patterns:
        if case_sensitive:
            if fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")):
                return True
        elif fnmatch.fnmatchcase(value.lower(), pattern.lower().replace("[", "[[]")):
            return True
    return False


def _applies(statement: dict[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_ok = _matches(_values(statement["Action"]), action, case_sensitive=False)
    else:
        action_ok = not _matches(_values(statement.get("NotAction")), action, case_sensitive=False)
    if "Resource" in statement:
        resource_ok = _matches(_values(statement["Resource"]), resource, case_sensitive=True)
    else:
        resource_ok = not _matches(_values(statement.get("NotResource")), resource, case_sensitive=True)
    return action_ok and resource_ok


class Context:
    """The condition keys of one call on one resource: from the request, and the resource's tags (read once, when a
    condition asks for one)."""

    def __init__(self, request: dict[str, Any], resource_tags: Callable[[], dict[str, str] | None]) -> None:
        self.request = request
        self.resource_tags = resource_tags
        self._tags: dict[str, str] | None = None
        self._read = False

    def get(self, key: str) -> str | list[str] | None:
        lowered = key.lower()
        if lowered.startswith("aws:resourcetag/"):
            if not self._read:
                self._tags, self._read = self.resource_tags(), True
            return (self._tags or {}).get(key.split("/", 1)[1])
        return self.request.get(lowered)


def request_context(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """The condition keys a request carries (lower-cased, as IAM compares key names case-insensitively)."""
    found: dict[str, Any] = {}
    if service == "ssm" and operation == "PutParameter" and "Overwrite" in params:
        found["ssm:overwrite"] = "true" if params["Overwrite"] else "false"
    tags = params.get("Tags") if service == "ssm" and operation in ("PutParameter", "AddTagsToResource") else None
    if tags:
        found["aws:tagkeys"] = [tag["Key"] for tag in tags]
        found |= {f"aws:requesttag/{tag['Key']}".lower(): tag["Value"] for tag in tags}
    return found


OPERATORS = {"StringEquals", "StringNotEquals", "StringLike", "StringNotLike", "Bool", "Null"}


def satisfied(condition: dict[str, Any], context: Context) -> bool | None:
    """Whether a statement's Condition holds; None when it uses an operator this checker does not know."""
    for operator, tests in condition.items():
        quantifier, _, base = operator.rpartition(":")
        if_exists = base.endswith("IfExists")
        base = base.removesuffix("IfExists")
        if base not in OPERATORS or quantifier not in ("", "ForAllValues", "ForAnyValue"):
            return None
        for key, wanted in tests.items():
            expected = [str(value) for value in _values(wanted)]
            value = context.get(key)
            if base == "Null":
                if (value is None) != (expected[0].lower() == "true"):
                    return False
                continue
            if value is None:
                if not (if_exists or quantifier == "ForAllValues"):
                    return False
                continue
            values = value if isinstance(value, list) else [value]
            results = [_compare(base, item, expected) for item in values]
            holds = any(results) if quantifier == "ForAnyValue" else all(results)
            if not holds:
                return False
    return True


def _compare(operator: str, value: str, expected: list[str]) -> bool:
    if operator == "StringEquals":
        return value in expected
    if operator == "StringNotEquals":
        return value not in expected
    if operator == "StringLike":
        return any(fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")) for pattern in expected)
    if operator == "StringNotLike":
        return not any(fnmatch.fnmatchcase(value, pattern.replace("[", "[[]")) for pattern in expected)
    return value.lower() in [item.lower() for item in expected]  # Bool


def allows(statements: list[dict[str, Any]], action: str, resource: str, context: Context | None = None) -> bool:
    """Allowed when some Allow statement matches and no Deny does; a condition this checker cannot evaluate makes
    an Allow not match and a Deny match (fail closed)."""
    context = context or Context({}, lambda: None)
    allowed = False
    for statement in statements:
        if (allowed and statement.get("Effect") == "Allow") or not _applies(statement, action, resource):
            continue  # once allowed, only a Deny can change the verdict
        holds = satisfied(statement["Condition"], context) if statement.get("Condition") else True
        if statement.get("Effect") == "Deny" and holds is not False:
            return False
        if statement.get("Effect") == "Allow" and holds is True:
            allowed = True
    return allowed


def resources(service: str, operation: str, params: dict[str, Any], world: World) -> list[str]:
    """The ARNs IAM authorizes a call on; [] when this checker does not know the operation (then it is refused)."""
    prefix = f"arn:aws:{service}:{world.region}:{world.account}"
    if service == "lambda" and "FunctionName" in params:
        match = FUNCTION_NAME.fullmatch(str(params["FunctionName"]))
        if match is None:
            return []
        qualifier = params.get("Qualifier") or match.group("qualifier")
        region = (match.group("region") or f"{world.region}:").rstrip(":")
        account = (match.group("account") or f"{world.account}:").rstrip(":")
        arn = f"arn:aws:lambda:{region}:{account}:function:{match.group('name')}"
        return [f"{arn}:{qualifier}" if qualifier else arn]
    if service == "ssm" and operation == "DescribeParameters":
        return ["*"]  # it names no resource: IAM authorizes it on `*`, so only a statement on `*` allows it
    if service == "ssm":
        names = _values(params.get("Names") or params.get("Name") or params.get("Path") or params.get("ResourceId"))
        return [f"{prefix}:parameter/{name.lstrip('/')}" for name in names]
    if service == "cloudformation" and "StackName" in params:
        name = str(params["StackName"])
        return [name if name.startswith("arn:") else f"{prefix}:stack/{name}/*"]
    return []


def function_name(params: dict[str, Any]) -> str | None:
    match = FUNCTION_NAME.fullmatch(str(params.get("FunctionName", "")))
    return match.group("name") if match else None


def _error(code: str, message: str, status: int) -> tuple[AWSResponse, dict[str, Any]]:
    http = AWSResponse("https://stand-in.invalid", status, HTTPHeaders(), None)
    return http, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}


def _gone(operation: str, params: dict[str, Any], world: World) -> tuple[AWSResponse, dict[str, Any]] | None:
    """What Lambda answers for a function that no longer exists (recorded against AWS)."""
    if function_name(params) not in world.gone:
        return None
    if operation in ("PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig"):
        return _error("ResourceNotFoundException", "The function doesn't exist.", 404)
    (arn,) = resources("lambda", operation, params, world)
    return _error("ResourceNotFoundException", f"The function {arn} doesn't have an EventInvokeConfig", 404)


def install(client: Any, world: World) -> Any:
    """Check every call of `client` against `world` before it is sent."""
    service = client.meta.service_model.signing_name
    if world.tags is None and service == "ssm":  # the tags the policy's conditions read are SSM parameters'
        world.tags = tag_reader(client)

    def remember(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["stand_in_params"] = dict(params)

    def check(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get("stand_in_params", {})
        request = request_context(service, model.name, params)
        arns = resources(service, model.name, params, world)
        actions = [f"{service}:{model.name}"]
        if service == "ssm" and model.name == "PutParameter" and params.get("Tags"):
            actions.append("ssm:AddTagsToResource")  # tagging on create is authorized as both actions
        for action in actions:
            verdict = world.verdict(action, arns, request)
            for arn in arns or ["(unknown resource)"]:
                world.record(action, arn, verdict)
            if verdict != ALLOWED:
                shown = arns[0] if arns else "(a resource this checker cannot name)"
                message = (
                    f"User: {world.principal} is not authorized to perform: {action} on resource: {shown} because "
                    f"no identity-based policy allows the {action} action"
                )
                return _error(DENIED_CODE.get(service, "AccessDeniedException"), message, 403)
        return _gone(model.name, params, world) if service == "lambda" else None

    client.meta.events.register("before-parameter-build", remember)
    client.meta.events.register("before-call", check)
    return client


def tag_reader(client: Any) -> Callable[[str], dict[str, str] | None]:
    """The tags of a resource as the emulator holds them (a client of its own, whose calls are not checked); None for
    a resource that does not exist. SSM parameters only: no other resource the handler calls on is tagged."""
    import boto3

    credentials = client._request_signer._credentials
    made: list[Any] = []

    def read(arn: str) -> dict[str, str] | None:
        if ":parameter/" not in arn:
            return {}
        if not made:  # a session of its own: `install_default` checks the default session's clients
            made.append(
                boto3.session.Session().client(
                    "ssm",
                    endpoint_url=client.meta.endpoint_url,
                    region_name=client.meta.region_name,
                    aws_access_key_id=credentials.access_key,
                    aws_secret_access_key=credentials.secret_key,
                )
            )
        ssm = made[0]
        name = "/" + arn.split(":parameter/", 1)[1]
        try:
            listed = ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]
        except ssm.exceptions.InvalidResourceId:
            return None
        return {tag["Key"]: tag["Value"] for tag in listed}

    return read


def install_default(world: World) -> None:
    """Every client the default boto3 session makes from now on is checked against `world`."""
    import boto3

    session = boto3._get_default_session()
    original = session.client

    def checked(*args: Any, **kwargs: Any) -> Any:
        return install(original(*args, **kwargs), world)

    session.client = checked  # type: ignore[method-assign]
