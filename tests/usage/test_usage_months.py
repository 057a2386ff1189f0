"""``usage YYYY-MM``'s figures (``payments.usage.history.month_report``): the allowance of the
plan in force that month, what was used and drawn on credits, and when a resource was used
up. The bodies run on fakeredis and on the real redis-server."""

from __future__ import annotations

from datetime import timedelta

from payments.billing.renewal import renew_account
from payments.clock import month_of, shift_month
from payments.stores import Store
from payments.usage.flow import ingest
from payments.usage.history import month_report, usage_by_month
from tests.support.billing import cycle_of, usd
from tests.support.usage import T0, USAGE, A, customer, events, meter, sms_plan


async def test_a_past_month_says_its_plans_allowance_its_use_and_what_was_used_up(
    store: Store,
) -> None:
    await sms_plan(store, sms=10)
    await store.plans.put("big", at=T0, price=usd("20"), name="Big", allowances={"sms": 50})
    await customer(store, A, T0, "60")  # basic: 10 SMS a month
    march = month_of(T0)
    await ingest(meter(store), events(A, 12, at=T0 + timedelta(hours=1)), T0 + timedelta(hours=2))
    await store.billing.set_next_plan(A, "big")
    april = T0 + timedelta(days=31)
    assert (await renew_account(cycle_of(store), A, april)).result.value == "renewed"
    await ingest(meter(store), events(A, 3, at=april, prefix="x"), april + timedelta(hours=1))
    report = await month_report(meter(store), A, march)
    [sms] = [line for line in report.lines if line.resource == "sms"]
    assert report.plan == "basic"
    assert (sms.allowance, sms.used, sms.from_allowance, sms.from_credits) == (10, 12, 10, 2)
    assert sms.blocked_at == 12  # no credits: used up past the allowance
    later = await month_report(meter(store), A, shift_month(march, 1))
    [sms] = [line for line in later.lines if line.resource == "sms"]
    assert later.plan == "big" and (sms.allowance, sms.used, sms.blocked_at) == (50, 3, 0)
    plotted = await usage_by_month(store, A, [march], USAGE.resources)
    assert plotted[0].of("sms") == 12  # the account page's figure for that month
    before = await month_report(meter(store), A, shift_month(march, -1))
    assert before.plan == "" and all(line.used == 0 for line in before.lines)
