"""The construct's and the handler's validators accept exactly what the API accepts, field by field.

"What the API accepts" is read at test time from botocore's service model for `lambda:PutFunctionEventInvokeConfig`
(each member's min, max and pattern; patterns read as AWS reads them, `\\d` an ASCII digit), plus the rules the model
states only in words or elsewhere, each derived from the model too: a bare function name is limited to the length
its documentation gives, a qualifier inside a name follows the `Qualifier` member's constraints, and a destination is
an ARN of a service async invocation sends to (the `Destination` shape is shared with event source mappings, whose
Kafka destinations it also allows). Hypothesis draws values from the model's own patterns, near misses of them and
arbitrary text. Counted into RELIABILITY.md (scripts/reliability)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import aws_cdk as cdk
import botocore.session
import contract
import pytest
from async_invoke_config import AsyncInvokeConfig
from contract import DESTINATION_SERVICES, FUNCTION, MAX_EVENT_AGE, RETRY_ATTEMPTS, InvalidProperty
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from settings import from_properties

SUITE = "Validators against botocore's service model (tests/test_validator_properties.py)"
MODEL = botocore.session.get_session().get_service_model("lambda")
INPUT = MODEL.operation_model("PutFunctionEventInvokeConfig").input_shape
NAMED = "orders-7f3a"  # the function configured while another field varies
HANDLER_EXAMPLES = 300
CONSTRUCT_EXAMPLES = 60


def shape(*path: str) -> Any:
    found: Any = INPUT
    for name in path:
        found = found.members[name]
    return found


def bounds(member: Any) -> tuple[int, int]:
    return member.metadata["min"], member.metadata["max"]


def pattern(member: Any) -> re.Pattern[str]:
    return re.compile(member.metadata["pattern"], re.ASCII)


def model_accepts(member: Any, value: Any) -> bool:
    """The member's constraints in the service model: an integer within min..max; a string whose length is within
    min..max and that matches the whole pattern."""
    low, high = bounds(member)
    if member.type_name == "integer":
        return isinstance(value, int) and low <= value <= high
    return isinstance(value, str) and low <= len(value) <= high and pattern(member).fullmatch(value) is not None


NAME = shape("FunctionName")
QUALIFIER = shape("Qualifier")
DESTINATION = shape("DestinationConfig", "OnFailure", "Destination")
BARE_NAME_LIMIT = int(re.search(r"limited to (\d+) characters", NAME.documentation).group(1))  # type: ignore[union-attr]
# The model's FunctionName pattern ends `(name)(:(qualifier(\.PUBLISHED)?|...))?`: the name and the qualifier are
# its third-to-last and last-but-one groups.
assert NAME.metadata["pattern"].endswith(r"([a-zA-Z0-9-_\.]+)(:(\$LATEST(\.PUBLISHED)?|[a-zA-Z0-9-_]+))?")


def api_accepts_function_name(value: str) -> bool:
    if not model_accepts(NAME, value):
        return False
    match = pattern(NAME).fullmatch(value)
    assert match is not None
    name, qualifier = match.group(match.re.groups - 3), match.group(match.re.groups - 1)
    return len(name) <= BARE_NAME_LIMIT and (qualifier is None or model_accepts(QUALIFIER, qualifier))


def api_accepts_destination(value: str, half: str) -> bool:
    """An ARN (or "" for none) the model accepts, of a service async invocation sends to for that half, not FIFO."""
    if not model_accepts(DESTINATION, value):
        return False
    if value == "":
        return True
    service = value.split(":")[2] if value.startswith("arn:") else "kafka"
    fifo = service in ("sqs", "sns") and value.endswith(".fifo")
    return service in DESTINATION_SERVICES[half] and not fifo


# Values: drawn from the model's own pattern, near misses (one character inserted, dropped or replaced, or the
# value repeated past a length limit), and arbitrary text.
ODD = "$:/.-_ aZ09é\n\u0661\uff15"  # \u0661 ARABIC-INDIC ONE and \uff15 FULLWIDTH FIVE are digits to Python, not to AWS


def near_misses(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    def mutate(value: str, data: st.DataObject) -> str:
        where = data.draw(st.integers(0, len(value)))
        odd = data.draw(st.sampled_from(ODD) | st.characters())
        kind = data.draw(st.sampled_from(["insert", "drop", "replace", "repeat"]))
        if kind == "insert":
            return value[:where] + odd + value[where:]
        if kind == "drop":
            return value[:where] + value[where + 1 :]
        if kind == "replace":
            return value[:where] + odd + value[where + 1 :]
        return value + value[-max(1, where) :] * data.draw(st.integers(1, 40))

    return st.builds(mutate, valid, st.data())


def values(member: Any) -> st.SearchStrategy[str]:
    valid = st.from_regex(pattern(member), fullmatch=True)
    return valid | near_misses(valid) | st.text(alphabet=st.sampled_from(ODD) | st.characters(), max_size=300)


def arns(half: str) -> st.SearchStrategy[str]:
    """ARNs as the model's pattern has them, mostly of the half's destination services, some of others, some FIFO,
    some with a bad region or account, and resources up to past the length limit."""
    services = st.sampled_from([*DESTINATION_SERVICES[half] * 4, "iam", "kinesis", "s3", "Sqs"])
    region = st.sampled_from(["", "us-east-1", "eusc-de-east-1", "us-gov-west-1"] * 2 + ["us-east", "us-east-\u0661"])
    account = st.sampled_from(["", "123456789012"] * 2 + ["12345678901", "\u0661" * 12])
    text = st.text(alphabet=st.characters(exclude_characters="\n"), max_size=40)
    resource = text | text.map(lambda name: f"{name}.fifo") | st.integers(280, 360).map(lambda length: "q" * length)
    return st.builds(lambda s, r, a, res: f"arn:aws:{s}:{r}:{a}:{res}", services, region, account, resource)


def destinations(half: str) -> st.SearchStrategy[str]:
    """Three in four drawn as ARNs (`arns`), the rest as any value of the model's `Destination`."""
    return st.integers(0, 3).flatmap(lambda draw: values(DESTINATION) if draw == 0 else arns(half))


