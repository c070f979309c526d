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

# Modals (callback ids); private_metadata carries the ticket key (the Reply modal: JSON with
# the key and the collision guard's state, chatops.slack.blocks.modals.reply_metadata).
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
CUSTOMER_TIER = "customer.tier"  # static select; option value "<tier>:<ticket key>"
CUSTOMER_TIER_BLOCK = "customer.tier"
RECENT_BLOCK = "reply.recent"  # other agents' replies of the last minutes
COLLISION_BLOCK = "reply.collision"  # the reply someone else sent while the modal was open

TICKET_COMMAND = "/ticket"

# Creating a tracker issue from a ticket (the overflow's "issue::<key>", `/ticket issue`);
# the modal's private_metadata is JSON {"key", "tracker"} (tracker: the one chosen beforehand).
ISSUE_VIEW = "view.issue"
ISSUE_SUMMARY_BLOCK = "issue.summary"
ISSUE_SUMMARY_INPUT = "issue.summary.input"
ISSUE_TRACKER_BLOCK = "issue.tracker"
ISSUE_TRACKER_SELECT = "issue.tracker.select"
ISSUE_RETRY = "issue.retry"  # on a refused issue's thread line; value "<ticket key>:<tracker>"

CUSTOMER_LINK = "customer.link"  # plain-text input (dispatch on Enter): the key of the record to link
CUSTOMER_LINK_BLOCK = "customer.link"
CUSTOMER_UNLINK = "customer.unlink"  # button; value "<customer id>:<linked id>:<ticket key>"
CUSTOMER_LINKED_BLOCK = "customer.linked"
LINK_SUGGESTED = "customer.link_suggested"  # + ".<candidate id>"; value "<customer id>:<candidate id>"

MODERATE_VIEW = "view.moderate"
MODERATE_ACTION_BLOCK = "moderate.action"
MODERATE_ACTION_SELECT = "moderate.action.select"
MODERATE_CONFIRM_BLOCK = "moderate.confirm"
MODERATE_CONFIRM_INPUT = "moderate.confirm.input"

# Saved views on the Home tab (value: the saved view's id; NEW and CLOSE: none). The modal's
# private_metadata is the id of the view edited ("" for a new one).
SAVED_SHOW = "home.saved.show"
SAVED_NEW = "home.saved.new"
SAVED_EDIT = "home.saved.edit"
SAVED_DELETE = "home.saved.delete"
SAVED_CLOSE = "home.saved.close"
SAVED_VIEW = "view.saved"
SAVED_NAME_BLOCK = "saved.name"
SAVED_NAME_INPUT = "saved.name.input"
SAVED_CHANNELS_BLOCK = "saved.channels"
SAVED_PRIORITIES_BLOCK = "saved.priorities"
SAVED_TAGS_BLOCK = "saved.tags"
SAVED_LEVELS_BLOCK = "saved.levels"
SAVED_STATUSES_BLOCK = "saved.statuses"
SAVED_ASSIGNEE_BLOCK = "saved.assignee"
SAVED_OVERDUE_BLOCK = "saved.overdue"
SAVED_INPUT = "saved.input"  # the one element of each filter block
