"""The custom resource's contract, shared by the construct and the handler.

Property names, response data names, and the API's constraints on each value. Standard library only: the
construct imports this module at synth time and the handler imports it in Lambda.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

RESOURCE_TYPE = "Custom::LambdaAsyncInvokeConfig"
# Many configs carried by one resource (the defaults of a stack, and the configs a stack opts in): `Shared` holds
# the settings most of them declare (a config's properties, less its function), `Members` each config under a stable
# key (a hash of the function and qualifier it configures, never its position), as its function's name (the shared
# settings apply) or as an object of its own properties. Each member is owned as `<logical id>/<key>`; the resource's
# physical id (GROUP_ID_PREFIX...) changes when an Update drops a member, which CloudFormation then deletes, with the
# old properties, in the cleanup phase: only then is a dropped member given back (`Record.leaving` marks it).
GROUP_TYPE = "Custom::LambdaAsyncInvokeConfigs"
SHARED = "Shared"
MEMBERS = "Members"
MEMBER_SEPARATOR = "/"
GROUP_ID_PREFIX = "async-invoke-configs:"
MEMBER_KEY_PATTERN = re.compile(r"[A-Za-z0-9]{1,16}", re.ASCII)
DRIFT_CHECK_TYPE = "Custom::LambdaAsyncInvokeConfigDriftCheck"
# The drift check's properties: a new token each synth (so that every deploy sends it an Update), the physical ids
# of the configs the template declares (the only ones it reads), and a digest of their declarations (so that, with a
# fixed token, it still runs whenever a config is added, removed, renamed or changed).
# `Configs` is one string, the physical ids joined by CONFIGS_SEPARATOR (`{"Fn::Sub": "${Config1},${Config2}"}` in
# the template: a few bytes per config); earlier versions sent a list, still read.
DEPLOY_TOKEN = "DeployToken"
CONFIGS = "Configs"
CONFIGS_SEPARATOR = ","
DECLARATIONS = "Declarations"
# The scheduled drift check's event (from EventBridge, not CloudFormation): {SCHEDULE_KEY: {"StackId": ...}}.
SCHEDULE_KEY = "AsyncInvokeConfigDriftCheck"
# Each live config's claim (owner, declaration, the config as found): one SSM parameter per config,
# `/async-invoke-config/<account>/<region>/<function>/<qualifier>`, created only if absent (the service decides who
# owns a config) and tagged with the owning stack (CLAIM_TAG: the last part of its stack id, a UUID), so that IAM lets
# a stack's handler overwrite or delete its own stack's claims only. A claim whose owner is gone (its stack deleted,
# or its resource no longer in that stack) is succeeded by `<claim>/after-<its claim id>`, created the same way.
# Each config resource's events run one at a time, under a lock of that resource:
# `/async-invoke-config/locks/<stack>/<logical id>`.
PARAMETER_ROOT = "/async-invoke-config"
CLAIM_TAG = "async-invoke-config:stack"
LOCKS = "locks"
SUCCESSOR = "after-"
PARAMETER_TIER = "Standard"

# The Lambda API's names. Earlier versions named the custom resource's properties after them too (a destination as
# `DestinationConfig: {OnSuccess: {Destination: ARN}}`); the handler still reads that shape, since CloudFormation
# sends a config deployed with it its old properties (OldResourceProperties, and the properties of the Delete of a
# config removed before any Update).
FUNCTION_NAME = "FunctionName"
QUALIFIER = "Qualifier"
MAXIMUM_RETRY_ATTEMPTS = "MaximumRetryAttempts"
MAXIMUM_EVENT_AGE_IN_SECONDS = "MaximumEventAgeInSeconds"
DESTINATION_CONFIG = "DestinationConfig"
ON_SUCCESS = "OnSuccess"
ON_FAILURE = "OnFailure"
DESTINATION = "Destination"
REMOVAL_POLICY = "RemovalPolicy"
# The custom resource's properties, named after the construct's props: every config repeats them in the template,
# so they are short, and a destination is its ARN alone (`OnSuccess: ARN`).
FUNCTION = "Function"
RETRY_ATTEMPTS = "RetryAttempts"
MAX_EVENT_AGE = "MaxEventAge"
# Set by CloudFormation (ServiceToken) or read by it (ServiceTimeout); both arrive among the properties.
SERVICE_TOKEN = "ServiceToken"
SERVICE_TIMEOUT = "ServiceTimeout"

PROPERTIES = frozenset(
    {
        FUNCTION,
        QUALIFIER,
        RETRY_ATTEMPTS,
        MAX_EVENT_AGE,
        ON_SUCCESS,
        ON_FAILURE,
        REMOVAL_POLICY,
        SERVICE_TOKEN,
        SERVICE_TIMEOUT,
    }
)
GROUP_PROPERTIES = frozenset({SHARED, MEMBERS, DEPLOY_TOKEN, SERVICE_TOKEN, SERVICE_TIMEOUT})
RENAMED = {FUNCTION_NAME: FUNCTION, MAXIMUM_RETRY_ATTEMPTS: RETRY_ATTEMPTS, MAXIMUM_EVENT_AGE_IN_SECONDS: MAX_EVENT_AGE}

DATA_FUNCTION_ARN = "FunctionArn"
DATA_ACTION = "Action"
DATA_CHANGED_FIELDS = "ChangedFields"
DATA_CHECKED = "Checked"
DATA_CORRECTED = "Corrected"
DATA_CORRECTIONS = "Corrections"
DATA_SKIPPED = "Skipped"
DATA_RELEASED = "Released"

# The drift check's CloudWatch metrics (embedded metric format): one data point of each per check, per stack (by name).
METRICS_NAMESPACE = "AsyncInvokeConfig"
METRICS_DIMENSION = "Stack"
METRIC_CHECKED = "Checked"
METRIC_CORRECTED = "Corrected"
METRIC_FAILED = "Failed"

REMOVAL_DESTROY = "destroy"
REMOVAL_RETAIN = "retain"
REMOVAL_POLICIES = (REMOVAL_DESTROY, REMOVAL_RETAIN)

LATEST = "$LATEST"
RETRY_ATTEMPTS_RANGE = (0, 2)
EVENT_AGE_RANGE = (60, 21600)
FUNCTION_NAME_MAX = 256
BARE_NAME_MAX = 64
QUALIFIER_MAX = 128
DESTINATION_MAX = 350

# From the botocore service model (lambda 2015-03-31), with named groups added.
FUNCTION_NAME_PATTERN = re.compile(
    r"(?P<arn>arn:(aws[a-zA-Z-]*)?:lambda:)?"
    r"(?P<region>(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
    r"(?P<account>\d{12}:)?"
    r"(function:)?"
    r"(?P<name>[a-zA-Z0-9_.-]+)"
    r"(:(?P<qualifier>\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9_-]+))?",
    re.ASCII,  # AWS reads `\d` as 0-9; Python would also take other scripts' digits
)
QUALIFIER_PATTERN = re.compile(r"\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9_$-]+", re.ASCII)
DESTINATION_PATTERN = re.compile(
    r"arn:(?P<partition>aws[a-zA-Z0-9-]*):(?P<service>[a-zA-Z0-9-]+):"
    r"(?P<region>((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1})?):"
    r"(?P<account>(\d{12})?):(?P<resource>.*)",
    re.ASCII,
)
DESTINATION_SERVICES = {
    ON_SUCCESS: ("sqs", "sns", "lambda", "events"),
    ON_FAILURE: ("sqs", "sns", "lambda", "events", "s3"),
}


class InvalidProperty(ValueError):
    """A declared value the API would reject; the message names the property and the value."""


def current_properties(props: Mapping[str, Any]) -> dict[str, Any]:
    """A config's properties in the current shape, from either shape; a mix of the two is refused (no template of
    either version writes one)."""
    earlier = sorted(set(props) & (set(RENAMED) | {DESTINATION_CONFIG}))
    if not earlier:
        return dict(props)
    current = sorted(set(props) & {FUNCTION, RETRY_ATTEMPTS, MAX_EVENT_AGE, ON_SUCCESS, ON_FAILURE})
    if current:
        raise InvalidProperty(f"Properties {earlier} (earlier names) and {current} (current names) are mixed.")
    renamed = {RENAMED.get(key, key): value for key, value in props.items() if key != DESTINATION_CONFIG}
    config = props.get(DESTINATION_CONFIG) or {}
    if not isinstance(config, Mapping):
        raise InvalidProperty(f"`{DESTINATION_CONFIG}` must be an object; got {config!r}.")
    unknown = sorted(set(config) - {ON_SUCCESS, ON_FAILURE})
    if unknown:
        raise InvalidProperty(f"`{DESTINATION_CONFIG}` has unknown keys {unknown}.")
    for half, part in config.items():
        if part is None:
            continue
        if not isinstance(part, Mapping):
            raise InvalidProperty(
                f"`{DESTINATION_CONFIG}.{half}` must be an object with a `{DESTINATION}`; got {part!r}."
            )
        if part.get(DESTINATION) not in (None, ""):
            renamed[half] = part[DESTINATION]
    return renamed


def config_ids(value: Any) -> list[str]:
    """The physical ids a drift check's `Configs` names: a joined string, or a list (earlier versions)."""
    if isinstance(value, str):
        return [part for part in value.split(CONFIGS_SEPARATOR) if part]
    return [str(part) for part in value or []]


