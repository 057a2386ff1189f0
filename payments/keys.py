"""Every Redis key name the project reads or writes, built in one place.

The JID in a key is the normalised bare JID wrapped in braces: all keys of
one account share a Redis Cluster hash slot, so one Lua script may touch all
of them. ``keys.md`` documents each key (type, writer, reader, lifetime);
keep the two in step.
"""

from __future__ import annotations

import zlib
from typing import Final

PREFIX: Final = "payment-"


def _account(name: str, jid: str) -> str:
    return f"{PREFIX}{name}-{{{jid}}}"


def balance_prepaid(jid: str) -> str:
    return _account("balance_prepaid", jid)


def balance_voucher(jid: str) -> str:
    return _account("balance_voucher", jid)


def transactions(jid: str) -> str:
    """The ledger stream of one account."""
    return _account("transactions", jid)


def idempotency(jid: str) -> str:
    """Hash: idempotency key of an applied balance change -> its ledger entry id."""
    return _account("idempotency", jid)


def idempotency_archived(jid: str) -> str:
    """Set of integers: digests of the idempotency keys whose entries went to the archive."""
    return _account("idempotency_archived", jid)


def account(jid: str) -> str:
    """Hash: kind, status, plan, dates of one account (absent: not a user)."""
    return _account("account", jid)


def freezes(jid: str) -> str:
    """Hash: freeze kind -> JSON record (who, when, why, state before)."""
    return _account("freezes", jid)


def plan_as_of(jid: str, yyyymm: str) -> str:
    """Hash: the plan in force from that month (id, version, price snapshot, kind, paid_by)."""
    return f"{PREFIX}plan_as_of_{yyyymm}-{{{jid}}}"


PLANS: Final = f"{PREFIX}plans"  # hash: plan id -> JSON of its current version


def plan_versions(plan_id: str) -> str:
    """Hash: version number -> JSON of that version of one plan (kept forever)."""
    return f"{PREFIX}plan_versions-{plan_id}"


# --- payments in: checkouts, vouchers, code attempts -------------------------


def checkout(provider: str, provider_id: str) -> str:
    """Hash: a payment created at a provider (jid, amount, status), by the provider's id."""
    return f"{PREFIX}checkout-{provider}-{provider_id}"


def voucher(code: str) -> str:
    """Hash: one voucher code (amount, batch, expiry, who redeemed it). Global, not per account."""
    return f"{PREFIX}voucher-{code}"


def voucher_batch(name: str) -> str:
    """Hash: a batch of voucher codes (amount, count, expiry, who created it)."""
    return f"{PREFIX}voucher_batch-{name}"


def code_failures(jid: str) -> str:
    """String counter: failed code attempts of one sender in the current hour."""
    return _account("code_failures", jid)


# --- the bot's keys ----------------------------------------------------------

OUTBOX: Final = "bot-outbox"  # stream of notifications to send
OUTBOX_GROUP: Final = "bot"  # its consumer group


def outbox_dedupe(key: str) -> str:
    """String: marks a notification key as already queued (30 days). In the outbox's hash
    slot (``{bot-outbox}``), so that one script writes the marker and the entry."""
    return f"bot-outbox_dedupe-{{{OUTBOX}}}-{key}"


def rate_limit(bucket: str, jid: str, window: int) -> str:
    """Counter of one sender's requests in the current window of a bucket."""
    return f"bot-ratelimit_{bucket}-{{{jid}}}-{window}"


def pending_confirmation(jid: str) -> str:
    """String: the chat command a sender must confirm with "yes" (2 minutes)."""
    return f"bot-confirm-{{{jid}}}"


def offers(jid: str) -> str:
    """Hash: the invitations the bot delivered to a JID, code -> label and end (JSON)."""
    return f"bot-offers-{{{jid}}}"


def notify_off(jid: str) -> str:
    """Set: the notices this account turned off (``notify KIND off``: NoticeChoice names)."""
    return _account("notify_off", jid)


def told(jid: str) -> str:
    """Set: prefixes of notice keys a reply to this JID already said (5 minutes)."""
    return f"bot-told-{{{jid}}}"


# --- the account page -----------------------------------------------------------


def page_form(jid: str, nonce: str) -> str:
    """String: a submitted account-page form (its token's nonce): what it did, '' while running."""
    return f"{PREFIX}page_form_{nonce}-{{{jid}}}"


# Set of the bare JIDs subscribed to the bot's presence (a component keeps its
# own roster: the server keeps none for it).
PRESENCE_SUBSCRIBERS: Final = "bot-presence_subscribers"


# Patterns used by `admin reconcile` to find every account that has money keys.
LEDGER_SCAN_PATTERNS: Final = (
    f"{PREFIX}transactions-{{*}}",
    f"{PREFIX}balance_prepaid-{{*}}",
    f"{PREFIX}balance_voucher-{{*}}",
)


