"""Ditto Protocol envelopes: commands in, events, responses and errors out."""

import pytest

from twinledger.errors import PathInvalid, PayloadInvalid, ThingIdInvalid, ThingNotFound
from twinledger.model import ditto_protocol as dp
from twinledger.registry import TwinEvent


def test_parse_modify_and_build_the_signal() -> None:
    cmd = dp.parse_command(
        {
            "topic": "org.farm/pond-1/things/twin/commands/modify",
            "headers": {"Correlation-Id": "c-1", "If-Match": '"rev:4"'},
            "path": "/features/oxygen/properties/value",
            "value": 6.2,
        }
    )
    assert (cmd.thing_id, cmd.channel, cmd.action, cmd.correlation_id) == ("org.farm:pond-1", "twin", "modify", "c-1")
    signal = dp.to_signal(cmd, source="mqtt:gw")
    assert signal is not None
    assert (signal.op, signal.path, signal.value, signal.if_match) == ("put", cmd.path, 6.2, 4)
    create = dp.to_signal(dp.parse_command({"topic": "a/b/things/twin/commands/create", "value": {}}), source="x")
    assert create is not None and create.if_none_match
    assert dp.to_signal(dp.parse_command({"topic": "a/b/things/twin/commands/retrieve"}), source="x") is None


@pytest.mark.parametrize(
    ("message", "match"),
    [
        ([], "JSON object"),
        ({"path": "/"}, "no 'topic'"),
        ({"topic": "a/b/things/twin/events/modified"}, "not a thing command"),
        ({"topic": "a/b/things/shadow/commands/modify", "value": 1}, "channel"),
        ({"topic": "a/b/things/twin/commands/explode", "value": 1}, "action"),
        ({"topic": "a/b/things/twin/commands/modify"}, "needs a 'value'"),
        ({"topic": "a/b/things/twin/commands/modify", "path": "/nope", "value": 1}, "starts with 'nope'"),
        ({"topic": "a/b/things/twin/commands/delete", "headers": {"if-match": "yesterday"}}, None),
    ],
)
def test_malformed_commands_are_refused_clearly(message: object, match: str | None) -> None:
    if match is None:  # parses, but the precondition is refused when turned into a signal
        with pytest.raises(PayloadInvalid, match="revision ETag"):
            dp.to_signal(dp.parse_command(message), source="x")
        return
    with pytest.raises((PayloadInvalid, PathInvalid, ThingIdInvalid), match=match):
        dp.parse_command(message)


def test_event_response_and_error_messages() -> None:
    event = TwinEvent(
        9, "org.farm:pond-1", 3, "merged", "/features/oxygen/properties", {"value": 5}, "t", 1_700_000_000_000_000
    )
    msg = dp.event_message(event, headers={"correlation-id": "c"})
    assert msg["topic"] == "org.farm/pond-1/things/twin/events/merged"
    assert msg["headers"]["content-type"] == "application/merge-patch+json"
    assert (msg["path"], msg["value"], msg["revision"], msg["timestamp"]) == (
        "/features/oxygen/properties",
        {"value": 5},
        3,
        "2023-11-14T22:13:20Z",
    )
    deleted = TwinEvent(10, "org.farm:pond-1", 4, "deleted", "/", None, "t", 1)
    assert "value" not in dp.event_message(deleted)
    cmd = dp.parse_command({"topic": "org.farm/pond-1/things/twin/commands/retrieve", "headers": {"correlation-id": 5}})
    assert dp.response_message(cmd, 200, {"a": 1}) == {
        "topic": "org.farm/pond-1/things/twin/commands/retrieve",
        "headers": {"content-type": "application/json", "correlation-id": "5"},
        "path": "/",
        "status": 200,
        "value": {"a": 1},
    }
    err = dp.error_message("org.farm:pond-1", ThingNotFound("gone", thing_id="org.farm:pond-1"), command=cmd)
    assert err["topic"] == "org.farm/pond-1/things/twin/errors" and err["status"] == 404
    assert err["value"]["error"] == "things:thing.notfound" and err["headers"]["correlation-id"] == "5"
    assert dp.etag(7) == '"rev:7"' and dp.parse_etag('"rev:7"') == 7 and dp.parse_etag("*") == "*"
