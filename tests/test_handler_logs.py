"""The handler's log records as Lambda's JSON log format writes them: each decision's fields at the top level, plain
JSON values only, no field lost to a key Lambda or `logging` keeps; the level Lambda sets is left as set."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import datetime

import index
import pytest
from log import JsonFormatter, decision, fields


def test_fields_named_as_keys_lambda_or_logging_keeps_are_logged_with_a_trailing_underscore(caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")

    decision("odd_names", level="high", message="hi", name="n", requestId="r", timestamp=1, function="orders")

    (record,) = caplog.records
    assert fields(record) == {
        "event": "odd_names",
        "level_": "high",
        "message_": "hi",
        "name_": "n",
        "requestId_": "r",
        "timestamp_": 1,
        "function": "orders",
    }
    assert (record.getMessage(), record.name) == ("odd_names", "async_invoke_config")


def test_values_json_cannot_hold_are_logged_as_text_and_none_is_left_out(caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")
    when = datetime(2025, 1, 2, 3, 4, 5)

    decision("converted", when=when, nested={"at": when, "none": None}, previous=None, count=3)

    (record,) = caplog.records
    assert fields(record) == {
        "event": "converted",
        "when": "2025-01-02 03:04:05",
        "nested": {"at": "2025-01-02 03:04:05", "none": None},
        "count": 3,
    }
    assert json.loads(json.dumps(vars(record)["nested"])) == vars(record)["nested"]  # what Lambda's encoder can write


def test_the_local_formatter_writes_lambdas_keys_first_then_the_fields(caplog):
    caplog.set_level(logging.INFO, logger="async_invoke_config")

    decision("released", function="orders", ownership="kept")

    line = json.loads(JsonFormatter().format(caplog.records[0]))

    assert list(line)[:4] == ["timestamp", "level", "message", "logger"]
    assert line["timestamp"].endswith("Z") and len(line["timestamp"]) == len("2025-01-02T03:04:05.678Z")
    assert {key: value for key, value in line.items() if key != "timestamp"} == {
        "level": "INFO",
        "message": "released",
        "logger": "async_invoke_config",
        "event": "released",
        "function": "orders",
        "ownership": "kept",
    }


@pytest.fixture
def levels() -> Iterator[None]:
    saved = {name: logging.getLogger(name).level for name in ("", "boto3", "botocore", "urllib3")}
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("levels")
def test_the_application_log_level_lambda_set_on_the_root_logger_is_kept():
    logging.getLogger().setLevel(logging.DEBUG)  # as Lambda's runtime does for AWS_LAMBDA_LOG_LEVEL=DEBUG

    index.set_log_levels({"AWS_LAMBDA_LOG_LEVEL": "DEBUG"})

    assert logging.getLogger().level == logging.DEBUG
    assert logging.getLogger("botocore").level == logging.WARNING


@pytest.mark.usefixtures("levels")
def test_without_a_level_from_lambda_the_handler_logs_at_info():
    logging.getLogger().setLevel(logging.WARNING)

    index.set_log_levels({})

    assert logging.getLogger().level == logging.INFO
    assert logging.getLogger("urllib3").level == logging.WARNING