def handler_accepts(props: dict[str, Any], prop: str, value: Any) -> bool:
    """The handler's validation of the properties (as CloudFormation sends them); a rejection names `prop` and the
    value."""
    try:
        from_properties({FUNCTION: NAMED, RETRY_ATTEMPTS: "1"} | props)
    except InvalidProperty as error:
        message = str(error)
        assert f"`{prop}" in message and (repr(value) in message or str(value) in message), message
        return False
    return True


def construct_accepts(prop: str, value: Any, **props: Any) -> bool:
    """The construct's validation at synth time, in an environment-agnostic stack; a rejection names `prop`."""
    stack = cdk.Stack(cdk.App(), "Properties")
    try:
        declared: dict[str, Any] = {"function": NAMED, "retry_attempts": 1} | props
        AsyncInvokeConfig(stack, "Config", **declared)
    except ValueError as error:  # the package's own copy of contract.InvalidProperty
        assert f"`{prop}`" in str(error), str(error)
        return False
    return True


class Agreement:
    """How many values a field was tried with, and how many of them the model accepted."""

    def __init__(self) -> None:
        self.tried: Counter[str] = Counter()
        self.accepted: Counter[str] = Counter()

    def check(self, field: str, model: bool, validator: bool, value: Any) -> None:
        self.tried[field] += 1
        self.accepted[field] += model
        assert validator == model, f"{field}: the model {'accepts' if model else 'rejects'} {value!r}"


@pytest.fixture(scope="module")
def agreement(tally: Any) -> Iterator[Agreement]:
    seen = Agreement()
    yield seen
    for field, tried in seen.tried.items():
        accepted = seen.accepted[field]
        outcome = f"the model accepts {accepted} and rejects {tried - accepted}; the validator agreed on all {tried}"
        tally.add(SUITE, field, tried, outcome, counted="values")


def examples(count: int) -> Callable[[Any], Any]:
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def integers(member: Any) -> st.SearchStrategy[int]:
    """Integers at and around both of the member's limits, between them, and anywhere."""
    low, high = bounds(member)
    return st.one_of(
        st.integers(low - 3, low + 3),
        st.integers(high - 3, high + 3),
        st.integers(low - 10, high + 10),
        st.integers(-(2**31), 2**31),
    )


