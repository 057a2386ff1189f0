"""Every key the payments-in code writes is built in payments/keys.py and documented in keys.md."""

from __future__ import annotations

from payments import keys
from tests.support import ROOT

KEYS_MD = (ROOT / "keys.md").read_text()


def test_payments_in_keys_are_documented_as_built() -> None:
    built = {
        keys.checkout("PROVIDER", "ID"): "`payment-checkout-{PROVIDER}-{ID}`",
        keys.voucher("CODE"): "`payment-voucher-{CODE}`",
        keys.voucher_batch("NAME"): "`payment-voucher_batch-{NAME}`",
        keys.code_failures("JID"): "`payment-code_failures-{JID}`",
    }
    for key, documented in built.items():
        assert documented in KEYS_MD
        assert key == documented.strip("`").replace("{PROVIDER}", "PROVIDER").replace(
            "{ID}", "ID"
        ).replace("{CODE}", "CODE").replace("{NAME}", "NAME")
