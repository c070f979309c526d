"""A rules.yaml problem that any surface can say in ja or en.

Validators raise `RulesProblem` (a ValueError, so pydantic reports it as a value error and
keeps the instance); cross-section checks return it; the loader renders it in the reader's
language. The key names a string `rules.<key>` in chatops/locales/rules.<lang>.json.
"""

from __future__ import annotations

from chatops.i18n import t


class RulesProblem(ValueError):
    """One problem with its message key and parameters; str() is the English text."""

    def __init__(self, key: str, /, **params: object) -> None:
        self.key, self.params = key, params
        super().__init__(self.render("en"))

    def render(self, lang: str | None) -> str:
        """The message in `lang`; a parameter that is itself a problem (or ByLanguage) is rendered alike."""
        params = {name: (value.render(lang) if isinstance(value, RulesProblem | ByLanguage) else value)
                  for name, value in self.params.items()}
        return t(f"rules.{self.key}", lang, **params)


class ByLanguage:
    """A parameter whose text differs by language, such as a library's English message that a
    Japanese sentence leaves out (`in_english`)."""

    __slots__ = ("en", "ja")

    def __init__(self, *, en: str, ja: str) -> None:
        self.en, self.ja = en, ja

    def render(self, lang: str | None) -> str:
        """The text for `lang` (English for any language but Japanese)."""
        return self.ja if lang == "ja" else self.en


def in_english(text: object) -> ByLanguage:
    """A detail only English words exist for (PyYAML's, pydantic's, the re module's): said in
    English, left out of the Japanese sentence, which says the same in its own words."""
    return ByLanguage(en=str(text), ja="")


def what(name: str) -> RulesProblem:
    """A noun such as 'a priority', said in the reader's language."""
    return RulesProblem(f"what.{name}")
