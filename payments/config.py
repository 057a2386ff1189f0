"""The one TOML config file, read once, typed and validated at start.

Each section is a frozen dataclass; the comment beside a field documents it
(docs/configuration.md repeats them for operators). An unknown key, a wrong
type or a missing secret raises ConfigError with one line naming the key.
Secrets may come from the environment: ``ACCOUNTBOT_<SECTION>_<KEY>``, e.g.
``ACCOUNTBOT_XMPP_SECRET`` or ``ACCOUNTBOT_PROVIDERS_STRIPE_WEBHOOK_SECRET``.
"""

from __future__ import annotations

import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import MISSING, Field, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal, get_args, get_origin

from payments.keys import DEFAULT_SHARDS
from payments.money import InvalidAmount, Money, parse_money

ENV_CONFIG: Final = "ACCOUNTBOT_CONFIG"
MAX_LATE_DAYS: Final = 31  # [usage] late_days: one set of event ids per day of the window
ENV_PREFIX: Final = "ACCOUNTBOT_"


class ConfigError(Exception):
    """A config problem, with the key it concerns in the message."""


class Secret:
    """A string that never shows in logs, reprs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


EMPTY: Final = Secret("")


@dataclass(frozen=True)
class XmppConfig:
    mode: Literal["component", "client"] = "component"  # XEP-0114 component or client account
    jid: str = "accounts.localhost"  # component domain, or bot@domain in client mode
    secret: Secret = EMPTY  # component secret (mode = "component")
    password: Secret = EMPTY  # account password (mode = "client")
    host: str = "127.0.0.1"  # server to connect to
    port: int = 5347  # 5347 for a component, 5222 for a client
    plain_auth_on_loopback: bool = False  # client mode without TLS: loopback test stacks only


# ``[redis] wait_replicas`` left out: 1 on a Redis Cluster that has replicas, 0 otherwise.
AUTO_REPLICAS: Final = -1
MAX_SHARDS: Final = 1024
REDIS_SCHEMES: Final = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster")


@dataclass(frozen=True)
class RedisConfig:
    url: str = "redis://127.0.0.1:6379/0"  # one node, or redis+cluster://host:port[,host:port]
    shards: int = DEFAULT_SHARDS  # keys each schedule and registry is split into: fixed for good
    wait_replicas: int = AUTO_REPLICAS  # replicas money must reach before it is acknowledged
    wait_timeout_ms: int = 1000  # how long to wait for them before answering "not yet safe"


@dataclass(frozen=True)
class WebConfig:
    host: str = "127.0.0.1"  # address the web service binds
    port: int = 8080
    public_url: str = "http://127.0.0.1:8080"  # base of links sent to users
    link_secret: Secret = EMPTY  # signs personal links: top-up pages, account pages, their forms
    link_ttl_minutes: int = 60  # lifetime of a top-up or account-page link
    min_amount: Money = Money(50_000)  # noqa: RUF009 (immutable); the least one top-up may pay
    presets: tuple[str, ...] = ("10", "25", "50", "100")  # amounts offered on the top-up page

    def in_currency(self, currency: str) -> WebConfig:
        return replace(self, min_amount=Money(self.min_amount.units, currency))


@dataclass(frozen=True)
class BillingConfig:
    # [billing] currencies = ["USD", "CAD"]: what accounts may count in, the first the
    # default. `currency` is that default (an older config's one `currency` is read as
    # a list of one); amounts below are the same numbers in each currency.
    currencies: tuple[str, ...] = ("USD",)
    currency: str = "USD"
    activation_amount: Money = Money(200_000)  # noqa: RUF009 (immutable); a trial is upgraded once prepaid reaches this
    trial_days: int = 30
    grace_days: int = 7  # after a failed renewal, before freezing
    close_after_days: int = 90  # frozen this long: closed
    reminder_days: int = 7  # interval of reminders while unpaid
    low_balance_days: int = 7  # notice this many days before a renewal it cannot cover
    max_leaves: int = 10  # leaves one main account may pay for
    invite_days: int = 7  # invitations (`add JID`) and referral codes (`invite`) expire after this
    max_amount: Money = Money(10_000_000)  # noqa: RUF009 (immutable); the most one credit or top-up may add
    default_plan: str = "basic"
    move_code_hours: int = 24  # the code `move NEWJID` sends must be claimed within this

    def in_currency(self, currency: str) -> BillingConfig:
        """The same policy with its amounts in ``currency`` (an account's)."""
        if currency == self.currency:
            return self
        return replace(
            self,
            currency=currency,
            activation_amount=Money(self.activation_amount.units, currency),
            max_amount=Money(self.max_amount.units, currency),
        )


@dataclass(frozen=True)
class StripeConfig:
    enabled: bool = False
    webhook_secret: Secret = EMPTY
    api_key: Secret = EMPTY
    api_base: str = "https://api.stripe.com"


@dataclass(frozen=True)
class BtcpayConfig:
    enabled: bool = False
    webhook_secret: Secret = EMPTY
    api_key: Secret = EMPTY
    api_base: str = ""
    store_id: str = ""


@dataclass(frozen=True)
class TestProviderConfig:
    enabled: bool = False  # completes payments at once: development and demo only


@dataclass(frozen=True)
class ProvidersConfig:
    stripe: StripeConfig = StripeConfig()
    btcpay: BtcpayConfig = BtcpayConfig()
    test: TestProviderConfig = TestProviderConfig()


@dataclass(frozen=True)
class OperatorsConfig:
    jids: tuple[str, ...] = ()  # bare JIDs allowed to run admin commands


@dataclass(frozen=True)
class GatewayConfig:
    token: Secret = EMPTY  # bearer token of the telephony gateway


@dataclass(frozen=True)
class UsageConfig:
    resources: tuple[str, ...] = ("voice_minutes", "sms", "mms")  # what the gateway meters
    trial_allowances: Mapping[str, int] = field(
        default_factory=dict
    )  # a trial's monthly allowance, e.g. { sms = 20 }
    credit_days: int = 365  # credits of a pack are valid this many days
    expiry_notice_days: int = 30  # tell users this many days before credits expire
    max_events: int = 500  # events in one POST /api/v1/usage
    max_quantity: int = 1_000_000  # the most one usage event may count
    late_days: int = 7  # an event older than this is not counted (out_of_window); ids kept so long


@dataclass(frozen=True)
class BotConfig:
    messages_per_minute: int = 30  # per sender, shared by every bot process
    max_message_bytes: int = 2048  # longer chat messages are refused unread
    code_attempts_per_hour: int = 10  # failed voucher/referral/invitation codes per sender


@dataclass(frozen=True)
class LogConfig:
    format: Literal["text", "json"] = "text"  # "json": one JSON object per line
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@dataclass(frozen=True)
class MetricsConfig:
    host: str = "127.0.0.1"  # where the bot serves /metrics (keep it on loopback)
    bot_port: int = 0  # the bot's /metrics port; 0: not served
    chores_textfile_dir: str = ""  # node-exporter textfile directory for the chores; "": none


@dataclass(frozen=True)
class CardsConfig:
    """Saved cards (Stripe): paying invoices with them, automatic top-ups (docs/payments.md)."""

    retry_days: tuple[int, ...] = (1, 3, 5)  # days after an invoice opened to try the cards again
    min_charge: Money = Money(5_000)  # noqa: RUF009 (immutable); the least one card charge is (Stripe's minimum)
    autotopup_cooldown: int = 60  # minutes: at most one automatic top-up in this time
    autotopup_monthly_cap: Money = Money(5_000_000)  # noqa: RUF009 (immutable); automatic top-ups a month, at most
    autotopup_max_failures: int = 3  # declines in a row that turn automatic top-up off
    expiry_warning_days: int = 30  # a card expiring within this many days is flagged
    poll_seconds: int = 5  # how often the web service looks for card work due (0: never)

    def in_currency(self, currency: str) -> CardsConfig:
        """The same numbers in ``currency`` (an account's)."""
        return replace(
            self,
            min_charge=Money(self.min_charge.units, currency),
            autotopup_monthly_cap=Money(self.autotopup_monthly_cap.units, currency),
        )


@dataclass(frozen=True)
class ReferralConfig:
    """``refer``: a newcomer's longer trial, and when the referrer's reward is paid."""

    trial_days: int = 60  # the first trial of a newcomer who registers with a referral code
    settle_days: int = 14  # its first payment counts once this old, not refunded nor disputed


@dataclass(frozen=True)
class PlanDecl:
    """One ``[[plans]]`` table: a plan of the catalog, applied at start (a change is a
    new version; subscribers keep the version they bought)."""

    id: str  # lower-case letters, digits, '-' or '_'; what users type: `plan basic`
    name: str  # what users read
    price: Money | None = None  # a month, in the default currency
    allowances: Mapping[str, int] = field(default_factory=dict)  # e.g. { sms = 100 }
    prices: Mapping[str, Money] = field(default_factory=dict)  # { CAD = "13" }: per currency

    def all_prices(self) -> dict[str, Money]:
        return all_prices(self.price, self.prices)


@dataclass(frozen=True)
class PackDecl:
    """One ``[[packs]]`` table: a credit pack of the catalog, applied at start."""

    id: str
    resource: str  # one of [usage] resources
    quantity: int
    price: Money | None = None  # in the default currency
    prices: Mapping[str, Money] = field(default_factory=dict)  # per currency

    def all_prices(self) -> dict[str, Money]:
        return all_prices(self.price, self.prices)


def all_prices(price: Money | None, prices: Mapping[str, Money]) -> dict[str, Money]:
    """An offer's prices by currency: ``price`` (the default currency's) and ``prices``."""
    found = {price.currency: price} if price is not None else {}
    return {**found, **prices}


@dataclass(frozen=True)
class InvoiceConfig:
    """The seller's details printed on invoices (the account page's printable invoices)."""

    seller: str = ""  # the seller's name, e.g. "Example Telecom Ltd"
    address: tuple[str, ...] = ()  # the seller's postal address, one line per item
    tax_id: str = ""  # the seller's tax or VAT number, printed under the address
    tax_line: str = ""  # printed under the totals, e.g. "Prices include VAT at 20%."
    number_prefix: str = "INV-"  # invoice numbers are PREFIX + YYYYMM + "-" + 12 hex digits


@dataclass(frozen=True)
class LedgerConfig:
    """The ledger in Redis holds the recent months; older ones are in the archive."""

    keep_months: int = 13  # months before this one kept in Redis (0: only this month)
    archive_dir: str = "/var/lib/accountbot/ledger-archive"  # shared by bot, web and chores


@dataclass(frozen=True)
class Config:
    xmpp: XmppConfig = XmppConfig()
    redis: RedisConfig = RedisConfig()
    web: WebConfig = WebConfig()
    billing: BillingConfig = BillingConfig()
    providers: ProvidersConfig = ProvidersConfig()
    operators: OperatorsConfig = OperatorsConfig()
    gateway: GatewayConfig = GatewayConfig()
    bot: BotConfig = BotConfig()
    usage: UsageConfig = UsageConfig()
    log: LogConfig = LogConfig()
    metrics: MetricsConfig = MetricsConfig()
    cards: CardsConfig = CardsConfig()
    referral: ReferralConfig = ReferralConfig()
    plans: tuple[PlanDecl, ...] = ()  # [[plans]]: the catalog this deployment declares
    packs: tuple[PackDecl, ...] = ()  # [[packs]]
    invoice: InvoiceConfig = InvoiceConfig()
    ledger: LedgerConfig = LedgerConfig()
    path: str = field(default="", metadata={"internal": True})

    def money(self, units: int) -> Money:
        return Money(units, self.billing.currency)

    def in_currency(self, currency: str) -> Config:
        """The same config with its amounts in ``currency``: what one account sees."""
        if currency == self.billing.currency:
            return self
        return replace(
            self,
            billing=self.billing.in_currency(currency),
            web=self.web.in_currency(currency),
            cards=self.cards.in_currency(currency),
        )


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    """Read, type and validate the config; raise ConfigError naming the key at fault."""
    env = os.environ if env is None else env
    where = path or env.get(ENV_CONFIG)
    if not where:
        raise ConfigError(f"no config file: pass --config PATH or set {ENV_CONFIG}")
    try:
        raw = tomllib.loads(Path(where).read_text("utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {where}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {where}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {where} is not valid TOML: {exc}") from None
    currencies = _currencies(raw)
    values = _build(Config, raw, (), env, currencies)
    config: Config = Config(**{**values, "path": str(Path(where).resolve())})
    _check_secrets(config)
    _check_redis(config.redis)
    _check_usage(config.usage)
    _check_catalog(config)
    _check_cards(config.cards)
    _check_ledger(config.ledger)
    return config


def _check_ledger(ledger: LedgerConfig) -> None:
    if ledger.keep_months < 0:
        raise ConfigError("[ledger] keep_months: expected 0 or more")
    if not ledger.archive_dir.strip():
        raise ConfigError("[ledger] archive_dir: expected a directory")


def _currencies(raw: dict[str, Any]) -> tuple[str, ...]:
    """``[billing] currencies`` (or an older config's one ``currency``), checked; both are
    written back into ``raw`` so that the section reads them like any key."""
    billing = raw.get("billing", {})
    if not isinstance(billing, dict):
        return ("USD",)
    if "currencies" in billing and "currency" in billing:
        raise ConfigError(
            "[billing] currency: give currencies = [...] only (the first is the default)"
        )
    codes = billing.get("currencies", [billing.get("currency", "USD")])
    if not isinstance(codes, list) or not codes:
        raise ConfigError('[billing] currencies: expected a list of codes like ["USD", "CAD"]')
    for code in codes:
        if not isinstance(code, str) or len(code) != 3 or not code.isascii() or not code.isalpha():
            name = "currencies" if "currencies" in billing else "currency"
            raise ConfigError(f"[billing] {name}: expected 3-letter codes like USD")
    upper = tuple(code.upper() for code in codes)
    if len(set(upper)) != len(upper):
        raise ConfigError("[billing] currencies: each currency once")
    raw["billing"] = {**billing, "currencies": list(upper)}
    raw["billing"].pop("currency", None)
    return upper


def _build(
    cls: type, raw: Any, path: tuple[str, ...], env: Mapping[str, str], cur: tuple[str, ...]
) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{_name(path)}: expected a table")
    known = {f.name: f for f in fields(cls) if not f.metadata.get("internal")}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{_name((*path, key))}: unknown key")
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for name, spec in known.items():
        kind, key_path = hints[name], (*path, name)
        if isinstance(kind, type) and is_dataclass(kind) and kind is not Money:  # a section
            values[name] = kind(**_build(kind, raw.get(name, {}), key_path, env, cur))
            continue
        env_value = env.get(ENV_PREFIX + "_".join(key_path).upper()) if kind is Secret else None
        if env_value is not None:
            values[name] = Secret(env_value)
        elif name in raw:
            values[name] = _convert(kind, raw[name], key_path, cur, env)
        elif (default := _default(spec, kind, key_path, cur)) is not MISSING:
            values[name] = default
    return values


def _default(spec: Field[Any], kind: Any, key_path: tuple[str, ...], cur: tuple[str, ...]) -> Any:
    """The value of a key left out: the default currency, or it in a default amount,
    MISSING to let the dataclass fill it in; ConfigError if it has no default."""
    if spec.name == "currency":
        return cur[0]
    if spec.default is MISSING and spec.default_factory is MISSING:
        raise ConfigError(f"{_name(key_path)}: required")
    if kind is Money:
        return Money(spec.default.units, cur[0])  # type: ignore[union-attr]
    return MISSING


def _convert(
    kind: Any, value: Any, path: tuple[str, ...], cur: tuple[str, ...], env: Mapping[str, str]
) -> Any:
    where = _name(path)
    if kind is Money or kind == (Money | None):
        return _to_money(value, where, cur[0])
    origin = get_origin(kind)
    if origin is Literal:
        if value not in get_args(kind):
            raise ConfigError(f"{where}: expected {' or '.join(map(repr, get_args(kind)))}")
        return value
    item = get_args(kind)[0] if origin is tuple else None
    if isinstance(item, type) and is_dataclass(item):  # [[plans]], [[packs]]
        return _tables(item, value, path[-1], cur, env)
    if origin is tuple:
        return _tuple(item, value, where)
    if origin is Mapping and get_args(kind)[1] is Money:  # prices = { USD = "10", CAD = "13" }
        return _prices(value, where, cur)
    if origin is Mapping:  # a table of whole numbers, e.g. { sms = 20 }
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table like {{ sms = 20 }}")
        return {str(k): _to_scalar(int, v, f"{where}.{k}") for k, v in value.items()}
    return _to_scalar(kind, value, where)


def _tuple(item: Any, value: Any, where: str) -> tuple[Any, ...]:
    """A list of integers (``[cards] retry_days = [1, 3, 5]``) or of strings."""
    if item is int:
        return tuple(_to_scalar(int, v, where) for v in _listed(value, where, "integers"))
    if not all(isinstance(v, str) for v in _listed(value, where, "strings")):
        raise ConfigError(f"{where}: expected a list of strings")
    return tuple(value)


def _listed(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of {what}")
    return value


def _prices(value: Any, where: str, cur: tuple[str, ...]) -> dict[str, Money]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(f'{where}: expected a table like {{ USD = "10", CAD = "13" }}')
    prices = {}
    for code, amount in value.items():
        if code not in cur:
            raise ConfigError(f"{where}: {code!r} is not one of [billing] currencies")
        prices[code] = _to_money(amount, f"{where}.{code}", code)
    return prices


def _tables(
    kind: type, value: Any, section: str, cur: tuple[str, ...], env: Mapping[str, str]
) -> tuple[Any, ...]:
    """An array of tables, each named in errors by its id: ``[plans.basic] price: ...``."""
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ConfigError(f"[[{section}]]: expected tables, like [[{section}]] then id = ...")
    tables = []
    for number, item in enumerate(value, 1):
        label = item.get("id") if isinstance(item.get("id"), str) else f"#{number}"
        tables.append(kind(**_build(kind, item, (f"{section}.{label}",), env, cur)))
    return tuple(tables)


def _to_scalar(kind: Any, value: Any, where: str) -> Any:
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer")
        if value < 0:
            raise ConfigError(f"{where}: expected a number >= 0")
        return value
    expected = {str: "a string", bool: "a boolean", Secret: "a string"}[kind]
    if not isinstance(value, bool if kind is bool else str):
        raise ConfigError(f"{where}: expected {expected}")
    return Secret(str(value)) if kind is Secret else value


def _to_money(value: Any, where: str, currency: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f'{where}: expected an amount as a string like "20.50"')
    try:
        return parse_money(str(value), currency, allow_zero=True)
    except InvalidAmount as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _check_secrets(config: Config) -> None:
    required: list[tuple[str, Secret]] = [
        (
            "xmpp." + ("secret" if config.xmpp.mode == "component" else "password"),
            config.xmpp.secret if config.xmpp.mode == "component" else config.xmpp.password,
        ),
        ("web.link_secret", config.web.link_secret),
        ("gateway.token", config.gateway.token),
    ]
    stripe, btcpay = config.providers.stripe, config.providers.btcpay
    if stripe.enabled:
        required += [
            ("providers.stripe.webhook_secret", stripe.webhook_secret),
            ("providers.stripe.api_key", stripe.api_key),
        ]
    if btcpay.enabled:
        required += [
            ("providers.btcpay.webhook_secret", btcpay.webhook_secret),
            ("providers.btcpay.api_key", btcpay.api_key),
        ]
    for dotted, secret in required:
        if not secret:
            env_name = ENV_PREFIX + dotted.replace(".", "_").upper()
            raise ConfigError(
                f"{_name(tuple(dotted.split('.')))}: missing secret (or set {env_name})"
            )
    if btcpay.enabled and not (btcpay.api_base and btcpay.store_id):
        raise ConfigError("[providers.btcpay] api_base and store_id: required when enabled")


def _check_redis(redis: RedisConfig) -> None:
    scheme = redis.url.partition("://")[0]
    if scheme not in REDIS_SCHEMES:
        raise ConfigError(
            "[redis] url: expected redis://host:port/db or redis+cluster://host:port[,host:port]"
        )
    if not 1 <= redis.shards <= MAX_SHARDS:
        raise ConfigError(f"[redis] shards: expected 1 to {MAX_SHARDS}")


def _check_usage(usage: UsageConfig) -> None:
    """Resource names go into keys and ledger entries: lower-case words, each once."""
    names = usage.resources
    if not names or len(set(names)) != len(names):
        raise ConfigError("[usage] resources: expected a non-empty list of distinct names")
    for name in names:
        if not (name.isascii() and name[:1].isalpha() and name.replace("_", "").isalnum()):
            raise ConfigError(
                f"[usage] resources: {name!r} is not a name like sms or voice_minutes"
            )
        if name != name.lower() or len(name) > 32:
            raise ConfigError(
                f"[usage] resources: {name!r} is not a name like sms or voice_minutes"
            )
    for resource in usage.trial_allowances:
        if resource not in names:
            raise ConfigError(
                f"[usage] trial_allowances: {resource!r} is not one of [usage] resources"
            )
    if usage.credit_days < 1 or usage.max_events < 1 or usage.max_quantity < 1:
        raise ConfigError("[usage] credit_days, max_events and max_quantity: at least 1")
    if not 1 <= usage.late_days <= MAX_LATE_DAYS:
        raise ConfigError(f"[usage] late_days: from 1 to {MAX_LATE_DAYS}")


def _check_cards(cards: CardsConfig) -> None:
    days = cards.retry_days
    if any(d < 1 for d in days) or list(days) != sorted(set(days)):
        raise ConfigError("[cards] retry_days: expected increasing whole days, like [1, 3, 5]")
    if not cards.min_charge.units:
        raise ConfigError("[cards] min_charge: expected an amount above zero")


def _check_catalog(config: Config) -> None:
    """What the config alone can tell: each id once, resources the gateway meters.
    (Id syntax and the default plan are checked where the catalog is applied:
    ``payments/catalog/declared.py``.)"""
    resources = config.usage.resources
    for section, ids in (
        ("plans", [p.id for p in config.plans]),
        ("packs", [p.id for p in config.packs]),
    ):
        if len(set(ids)) != len(ids):
            twice = sorted({i for i in ids if ids.count(i) > 1})
            raise ConfigError(f"[[{section}]]: id {', '.join(twice)} is declared twice")
    for plan in config.plans:
        _check_prices(plan, "plans")
        for resource in plan.allowances:
            if resource not in resources:
                raise ConfigError(
                    f"[plans.{plan.id}] allowances: {resource!r} is not one of [usage] resources"
                )
    for pack in config.packs:
        _check_prices(pack, "packs")
        if pack.resource not in resources:
            raise ConfigError(
                f"[packs.{pack.id}] resource: {pack.resource!r} is not one of [usage] resources"
            )
        if pack.quantity < 1:
            raise ConfigError(f"[packs.{pack.id}] quantity: at least 1")


def _check_prices(offer: PlanDecl | PackDecl, section: str) -> None:
    """``price`` (the default currency) and ``prices`` together: at least one, no clash."""
    if offer.price is None and not offer.prices:
        raise ConfigError(f"[{section}.{offer.id}] price: required (or prices, per currency)")
    own = offer.prices.get(offer.price.currency) if offer.price is not None else None
    if own is not None and own != offer.price:
        raise ConfigError(f"[{section}.{offer.id}] prices: two prices in {own.currency}")


def _name(path: tuple[str, ...]) -> str:
    if not path:
        return "config"
    if len(path) == 1:
        return f"[{path[0]}]"
    return f"[{'.'.join(path[:-1])}] {path[-1]}"
