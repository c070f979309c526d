"""Moderating comments through Meta's Graph API, for the Facebook and Instagram sinks (outbox kind
`moderate`).

- Facebook comment: hide/unhide `POST /{comment-id}` with `is_hidden=true|false`, delete
  `DELETE /{comment-id}`; block the author from the Page `POST /{page-id}/blocked` with `user`
  (a list of ids; the answer maps each id to true).
- Instagram comment: hide/unhide `POST /{ig-comment-id}` with `hide=true|false`, delete
  `DELETE /{ig-comment-id}`. Instagram offers businesses no block API.
- Hide and unhide are idempotent; a delete retried after a lost answer finds the comment gone
  (Graph error code 100) and counts as done, so nothing is ever done twice.
"""

from __future__ import annotations

from typing import Any

from chatops.outbox import DeliveryError
from integrations.calls import NetworkAPI

# The body key that hides a comment, per network.
HIDE_FIELD = {"facebook": "is_hidden", "instagram": "hide"}
# Graph error code of an object that does not exist (or that we may no longer see).
GONE_CODE = 100


def _graph_error(response) -> dict[str, Any]:
    try:
        return (response.json() or {}).get("error") or {}
    except ValueError:
        return {}


def moderate(api: NetworkAPI, config, network: str, payload: dict[str, Any], *, in_doubt: bool) -> dict[str, Any]:
    """Do what `payload["action"]` asks for on the network; the outbox item's result."""
    action, comment = payload["action"], payload.get("comment_id")
    headers = config.headers()
    if action == "block":
        if network != "facebook":
            raise DeliveryError(f"{network} has no block API for businesses", permanent=True, answered=True)
        author = payload.get("author_id")
        if not author:
            raise DeliveryError("no author id to block", permanent=True, answered=True)
        data = api.call("POST", config.graph(f"{config.page_id}/blocked"), json={"user": [author]},
                        headers=headers).json()
        if data.get(str(author)) is not True:
            raise DeliveryError(f"{network} refused to block {author}: {data}", permanent=True, answered=True)
        return {"blocked": str(author)}
    if not comment:
        raise DeliveryError(f"no {network} comment to {action}", permanent=True, answered=True)
    if action in ("hide", "unhide"):
        data = api.call("POST", config.graph(comment), json={HIDE_FIELD[network]: action == "hide"},
                        headers=headers).json()
        if data.get("success") is False:
            raise DeliveryError(f"{network} refused to {action} the comment: {data}", permanent=True, answered=True)
        return {"comment_id": comment, "hidden": action == "hide"}
    if action == "delete":
        response = api.call("DELETE", config.graph(comment), headers=headers, refuse=(400, 404))
        if response.status_code in (400, 404):
            error = _graph_error(response)
            if in_doubt and error.get("code") == GONE_CODE:
                return {"comment_id": comment, "deleted": True, "found_on_retry": True}
            raise DeliveryError(f"{network} refused the request ({response.status_code}): "
                                f"{response.text[:300]}", permanent=True, answered=True)
        return {"comment_id": comment, "deleted": True}
    raise DeliveryError(f"unknown moderation action {action!r}", permanent=True, answered=True)