def jid_of(key: str) -> str:
    """The JID inside an account key (the text between the outer braces)."""
    start, end = key.find("{"), key.rfind("}")
    if start < 0 or end <= start:
        raise ValueError(f"not an account key: {key!r}")
    return key[start + 1 : end]


# --- billing: invoices, schedules, chore locks -------------------------------


def invoice(jid: str, period: str) -> str:
    """Hash: the invoice of one period (YYYYMM): totals, status and one field per line."""
    return f"{PREFIX}invoice_{period}-{{{jid}}}"


def invoices(jid: str) -> str:
    """Sorted set: every invoice period of an account (score: YYYYMM as a number)."""
    return _account("invoices", jid)


def invoices_open(jid: str) -> str:
    """Sorted set: the periods of the open invoices (score: amount due, smallest settled first)."""
    return _account("invoices_open", jid)


ACCOUNTS: Final = f"{PREFIX}accounts"  # set (sharded): every JID that has (or had) an account
# string (sharded): YYYYMM, the month before which the archive-ledger chore's last full pass
# of the shard's accounts archived every ledger
LEDGER_ARCHIVED_BEFORE: Final = f"{PREFIX}ledger_archived_before"


# --- shards: the global schedules and registries, split by JID ----------------------
#
# Each global sorted set or set of JIDs is split into ``[redis] shards`` keys, one per
# shard, named ``NAME-{sNN}``: the keys of one shard share a Redis Cluster hash slot,
# the shards spread over the cluster's masters, and the chores of several hosts
# take different shards (``chore_lock``). A JID's shard is a stable hash of it, so
# the count is fixed for the life of a deployment.

DEFAULT_SHARDS: Final = 16


def shard_of(jid: str, shards: int) -> int:
    """The shard of a JID: CRC-32 of its UTF-8 bytes, modulo the deployment's count."""
    return zlib.crc32(jid.encode("utf-8")) % shards


def shard(name: str, number: int) -> str:
    """One shard of a global schedule or registry: ``payment-renewals-{s07}``."""
    return f"{name}-{{s{number:02d}}}"


def durable(jid: str) -> str:
    """String: written just before a WAIT, so that the WAIT measures the account's writes."""
    return _account("durable", jid)


# Global sorted sets of JIDs, scored by a Unix time: the chores read only what is due.
# Each is sharded (``shard(RENEWALS, n)``); the plain name is a deployment's key from
# before shards, which the repair chore moves into them.
RENEWALS: Final = f"{PREFIX}renewals"  # next renewal of every paid main account
TRIAL_ENDS: Final = f"{PREFIX}trial_ends"  # end of every trial
UNPAID: Final = f"{PREFIX}unpaid"  # first unpaid renewal of every account that owes
BILLING_FROZEN: Final = f"{PREFIX}billing_frozen"  # when each account got its billing freeze


def chore_lock(name: str, number: int | None = None) -> str:
    """String: the token of the host running a chore on one shard (SET NX PX,
    compare-and-delete); without a shard, a lock of its own (``catalog``)."""
    lock = f"{PREFIX}chore_lock-{name}"
    return lock if number is None else shard(lock, number)


# --- payer groups (groups manage them, billing reads them) --------------------

LEAF_GROUPS: Final = f"{PREFIX}leaf_jids_counter"  # string: the last group INDEX handed out


def leaf_jids(index: str) -> str:
    """List: the main JID first, then the leaves it pays for."""
    return f"{PREFIX}leaf_jids-{{{index}}}"


def leaf_jids_index(jid: str) -> str:
    """String: the group INDEX of a main or of a leaf."""
    return _account("leaf_jids_index", jid)


def group_move(jid: str) -> str:
    """Hash: a join or leave of this JID in flight (op, main, index, ref, price...)."""
    return _account("group_move", jid)


def group_joins(main: str) -> str:
    """Set: leaves the main was charged for whose join is not finished yet."""
    return _account("group_joins", main)


def group_lock(main: str) -> str:
    """String: token of the one join of this main in progress (SET NX PX)."""
    return _account("group_lock", main)


def group_code(code: str) -> str:
    """Hash: an invitation (``add JID``) or referral (``invite``) code. Global."""
    return f"{PREFIX}group_code-{code}"


def group_codes(main: str) -> str:
    """Sorted set: the main's referral codes, scored by their expiry (Unix time)."""
    return _account("group_codes", main)


# --- moves (`move NEWJID`, `claim CODE`) -----------------------------------------------


def move(jid: str) -> str:
    """Hash (the old account's): its move to a new JID, offered, sealed (the snapshot) or done."""
    return _account("move", jid)