def parse_function_name(value: str, prop: str = FUNCTION) -> tuple[str, str | None]:
    """Split a function name in any accepted form into (function name, qualifier or None)."""
    match = FUNCTION_NAME_PATTERN.fullmatch(value) if len(value) <= FUNCTION_NAME_MAX else None
    if match is None:
        raise InvalidProperty(
            f"`{prop}` must be a function name, name:qualifier, partial ARN or full ARN; got {value!r}."
        )
    name, qualifier = match.group("name"), match.group("qualifier")
    if len(name) > BARE_NAME_MAX:
        raise InvalidProperty(f"`{prop}` names a function longer than {BARE_NAME_MAX} characters: {value!r}.")
    if qualifier is not None and len(qualifier) > QUALIFIER_MAX:
        raise InvalidProperty(f"`{prop}` has a qualifier longer than {QUALIFIER_MAX} characters: {value!r}.")
    return name, qualifier


def check_qualifier(value: str, prop: str = QUALIFIER) -> str:
    if len(value) > QUALIFIER_MAX or QUALIFIER_PATTERN.fullmatch(value) is None:
        raise InvalidProperty(f"`{prop}` must be a version number, an alias name or $LATEST; got {value!r}.")
    return value


def resolve_qualifier(function_name: str, qualifier: str | None, prop: str = QUALIFIER) -> str:
    """The qualifier the config belongs to: the declared one, else the one inside the name, else $LATEST."""
    _, in_name = parse_function_name(function_name)
    if qualifier is not None:
        check_qualifier(qualifier, prop)
        if in_name is not None and in_name != qualifier:
            raise InvalidProperty(
                f"`{prop}` {qualifier!r} disagrees with the qualifier {in_name!r} inside the function name "
                f"{function_name!r}."
            )
        return qualifier
    return in_name or LATEST


