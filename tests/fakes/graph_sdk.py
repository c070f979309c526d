"""What Meta's own Business SDK (facebook-business, a dev dependency) says a moderation call
looks like: method, path and the types of its parameters, to check what chatops sent the fake
Graph API against."""

from __future__ import annotations

from facebook_business.adobjects.comment import Comment
from facebook_business.adobjects.igcomment import IGComment
from facebook_business.adobjects.page import Page
from facebook_business.api import FacebookAdsApi
from facebook_business.session import FacebookSession

_API = FacebookAdsApi(FacebookSession(access_token="unused"))


def sdk_request(network: str, action: str, node: str, body: dict):
    """The SDK's pending request for one moderation call (nothing is sent)."""
    if action == "block":
        return Page(node, api=_API).create_blocked(params=body, pending=True)
    cls = Comment if network == "facebook" else IGComment
    if action == "delete":
        return cls(node, api=_API).api_delete(pending=True)
    return cls(node, api=_API).api_update(params=body, pending=True)


def sdk_problems(network: str, action: str, call, version: str = "/v21.0") -> list[str]:
    """How a recorded call differs from the SDK's request: method, path, unknown or mistyped parameters."""
    node, _, edge = call.path.removeprefix(version + "/").partition("/")
    body = call.json() if call.body else {}
    request = sdk_request(network, action, node, body)
    problems = []
    if request._method != call.method:
        problems.append(f"method {call.method}, the SDK uses {request._method}")
    if (request._node_id, request._endpoint.strip("/")) != (node, edge):
        problems.append(f"path {call.path}, the SDK uses /{request._node_id}/{request._endpoint.strip('/')}")
    checker = request._param_checker
    for key, value in body.items():
        if not checker.is_valid_key(key):
            problems.append(f"{key}: not a parameter of this call")
        elif not checker.is_type(checker.get_type(key), value):
            problems.append(f"{key}: {value!r} is not {checker.get_type(key)}")
    return problems
