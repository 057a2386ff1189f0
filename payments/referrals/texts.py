"""What referrals tell people (short plain text for a phone)."""

from __future__ import annotations

from payments.money import Money, format_money
from payments.notices import Notice, NoticeKind


def rewarded(referrer: str, newcomer: str, amount: Money, voucher: Money) -> Notice:
    return Notice(
        referrer,
        NoticeKind.REFERRAL_REWARD,
        f"{newcomer}, who signed up with your referral code, has paid: {format_money(amount)} "
        f"(a month of your plan) was added to your voucher balance. Voucher balance: "
        f"{format_money(voucher)}.",
        key=f"referral:{referrer}:{newcomer}",
    )
