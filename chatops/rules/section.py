"""The base of every rules.yaml model, and the bilingual text most sections use."""

from pydantic import BaseModel, ConfigDict

from chatops.rules.fields import NonEmpty


class Section(BaseModel):
    """Base of every rules.yaml model: unknown keys are errors, loaded values are read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Localized(Section):
    """A text in Japanese and English."""

    ja: NonEmpty
    en: NonEmpty

    def get(self, language: str) -> str:
        """Return the text in language ('ja' or 'en'), English for anything else."""
        return self.ja if language == "ja" else self.en
