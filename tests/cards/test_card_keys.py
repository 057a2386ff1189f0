"""Every key of saved cards is built in payments/keys.py and documented in keys.md as built."""

from __future__ import annotations

from payments import keys
from tests.support import ROOT

KEYS_MD = (ROOT / "keys.md").read_text()


def test_card_keys_are_documented_as_built() -> None:
    per_account = (
        keys.cards,
        keys.card_profile,
        keys.card_charge,
        keys.card_attempts,
        keys.card_payments,
        keys.card_refunds,
        keys.card_disputes,
    )
    built = [build("JID") for build in per_account]  # payment-cards-{JID}
    built += [keys.card_owner("{PAYMENT}")]
    built += [
        keys.shard(name, 0).replace("s00", "sNN") for name in (keys.CARD_DUE, keys.AUTOTOPUPS)
    ]
    for key in built:
        assert f"| `{key}` |" in KEYS_MD, key
