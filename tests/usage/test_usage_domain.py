"""The metering rules without Redis: batches, months and slots, decisions, thresholds, grants."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import fakeredis
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from payments import keys
from payments.catalog.records import Pack
from payments.config import ConfigError, UsageConfig, load_config
from payments.money import Money
from payments.stores import Store
from payments.usage.credits import AutoBuy, Grant, new_grant, pool
from payments.usage.rules import (
    BadBatch,
    Reason,
    Standing,
    counted_month,
    decide,
    event_day,
    parse_batch,
    parse_body,
    slot_of,
    step_of,
    told_at,
    window_days,
)
from tests.support import ROOT
from tests.support.streams import stream

NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
POLICY = UsageConfig()


def one(**changes: object) -> dict[str, object]:
    event = {"event_id": "e-1", "jid": "Alice@Example.org/phone", "resource": "sms"}
    return {**event, "quantity": 2, "at": "2026-03-10T12:00:00Z", **changes}


def test_a_batch_is_an_object_with_events_or_a_bare_list() -> None:
    for data in ({"events": [one()]}, [one()]):
        (event,) = parse_batch(data, POLICY, NOW)
        assert (event.event_id, event.jid, event.resource, event.quantity) == (
            "e-1",
            "alice@example.org",
            "sms",
            2,
        )
        assert event.at == datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-03-10T13:00:00+01:00", datetime(2026, 3, 10, 12, tzinfo=UTC)),
        ("2026-03-10T12:00:00", datetime(2026, 3, 10, 12, tzinfo=UTC)),  # no offset: UTC
        (1773144000, datetime(2026, 3, 10, 12, tzinfo=UTC)),
        (1773144000.5, datetime(2026, 3, 10, 12, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_at_is_iso_8601_or_unix_seconds(at: object, expected: datetime) -> None:
    assert parse_batch([one(at=at)], POLICY, NOW)[0].at == expected


@pytest.mark.parametrize(
    ("event", "status", "needle"),
    [
        (one(quantity=-1), 422, "quantity"),
        (one(quantity=0), 422, "quantity"),
        (one(quantity=1.0), 422, "quantity"),
        (one(quantity=10**7), 422, "quantity"),
        (one(resource="SMS"), 422, "resource"),
        (one(jid="@example.org"), 422, "jid"),
        (one(at=True), 422, "at"),
        (one(at="2026-13-01"), 422, "at"),
        (one(event_id="has space"), 400, "event_id"),
        (one(event_id="x" * 129), 400, "event_id"),
        ({"event_id": "e"}, 400, "missing"),
    ],
)
def test_a_bad_event_refuses_the_batch_and_says_which(
    event: dict[str, object], status: int, needle: str
) -> None:
    with pytest.raises(BadBatch) as refused:
        parse_batch([one(event_id="ok"), event], POLICY, NOW)
    assert (refused.value.status, refused.value.index) == (status, 1)
    assert needle in str(refused.value)


def test_bodies_that_are_not_json_or_use_nan_are_refused() -> None:
    for body in (b"\xff", b"{", b'[{"quantity": NaN}]', b"[" * 100_000):
        with pytest.raises(BadBatch):
            parse_body(body)


def test_usage_counts_in_its_month_and_is_refused_when_too_old_or_in_the_future() -> None:
    late = 7
    assert counted_month(datetime(2026, 3, 4, tzinfo=UTC), NOW, late) == "202603"
    early_march = datetime(2026, 3, 3, 12, tzinfo=UTC)
    assert counted_month(datetime(2026, 2, 28, 23, tzinfo=UTC), early_march, late) == "202602"
    assert counted_month(NOW - timedelta(days=7), NOW, late) == "202603"  # the window's edge
    assert counted_month(NOW - timedelta(days=7, seconds=1), NOW, late) is None  # too late
    assert counted_month(NOW - timedelta(days=7, seconds=1), NOW, 8) == "202603"
    assert counted_month(NOW + timedelta(minutes=4), NOW, late) == "202603"
    april = datetime(2026, 4, 1, 0, 2, tzinfo=UTC)
    march_end = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert counted_month(april, march_end, late) == "202603"  # skew
    assert counted_month(NOW + timedelta(minutes=6), NOW, late) is None  # from the future
    assert counted_month(NOW + timedelta(days=40), NOW, late) is None


def test_an_event_id_is_kept_in_its_days_set_and_looked_for_over_the_window() -> None:
    assert window_days(NOW, 2) == ["20260308", "20260309", "20260310"]
    assert event_day(NOW - timedelta(days=1), NOW) == "20260309"
    march_end = datetime(2026, 3, 31, 23, 59, tzinfo=UTC)
    assert event_day(datetime(2026, 4, 1, 0, 2, tzinfo=UTC), march_end) == "20260331"


def test_slots_are_six_hours_from_midnight_utc() -> None:
    assert slot_of(NOW) == datetime(2026, 3, 10, 12, tzinfo=UTC)
    assert slot_of(datetime(2026, 3, 10, 5, 59, 59, tzinfo=UTC)).hour == 0
    assert slot_of(datetime(2026, 3, 10, 23, tzinfo=UTC)).hour == 18


def test_the_decision_names_the_first_reason_that_applies() -> None:
    assert decide(Standing(False)).reason is Reason.UNKNOWN
    assert decide(Standing(True, closed=True, frozen=True)).reason is Reason.CLOSED
    assert decide(Standing(True, frozen=True, allowance=10)).reason is Reason.FROZEN
    assert decide(Standing(True, allowance=10, used=10, pool=0)).reason is Reason.EXHAUSTED
    assert decide(Standing(True, allowance=10, used=12, pool=-2)).reason is Reason.EXHAUSTED
    allowed = decide(Standing(True, allowance=10, used=12, pool=5))
    assert (allowed.allow, allowed.remaining) == (True, 5)
    assert decide(Standing(True, allowance=10, used=4, pool=-3)).remaining == 6


def test_thresholds_and_blocking_are_crossings() -> None:
    assert told_at(step_of(100, 70, 80, 0, 0)) == 75
    assert told_at(step_of(100, 70, 95, 0, 0)) == 90  # the highest crossed
    assert told_at(step_of(100, 80, 85, 0, 0)) is None
    assert told_at(step_of(100, 95, 101, 0, 1)) == 100  # blocked now
    assert told_at(step_of(100, 101, 102, 0, 0)) is None  # blocked before
    assert told_at(step_of(100, 100, 150, 0, 50)) == 100  # the pack of 50 is used up
    assert told_at(step_of(100, 100, 110, 40, 10)) is None  # 40 credits left


def test_records_survive_their_encoding() -> None:
    pack = Pack("sms1000", 3, "sms", 1000, Money(100_000), NOW)
    assert Pack.decode(pack.encode(), "USD") == pack
    grant = new_grant("g1", pack, Money(90_000), NOW, 365)
    assert Grant.decode("g1", grant.encode(), "USD") == grant
    assert grant.expires_at == NOW + timedelta(days=365)
    auto = AutoBuy.of(pack, NOW, 365)
    assert AutoBuy.decode("sms1000", auto.encode(), "USD") == auto


grants = st.lists(
    st.builds(
        lambda i, resource, left, days: Grant(
            f"g{i}", resource, left + 1, left, NOW + timedelta(days=days), "p", 1, Money(0), NOW
        ),
        st.integers(0, 1000),
        st.sampled_from(["sms", "mms"]),
        st.integers(0, 50),
        st.integers(-5, 400),
    ),
    max_size=8,
    unique_by=lambda g: g.id,
)


@settings(max_examples=60, deadline=None)
@given(grants, st.integers(0, 300))
def test_settlement_takes_credits_earliest_expiry_first_never_more_than_left(
    found: list[Grant], quantity: int
) -> None:
    """The rule lives in usage_settle.lua: this holds the script itself to it."""
    taken, uncovered = asyncio.run(settle_draw(found, quantity))
    by_id = {g.id: g for g in found}
    assert sum(t for _, t in taken) + uncovered == quantity
    assert all(0 < t <= by_id[g].left for g, t in taken)
    assert all(by_id[g].resource == "sms" and by_id[g].expires_at > NOW for g, _ in taken)
    order = [(by_id[g].expires_at, g) for g, _ in taken]
    assert order == sorted(order)
    if uncovered:
        assert sum(t for _, t in taken) == pool(found, {}, "sms", NOW)


async def settle_draw(found: list[Grant], quantity: int) -> tuple[list[tuple[str, int]], int]:
    """Draw ``quantity`` sms on ``found`` through usage_settle.lua; (grant, taken), uncovered."""
    store = Store(fakeredis.FakeAsyncRedis(decode_responses=True))
    jid = "a@x"
    if found:
        await store.redis.hset(keys.credit_grants(jid), mapping={g.id: g.encode() for g in found})
    if quantity:
        await store.redis.hset(keys.credit_pending(jid), "sms", quantity)
    await store.usage.settle(
        jid, slot=NOW, cutoff=NOW, at=NOW, actor="t", resources=("sms", "mms"), months=()
    )
    april = datetime(2026, 4, 1, tzinfo=UTC)  # its first settlement writes March's credits
    months = await store.usage.open_months(jid)
    await store.usage.settle(
        jid, slot=april, cutoff=april, at=april, actor="t", resources=("sms", "mms"), months=months
    )
    taken: list[tuple[str, int]] = []
    for _id, fields in await stream(store.redis, keys.transactions(jid)):
        assert fields["kind"] == "credits_used"  # one entry per resource: sms
        for part in fields["grant"].split(","):
            grant, _, took = part.rpartition(":")
            taken.append((grant, int(took)))
        assert int(fields["quantity"]) == sum(q for _, q in taken)
    await store.close()
    return taken, quantity - sum(q for _, q in taken)


def test_usage_config_is_checked_at_load(tmp_path: Path) -> None:
    base = '[xmpp]\nsecret = "s"\n[web]\nlink_secret = "l"\n[gateway]\ntoken = "t"\n'
    cases = {
        '[usage]\nresources = ["sms", "sms"]\n': "[usage] resources",
        '[usage]\nresources = ["SMS"]\n': "'SMS' is not a name",
        "[usage]\ntrial_allowances = { fax = 3 }\n": "[usage] trial_allowances: 'fax'",
        '[usage]\ntrial_allowances = ["sms=3"]\n': "[usage] trial_allowances: expected a table",
        "[usage]\ntrial_allowances = { sms = -1 }\n": "[usage] trial_allowances.sms",
        "[usage]\ncredit_days = 0\n": "credit_days",
        "[usage]\nthresholds = 3\n": "[usage] thresholds: unknown key",
    }
    for text, message in cases.items():
        path = tmp_path / "c.toml"
        path.write_text(base + text)
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
            load_config(path, env={})
    path = tmp_path / "ok.toml"
    path.write_text(
        base + '[usage]\nresources = ["sms", "data_mb"]\ntrial_allowances = { sms = 5 }\n'
    )
    config = load_config(path, env={})
    assert config.usage == UsageConfig(resources=("sms", "data_mb"), trial_allowances={"sms": 5})
    assert config.usage.trial_allowances == {"sms": 5}


def test_every_metering_key_is_built_in_keys_py_and_documented_in_keys_md() -> None:
    documented = (ROOT / "keys.md").read_text()
    built = {
        keys.usage("JID", "YYYYMM"): "payment-usage_YYYYMM-{JID}",
        keys.usage_events("JID", "YYYYMMDD"): "payment-usage_events_YYYYMMDD-{JID}",
        keys.usage_open("JID"): "payment-usage_open-{JID}",
        keys.usage_slot("JID"): "payment-usage_slot-{JID}",
        keys.credit_grants("JID"): "payment-credit_grants-{JID}",
        keys.credit_pending("JID"): "payment-credit_pending-{JID}",
        keys.credit_transfers("JID"): "payment-credit_transfers-{JID}",
        keys.autobuy("JID"): "payment-autobuy-{JID}",
        keys.pack_versions("PACK"): "payment-pack_versions-PACK",
        keys.PACKS: "payment-packs",
        keys.shard(keys.USAGE_UNSETTLED, 7): "payment-usage_unsettled-{s07}",
        keys.shard(keys.CREDIT_EXPIRIES, 7): "payment-credit_expiries-{s07}",
    }
    for key, expected in built.items():
        assert key == expected
        row = expected.replace("-PACK", "-{PACK}").replace("{s07}", "{sNN}")  # any shard
        assert f"| `{row}` |" in documented, expected
