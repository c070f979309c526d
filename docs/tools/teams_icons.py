"""Draw the Teams app icons into chatops/teams/assets/: `color.png` (192×192, full colour) and
`outline.png` (32×32, white on transparent), the two icons a Teams app package must carry.

    .venv/bin/python docs/tools/teams_icons.py

The icons are committed and shipped with chatops; run this again only to redraw them (with Pillow,
which chatops depends on).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

ASSETS = Path(__file__).resolve().parents[2] / "chatops" / "teams" / "assets"
ACCENT = (46, 90, 172, 255)  # the manifest's accentColor, #2E5AAC
WHITE = (255, 255, 255, 255)


def _bubble(draw: ImageDraw.ImageDraw, scale: float, fill, line) -> None:
    """A speech bubble holding three ticket lines, drawn on a 32-unit grid scaled by `scale`."""
    def box(*xy: float) -> list[float]:
        return [round(v * scale) for v in xy]

    draw.rounded_rectangle(box(3, 5, 29, 23), radius=round(4 * scale), fill=fill)
    draw.polygon([tuple(box(9, 22)), tuple(box(9, 29)), tuple(box(16, 22))], fill=fill)
    for top, right in ((9, 25), (13, 22), (17, 19)):
        draw.rectangle(box(7, top, right, top + 2), fill=line)


def color_icon() -> Image.Image:
    """192×192: a white bubble on the accent colour, inside the 96 px middle Teams keeps clear."""
    image = Image.new("RGBA", (192, 192), ACCENT)
    symbol = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    _bubble(ImageDraw.Draw(symbol), 3, WHITE, ACCENT)
    image.alpha_composite(symbol, (48, 48))
    return image


def outline_icon() -> Image.Image:
    """32×32: the bubble in white, its lines cut out, everything else transparent."""
    image = Image.new("RGBA", (32, 32), (0, 0, 0, 0))
    _bubble(ImageDraw.Draw(image), 1, WHITE, (0, 0, 0, 0))
    return image


def main() -> None:
    ASSETS.mkdir(parents=True, exist_ok=True)
    color_icon().save(ASSETS / "color.png", optimize=True)
    outline_icon().save(ASSETS / "outline.png", optimize=True)
    print(f"wrote {ASSETS / 'color.png'} and {ASSETS / 'outline.png'}")


if __name__ == "__main__":
    main()
