"""The small HTML pages behind card action links: confirm, done, refused (autoescaped Jinja)."""

from __future__ import annotations

from jinja2 import Environment

_ENV = Environment(autoescape=True)

_PAGE = _ENV.from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ title }}</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI","Hiragino Sans",Meiryo,sans-serif;max-width:36rem;
margin:2rem auto;padding:0 1rem;color:#242424}
.card{border:1px solid #d1d1d1;border-radius:6px;padding:1rem 1.25rem}
.ok{border-left:6px solid #13a10e}.bad{border-left:6px solid #c50f1f}.ask{border-left:6px solid #5b5fc7}
blockquote{color:#616161;margin:.5rem 0;padding-left:.75rem;border-left:3px solid #e0e0e0;white-space:pre-wrap}
label{display:block;margin:.75rem 0 .25rem}input,textarea{width:100%;box-sizing:border-box;padding:.4rem;font:inherit}
button{margin-top:1rem;padding:.5rem 1.25rem;font:inherit;background:#5b5fc7;color:#fff;border:0;border-radius:4px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dt{color:#616161}dd{margin:0}
</style></head>
<body><div class="card {{ tone }}">
<h1 style="font-size:1.25rem">{{ title }}</h1>
{% if message %}<p id="message">{{ message }}</p>{% endif %}
{% if header %}<p><strong>{{ header }}</strong></p>{% endif %}
{% if quote %}<blockquote>{{ quote }}</blockquote>{% endif %}
{% if facts %}<dl>{% for name, value in facts %}<dt>{{ name }}</dt><dd>{{ value }}</dd>{% endfor %}</dl>{% endif %}
{% if form %}
<form method="post" action="{{ form.action }}">
<input type="hidden" name="token" value="{{ form.token }}">
<label for="upn">{{ form.upn_label }}</label>
<input id="upn" name="upn" type="email" required autocomplete="email" value="{{ form.upn }}">
{% if form.note_label %}<label for="note">{{ form.note_label }}</label>
<textarea id="note" name="note" rows="3"></textarea>{% endif %}
<button type="submit">{{ form.submit }}</button>
</form>
{% endif %}
</div></body></html>
""")


def render_page(*, lang: str, title: str, tone: str, message: str | None = None, header: str | None = None,
                quote: str | None = None, facts: list[tuple[str, str]] | None = None,
                form: dict | None = None) -> str:
    """One page; `tone` is ok, bad or ask (the colour of its edge)."""
    return _PAGE.render(lang=lang, title=title, tone=tone, message=message, header=header, quote=quote,
                        facts=facts or [], form=form)