RETRIES = shape("MaximumRetryAttempts")
AGE = shape("MaximumEventAgeInSeconds")


def check_handler_integer(agreement, prop: str, member: str, value: int, as_string: bool) -> None:
    """The handler against the model on one integer member, sent as a number or as CloudFormation's string."""
    accepted = handler_accepts({prop: str(value) if as_string else value}, prop, value)

    agreement.check(f"handler: {member}", model_accepts(shape(member), value), accepted, value)


@examples(HANDLER_EXAMPLES)
@given(value=integers(RETRIES), as_string=st.booleans())
def test_handler_retry_attempts(agreement, value, as_string):
    check_handler_integer(agreement, RETRY_ATTEMPTS, "MaximumRetryAttempts", value, as_string)


@examples(HANDLER_EXAMPLES)
@given(value=integers(AGE), as_string=st.booleans())
def test_handler_event_age(agreement, value, as_string):
    check_handler_integer(agreement, MAX_EVENT_AGE, "MaximumEventAgeInSeconds", value, as_string)


@examples(HANDLER_EXAMPLES)
@given(value=values(NAME))
def test_handler_function_name(agreement, value):
    accepted = handler_accepts({FUNCTION: value}, FUNCTION, value)

    agreement.check("handler: FunctionName", api_accepts_function_name(value), accepted, value)


@examples(HANDLER_EXAMPLES)
@given(value=values(QUALIFIER))
def test_handler_qualifier(agreement, value):
    accepted = handler_accepts({contract.QUALIFIER: value}, contract.QUALIFIER, value)

    agreement.check("handler: Qualifier", model_accepts(QUALIFIER, value), accepted, value)


@examples(HANDLER_EXAMPLES)
@given(half=st.sampled_from(["OnSuccess", "OnFailure"]), data=st.data())
def test_handler_destination(agreement, half, data):
    value = data.draw(destinations(half))
    accepted = handler_accepts({half: value}, half, value)

    agreement.check(
        f"handler: DestinationConfig.{half}.Destination", api_accepts_destination(value, half), accepted, value
    )


@examples(CONSTRUCT_EXAMPLES)
@given(value=integers(RETRIES))
def test_construct_retry_attempts(agreement, value):
    accepted = construct_accepts("retry_attempts", value, retry_attempts=value)

    agreement.check("construct: retry_attempts", model_accepts(RETRIES, value), accepted, value)


@examples(CONSTRUCT_EXAMPLES)
@given(value=integers(AGE).filter(lambda seconds: seconds >= 0))  # Duration refuses a negative amount
def test_construct_max_event_age(agreement, value):
    accepted = construct_accepts("max_event_age", value, max_event_age=cdk.Duration.seconds(value))

    agreement.check("construct: max_event_age (seconds)", model_accepts(AGE, value), accepted, value)


@examples(CONSTRUCT_EXAMPLES)
@given(value=values(NAME))
def test_construct_function_name(agreement, value):
    accepted = construct_accepts("function", value, function=value)

    agreement.check("construct: function (a name string)", api_accepts_function_name(value), accepted, value)


@examples(CONSTRUCT_EXAMPLES)
@given(value=values(QUALIFIER))
def test_construct_qualifier(agreement, value):
    accepted = construct_accepts("qualifier", value, qualifier=value)

    agreement.check("construct: qualifier", model_accepts(QUALIFIER, value), accepted, value)


@examples(CONSTRUCT_EXAMPLES)
@given(half=st.sampled_from(["OnSuccess", "OnFailure"]), data=st.data())
def test_construct_destination(agreement, half, data):
    value = data.draw(destinations(half))
    prop = "on_success" if half == "OnSuccess" else "on_failure"

    accepted = construct_accepts(prop, value, **{prop: value})

    # "" declares no destination to the handler; to the construct it is a value, and not an ARN.
    agreement.check(
        f"construct: {prop} (an ARN string)", api_accepts_destination(value, half) and value != "", accepted, value
    )
