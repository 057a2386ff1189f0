"""Payments in: top-ups paid at a provider (Stripe, BTCPay, test), checkouts and vouchers."""
