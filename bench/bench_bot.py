"""The bot's ``balance`` through Prosody, next to an echo component on the same Prosody.

Everything runs on this machine, started here: redis-server, Prosody (with
the bot's component, an ``echo`` component and a ``fanout`` one), the bot
as its real process (``accountbot bot``, one process), the same bot as
``BENCH_BOT_WORKERS`` worker processes (default 2; 0: not measured) behind
``accountbot front`` on the ``fanout`` component (Prosody takes one
connection per component, see docs/operations.md "Bot processes"), the echo component
(``bench/echo_component.py``: slixmpp answering each message with its body)
and the load client (``bench/xmpp_load.py``: raw c2s sessions, cheap enough
not to measure itself). The users are paid accounts on the Basic plan, so
``balance`` reads the limiter, the account, its freezes, both balances and
the plan line.

Two figures, each in the same run for both targets, alternating rounds
(``BENCH_BOT_ROUNDS``, default 3, the median kept):

- throughput: ``BENCH_BOT_N`` messages (default 6000), ``BENCH_BOT_C`` in
  flight (default 64) over ``USERS`` sessions;
- latency: ``BENCH_BOT_M`` messages (default 1000) one at a time, p50;

and the CPU (user + system) the answering process spent per message.

The bots' own counters (``/metrics``) must show every message answered as
``balance`` ``ok``, or the bench fails. ``bot_balance`` in bench.json is the
one process (the default); ``bot_balance_front`` the front and its workers.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from accountbot.processes import Child, free_port
from accountbot.stack import Stack
from accountbot.xmpp_servers import ProsodyServer
from bench.xmpp_load import Result, Session, drive, login
from payments import keys
from payments.billing.payment import credit_account
from payments.catalog.declared import prepare_catalog
from payments.config import Config, load_config
from payments.ledger.records import EntryKind
from payments.stores import Store

ECHO = "echo.localhost"
FANOUT = "fanout.localhost"  # the component the front connects as
USERS = 16
BALANCE_OK = {"face": "chat", "command": "balance", "outcome": "ok"}
FIGURES = Path(__file__).resolve().parent.parent / ".local" / "bench.json"  # or $BENCH_JSON


class ProsodyWithEcho(ProsodyServer):
    """The stack's Prosody plus the echo component."""

    echo_secret = "bench-echo"
    fanout_secret = "bench-fanout"

    def write_config(self) -> None:
        super().write_config()
        with self.config_path.open("a") as config:
            for jid, secret in ((ECHO, self.echo_secret), (FANOUT, self.fanout_secret)):
                config.write(f'\nComponent "{jid}"\n    component_secret = "{secret}"\n')


@dataclass(frozen=True)
class Load:
    total: int
    in_flight: int
    one_by_one: int
    rounds: int
    workers: int  # behind the front; 0: that target is not measured

    @classmethod
    def from_env(cls) -> Load:
        env = os.environ.get
        return cls(
            total=int(env("BENCH_BOT_N", "6000")),
            in_flight=int(env("BENCH_BOT_C", "64")),
            one_by_one=int(env("BENCH_BOT_M", "1000")),
            rounds=int(env("BENCH_BOT_ROUNDS", "3")),
            workers=int(env("BENCH_BOT_WORKERS", "2")),
        )


@dataclass
class Measured:
    rates: list[float]
    p50s: list[float]
    cpu_ms: float = 0.0  # CPU of the answering process(es) per message, user + system

    @property
    def per_second(self) -> float:
        return statistics.median(self.rates)

    @property
    def p50_ms(self) -> float:
        return statistics.median(self.p50s)


async def seed_users(stack: Stack, config: Config, count: int) -> list[tuple[str, str]]:
    """``count`` Prosody users, each a paid account on the default plan."""
    users = [stack.xmpp.adduser(f"load{i}") for i in range(count)]
    store = Store.from_url(config.redis.url, currency=config.billing.currency)
    try:
        now = datetime.now(UTC)
        await prepare_catalog(store, config, now)
        for jid, _password in users:
            await store.accounts.register_trial(jid, now, config.billing.trial_days)
            await credit_account(
                store,
                jid,
                config.billing.activation_amount,
                reason="bench",
                kind=EntryKind.PAYMENT,
                at=now,
                policy=config.billing,
            )
        await store.redis.delete(keys.OUTBOX)  # the activation notices: not part of the load
    finally:
        await store.close()
    return users


