"""Process logging: plain text or one JSON object per line (`CHATOPS_LOG_FORMAT=json`), with the
ticket key as a field where a line is about a ticket, and every configured secret redacted from
whatever is logged — messages, arguments, tracebacks."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

from chatops.settings import Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
MASK = "**********"


class RedactSecrets(logging.Filter):
    """Replaces the values of secret settings in a record's rendered message and traceback."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        # Short values would mask innocent text; real tokens and secrets are long.
        self.secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        for secret in self.secrets:
            message = message.replace(secret, MASK)
            if record.exc_text:
                record.exc_text = record.exc_text.replace(secret, MASK)
        # Formatters render exc_text (now redacted) when exc_info is gone.
        record.msg, record.args, record.exc_info = message, None, None
        return True


def secret_values(settings: Settings) -> list[str]:
    """The values of every SecretStr setting, and the database password."""
    values = [value.get_secret_value() for value in settings.__dict__.values()
              if hasattr(value, "get_secret_value") and value is not None]
    password = settings.database_password()
    return values + ([password] if password else [])


def configure(settings: Settings) -> None:
    """Set up the root logger once for a process (`chatops serve`)."""
    handler = logging.StreamHandler()
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                           rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                                           json_ensure_ascii=False))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RedactSecrets(secret_values(settings)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # APScheduler logs every run of the SLA job (every few seconds) at INFO; keep that for DEBUG.
    if logging.getLevelName(settings.log_level) > logging.DEBUG:
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        # waitress warns "Task queue depth is N" on every request that finds all threads busy:
        # under a flood, a line per webhook. Ingest latency is in /metrics.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
