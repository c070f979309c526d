"""Which networks this deployment has enabled (from their settings), and their parts: webhook
sources, reply sinks (outbox deliverers) and pollers. `chatops integrations check` reports it.

A network may have several brand accounts: the flat settings (`LINE_CHANNEL_SECRET`, ...) are
one, and `<PREFIX>ACCOUNTS` (a JSON list of objects with the same fields, lower case) adds more;
an entry takes what the network's accounts share (an app secret, an API base: each config's
`shared`) from the flat settings, never another account's credentials. Each account gets its own parts; the network's sink sends each reply from the account
its ticket arrived on, and its webhook tells the accounts apart (integrations.base.WebhookSource).
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import requests
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from chatops.errors import validation_problems
from integrations.base import WebhookSource
from integrations.calls import NetworkAPI
from integrations.http import make_http_session
from integrations.media import MediaLinks
from integrations.network import AccountSinks, NetworkSink, Poller
from integrations.state import Health, StateStore

# network name -> (module, config class name); Facebook and Instagram share META_* settings.
MODULES = {
    "x": ("integrations.x", "XConfig"),
    "facebook": ("integrations.facebook", "FacebookConfig"),
    "instagram": ("integrations.instagram", "InstagramConfig"),
    "line": ("integrations.line", "LineConfig"),
    "mastodon": ("integrations.mastodon", "MastodonConfig"),
    "bluesky": ("integrations.bluesky", "BlueskyConfig"),
}


class NetworkSettingsError(Exception):
    """A network's settings are present but invalid: `problems` name the variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class Context:
    """What network parts need from the runtime."""

    store: StateStore
    health: Health
    keywords: dict[str, list[str]]
    http_factory: Callable[[], requests.Session] = make_http_session
    media: MediaLinks | None = None  # links to media only an account's credentials fetch

    def api(self, network: str, account: str) -> NetworkAPI:
        """An API client for one account, with health tracking."""
        module = importlib.import_module(MODULES[network][0]) if network in MODULES else None
        return NetworkAPI(network, account, self.http_factory(), self.health,
                          classify=getattr(module, "classify_error", None))


@dataclass
class Parts:
    """What one enabled network brings."""

    sink: NetworkSink | None = None
    pollers: list[Poller] = field(default_factory=list)
    webhook: WebhookSource | None = None


def _problems(exc: ValidationError, prefix: str, where: str = "") -> list[str]:
    problems = []
    for path, message in validation_problems(exc, "(settings)"):
        name, _, rest = path.partition(".")
        number, _, inner = rest.partition(".")
        if not where and name == "accounts" and number.isdigit():
            # An entry of <PREFIX>ACCOUNTS is named as accounts_of names it, counted from 1.
            path = f"ACCOUNTS[{int(number) + 1}]" + (f".{inner}" if inner else "")
        elif not where:
            path = path.upper()
        problems.append(f"{prefix}{where}{path}: {message}")
    return problems


def load_configs(env_file: str | None = ".env") -> dict[str, BaseSettings]:
    """Every network's settings from the environment; NetworkSettingsError names bad values
    (`LINE_CHANNEL_SECRET: ...`, `LINE_ACCOUNTS[2].channel_secret: ...`)."""
    configs, problems = {}, []
    for name, (module_name, class_name) in MODULES.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        prefix = cls.model_config.get("env_prefix", "")
        try:
            configs[name] = cls(_env_file=env_file)
        except ValidationError as exc:
            problems += _problems(exc, prefix)
            continue
        except SettingsError as exc:  # e.g. <PREFIX>ACCOUNTS is not JSON
            problems.append(f"{prefix}ACCOUNTS: {exc.__cause__ or exc}")
            continue
        try:
            accounts_of(configs[name])
        except NetworkSettingsError as exc:
            problems += exc.problems
    if problems:  # Facebook and Instagram read the same META_* settings: each problem once
        raise NetworkSettingsError(list(dict.fromkeys(problems)))
    return configs


def accounts_of(config: BaseSettings) -> list[BaseSettings]:
    """The network's enabled brand accounts: the flat settings (when complete) and each entry of
    `accounts`, every one a settings object of its own; NetworkSettingsError names an entry's
    bad field, one that is incomplete, and an account name or webhook id (`routed_by`) used twice."""
    cls, prefix = type(config), type(config).model_config.get("env_prefix", "")
    found = [config] if getattr(config, "enabled", False) else []
    base = config.model_dump(include=set(getattr(cls, "shared", ())))
    defaults = {name: info.get_default(call_default_factory=True) for name, info in cls.model_fields.items()}
    problems = []
    for number, entry in enumerate(getattr(config, "accounts", None) or [], start=1):
        where = f"ACCOUNTS[{number}]."
        if not isinstance(entry, dict):
            problems.append(f"{prefix}ACCOUNTS[{number}]: an object of settings, not {type(entry).__name__}")
            continue
        if hasattr(cls, "takes") and not cls.takes(entry):
            continue  # another network's entry of shared settings (a Page without Instagram)
        unknown = sorted(set(entry) - set(cls.model_fields) | ({"accounts"} & set(entry)))
        if unknown:
            problems.append(f"{prefix}{where}{unknown[0]}: not a setting of {prefix}* "
                            f"(known: {', '.join(f for f in cls.model_fields if f != 'accounts')})")
            continue
        try:
            # Every field given, so nothing of the flat settings' environment leaks into the entry.
            account = cls(_env_file=None, **{**defaults, **base, **entry, "accounts": []})
        except ValidationError as exc:
            problems += _problems(exc, prefix, where)
            continue
        if not getattr(account, "enabled", False):
            problems.append(f"{prefix}ACCOUNTS[{number}]: incomplete ({account.missing()})")
            continue
        found.append(account)
    names = [account.account for account in found]
    problems += [f"{prefix}ACCOUNTS: account {name!r} is configured twice" for name in sorted(set(names))
                 if names.count(name) > 1]
    key = getattr(cls, "routed_by", None)
    if key:  # the webhook tells accounts apart by this id: a repeated one would take the other's messages
        ids = [getattr(account, key) for account in found]
        problems += [f"{prefix}ACCOUNTS: {key} {ident!r} is configured twice (as "
                     f"{', '.join(repr(a.account) for a in found if getattr(a, key) == ident)})"
                     for ident in sorted(set(ids)) if ids.count(ident) > 1]
    if problems:
        raise NetworkSettingsError(problems)
    return found