@dataclass(frozen=True)
class Bots:
    """The processes that answer one bot address, and the /metrics of those that count."""

    jid: str
    processes: list[Child]
    metrics: list[str]

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self.processes]


def bot_config(stack: Stack, name: str, **xmpp: str) -> Path:
    return stack.write_config(
        path=stack.root / f"{name}.toml",
        bot={"messages_per_minute": 10**9},  # counted as always, never reached
        xmpp=xmpp,  # {}: the stack's own component
    )


def start_bot(stack: Stack) -> Bots:
    """``accountbot bot``: one process on the bot's own component."""
    port = free_port()
    bot = stack.start_app("bot", "--metrics-port", str(port), config=bot_config(stack, "bot"))
    bot.wait_for("connected as")
    return Bots(stack.bot_jid, [bot], [f"http://127.0.0.1:{port}/metrics"])


def start_front(stack: Stack, workers: int) -> Bots:
    """``accountbot front`` on the fanout component, and ``workers`` bots behind it."""
    server = stack.xmpp
    assert isinstance(server, ProsodyWithEcho)
    config = bot_config(stack, "front", jid=FANOUT, secret=server.fanout_secret)
    listen = free_port()
    front = stack.start_app("front", "--listen-port", str(listen), config=config)
    front.wait_for("connected to the server")
    found = Bots(FANOUT, [front], [])
    for n in range(workers):
        port = free_port()
        flags = ("--front", str(listen), "--worker", str(n), "--metrics-port", str(port))
        worker = stack.start_app("bot", *flags, config=config, label=f"worker{n}")
        worker.wait_for("connected as")
        found.processes.append(worker)
        found.metrics.append(f"http://127.0.0.1:{port}/metrics")
    return found


def start_echo(stack: Stack) -> Child:
    server = stack.xmpp
    assert isinstance(server, ProsodyWithEcho)
    argv = [sys.executable, "-m", "bench.echo_component", ECHO, server.echo_secret]
    child = Child("echo", [*argv, "127.0.0.1", str(server.component_port)], stack.root / "echo.log")
    child.start()
    stack.apps.append(child)
    child.wait_for("connected")
    return child


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of processes so far (``/proc/PID/stat``, fields 14 and 15)."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def answered_balances(urls: list[str]) -> int:
    """``balance`` commands answered ``ok``, summed over the bots' /metrics."""
    total = 0.0
    for url in urls:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 (loopback)
            families = text_string_to_metric_families(response.read().decode())
            total += sum(
                sample.value
                for family in families
                for sample in family.samples
                if sample.name == "accountbot_bot_commands_total" and sample.labels == BALANCE_OK
            )
    return int(total)


async def measure(
    sessions: list[Session], to: str, body: str, load: Load, single: Session
) -> tuple[float, float]:
    """(replies per second at ``in_flight``, p50 in ms at one in flight)."""
    throughput: Result = await drive(sessions, to, body, total=load.total, in_flight=load.in_flight)
    latency = await drive([single], to, body, total=load.one_by_one, in_flight=1)
    return throughput.per_second, latency.p50_ms


Target = Callable[[], Awaitable[tuple[float, float]]]


async def rounds(load: Load, targets: dict[str, tuple[Target, list[int]]]) -> dict[str, Measured]:
    """Alternating rounds of each target, with the CPU its processes spent."""
    found = {name: Measured([], []) for name in targets}
    for _ in range(load.rounds):
        for name, (target, pids) in targets.items():
            before = cpu_seconds(pids)
            rate, p50 = await target()
            found[name].rates.append(rate)
            found[name].p50s.append(p50)
            found[name].cpu_ms += (cpu_seconds(pids) - before) * 1000
    for measured in found.values():
        measured.cpu_ms /= load.rounds * (load.total + load.one_by_one)
    return found


