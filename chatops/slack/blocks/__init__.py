"""Block Kit, built only here: pure functions from domain data to Slack dicts."""

from chatops.slack.blocks.common import escape
from chatops.slack.blocks.home import FailedReply, home_view, ticket_list, ticket_row
from chatops.slack.blocks.modals import (
    CustomerSummary,
    customer_modal,
    escalate_modal,
    message_modal,
    reply_confirm_modal,
    reply_modal,
    resolve_modal,
    tags_modal,
    ticket_modal,
)
from chatops.slack.blocks.ticket import (
    customer_line,
    event_line,
    failed_reply_actions,
    issue_failed_message,
    linked_ticket_line,
    reply_failed_line,
    reply_line,
    reply_sent_line,
    reply_state_message,
    ticket_actions,
    ticket_message,
)

__all__ = ["CustomerSummary", "customer_modal", "ticket_modal", "customer_line", "escalate_modal", "escape", "event_line", "home_view", "linked_ticket_line", "message_modal",
           "reply_failed_line", "reply_line", "reply_sent_line", "reply_confirm_modal", "reply_modal", "resolve_modal", "tags_modal", "ticket_actions", "ticket_list",
           "ticket_message", "ticket_row", "FailedReply", "failed_reply_actions", "reply_state_message",
           "issue_failed_message"]