def move_code(code: str) -> str:
    """Hash: a code of ``move NEWJID`` (the old and new JIDs, expiry, status). Global."""
    return f"{PREFIX}move_code-{code}"


# --- referral rewards (`refer`) ------------------------------------------------------


def referral_code(code: str) -> str:
    """Hash: a paid account's referral code (its referrer, status). Global."""
    return f"{PREFIX}referral_code-{code}"


def referrals(jid: str) -> str:
    """Hash (a referrer's): its code, counters, and ``new:JID`` -> each newcomer's state."""
    return _account("referrals", jid)


REFERRALS_DUE: Final = f"{PREFIX}referral_due"  # zset: newcomer -> when its reward is decided


def number_owner(number: str) -> str:
    """String: the JID a phone number (E.164) is assigned to (the account's ``number``)."""
    return f"{PREFIX}number_owner-{{{number}}}"


# --- usage metering and credit packs --------------------------------------------


def usage(jid: str, yyyymm: str) -> str:
    """Hash: one month of an account's usage (``used:R``, ``credit:R``, ``settled:R`` ...)."""
    return f"{PREFIX}usage_{yyyymm}-{{{jid}}}"


def usage_events(jid: str, yyyymmdd: str) -> str:
    """Set: the gateway's event ids counted, of events of that day (replays count once)."""
    return f"{PREFIX}usage_events_{yyyymmdd}-{{{jid}}}"


def usage_open(jid: str) -> str:
    """Set: the months (YYYYMM) holding usage not yet settled into the ledger."""
    return _account("usage_open", jid)


def usage_slot(jid: str) -> str:
    """String: the settlement slot (Unix time of its start) settled last."""
    return _account("usage_slot", jid)


def credit_grants(jid: str) -> str:
    """Hash: grant id -> ``resource|quantity|left|expires|pack|day|version|price|bought``."""
    return _account("credit_grants", jid)


def credit_pending(jid: str) -> str:
    """Hash: ``R`` (own use) or ``R|LEAF`` -> credits drawn, not yet settled."""
    return _account("credit_pending", jid)


def credit_transfers(jid: str) -> str:
    """Hash (a leaf's): ``YYYYMM:EVENT`` -> ``MAIN|R|QUANTITY``, draws not yet on the main."""
    return _account("credit_transfers", jid)


def autobuy(jid: str) -> str:
    """Hash: pack id -> ``version|resource|quantity|price|since``, bought again at each renewal."""
    return _account("autobuy", jid)


PACKS: Final = f"{PREFIX}packs"  # hash: pack id -> JSON of its current version


def pack_versions(pack_id: str) -> str:
    """Hash: version number -> JSON of that version of one credit pack (kept forever)."""
    return f"{PREFIX}pack_versions-{pack_id}"


# Global sorted sets of JIDs read by the usage chores.
USAGE_UNSETTLED: Final = f"{PREFIX}usage_unsettled"  # score: batches counted since settled
CREDIT_EXPIRIES: Final = f"{PREFIX}credit_expiries"  # score: the earliest grant expiry


# --- saved cards: invoices paid by card, automatic top-ups, refunds, disputes -----------


def cards(jid: str) -> str:
    """Hash: payment method id (``pm_…``) -> the saved card (brand, last 4, expiry, fingerprint)."""
    return _account("cards", jid)


def card_profile(jid: str) -> str:
    """Hash: the account's Stripe customer, its default card, its automatic top-up."""
    return _account("card_profile", jid)


def card_charge(jid: str) -> str:
    """Hash: the one off-session card charge in flight (key, purpose, amount, card, started)."""
    return _account("card_charge", jid)


def card_attempts(jid: str) -> str:
    """Hash: invoice period -> the last scheduled card attempt made for it."""
    return _account("card_attempts", jid)


def card_payments(jid: str) -> str:
    """Hash: PaymentIntent id -> a card payment credited (amount, refunded, disputed, when)."""
    return _account("card_payments", jid)


def card_refunds(jid: str) -> str:
    """Hash: an operator's refund ref -> how it was spread over card payments."""
    return _account("card_refunds", jid)


def card_disputes(jid: str) -> str:
    """Hash: dispute id (``dp_…``) -> payment, amount, status (open, won, lost), when."""
    return _account("card_disputes", jid)


def card_owner(payment_intent: str) -> str:
    """String: the JID a card payment (PaymentIntent) credited. Global: a webhook that names
    only the payment (a refund, a dispute) finds the account by it."""
    return f"{PREFIX}card_owner-{payment_intent}"


CARD_DUE: Final = f"{PREFIX}card_due"  # sorted set: JID -> when card work is due for it
AUTOTOPUPS: Final = f"{PREFIX}autotopups"  # set: the JIDs with automatic top-up on
