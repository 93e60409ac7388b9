"""What synthesizing costs per config, counted rather than timed: the calls the construct makes across the jsii bridge
(each about 0.3 ms, the bulk of a large stack's synth time) stay few and the same for every config, and the Python-side
token test agrees with aws-cdk-lib's own. Seconds are printed by benchmarks/compare.py, never asserted."""

from __future__ import annotations

from collections.abc import Iterator

import aws_cdk as cdk
import pytest
from async_invoke_config import AsyncInvokeConfig
from async_invoke_config.bridge import unresolved
from hypothesis import given, settings
from hypothesis import strategies as st
from jsii._kernel.providers import process

ENV = cdk.Environment(account="123456789012", region="us-east-1")
ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders-"
CALLS_PER_CONFIG = 6.5


@pytest.fixture
def bridge_calls(monkeypatch) -> Iterator[list[str]]:
    """Every request the Python side sends to the jsii kernel while the test runs."""
    sent: list[str] = []
    send = process._NodeProcess.send

    def counting(self, request, response_type):
        sent.append(type(request).__name__)
        return send(self, request, response_type)

    monkeypatch.setattr(process._NodeProcess, "send", counting)
    yield sent


def synthesize(count: int, sent: list[str], stacks: int = 1) -> int:
    """Calls to build and synthesize an app of `stacks` stacks of `count` configs each (imported functions, settings
    only, a Duration each), the imports themselves not counted."""
    app = cdk.App()
    targets = []
    for number in range(stacks):
        stack = cdk.Stack(app, f"Stack{number}", env=ENV)
        targets += [
            (stack, cdk.aws_lambda.Function.from_function_arn(stack, f"Fn{index}", f"{ARN}{number}-{index:03d}"))
            for index in range(count)
        ]
    before = len(sent)
    for index, (stack, function) in enumerate(targets):
        age = cdk.Duration.hours(1)
        AsyncInvokeConfig(stack, f"Config{index}", function=function, retry_attempts=1, max_event_age=age)
    app.synth()
    return len(sent) - before - len(targets)  # less the Durations' creation, as a user's code pays it


def test_each_config_costs_the_same_few_bridge_calls_however_many_the_stack_holds(bridge_calls):
    synthesize(1, bridge_calls)  # the kernel's first use of each type
    at = {count: synthesize(count, bridge_calls) for count in (1, 51, 101, 201)}

    per_config = [(at[high] - at[low]) / (high - low) for low, high in ((1, 51), (51, 101), (101, 201))]

    assert max(per_config) <= CALLS_PER_CONFIG, per_config
    assert max(per_config) - min(per_config) < 0.5, per_config  # linear: the 200th config costs what the 2nd did


def test_an_app_of_three_stacks_costs_three_times_one(bridge_calls):
    synthesize(1, bridge_calls)
    one, three = synthesize(100, bridge_calls), synthesize(100, bridge_calls, stacks=3)

    assert 2.9 <= three / one <= 3.1, (one, three)


TOKENS = st.sampled_from(["${Token[TOKEN.12]}", "${Token[AWS.Region.3]}", "#{Token[TOKEN.4]}", "Token[", "${Token[]}"])
TEXT = st.lists(st.one_of(st.text(max_size=6), TOKENS), max_size=4).map("".join)


NUMBERS = st.one_of(st.integers(-(2**63), 2**63), st.floats(allow_nan=False, allow_infinity=False))  # jsii sends no inf


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, NUMBERS, st.none(), st.booleans()))
def test_the_python_token_test_agrees_with_aws_cdk_lib(value):
    assert unresolved(value) == cdk.Token.is_unresolved(value)


def test_the_python_token_test_knows_real_tokens():
    stack = cdk.Stack(cdk.App(), "Stack")
    number = cdk.CfnParameter(stack, "Number", type="Number").value_as_number
    tokens = [number, cdk.Duration.seconds(number).to_seconds(), stack.region, f"x{stack.account}y", cdk.Aws.PARTITION]

    assert [unresolved(value) for value in tokens] == [True] * len(tokens)
    assert [unresolved(value) for value in ("us-east-1", 3600.0, 0, str(number))] == [False] * 4
    assert [cdk.Token.is_unresolved(value) for value in tokens] == [True] * len(tokens)
