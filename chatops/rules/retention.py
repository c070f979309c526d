"""rules.yaml `retention:` how long customers' words are kept (chatops.customers.retention)."""

from typing import Literal

from pydantic import Field

from chatops.rules.section import Section


class RetentionConfig(Section):
    """Customer text older than `customer_text_days` (absent: kept) is erased — the text goes,
    who wrote and when stay — or anonymised — the author's handle, name and id go too."""

    customer_text_days: int | None = Field(None, ge=1, le=36500)
    mode: Literal["erase", "anonymise"] = "anonymise"

    @property
    def active(self) -> bool:
        """Whether the scheduler's retention pass has anything to do."""
        return self.customer_text_days is not None
