"""Referral rewards (``refer``): a paid account's code, a newcomer's longer trial, and the
referrer's reward once the newcomer's first payment has settled."""
