"""The Teams app icons, drawn here rather than shipped as art: a balance (the weighing of
options the four-step method asks for). Drawn in code so the package needs no binary files in
the repository, and so both icons always show the same emblem.

Teams asks for a 192x192 full-colour icon and a 32x32 outline icon that is white on a
transparent background; the emblem is drawn 8x larger and scaled down, which gives smooth edges
(partly transparent white) without any other colour.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

NAVY = (0x1D, 0x35, 0x57)  # the accent colour, also the Slack app's background
GOLD = (0xF1, 0xC4, 0x53)
WHITE = (255, 255, 255)
_SCALE = 8


def _emblem(
    draw: ImageDraw.ImageDraw,
    size: float,
    *,
    offset: float = 0.0,
    ink: int | tuple[int, ...] = WHITE,
) -> None:
    """The balance in `ink` (white, or full coverage on a mask) in a `size`-wide square."""

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (offset + x0 * size, offset + y0 * size, offset + x1 * size, offset + y1 * size)

    line = max(1, round(size * 0.05))
    draw.rectangle(box(0.45, 0.16, 0.55, 0.82), fill=ink)  # post
    draw.ellipse(box(0.40, 0.06, 0.60, 0.26), fill=ink)  # finial
    draw.rectangle(box(0.08, 0.24, 0.92, 0.33), fill=ink)  # beam
    draw.rectangle(box(0.22, 0.82, 0.78, 0.94), fill=ink)  # base
    for cx in (0.20, 0.80):  # hangers and pans
        apex = (offset + cx * size, offset + 0.30 * size)
        left, right = cx - 0.17, cx + 0.17
        draw.line([apex, (offset + left * size, offset + 0.62 * size)], fill=ink, width=line)
        draw.line([apex, (offset + right * size, offset + 0.62 * size)], fill=ink, width=line)
        draw.pieslice(box(left, 0.48, right, 0.76), 0, 180, fill=ink)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def color_icon() -> bytes:
    """192x192 RGB: the white balance on the navy accent colour, with gold pans' rims so the
    icon reads as ours at a glance; the emblem keeps inside the central 120 px Teams crops to."""
    big = 192 * _SCALE
    image = Image.new("RGB", (big, big), NAVY)
    draw = ImageDraw.Draw(image)
    inner = 120 * _SCALE
    offset = (big - inner) / 2
    _emblem(draw, inner, offset=offset)
    for cx in (0.20, 0.80):  # a gold band on each pan
        x0, x1 = offset + (cx - 0.17) * inner, offset + (cx + 0.17) * inner
        draw.rectangle((x0, offset + 0.615 * inner, x1, offset + 0.66 * inner), fill=GOLD)
    return _png(image.resize((192, 192), Image.Resampling.LANCZOS))


def outline_icon() -> bytes:
    """32x32 RGBA, white only: every pixel is pure white, its alpha carries the shape."""
    big = 32 * _SCALE
    mask = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(mask)
    pad = 1 * _SCALE
    _emblem(draw, big - 2 * pad, offset=pad, ink=255)  # on a mask: full coverage
    alpha = mask.resize((32, 32), Image.Resampling.BOX)
    image = Image.new("RGBA", (32, 32), (*WHITE, 0))
    image.putalpha(alpha)
    return _png(image)