async def bench(stack: Stack, load: Load) -> dict[str, Measured]:
    """Measured per target: ``echo``, ``bot`` and (with workers) ``front``."""
    config = load_config(stack.config_path, env={})
    users = await seed_users(stack, config, USERS + 1)
    echo = start_echo(stack)
    bots = {"bot": start_bot(stack)}
    if load.workers:
        bots["front"] = start_front(stack, load.workers)
    port = stack.xmpp.c2s_port
    sessions = [await login("127.0.0.1", port, jid, pw) for jid, pw in users[:USERS]]
    single = await login("127.0.0.1", port, *users[USERS])

    def target(jid: str) -> Target:
        return lambda: measure(sessions, jid, "balance", load, single)

    try:
        warm = Load(load.in_flight * 8, load.in_flight, 100, 1, load.workers)
        for jid in [ECHO, *(b.jid for b in bots.values())]:
            await measure(sessions, jid, "balance", warm, single)
        targets = {"echo": (target(ECHO), [echo.pid])}
        targets |= {name: (target(b.jid), b.pids) for name, b in bots.items()}
        found = await rounds(load, targets)
    finally:
        for session in [*sessions, single]:
            await session.close()
    expected = (load.in_flight * 8 + 100) + load.rounds * (load.total + load.one_by_one)
    for name, b in bots.items():
        if (answered := answered_balances(b.metrics)) != expected:
            raise RuntimeError(f"{name} answered {answered} balances of {expected}")
    return found


CASES = {  # target: (the row's case, its figure in bench.json)
    "bot": ("bot: balance through Prosody, one script per command", "bot_balance"),
    "front": ("bot: balance through a front, {workers} worker processes", "bot_balance_front"),
}


def rows(load: Load, found: dict[str, Measured]) -> list[dict[str, Any]]:
    common = {"in_flight": load.in_flight, "messages": load.total, "rounds": load.rounds}
    echo = found["echo"]
    table = [
        {"case": "baseline: echo component (slixmpp) through Prosody", **common,
         "processes": 1, "per_second": echo.per_second, "vs_baseline": 1.0,
         "p50_ms_one_in_flight": echo.p50_ms, "p50_vs_baseline": 1.0,
         "cpu_ms_per_message": echo.cpu_ms},
    ]  # fmt: skip
    for name, (case, figure) in CASES.items():
        if (bot := found.get(name)) is not None:
            table.append(
                {"case": case.format(workers=load.workers), **common,
                 "processes": load.workers + 1 if name == "front" else 1,
                 "per_second": bot.per_second, "vs_baseline": bot.per_second / echo.per_second,
                 "p50_ms_one_in_flight": bot.p50_ms, "p50_vs_baseline": bot.p50_ms / echo.p50_ms,
                 "cpu_ms_per_message": bot.cpu_ms,
                 "load_1m": os.getloadavg()[0], "figure": figure}
            )  # fmt: skip
    return table


def record(found: dict[str, Measured]) -> None:
    """Put ``bot_balance`` (and ``bot_balance_front``) into ``.local/bench.json``, keeping
    the other benches' figures."""
    path = Path(os.environ.get("BENCH_JSON", FIGURES))
    figures = json.loads(path.read_text("utf-8")) if path.exists() else {}
    echo = found["echo"]
    for name, (_case, figure) in CASES.items():
        if (bot := found.get(name)) is not None:
            figures[figure] = {
                "per_second": round(bot.per_second, 1),
                "vs_baseline": round(bot.per_second / echo.per_second, 3),
                "p50_ms": round(bot.p50_ms, 3),
                "p50_vs_baseline": round(bot.p50_ms / echo.p50_ms, 3),
            }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(figures, indent=2) + "\n", "utf-8")


async def run() -> list[dict[str, Any]]:
    load = Load.from_env()
    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        stack = Stack(Path(tmp))
        stack.xmpp = ProsodyWithEcho(stack.root)
        try:
            stack.start()
            found = await bench(stack, load)
        finally:
            stack.stop()
    record(found)
    return rows(load, found)


if __name__ == "__main__":
    print(asyncio.run(run()))
