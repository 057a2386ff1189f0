"""What follows the lifting of a billing freeze: the user told, the leaves lifted
with their main, and a renewal that was held while frozen billed from now.

The freeze itself is lifted inside the step that made it liftable (the
settlement of the last open invoice, an activation) or by ``lift_paid_freeze``
when nothing is owed; each is one atomic script. What follows is a sequence
of idempotent steps across accounts that the repair chore finishes after a
crash (a leaf still frozen with a main that is not).
"""

from __future__ import annotations

from datetime import datetime

from payments import keys
from payments.accounts.freeze_store import LiftIf
from payments.accounts.records import AccountKind, FreezeKind, FreezeRecord
from payments.billing import texts as notices
from payments.billing.cycle import Cycle
from payments.billing.renewal import renew_account
from payments.billing.rules import Subscriber


async def schedule_held_renewal(cycle: Cycle, sub: Subscriber, now: datetime) -> None:
    """Before a freeze may be lifted: a held renewal is due again from now (written first,
    so a crash after the lift cannot leave a paid account served and never renewed)."""
    if sub.account.kind is AccountKind.PAID and sub.state.renewal_held is not None:
        await cycle.store.schedules.add_early(keys.RENEWALS, sub.account.jid, now)


async def lift_paid_freeze(cycle: Cycle, jid: str, now: datetime) -> bool:
    """Lift ``jid``'s billing freeze if it owes nothing and is not a trial (``unfreeze.lua``)."""
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None or FreezeKind.BILLING not in sub.account.freezes:
        return False
    await schedule_held_renewal(cycle, sub, now)
    lifted = await cycle.store.freezes.lift(jid, FreezeKind.BILLING, LiftIf.PAID)
    if lifted is None:
        return False
    await after_unfreeze(cycle, jid, lifted, now)
    return True


async def after_unfreeze(cycle: Cycle, jid: str, lifted: FreezeRecord, now: datetime) -> None:
    """The account's billing freeze ``lifted`` was just lifted: finish around it."""
    await cycle.store.outbox.notify(notices.unfrozen(jid, lifted.when.isoformat()))
    sub = await cycle.store.billing.subscriber(jid)
    if sub is None:
        return
    await lift_leaves(cycle, sub)
    if sub.state.renewal_held is not None:
        await renew_account(cycle, jid, now)


async def lift_leaves(cycle: Cycle, sub: Subscriber) -> list[str]:
    """The leaves of a main that is not billing-frozen: their freeze with it is lifted."""
    if not sub.group or sub.account.kind is not AccountKind.PAID:
        return []
    if FreezeKind.BILLING in sub.account.freezes:
        return []
    main = sub.account.jid
    group = await cycle.store.groups.get(sub.group)
    if group is None or group.main != main:
        return []
    lifted = []
    for leaf in group.leaves:
        record = await cycle.store.freezes.lift(leaf, FreezeKind.BILLING, LiftIf.WITH_MAIN, main)
        if record is not None:
            await cycle.store.outbox.notify(notices.unfrozen(leaf, record.when.isoformat()))
            lifted.append(leaf)
    return lifted