def check_range(value: int, bounds: tuple[int, int], prop: str) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidProperty(f"`{prop}` must be between {low} and {high}; got {value!r}.")
    return value


def check_destination(arn: str, half: str, prop: str) -> str:
    match = DESTINATION_PATTERN.fullmatch(arn) if len(arn) <= DESTINATION_MAX else None
    if match is None:
        raise InvalidProperty(f"`{prop}` must be an ARN of at most {DESTINATION_MAX} characters; got {arn!r}.")
    allowed = DESTINATION_SERVICES[half]
    if match.group("service") not in allowed:
        raise InvalidProperty(f"`{prop}` must be an ARN of {', '.join(allowed)} for {half}; got {arn!r}.")
    if match.group("service") in ("sqs", "sns") and arn.endswith(".fifo"):
        raise InvalidProperty(f"`{prop}` cannot be a FIFO queue or topic; got {arn!r}.")
    return arn


def is_self_destination(function_name: str, destination: str) -> bool:
    """True when a Lambda destination ARN names the target function itself (any qualifier)."""
    match = DESTINATION_PATTERN.fullmatch(destination)
    if match is None or match.group("service") != "lambda":
        return False
    target = FUNCTION_NAME_PATTERN.fullmatch(function_name)
    dest = FUNCTION_NAME_PATTERN.fullmatch(destination)
    if target is None or dest is None or target.group("name") != dest.group("name"):
        return False
    return all(target.group(part) in (None, dest.group(part)) for part in ("region", "account"))


