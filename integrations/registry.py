"""Which networks this deployment has enabled (from their settings), and their parts: webhook
sources, reply sinks (outbox deliverers) and pollers. `chatops integrations check` reports it.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from chatops.errors import validation_problems
from integrations.base import WebhookSource
from integrations.calls import NetworkAPI
from integrations.http import make_http_session
from integrations.network import NetworkSink, Poller
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

    def api(self, network: str, account: str) -> NetworkAPI:
        """An API client for one account, with health tracking."""
        return NetworkAPI(network, account, self.http_factory(), self.health)


@dataclass
class Parts:
    """What one enabled network brings."""

    sink: NetworkSink | None = None
    pollers: list[Poller] = field(default_factory=list)
    webhook: WebhookSource | None = None


def load_configs(env_file: str | None = ".env") -> dict[str, BaseSettings]:
    """Every network's settings from the environment; NetworkSettingsError names bad values."""
    configs, problems = {}, []
    for name, (module_name, class_name) in MODULES.items():
        cls = getattr(importlib.import_module(module_name), class_name)
        try:
            configs[name] = cls(_env_file=env_file)
        except ValidationError as exc:
            prefix = cls.model_config.get("env_prefix", "")
            problems += [f"{prefix}{field.upper()}: {message}"
                         for field, message in validation_problems(exc, "(settings)")]
    if problems:
        raise NetworkSettingsError(problems)
    return configs


class Networks:
    """The enabled networks and their parts, built once per process."""

    def __init__(self, configs: dict[str, BaseSettings], context: Context) -> None:
        self.configs = configs
        self.context = context
        self.parts: dict[str, Parts] = {}
        for name, config in configs.items():
            if getattr(config, "enabled", False):
                module = importlib.import_module(MODULES[name][0])
                self.parts[name] = module.build(config, context)

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
                   Context(store, health, keywords, http_factory))

    def webhook_sources(self) -> dict[str, WebhookSource]:
        """`/webhooks/<name>` endpoints of the enabled networks."""
        return {name: parts.webhook for name, parts in self.parts.items() if parts.webhook}

    def sinks(self) -> dict[str, NetworkSink]:
        """Outbox deliverers by target (`network:<name>`)."""
        return {parts.sink.target: parts.sink for parts in self.parts.values() if parts.sink}

    def pollers(self) -> list[Poller]:
        """Every polled feed of the enabled networks."""
        return [poller for parts in self.parts.values() for poller in parts.pollers]

    def check(self) -> list[dict[str, Any]]:
        """Per network: configured?, and when it is, whether its API answers our credentials."""
        report = []
        for name, config in self.configs.items():
            entry: dict[str, Any] = {"network": name, "configured": name in self.parts,
                                     "account": getattr(config, "account", None)}
            if name in self.parts:
                module = importlib.import_module(MODULES[name][0])
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
