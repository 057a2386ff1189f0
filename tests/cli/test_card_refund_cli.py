"""`accountbot admin refund` to cards, run as operators run it: a subprocess against the real
redis-server and Stripe's local fake (served by the test while the command runs)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from accountbot.stack import Stack
from payments.ledger.records import EntryKind
from payments.stores import Store
from tests.support.billing import T0, usd
from tests.support.cards import payment_of
from tests.support.webfakes import STRIPE_KEY, STRIPE_WHSEC, FakeStripe, serve

ALICE = "alice@localhost"
VISA = "4242424242424242"


async def accountbot(config: Path, *args: str) -> tuple[int, str, str]:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "accountbot", "--config", str(config), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(child.communicate(), 60)
    return int(child.returncode or 0), out.decode(), err.decode()


async def test_a_refund_to_cards_is_made_once_and_refused_beyond_the_card_payments(
    redis_stack: Stack, real_store: Store, tmp_path: Path
) -> None:
    fake = FakeStripe()
    async with serve(fake.app()) as base:
        stripe: dict[str, Any] = {"enabled": True, "api_key": STRIPE_KEY, "api_base": base}
        stripe["webhook_secret"] = STRIPE_WHSEC
        config = redis_stack.write_config(
            operators=(), path=tmp_path / "cards.toml", **{"providers.stripe": stripe}
        )
        payment = fake.paid_intent(None, 1000, "usd", VISA)
        await payment_of(real_store, ALICE, payment, "10", T0)
        refund = ("admin", "refund", ALICE, "4", "--reason", "asked", "--ref", "k1")
        code, out, _ = await accountbot(config, *refund)
        assert code == 0 and f"$4.00 to payment {payment}" in out
        code, out, _ = await accountbot(config, *refund)
        assert code == 0 and "already refunded (ref k1)" in out
        code, _, err = await accountbot(config, "admin", "refund", ALICE, "7", "--reason", "x",
                                        "--ref", "k2")  # fmt: skip
        assert code == 1 and "at most $6.00 can be refunded" in err
        code, out, _ = await accountbot(config, "admin", "cards", ALICE)
        assert code == 0 and "refunded $4.00" in out
    assert [r["amount"] for r in fake.refunds.values()] == [400]
    refunds = [e for e in await real_store.ledger.entries(ALICE) if e.kind is EntryKind.REFUND]
    assert [e.amount for e in refunds] == [-usd("4")]


async def test_a_refund_to_cards_needs_stripe(redis_stack: Stack, real_store: Store) -> None:
    code, _, err = await accountbot(
        redis_stack.config_path, "admin", "refund", ALICE, "1", "--reason", "x", "--ref", "k"
    )
    assert code == 2 and "--outside" in err
