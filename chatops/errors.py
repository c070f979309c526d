"""Domain errors. Each carries a message key and parameters so any surface can show it in ja or en."""

from __future__ import annotations

from pydantic import ValidationError

from chatops.i18n import t


def validation_problems(error: ValidationError, whole: str) -> list[tuple[str, str]]:
    """(field path, message) per problem, e.g. ("author.id", "Field required"); `whole` names
    the input itself when a problem has no field (e.g. "(body)")."""
    return [(".".join(str(part) for part in problem["loc"]) or whole,
             problem["msg"].removeprefix("Value error, "))  # our own validators' words, as written
            for problem in error.errors()]


class DomainError(Exception):
    """A refused action, explained to the person who asked for it."""

    key = "error.generic"

    def __init__(self, **params: object) -> None:
        self.params = params
        super().__init__(self.message("en"))

    def message(self, lang: str | None = None) -> str:
        """The explanation in `lang` (ja or en)."""
        return t(self.key, lang, **self.params)


class TicketNotFound(DomainError):
    """No ticket has this key."""

    key = "error.ticket_not_found"


class AlreadyClaimed(DomainError):
    """Someone else owns the ticket."""

    key = "error.already_claimed"


class NotClaimedByYou(DomainError):
    """Only the owner may release a ticket."""

    key = "error.not_claimed_by_you"


class InvalidTransition(DomainError):
    """The ticket's status does not allow this action."""

    key = "error.invalid_transition"


class NoteRequired(DomainError):
    """Escalation needs a hand-off note."""

    key = "error.note_required"


class InvalidValue(DomainError):
    """A priority, level, tag or similar value that rules.yaml does not define."""

    key = "error.invalid_value"


class EscalationNotUpward(DomainError):
    """Escalation must go to a higher level."""

    key = "error.escalation_not_upward"


class EmptyText(DomainError):
    """A reply or note without text; `what` ("reply" or "note") picks the sentence, since the
    word itself must be translated too."""

    key = "error.empty_text"

    def __init__(self, **params: object) -> None:
        super().__init__(**params)
        if params.get("what") in ("reply", "note"):
            self.key = f"error.empty_{params['what']}"


class ReplyTooLong(DomainError):
    """The reply is longer than the network allows (the message names the unit it counts in)."""

    key = "error.reply_too_long"

    def __init__(self, **params: object) -> None:
        unit = params.pop("unit", None)
        if unit and unit != "characters":
            self.key = f"error.reply_too_long_{unit}"
        super().__init__(**params)


class PermissionDenied(DomainError):
    """The person lacks the role an action needs."""

    key = "error.permission_denied"


class ReplyNotFailed(DomainError):
    """Retry of a reply that was sent, or is already being sent again."""

    key = "error.reply_not_failed"


class ReplySuperseded(DomainError):
    """Retry of a failed reply after a later reply reached (or is on its way to) the customer:
    sending the old text now would answer them twice."""

    key = "error.reply_superseded"


class TrackerNotConfigured(DomainError):
    """An issue was asked for, but no issue tracker (Jira, GitHub) is set up."""

    key = "tracker.none"
