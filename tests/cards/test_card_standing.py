"""Good standing (issue 15, item 7): a valid card, or balances that cover the next renewal;
the gateway's authorize answer says which is missing when asked (``standing=1``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import aiohttp

from payments.cards.standing import standing_of
from payments.clock import utcnow
from payments.config import GatewayConfig, Secret
from payments.stores import Store
from payments.web.app import build_app
from tests.support.billing import T0, usd
from tests.support.cards import A, card, paid_due, registered
from tests.support.webfakes import make_config, serve

TOKEN = "gateway-token-for-tests"


async def test_a_valid_card_or_a_covered_renewal_is_good_standing(real_store: Store) -> None:
    config = make_config("redis://unused", "https://pay.example.org", stripe_base="http://x")
    await paid_due(real_store, A, T0 + timedelta(days=10), price="10")
    standing = await standing_of(real_store, config, A, T0)
    assert standing is not None and not standing.good
    assert standing.missing().startswith("no valid card saved, and your next renewal on")
    await real_store.ledger.credit(A, usd("10"), reason="top-up")
    covered = await standing_of(real_store, config, A, T0)
    assert covered is not None and covered.good and covered.missing() == ""
    await real_store.ledger.debit(A, usd("10"), reason="spent")
    await real_store.cards.add(A, card("pm_old", "1111", year=2025), "cus_1")  # expired
    expired = await standing_of(real_store, config, A, T0)
    assert expired is not None and not expired.good
    await real_store.cards.add(A, card("pm_1", "4242"), "cus_1")
    carded = await standing_of(real_store, config, A, T0)
    assert carded is not None and carded.good and carded.card is not None
    await registered(real_store, "trial@example.org")
    trial = await standing_of(real_store, config, "trial@example.org", T0)
    assert trial is not None and trial.good  # nothing to renew yet


async def test_the_authorize_answer_says_what_is_missing_when_asked(
    real_store: Store, redis_url: str
) -> None:
    base_config = make_config(redis_url, "https://pay.example.org")
    config = replace(base_config, gateway=GatewayConfig(Secret(TOKEN)))
    now = utcnow()
    await paid_due(real_store, A, now + timedelta(days=10), price="10")
    async with serve(build_app(config)) as base, aiohttp.ClientSession() as http:

        async def authorize(extra: str = "") -> Any:
            url = f"{base}/api/v1/authorize?jid={A}&resource=sms{extra}"
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with http.get(url, headers=headers) as response:
                assert response.status == 200
                return await response.json()

        assert "standing" not in await authorize()
        asked = await authorize("&standing=1")
        assert asked["standing"]["good"] is False
        assert "no valid card saved" in asked["standing"]["missing"]
        await real_store.ledger.credit(A, usd("10"), reason="top-up")
        assert (await authorize("&standing=1"))["standing"] == {"good": True, "missing": None}