class Networks:
    """The enabled networks and their parts, built once per process."""

    def __init__(self, configs: dict[str, BaseSettings], context: Context) -> None:
        self.configs = configs
        self.context = context
        self.parts: dict[str, Parts] = {}
        # network -> its accounts' settings, in the order configured (the flat settings first)
        self.accounts: dict[str, list[BaseSettings]] = {}
        for name, config in configs.items():
            accounts = accounts_of(config)
            if not accounts:
                continue
            module = importlib.import_module(MODULES[name][0])
            self.accounts[name] = accounts
            # A keyword match is addressed to no account: the first account alone searches for it.
            quiet = replace(context, keywords={})
            self.parts[name] = self._combine(name, [module.build(account, context if number == 0 else quiet)
                                                    for number, account in enumerate(accounts)])

    def _combine(self, name: str, parts: list[Parts]) -> Parts:
        """One network's parts over its accounts: one outbox target, one webhook, every poller."""
        hooks = [part.webhook for part in parts if part.webhook]
        if len(parts) == 1:
            # A network's webhook checks the account even when there is one: an app may also be
            # subscribed for a Page or user this deployment does not have.
            if hooks and type(hooks[0]).for_accounts is not WebhookSource.for_accounts:
                hooks[0].for_accounts(hooks, self.context.health.unknown_account)
            return parts[0]
        sinks = [part.sink for part in parts if part.sink]
        try:
            webhook = hooks[0].for_accounts(hooks, self.context.health.unknown_account) if hooks else None
        except ValueError as exc:
            prefix = type(self.configs[name]).model_config.get("env_prefix", "")
            raise NetworkSettingsError([f"{prefix}ACCOUNTS: {exc}"]) from None
        pollers = [poller for part in parts for poller in part.pollers]
        for poller in pollers:  # what one account finds of another is the brand speaking, not a customer
            poller.for_accounts(pollers)
        return Parts(sink=AccountSinks(name, sinks) if sinks else None, webhook=webhook, pollers=pollers)

    @classmethod
    def for_runtime(cls, runtime, configs: dict[str, BaseSettings] | None = None,
                    http_factory: Callable[[], requests.Session] = make_http_session) -> Networks:
        """Networks over a runtime's database and rules (configs from the environment by default)."""
        rules = runtime.rules
        channel = rules.defaults.channel
        store = StateStore(runtime.session_factory)
        health = Health(store, alert_channel=channel, slack_channel=rules.channels[channel].slack)
        keywords = {source: list(words) for source, words in (rules.keywords or {}).items()}
        return cls(configs if configs is not None else load_configs(),
                   Context(store, health, keywords, http_factory, MediaLinks.from_settings(runtime.settings)))

    def webhook_sources(self) -> dict[str, WebhookSource]:
        """`/webhooks/<name>` endpoints of the enabled networks."""
        return {name: parts.webhook for name, parts in self.parts.items() if parts.webhook}

    def sinks(self) -> dict[str, NetworkSink]:
        """Outbox deliverers by target (`network:<name>`)."""
        return {parts.sink.target: parts.sink for parts in self.parts.values() if parts.sink}

    def pollers(self) -> list[Poller]:
        """Every polled feed of the enabled networks."""
        return [poller for parts in self.parts.values() for poller in parts.pollers]

    def fetch_media(self, network: str, account: str, ref: str) -> requests.Response | None:
        """The network's streamed answer for one media item of `account` (a DeliveryError when
        it refuses), None when no configured account or network fetches media by reference."""
        config = next((c for c in self.accounts.get(network, ()) if c.account == account), None)
        fetch = getattr(importlib.import_module(MODULES[network][0]), "fetch_media", None) if config else None
        if fetch is None:
            return None
        return fetch(config, self.context.api(network, account), ref)

    def check(self) -> list[dict[str, Any]]:
        """Per network and account: configured?, and when it is, whether its API answers our credentials."""
        report = []
        for name in self.configs:
            if name not in self.accounts:
                report.append({"network": name, "configured": False, "account": None})
                continue
            module = importlib.import_module(MODULES[name][0])
            for config in self.accounts[name]:
                entry: dict[str, Any] = {"network": name, "configured": True, "account": config.account}
                try:
                    probe, api = module.probe, self.context.api(name, config.account)
                    # a probe that keeps state (X's rotating refresh token) takes the context
                    wants_context = "context" in inspect.signature(probe).parameters
                    entry["detail"] = probe(config, api, context=self.context) if wants_context else probe(config, api)
                    entry["reachable"] = True
                except Exception as exc:  # any failure is the answer we report
                    entry["reachable"], entry["detail"] = False, str(exc)[:300]
                report.append(entry)
        return report


def networks_of(runtime) -> Networks:
    """The runtime's networks, built from the environment on first use."""
    networks = getattr(runtime, "networks", None)
    if networks is None:
        networks = Networks.for_runtime(runtime)
        runtime.networks = networks
    return networks
