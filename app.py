"""Example app: every form AsyncInvokeConfig accepts, in one stack, and a team's defaults for a whole stack in a
second. Synthesizes with no AWS account: `python app.py` or `npx cdk synth --no-notices`."""

import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

sys.path.insert(0, str(Path(__file__).parent / "constructs"))  # the library, used from source here
from async_invoke_config import AsyncInvokeConfig  # noqa: E402

WORKERS = 50  # the team stack's functions under the defaults from its version 1
WORKERS_LEFT_OUT = ("Worker12", "Worker30", "Worker45")  # from its version 2


class ExampleStack(cdk.Stack):
    """`version` steps through the changes the rehearsal (`scripts/rehearse`) deploys after the first: 2, the alias
    config retries twice and the legacy config moves to the function's `blue` alias; 3, the alias config moves into
    a construct (a new logical id: a rename); 4, the alias config is removed; 5, a config for `legacy-reports`,
    which already has one made in the console, is added; 6, a `Shipping` function whose async settings are its own
    props (the native resource); 7 and 8, their migration to AsyncInvokeConfig in two deploys (see the README)."""

    def __init__(self, scope: Construct, id: str, *, version: int = 1, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        _acknowledge_basic_execution_role(self)
        orders = _function(self, "Orders")
        failed = sqs.Queue(self, "OrdersFailed", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
        cdk.Validations.of(failed).acknowledge(
            cdk.Acknowledgment(
                id="AwsSolutions-SQS3",
                reason="This queue is where failed events end up (the on-failure destination); it needs no DLQ.",
            )
        )
        succeeded = sns.Topic(self, "OrdersSucceeded", enforce_ssl=True)

        # An in-stack function: SNS on success, SQS on failure; the function's role is granted both.
        AsyncInvokeConfig(
            self,
            "OrdersAsync",
            function=orders,
            retry_attempts=1,
            max_event_age=cdk.Duration.hours(1),
            on_success=destinations.SnsDestination(succeeded),
            on_failure=destinations.SqsDestination(failed),
        )

        # An alias: its own config, failures to an EventBridge bus.
        live = lambda_.Alias(self, "OrdersLive", alias_name="live", version=orders.current_version)
        bus = events.EventBus(self, "OrdersEvents")
        if version < 4:
            AsyncInvokeConfig(
                Construct(self, "Async") if version >= 3 else self,
                "OrdersLiveAsync",
                function=live,
                retry_attempts=2 if version >= 2 else 0,
                on_failure=destinations.EventBridgeDestination(bus),
            )

        # A function that exists outside the app, by name, with a destination ARN. Its role is not known here, so
        # granting it the send permission is up to its owner (synth prints a warning saying so).
        AsyncInvokeConfig(
            self,
            "LegacyBillingAsync",
            function="legacy-billing:blue" if version >= 2 else "legacy-billing",
            max_event_age=cdk.Duration.minutes(30),
            on_failure=self.format_arn(
                service="sqs", resource="legacy-billing-dlq", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME
            ),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )

        if version >= 5:  # a config made in the console before: adopted, and put back as found if this one goes
            AsyncInvokeConfig(self, "LegacyReportsAsync", function="legacy-reports", retry_attempts=0)

        if version >= 6:  # a function's own async settings (a native EventInvokeConfig), moved in two deploys
            native = {"retry_attempts": 1, "max_event_age": cdk.Duration.hours(2)} if version < 8 else {}
            shipping = _function(self, "Shipping", **native)
            if version == 7:  # deploy 1 of 2: the native config stays live when it leaves the template
                native_config = shipping.node.find_child("EventInvokeConfig")
                assert isinstance(native_config, lambda_.EventInvokeConfig)
                native_config.apply_removal_policy(cdk.RemovalPolicy.RETAIN)
            if version >= 8:  # deploy 2 of 2: the same settings, now AsyncInvokeConfig's
                AsyncInvokeConfig(
                    self, "ShippingAsync", function=shipping, retry_attempts=1, max_event_age=cdk.Duration.hours(2)
                )

        # Every deploy re-reads and corrects all of the above (on by default); also check every 6 hours between deploys.
        AsyncInvokeConfig.configure_drift_check(self, schedule=cdk.Duration.hours(6))

        # An alarm when a drift check (on deploy or on schedule) corrected a config changed outside the app.
        cloudwatch.Alarm(
            self,
            "AsyncConfigDrifted",
            metric=AsyncInvokeConfig.metric_drift_corrected(self),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="A config of this stack was changed outside the app; the drift check corrected it.",
        )


class TeamDefaultsStack(cdk.Stack):
    """A platform team's rule, set once for the whole stack (nested stacks included): each function and alias with
    no config of its own retries at most once, drops events older than an hour and sends its failures to the team's
    queue, but for a function only invoked synchronously; and synth fails if any function or alias is left with
    nowhere to send its failures and no exemption saying why.

    `version` steps through what the rehearsal (`scripts/rehearse`) deploys of this stack: from 1, fifty `Worker`
    functions more under the defaults (their configs carried by one `Custom::LambdaAsyncInvokeConfigs`); 2, three of
    them are now invoked only synchronously: left out of the defaults, and exempt."""

    def __init__(self, scope: Construct, id: str, *, version: int = 0, **kwargs: object) -> None:
        super().__init__(scope, id, **kwargs)  # type: ignore[arg-type]
        failures = sqs.Queue(self, "TeamFailures", enforce_ssl=True, encryption=sqs.QueueEncryption.SQS_MANAGED)
        cdk.Validations.of(failures).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-SQS3", reason="This queue is where failed events end up; no DLQ.")
        )
        _acknowledge_basic_execution_role(self)
        synchronous = {"Lookup", *(WORKERS_LEFT_OUT if version >= 2 else ())}  # only ever invoked synchronously
        AsyncInvokeConfig.apply_defaults(
            self,
            retry_attempts=1,
            max_event_age=cdk.Duration.hours(1),
            on_failure=destinations.SqsDestination(failures),
            exclude=lambda target: target.node.id in synchronous,
        )
        AsyncInvokeConfig.require_on_failure(self)

        ingest = _function(self, "Ingest")  # gets the defaults
        lambda_.Alias(self, "IngestLive", alias_name="live", version=ingest.current_version)  # gets its own
        notify = _function(self, "Notify")
        AsyncInvokeConfig(  # its own config wins over the defaults
            self, "NotifyAsync", function=notify, retry_attempts=0, on_failure=destinations.SqsDestination(failures)
        )
        lookup = _function(self, "Lookup")  # left out of the defaults, and exempt from the rule, with the reason
        AsyncInvokeConfig.exempt_from_on_failure(lookup, reason="Invoked only synchronously; it has no async events.")

        for index in range(WORKERS if version >= 1 else 0):
            worker = _function(self, f"Worker{index:02d}")
            if worker.node.id in synchronous:
                AsyncInvokeConfig.exempt_from_on_failure(worker, reason="Now invoked only synchronously, by the API.")


def _function(scope: Construct, id: str, **props: Any) -> lambda_.Function:
    return lambda_.Function(
        scope,
        id,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline("def handler(event, context):\n    return event\n"),
        **props,
    )


def _acknowledge_basic_execution_role(stack: cdk.Stack) -> None:
    cdk.Validations.of(stack).acknowledge(
        cdk.Acknowledgment(
            id="AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            reason="The example functions only write logs, which AWSLambdaBasicExecutionRole allows.",
        )
    )


if __name__ == "__main__":
    app = cdk.App()
    ExampleStack(app, "AsyncInvokeConfigExample", version=int(app.node.try_get_context("example:version") or 1))
    TeamDefaultsStack(app, "AsyncInvokeConfigTeamDefaults", version=int(app.node.try_get_context("team:version") or 0))
    app.synth()
