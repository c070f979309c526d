"""A Slack Web API emulator: the methods chatops calls, on Slack's wire format, over an
in-memory workspace. The sandbox serves it to the real Bolt app at `/sandbox/api/`; tests serve
it on 127.0.0.1 as their fake Slack. It holds no test code: both use the same answers."""

from chatops.slack.emulator.methods import METHODS, Context, dispatch
from chatops.slack.emulator.state import Call, Ephemeral, Message, User, Workspace, is_member_id, usergroup
from chatops.slack.emulator.wsgi import blueprint, make_app

__all__ = ["METHODS", "Call", "Context", "Ephemeral", "Message", "User", "Workspace", "blueprint", "dispatch",
           "is_member_id", "make_app", "usergroup"]