def claim_name(config_arn: str) -> str:
    """The SSM parameter of a config's claim, from the qualified ARN Lambda reports for the config: its account and
    region are part of the name, so that the same name in two environments never shares a claim. `$` may not appear
    in a parameter name, and `.` appears in no qualifier but `$LATEST.PUBLISHED`."""
    match = FUNCTION_NAME_PATTERN.fullmatch(config_arn)
    assert match is not None and all(match.group(part) for part in ("region", "account", "qualifier")), config_arn
    account, region = match.group("account").rstrip(":"), match.group("region").rstrip(":")
    qualifier = match.group("qualifier").replace("$", ".")
    return f"{PARAMETER_ROOT}/{account}/{region}/{match.group('name')}/{qualifier}"


def successor_name(claim: str, claim_id: str) -> str:
    """The claim that succeeds the claim instance `claim_id` of a config whose owner is gone."""
    return f"{claim}/{SUCCESSOR}{claim_id}"


def stack_key(stack_id: str) -> str:
    """The last part of a stack id, unique to that stack for ever (a UUID): the value of its claims' tag."""
    return stack_id.rsplit("/", 1)[-1]


def lock_name(stack_id: str, logical_id: str) -> str:
    """The SSM parameter that a config resource's running event holds, so that its events run one at a time."""
    return f"{PARAMETER_ROOT}/{LOCKS}/{stack_key(stack_id)}/{logical_id}"


def is_config_arn(value: str) -> bool:
    """True for a qualified function ARN as Lambda reports it: the physical id of a config this resource wrote."""
    match = FUNCTION_NAME_PATTERN.fullmatch(value)
    return match is not None and all(match.group(part) for part in ("arn", "region", "account", "qualifier"))


def member_properties(shared: Any, value: Any, key: str) -> dict[str, Any]:
    """A group member's properties as a config's own: its function (a name), with the shared settings; or an object
    with its function, its qualifier and, if it declares any, its own settings instead of the shared ones."""
    if not isinstance(key, str) or MEMBER_KEY_PATTERN.fullmatch(key) is None:
        raise InvalidProperty(f"`{MEMBERS}` key must be 1-16 letters or digits; got {key!r}.")
    if not isinstance(shared, Mapping):
        raise InvalidProperty(f"`{SHARED}` must be an object of settings; got {shared!r}.")
    if isinstance(value, str):
        return {**shared, FUNCTION: value}
    if not isinstance(value, Mapping):
        raise InvalidProperty(f"`{MEMBERS}.{key}` must be a function name or an object; got {value!r}.")
    own = dict(value)
    return own if set(own) - {FUNCTION, QUALIFIER} else {**shared, **own}


def member_owner(logical_id: str, key: str) -> str:
    """The owner name a group member's claim carries: its group's logical id and its key."""
    return f"{logical_id}{MEMBER_SEPARATOR}{key}"


def carrier(owner_logical_id: str) -> str | None:
    """The group that carries a config owned as `<logical id>/<key>`; None for a config of its own resource."""
    group, separator, _ = owner_logical_id.partition(MEMBER_SEPARATOR)
    return group if separator else None
