"""Customers' media that only the brand account's credentials can fetch (LINE keeps a user's
images, videos, audio and files behind the channel token), shown to agents through
`GET /media/<network>?account=…&ref=…&sig=…`: chatops fetches the content with that account's
credentials and streams it back, so Slack's image blocks, Teams' Image elements and the agents'
links open it.

- On only with `CHATOPS_PUBLIC_URL` (Slack and Teams fetch images from the public address) and
  `CHATOPS_MEDIA_SECRET`; without them an attachment shows its content id, as before.
- A link is signed (HMAC-SHA256 of network, account and content id), so only links chatops wrote
  are served. Like the networks' own media URLs it does not expire; it stops working when the
  network drops the content (LINE keeps it for a limited time), and the page says so.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request

from chatops.i18n import t
from chatops.inbound import NETWORK_NAMES
from chatops.outbox import DeliveryError

log = logging.getLogger("chatops.media")

PATH = "/media/<network>"
CHUNK = 64 * 1024
# What the browser may do with fetched content: show images, audio and video; download the rest.
INLINE = ("image/", "video/", "audio/")


class MediaLinks:
    """Signs and checks the `/media/...` links of one deployment."""

    def __init__(self, public_url: str, secret: str) -> None:
        self.base = public_url.rstrip("/")
        self.key = secret.encode()

    @classmethod
    def from_settings(cls, settings) -> MediaLinks | None:
        """Links when the public address and the signing key are set, else None."""
        if not settings.public_url or settings.media_secret is None:
            return None
        return cls(settings.public_url, settings.media_secret.get_secret_value())

    def signature(self, network: str, account: str, ref: str) -> str:
        """The link's signature: it binds the content id to the account that may fetch it."""
        return hmac.new(self.key, f"{network}\n{account}\n{ref}".encode(), hashlib.sha256).hexdigest()[:32]

    def url(self, network: str, account: str, ref: str) -> str:
        """The public link to one stored media item."""
        query = urlencode({"account": account, "ref": ref, "sig": self.signature(network, account, ref)})
        return f"{self.base}/media/{network}?{query}"

    def valid(self, network: str, account: str, ref: str, sig: str | None) -> bool:
        """Whether `sig` is this deployment's signature of the item."""
        expected = self.signature(network, account, ref).encode()
        return bool(sig) and hmac.compare_digest(expected, sig.encode("utf-8", "replace"))


def mount_media(app: Flask, runtime, networks, metrics) -> None:
    """`GET /media/<network>` when media links are on."""
    # Here, not at import: chatops.webhooks loads prometheus_client, which must not be imported
    # before `serve --workers` sets PROMETHEUS_MULTIPROC_DIR (the registry imports this module).
    from chatops.webhooks import language_of

    links = MediaLinks.from_settings(runtime.settings)
    if links is None:
        return
    counted = metrics.media_requests

    def refuse(label: str, status: int, key: str, **params):
        counted.labels(label, str(status)).inc()
        return jsonify(ok=False, error=t(key, language_of(request.environ), **params)), status

    @app.get(PATH)
    def media(network: str):
        name = NETWORK_NAMES.get(network, network)
        account, ref = request.args.get("account", ""), request.args.get("ref", "")
        if not (account and ref and links.valid(network, account, ref, request.args.get("sig"))):
            return refuse(network, 403, "media.bad_link")
        try:
            upstream = networks.fetch_media(network, account, ref)
        except DeliveryError as exc:  # refused or unreachable: health counts the account's refusals
            log.warning("media %s %s %s: %s", network, account, ref, exc)
            return refuse(network, 502, "media.upstream", network=name, message=str(exc)[:200])
        if upstream is None:
            return refuse(network, 404, "media.no_account", network=name, account=account)
        if upstream.status_code == 404:
            upstream.close()
            return refuse(network, 404, "media.gone", network=name)
        if upstream.status_code == 202:  # LINE is still preparing a video or audio file
            upstream.close()
            return refuse(network, 503, "media.preparing", network=name)
        counted.labels(network, "200").inc()
        content_type = upstream.headers.get("Content-Type", "application/octet-stream")
        headers = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff",
                   "Content-Disposition": "inline" if content_type.startswith(INLINE) else "attachment"}
        if upstream.headers.get("Content-Length"):
            headers["Content-Length"] = upstream.headers["Content-Length"]

        def body():
            try:
                yield from upstream.iter_content(CHUNK)
            finally:
                upstream.close()

        return Response(body(), status=200, content_type=content_type, headers=headers)
