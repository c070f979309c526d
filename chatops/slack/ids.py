"""Every action id, callback id and block id the Slack surface uses, in one place."""

# Buttons and menus on a ticket's parent message (value: the ticket key).
CLAIM = "ticket.claim"
RELEASE = "ticket.release"
REPLY = "ticket.reply"
ESCALATE = "ticket.escalate"
RESOLVE = "ticket.resolve"
REOPEN = "ticket.reopen"
MENU = "ticket.menu"  # overflow: pending, priority:<name>, tags, customer
OPEN_TICKET = "home.open"  # a Home tab row's button: show the ticket's actions
# Buttons on a failed reply (its thread line, the Home tab); value: "<ticket key>:<message id>".
REPLY_RETRY = "reply.retry"
REPLY_EDIT = "reply.edit"

# Modals (callback ids); private_metadata carries the ticket key.
REPLY_VIEW = "view.reply"
ESCALATE_VIEW = "view.escalate"
RESOLVE_VIEW = "view.resolve"
TAGS_VIEW = "view.tags"
CUSTOMER_VIEW = "view.customer"

# Blocks and actions inside modals.
CANNED_BLOCK = "canned"
CANNED_SELECT = "reply.canned"
TEXT_BLOCK = "text"  # a suffix is added when a canned reply refills the box
TEXT_INPUT = "text.input"
LEVEL_BLOCK = "level"
LEVEL_SELECT = "level.select"
NOTE_BLOCK = "note"
NOTE_INPUT = "note.input"
ASSIGNEE_BLOCK = "assignee"
ASSIGNEE_SELECT = "assignee.select"
TAGS_BLOCK = "tags"
TAGS_INPUT = "tags.input"
CUSTOMER_FLAG = "customer.flag"  # + ".<flag>"; value "<flag>:on|off:<ticket key>"
CUSTOMER_FLAG_BLOCK = "customer.flags"

TICKET_COMMAND = "/ticket"
