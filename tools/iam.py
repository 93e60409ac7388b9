"""IAM, as AWS enforces it and the emulator does not: every call a client makes is checked against a policy (the
handler role's policy as synthesized for the step being played) before it is sent, and refused with the error the
service would return. Also stands in for what the emulator cannot do: a function deleted out of band.

    install(client, world)     # on one client
    install_default(world)     # on every client boto3.client() makes from now on (the handler's own)
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Iterable
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

    def verdict(self, action: str, arns: list[str]) -> str:
        if not arns or not all(allows(self.statements, action, arn) for arn in arns):
            return DENIED
        settled = [statement for statement in self.statements if statement not in self.fresh]
        with self.lock:
            if self.lag > 0 and not all(allows(settled, action, arn) for arn in arns):
                self.lag -= 1
                return PROPAGATING
        return ALLOWED

    def record(self, action: str, resource: str, verdict: str) -> None:
        with self.lock:
            self.calls.append((action, resource, verdict))

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


def allows(statements: list[dict[str, Any]], action: str, resource: str) -> bool:
    """Allowed when some Allow statement matches and no Deny does; a condition this checker cannot evaluate makes
    an Allow not match and a Deny match (fail closed)."""
    allowed = False
    for statement in statements:
        conditional = bool(statement.get("Condition"))
        if statement.get("Effect") == "Deny":
            if _applies(statement, action, resource):
                return False
        elif statement.get("Effect") == "Allow" and not conditional and _applies(statement, action, resource):
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
    if service == "ssm":
        names = _values(params.get("Names") or params.get("Name") or params.get("Path"))
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

    def remember(params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        context["stand_in_params"] = dict(params)

    def check(model: Any, context: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        params = context.get("stand_in_params", {})
        action = f"{service}:{model.name}"
        arns = resources(service, model.name, params, world)
        verdict = world.verdict(action, arns)
        for arn in arns or ["(unknown resource)"]:
            world.record(action, arn, verdict)
        if verdict != ALLOWED:
            shown = arns[0] if arns else "(a resource this checker cannot name)"
            message = (
                f"User: {world.principal} is not authorized to perform: {action} on resource: {shown} because no "
                f"identity-based policy allows the {action} action"
            )
            return _error(DENIED_CODE.get(service, "AccessDeniedException"), message, 403)
        return _gone(model.name, params, world) if service == "lambda" else None

    client.meta.events.register("before-parameter-build", remember)
    client.meta.events.register("before-call", check)
    return client


def install_default(world: World) -> None:
    """Every client the default boto3 session makes from now on is checked against `world`."""
    import boto3

    session = boto3._get_default_session()
    original = session.client

    def checked(*args: Any, **kwargs: Any) -> Any:
        return install(original(*args, **kwargs), world)

    session.client = checked  # type: ignore[method-assign]
