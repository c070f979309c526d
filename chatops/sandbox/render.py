"""Block Kit to HTML, the way Slack draws it, for the sandbox page: sections, fields, context,
headers, dividers, actions (buttons, static selects, overflow menus, user pickers), inputs in
modals, and attachments with their colour bar. mrkdwn (bold, italic, strike, code, quotes,
links, mentions, emoji) becomes HTML; everything else is escaped.

Interactive elements carry `data-*` attributes (action id, block id, value) that the page sends
back to `/sandbox/act`, which turns them into the payload Slack would send.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

from chatops.i18n import t

EMOJI = {
    "red_circle": "🔴", "large_orange_circle": "🟠", "large_green_circle": "🟢", "orange_circle": "🟠",
    "green_circle": "🟢", "large_yellow_circle": "🟡", "warning": "⚠️", "no_entry": "⛔",
    "white_check_mark": "✅", "speech_balloon": "💬", "outbox_tray": "📤", "rotating_light": "🚨",
    "hourglass_flowing_sand": "⏳", "hourglass": "⌛", "clock3": "🕒", "arrow_double_up": "⏫",
    "arrow_up": "⬆️", "arrows_counterclockwise": "🔄", "bell": "🔔", "bust_in_silhouette": "👤",
    "label": "🏷️", "leftwards_arrow_with_hook": "↩️", "raising_hand": "🙋", "recycle": "♻️",
    "pager": "📟", "fire": "🔥", "memo": "📝", "inbox_tray": "📥", "bar_chart": "📊", "eyes": "👀",
    "zzz": "💤", "calendar": "📆", "busts_in_silhouette": "👥", "link": "🔗", "lock": "🔒", "star": "⭐",
}
_TOKEN = re.compile(r"<([^<>\n]+)>")
_CODE = re.compile(r"`([^`\n]+)`")
_BOLD = re.compile(r"(?<![\w*])\*(?!\s)([^*\n]+?)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?!\s)([^_\n]+?)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?!\s)([^~\n]+?)~(?![\w~])")
_EMOJI = re.compile(r":([a-z0-9_+\-]+):")
_COLOR = re.compile(r"^#[0-9a-fA-F]{3,8}$")
_NAMED_COLORS = {"good": "#2eb67d", "warning": "#ecb22e", "danger": "#e01e5a"}
_SAFE_URL = re.compile(r"^(https?://|mailto:)", re.IGNORECASE)
# A permalink to a message in the workspace: in the sandbox it jumps to the thread on the page.
_PERMALINK = re.compile(r"^https://(?:[\w-]+\.)?slack\.com/archives/([A-Z0-9]+)/p(\d{7,})$")


class Renderer:
    """Renders blocks for one page; `names` turns user ids into display names, `people` are the
    ones user pickers offer (everyone named, by default). Block and element
    types it cannot draw are shown as such and listed in `unknown`."""

    def __init__(self, names: Mapping[str, str] | None = None, people: list[str] | None = None,
                 lang: str = "en") -> None:
        self.names = dict(names or {})
        self.lang = lang  # the page's language, for the few words the renderer adds (Slack's own)
        self.people = list(people if people is not None else self.names)  # who user pickers offer
        self.unknown: list[str] = []

    # -- text ----------------------------------------------------------------------------------

    def mrkdwn(self, text: str) -> Markup:
        """Slack mrkdwn (already entity-escaped `&amp; &lt; &gt;`) as safe HTML."""
        out: list[str] = []
        quote: list[str] = []
        for line in text.split("\n"):
            if line.startswith(">"):
                quote.append(self._inline(line[1:].removeprefix(" ")))
                continue
            if quote:
                out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
                quote = []
            out.append(self._inline(line) + "<br>")
        if quote:
            out.append(f"<blockquote>{'<br>'.join(quote)}</blockquote>")
        joined = "".join(out)
        return Markup(joined.removesuffix("<br>"))

    def _inline(self, line: str) -> str:
        tokens: list[str] = []

        def keep(match: re.Match) -> str:
            tokens.append(self._token(match.group(1)))
            return f"\x00{len(tokens) - 1}\x00"

        text = str(escape(html.unescape(_TOKEN.sub(keep, line))))
        text = _CODE.sub(lambda m: f"<code>{m.group(1)}</code>", text)
        text = _BOLD.sub(r"<b>\1</b>", text)
        text = _ITALIC.sub(r"<i>\1</i>", text)
        text = _STRIKE.sub(r"<s>\1</s>", text)
        text = _EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text)
        return re.sub("\x00(\\d+)\x00", lambda m: tokens[int(m.group(1))], text)

    def _token(self, inner: str) -> str:
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            name = self.names.get(target[1:], label or target[1:])
            return f'<span class="bk-mention">@{escape(name)}</span>'
        if target.startswith("#"):
            return f'<span class="bk-mention">#{escape(label or target[1:])}</span>'
        if target.startswith("!"):
            word, _, group = target[1:].partition("^")
            name = self.names.get(group, label.lstrip("@") or group or word) if word == "subteam" else label or word
            return f'<span class="bk-mention">@{escape(name)}</span>'
        shown = escape(html.unescape(label or target))
        permalink = _PERMALINK.match(target)
        if permalink:
            channel, digits = permalink.groups()
            return (f'<a href="#" class="bk-permalink" data-goto-channel="{escape(channel)}" '
                    f'data-goto-ts="{digits[:-6]}.{digits[-6:]}">{shown}</a>')
        if not _SAFE_URL.match(target):
            return str(shown)
        return f'<a href="{escape(html.unescape(target))}" target="_blank" rel="noopener noreferrer">{shown}</a>'

    def text(self, obj: Mapping | None) -> Markup:
        """A text object (plain_text or mrkdwn)."""
        if not obj:
            return Markup("")
        if obj.get("type") == "mrkdwn":
            return self.mrkdwn(obj.get("text", ""))
        plain = escape(obj.get("text", ""))
        if obj.get("emoji", True):
            plain = Markup(_EMOJI.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), str(plain)))
        return plain

    # -- blocks --------------------------------------------------------------------------------

    def blocks(self, blocks: list[dict], *, in_view: bool = False) -> Markup:
        """A list of blocks."""
        return Markup("").join(self.block(block, in_view=in_view) for block in blocks or [])

    def block(self, block: Mapping, *, in_view: bool = False) -> Markup:
        """One block, or a visible 'unsupported' note."""
        kind = block.get("type", "")
        draw: Callable | None = {
            "section": self._section, "context": self._context, "actions": self._actions,
            "header": self._header, "divider": self._divider, "input": self._input, "image": self._image,
        }.get(kind)
        if draw is None:
            return self._unknown("block", kind)
        return draw(block)

    def _section(self, block: Mapping) -> Markup:
        block_id = block.get("block_id", "")
        parts = []
        if block.get("text"):
            parts.append(Markup('<div class="bk-text">{}</div>').format(self.text(block["text"])))
        if block.get("fields"):
            fields = Markup("").join(Markup('<div class="bk-field">{}</div>').format(self.text(field))
                                     for field in block["fields"])
            parts.append(Markup('<div class="bk-fields">{}</div>').format(fields))
        body = Markup('<div class="bk-section-body">{}</div>').format(Markup("").join(parts))
        accessory = ""
        if block.get("accessory"):
            accessory = Markup('<div class="bk-accessory">{}</div>').format(
                self.element(block["accessory"], block_id, dispatch=True))
        return Markup('<div class="bk-block bk-section" data-block-id="{}">{}{}</div>').format(
            block_id, body, accessory)

    def _context(self, block: Mapping) -> Markup:
        items = []
        for element in block.get("elements", []):
            if element.get("type") == "image":
                items.append(Markup('<img class="bk-context-image" src="{}" alt="{}">').format(
                    element.get("image_url", ""), element.get("alt_text", "")))
            elif element.get("type") in ("mrkdwn", "plain_text"):
                items.append(Markup("<span>{}</span>").format(self.text(element)))
            else:
                items.append(self._unknown("element", element.get("type", "")))
        return Markup('<div class="bk-block bk-context">{}</div>').format(Markup("").join(items))

    def _actions(self, block: Mapping) -> Markup:
        block_id = block.get("block_id", "")
        elements = Markup("").join(self.element(e, block_id, dispatch=True) for e in block.get("elements", []))
        return Markup('<div class="bk-block bk-actions" data-block-id="{}">{}</div>').format(block_id, elements)

    def _header(self, block: Mapping) -> Markup:
        return Markup('<div class="bk-block bk-header">{}</div>').format(self.text(block.get("text")))

    @staticmethod
    def _divider(block: Mapping) -> Markup:
        return Markup('<hr class="bk-block bk-divider">')

    def _image(self, block: Mapping) -> Markup:
        return Markup('<div class="bk-block bk-image"><img src="{}" alt="{}"></div>').format(
            block.get("image_url", ""), block.get("alt_text", ""))

    def _input(self, block: Mapping) -> Markup:
        block_id = block.get("block_id", "")
        optional = Markup(' <span class="bk-optional">{}</span>').format(
            t("sandbox.ui.optional", self.lang)) if block.get("optional") else ""
        hint = Markup('<div class="bk-hint">{}</div>').format(self.text(block["hint"])) if block.get("hint") else ""
        return Markup('<div class="bk-block bk-input" data-block-id="{}"><label class="bk-label">{}{}</label>'
                      '{}{}<div class="bk-error" data-error-for="{}"></div></div>').format(
            block_id, self.text(block.get("label")), optional,
            self.element(block.get("element", {}), block_id, dispatch=bool(block.get("dispatch_action"))),
            hint, block_id)

    # -- elements ------------------------------------------------------------------------------

    def element(self, element: Mapping, block_id: str, *, dispatch: bool) -> Markup:
        """An interactive element; `dispatch` elements send block_actions when used."""
        kind = element.get("type", "")
        common = Markup('data-type="{}" data-action-id="{}" data-block-id="{}" data-dispatch="{}"').format(
            kind, element.get("action_id", ""), block_id, "1" if dispatch else "0")
        if kind == "button":
            style = element.get("style", "default")
            confirm = element.get("confirm")  # Slack asks before sending the click; the page does too
            asks = Markup(' data-confirm="{}"').format(
                f"{confirm['title']['text']}\n{confirm['text']['text']}") if confirm else ""
            return Markup('<button type="button" class="bk-button bk-{}" {} data-value="{}"{}>{}</button>').format(
                style if style in ("primary", "danger") else "default", common, element.get("value", ""), asks,
                self.text(element.get("text")))
        if kind in ("static_select", "overflow", "radio_buttons"):
            return self._select(element, common, kind)
        if kind in ("multi_static_select", "checkboxes"):  # several choices: a multiple select box
            return self._multi_select(element, common, kind)
        if kind == "users_select":
            options = [{"text": {"type": "plain_text", "text": self.names.get(uid, uid)}, "value": uid}
                       for uid in self.people]
            return self._select({**element, "options": options}, common, kind)
        if kind == "plain_text_input":
            limit = Markup(' maxlength="{}"').format(element["max_length"]) if element.get("max_length") else ""
            placeholder = element.get("placeholder", {}).get("text", "")
            if element.get("multiline"):
                return Markup('<textarea class="bk-textbox" rows="4" {}{} placeholder="{}">{}</textarea>').format(
                    common, limit, placeholder, element.get("initial_value", ""))
            return Markup('<input class="bk-textbox" type="text" {}{} placeholder="{}" value="{}">').format(
                common, limit, placeholder, element.get("initial_value", ""))
        return self._unknown("element", kind)

    def _select(self, element: Mapping, common: Markup, kind: str) -> Markup:
        initial = (element.get("initial_option") or {}).get("value")
        if kind == "overflow":
            first = Markup('<option value="">⋯</option>')
        else:
            first = Markup('<option value="">{}</option>').format(
                (element.get("placeholder") or {}).get("text", "—"))
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(
                option.get("value", ""), Markup(" selected") if option.get("value") == initial else "",
                self.text(option.get("text")))
            for option in element.get("options", []))
        return Markup('<select class="bk-select bk-{}" {}>{}{}</select>').format(kind, common, first, options)

    def _multi_select(self, element: Mapping, common: Markup, kind: str) -> Markup:
        initial = {option.get("value") for option in element.get("initial_options") or ()}
        options = Markup("").join(
            Markup('<option value="{}"{}>{}</option>').format(
                option.get("value", ""), Markup(" selected") if option.get("value") in initial else "",
                self.text(option.get("text")))
            for option in element.get("options", []))
        return Markup('<select multiple class="bk-select bk-{}" {}>{}</select>').format(kind, common, options)

    def _unknown(self, what: str, kind: str) -> Markup:
        self.unknown.append(f"{what}:{kind}")
        return Markup('<div class="bk-unknown">unsupported {} {}</div>').format(what, kind)

    # -- messages and views --------------------------------------------------------------------

    def message(self, *, text: str, blocks: list, attachments: list) -> Markup:
        """A message body: its blocks (or its text), then its attachments with colour bars."""
        body = self.blocks(blocks) if blocks else (self.mrkdwn(text) if not attachments else Markup(""))
        for attachment in attachments or []:
            color = attachment.get("color", "")
            color = _NAMED_COLORS.get(color, color if _COLOR.match(color or "") else "#dddddd")
            inner = self.blocks(attachment.get("blocks") or [])
            if attachment.get("text"):
                inner += Markup('<div class="bk-text">{}</div>').format(self.mrkdwn(attachment["text"]))
            body += Markup('<div class="bk-attachment" style="border-left-color:{}">{}</div>').format(color, inner)
        return body

    def view(self, view: Mapping) -> Markup:
        """A modal or Home tab's blocks."""
        return self.blocks(view.get("blocks") or [], in_view=True)
