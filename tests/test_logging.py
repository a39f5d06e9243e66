"""The redaction step masks every kind of secret, wherever it sits in a record."""

from __future__ import annotations

import io
import json
import logging

import structlog

from checkout_api.logging import configure_logging, redact
from tests import leaks


def test_redact_masks_keys_secrets_and_card_numbers_in_any_field() -> None:
    record = {
        "event": "x",
        "message": "key sk_live_abc123 and whsec_zzz and cs_test_a1_secret_b2 card 4242 4242 4242 4242",
        "nested": {"client_secret": "cs_test_x_secret_y", "list": ["rk_test_q1"]},
        "Authorization": "Bearer sk_test_abc",
    }

    out = redact(None, "info", record)

    text = json.dumps(out)
    assert leaks.leaked(text) == []
    assert "4242" not in text
    assert out["nested"]["client_secret"] == "[redacted]"
    assert out["Authorization"] == "[redacted]"


def test_library_records_pass_through_redaction_too() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, cache_loggers=False)
    try:
        logging.getLogger("uvicorn.error").warning("boom with sk_test_supersecret inside")
        structlog.get_logger("t").info("ours", detail="whsec_abcdef")
    finally:
        configure_logging("INFO", "json", stream=leaks.LOGS, cache_loggers=False)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["boom with [redacted] inside", "ours"]
    assert lines[1]["detail"] == "[redacted]"


def test_the_leak_check_itself_catches_a_leak() -> None:
    assert leaks.leaked("x sk_test_abc y") == ["sk_test_abc"]
    assert leaks.leaked('{"client_secret":"cs_test_1_secret_2"}') == ["_secret_2"]
