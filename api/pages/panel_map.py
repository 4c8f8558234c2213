"""The panel's map: where each young person's home is and where the proposal would place them,
drawn as inline SVG from OS grid references (metres east and north), with no map tiles.

The grid is already a flat projection of Great Britain (the National Grid), so drawing it is a
translation and one uniform scale: a mile east is as long on the screen as a mile north, and
the 20-mile ring is a circle. The council's area is the convex hull of its postcode centroids
from the offline ONS directory: honest about what it is (a bounding shape, not the boundary),
and it needs no shapefile.

Everything but :func:`council_points` is a pure function of its arguments, for testing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape

import numpy as np
from markupsafe import Markup

RING_METRES = 32_187.0  # 20 miles: the national reporting measure and Medway's approval rule
METRES_PER_MILE = 1_609.344
WIDTH, HEIGHT, PAD = 720, 540, 30
LEGEND_HEIGHT = 70  # room below the map for the legend and the scale bar


@dataclass(frozen=True)
class Projection:
    """Grid metres to SVG pixels: x grows east, y grows south (SVG's y points down)."""

    min_e: float
    max_n: float
    scale: float  # pixels per metre, the same on both axes
    left: float
    top: float

    def __call__(self, easting: float, northing: float) -> tuple[float, float]:
        return (self.left + (easting - self.min_e) * self.scale, self.top + (self.max_n - northing) * self.scale)

    def pixels(self, metres: float) -> float:
        return metres * self.scale


def fit(points: np.ndarray, width: float = WIDTH, height: float = HEIGHT, pad: float = PAD) -> Projection:
    """The projection that fits every point into the box with one scale for both axes, centred
    on the spare axis (a stretched map would make distances lie)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    min_e, min_n = pts.min(axis=0)
    max_e, max_n = pts.max(axis=0)
    span_e, span_n = max(max_e - min_e, 1.0), max(max_n - min_n, 1.0)
    scale = min((width - 2 * pad) / span_e, (height - 2 * pad) / span_n)
    left = pad + ((width - 2 * pad) - span_e * scale) / 2
    top = pad + ((height - 2 * pad) - span_n * scale) / 2
    return Projection(float(min_e), float(max_n), float(scale), float(left), float(top))


def convex_hull(points: np.ndarray) -> np.ndarray:
    """The convex hull, anticlockwise (east = x, north = y), by Andrew's monotone chain."""
    pts = np.unique(np.asarray(points, dtype=float).reshape(-1, 2), axis=0)  # sorted by x, then y
    if len(pts) < 3:
        return pts

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    def half(seq) -> list:
        chain: list = []
        for p in seq:
            while len(chain) >= 2 and cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def hull_contains(hull: np.ndarray, points: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """Which points lie inside or on an anticlockwise convex polygon."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    inside = np.ones(len(pts), dtype=bool)
    for a, b in zip(hull, np.roll(hull, -1, axis=0), strict=True):
        side = (b[0] - a[0]) * (pts[:, 1] - a[1]) - (b[1] - a[1]) * (pts[:, 0] - a[0])
        inside &= side >= -tolerance * max(1.0, float(np.hypot(*(b - a))))
    return inside


def nice_miles(max_miles: float) -> float:
    """The longest round distance (1, 2, 5 x 10^k miles) not above ``max_miles``: the scale bar."""
    if max_miles <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(max_miles))
    return max(m * power for m in (1, 2, 5) if m * power <= max_miles)


@lru_cache(maxsize=8)
def council_points(la_codes: tuple[str, ...], letters: tuple[str, ...]) -> np.ndarray:
    """Every live postcode centroid of the council's districts, from the offline directory (the
    first letters of postcodes known to be in the area, so the country is never loaded). Kept
    for the process: the directory does not change while the service runs."""
    from providers.geography import postcodes_in

    frames = [postcodes_in(code, letters) for code in la_codes]
    pts = [f[["easting", "northing"]].to_numpy(dtype=float) for f in frames if len(f)]
    return np.concatenate(pts) if pts else np.empty((0, 2))


@dataclass(frozen=True)
class Pair:
    """One young person's line on the map."""

    label: str  # the referral id
    home: tuple[float, float]
    placement: tuple[float, float]
    miles: float
    far: bool  # over 20 miles or out of the council's area: drawn red and dashed
    where: str  # "in area", "out of area (adjoining)", "at a distance"


def _f(x: float) -> str:
    return f"{x:.1f}"


def draw(council_name: str, area: np.ndarray, pairs: Sequence[Pair], *, title: str = "Map of the proposals",
         svg_id: str = "map") -> Markup:
    """The inline SVG: the council's area, its 20-mile ring, each home, placement and the line
    between them, a legend and a scale. ``area`` is the council's postcode points (may be empty)."""
    area = np.asarray(area, dtype=float).reshape(-1, 2)
    hull = convex_hull(area) if len(area) >= 3 else np.empty((0, 2))
    centre = area.mean(axis=0) if len(area) else None
    extent = [p for pair in pairs for p in (pair.home, pair.placement)]
    if centre is not None:
        extent += [tuple(centre + d) for d in ((-RING_METRES, -RING_METRES), (RING_METRES, RING_METRES))]
        extent += [tuple(p) for p in hull]
    if not extent:
        extent = [(0.0, 0.0), (1.0, 1.0)]
    proj = fit(np.array(extent, dtype=float))
    far = sum(p.far for p in pairs)
    desc = (f"{len(pairs)} young people shown with the home proposed for them; {far} of them more than 20 miles "
            f"from home or outside {council_name}'s area. The table lists the same proposals.")
    out = [
        f'<svg id="{escape(svg_id)}" class="map" role="img" aria-labelledby="{svg_id}-title {svg_id}-desc" '
        f'viewBox="0 0 {WIDTH} {HEIGHT + LEGEND_HEIGHT}" width="{WIDTH}" height="{HEIGHT + LEGEND_HEIGHT}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="Arial, sans-serif" font-size="13">',
        f'<title id="{svg_id}-title">{escape(title)}</title>',
        f'<desc id="{svg_id}-desc">{escape(desc)}</desc>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#fbfbfb"/>',
    ]
    if len(hull):
        points = " ".join(f"{_f(x)},{_f(y)}" for x, y in (proj(e, n) for e, n in hull))
        out.append(f'<polygon class="area" points="{points}" fill="#d2e2f1" fill-opacity="0.6" stroke="#1d70b8" '
                   f'stroke-width="1.5"><title>{escape(council_name)}: the area its postcodes cover</title></polygon>')
    if centre is not None:
        cx, cy = proj(*centre)
        out.append(f'<circle class="ring" cx="{_f(cx)}" cy="{_f(cy)}" r="{_f(proj.pixels(RING_METRES))}" fill="none" '
                   f'stroke="#505a5f" stroke-width="1.5" stroke-dasharray="2 4"><title>20 miles from the centre of '
                   f'{escape(council_name)}</title></circle>')
    for pair in pairs:
        (hx, hy), (px, py) = proj(*pair.home), proj(*pair.placement)
        what = escape(f"{pair.label}: {pair.miles:g} miles from home, {pair.where}")
        style = 'stroke="#d4351c" stroke-dasharray="6 4"' if pair.far else 'stroke="#00703c"'
        out.append(f'<g class="pair" data-referral="{escape(pair.label)}"><title>{what}</title>'
                   f'<line x1="{_f(hx)}" y1="{_f(hy)}" x2="{_f(px)}" y2="{_f(py)}" {style} stroke-width="2"/>'
                   f'<circle cx="{_f(hx)}" cy="{_f(hy)}" r="4" fill="#1d70b8"/>'
                   f'<rect x="{_f(px - 4)}" y="{_f(py - 4)}" width="8" height="8" fill="#0b0c0c"/></g>')
    out += _legend(proj)
    out.append("</svg>")
    return Markup("".join(out))


def _legend(proj: Projection) -> list[str]:
    y = HEIGHT + 20
    miles = nice_miles((WIDTH / 3) / proj.pixels(METRES_PER_MILE))
    bar = proj.pixels(miles * METRES_PER_MILE)
    return [
        f'<g class="legend" transform="translate(0 {y})">',
        '<circle cx="12" cy="0" r="4" fill="#1d70b8"/><text x="22" y="4">home</text>',
        '<rect x="76" y="-4" width="8" height="8" fill="#0b0c0c"/><text x="90" y="4">placement</text>',
        '<line x1="170" y1="0" x2="200" y2="0" stroke="#00703c" stroke-width="2"/>'
        '<text x="206" y="4">within 20 miles, in area</text>',
        '<line x1="390" y1="0" x2="420" y2="0" stroke="#d4351c" stroke-width="2" stroke-dasharray="6 4"/>'
        '<text x="426" y="4">over 20 miles or out of area</text>',
        '<rect x="12" y="18" width="14" height="10" fill="#d2e2f1" stroke="#1d70b8"/>'
        '<text x="32" y="27">council area (its postcodes)</text>',
        '<circle cx="230" cy="23" r="6" fill="none" stroke="#505a5f" stroke-dasharray="2 4"/>'
        '<text x="242" y="27">20-mile ring</text>',
        f'<g class="scale"><line x1="400" y1="24" x2="{_f(400 + bar)}" y2="24" stroke="#0b0c0c" stroke-width="3"/>'
        f'<text x="{_f(406 + bar)}" y="28">{miles:g} miles</text></g>',
        "</g>",
    ]


def letters_of(postcodes: Iterable[str | None]) -> tuple[str, ...]:
    """The first letters the directory is split by, of the postcodes given."""
    return tuple(sorted({p.strip()[0].upper() for p in postcodes if p and p.strip()[:1].isalpha()}))
