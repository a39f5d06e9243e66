"""The redaction step masks every kind of secret, wherever it sits in a record."""

from __future__ import annotations

import io
import json
import logging

import structlog
from hypothesis import given
from hypothesis import strategies as st

from checkout_api.logging import configure_logging, redact, redact_each_field
from tests import leaks

# Values built from the pieces secrets and card numbers are made of, so that the generated
# records often hold one, whole or cut, at the start, the end or the middle of a value.
SECRET_PIECES = st.sampled_from(
    [
        "sk_test_",
        "rk_live_",
        "pk_test_",
        "whsec_",
        "cs_test_a1",
        "_secret_",
        "pi_",
        "4242",
        "4000 0566",
        " ",
        "-",
        "_",
        "a",
        "Z9",
        "\x00",
        "\n",
        "é",
        "secret",
        "12",
    ]
)
VALUES = st.one_of(
    st.lists(SECRET_PIECES, max_size=8).map("".join),
    st.text(max_size=30),
    st.integers(),
    st.none(),
)
RECORDS = st.dictionaries(
    st.sampled_from(["event", "detail", "session_id", "client_secret", "Authorization", "n"]),
    VALUES,
    max_size=5,
)


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


@given(RECORDS)
def test_the_one_scan_shortcut_redacts_exactly_as_the_field_walk(record: dict[str, object]) -> None:
    assert redact(None, "info", dict(record)) == redact_each_field(dict(record))


def test_library_records_pass_through_redaction_too() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "json", stream=stream, cache_loggers=False)
    try:
        logging.getLogger("uvicorn.error").warning("boom with sk_test_supersecret inside")
        logging.getLogger("uvicorn.error").debug("below the level")
        structlog.get_logger("t").info("ours", detail="whsec_abcdef")
        structlog.get_logger("t").debug("ours, below the level")
    finally:
        configure_logging("INFO", "json", stream=leaks.LOGS, cache_loggers=False)

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["boom with [redacted] inside", "ours"]
    assert lines[1]["detail"] == "[redacted]"
    assert [line["logger"] for line in lines] == ["uvicorn.error", "t"]


def test_the_leak_check_itself_catches_a_leak() -> None:
    assert leaks.leaked("x sk_test_abc y") == ["sk_test_abc"]
    assert leaks.leaked('{"client_secret":"cs_test_1_secret_2"}') == ["_secret_2"]
