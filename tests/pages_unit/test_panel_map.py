"""The panel's map (api/pages/panel_map.py): authorities' outlines from the real ONS postcode
directory, town labels, numbered lines with their list (the accessible form), well-formed and
deterministic SVG, and the optional tile layer's placement on the National Grid. No mocks: the
grid is built from (or read back from the cache of) the installed directory."""

from __future__ import annotations

import html
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from api.pages import panel_map
from providers.authorities import Authorities
from providers.geography import locate, postcodes_in

MEDWAY, KENT, ESSEX, SURREY, THURROCK = "E06000035", "E10000016", "E10000012", "E10000030", "E06000034"
SVG = "{http://www.w3.org/2000/svg}"

# Homes in Medway (Chatham, Gillingham) and proposed homes in Medway, Kent (Maidstone, Dartford)
# and across the estuary (Thurrock): real postcodes' grid references.
WHERE = {"chatham": "ME4 4TR", "gillingham": "ME7 1HL", "maidstone": "ME14 1XQ", "dartford": "DA1 1DR",
         "grays": "RM17 6SL"}


@pytest.fixture(scope="module")
def at():
    found = locate(list(WHERE.values()))
    assert found["error"].isna().all(), found
    return {k: (float(e), float(n)) for k, e, n in zip(WHERE, found["easting"], found["northing"], strict=True)}


@pytest.fixture(scope="module")
def pairs(at):
    return [
        panel_map.Pair("R0001", at["chatham"], at["gillingham"], 2.1, False, "in area", "Gillingham flat",
                       "/panel/runs/1/proposals/11"),
        panel_map.Pair("R0002", at["gillingham"], at["dartford"], 14.8, True, "out of area (adjoining)",
                       "Dartford shared house", "/panel/runs/1/proposals/12"),
        panel_map.Pair("R0003", at["chatham"], at["maidstone"], 7.6, True, "out of area (adjoining)",
                       "Maidstone <foster> home"),
        panel_map.Pair("R0004", at["gillingham"], at["grays"], 12.0, True, "at a distance", "Grays flat"),
    ]


@pytest.fixture(scope="module")
def view(pairs):
    return panel_map.council_map(MEDWAY, pairs, title="Map of match run 1's proposals", tiles="")


def _points(code: str, letters: str) -> np.ndarray:
    return postcodes_in(code, letters)[["easting", "northing"]].to_numpy()


# --- outlines ------------------------------------------------------------------------------------


def test_outlines_exist_for_the_council_and_the_authorities_in_view(view):
    kinds = {code: kind for code, _, kind in view.authorities}
    assert kinds[MEDWAY] == "council" and kinds[KENT] == "adjoining"  # adjoining under reg. 11 (adjacency.csv)
    assert kinds[THURROCK] == "other"  # across the estuary: not a land neighbour
    root = ET.fromstring(str(view.svg))
    paths = {p.get("data-code"): p for p in root.iter(f"{SVG}path")}
    for code in (MEDWAY, KENT, THURROCK):
        assert code in paths and paths[code].get("d", "").startswith("M"), code
    assert "authority council" in paths[MEDWAY].get("class")
    titles = {code: paths[code].find(f"{SVG}title").text for code in (MEDWAY, KENT, THURROCK)}
    assert titles == {MEDWAY: "Medway: the council's area", KENT: "Kent: adjoins Medway", THURROCK: "Thurrock"}
    for code in (MEDWAY, KENT):
        outline = panel_map.authority_outline(code)
        assert outline.rings and outline.km2 > 100


def test_a_postcode_lies_in_its_own_authority_not_in_a_far_one():
    medway, kent, essex = (panel_map.authority_outline(c) for c in (MEDWAY, KENT, ESSEX))
    chatham = locate(["ME4 4TR"]).iloc[0]  # Medway Council's offices, Gun Wharf, Chatham
    point = [[chatham["easting"], chatham["northing"]]]
    assert medway.contains(point).all() and not kent.contains(point).any() and not essex.contains(point).any()
    county_hall = locate(["ME14 1XQ"]).iloc[0]  # Kent County Council, Maidstone (Maidstone is a Kent district)
    point = [[county_hall["easting"], county_hall["northing"]]]
    assert kent.contains(point).all() and not medway.contains(point).any()
    # Nearly every postcode of an authority lies in its own outline and in no far one: the
    # outlines follow the boundary (a convex hull of Medway would take in much of Kent).
    pts = _points(MEDWAY, "M")
    assert medway.contains(pts).mean() > 0.98
    assert kent.contains(pts).mean() < 0.02
    assert not essex.contains(pts).any() and not panel_map.authority_outline(SURREY).contains(pts).any()
    maidstone = _points("E07000110", "MT")
    assert kent.contains(maidstone).mean() > 0.98 and medway.contains(maidstone).mean() < 0.02


def test_a_district_is_drawn_as_its_county():
    assert panel_map.authority_outline("E07000110") is panel_map.authority_outline(KENT)  # Maidstone: Kent


def test_an_authority_enclosed_by_another_is_a_hole_in_it(tmp_path):
    """Leicester lies inside Leicestershire: the county's outline has a hole where the city is."""
    las = tmp_path / "las.csv"
    las.write_text("code,name,upper_tier_code,region\nE06000016,Leicester,E06000016,East Midlands\n"
                   "E10000018,Leicestershire,E10000018,East Midlands\n"
                   + "".join(f"{c},District {c},E10000018,East Midlands\n"
                             for c in ("E07000129", "E07000130", "E07000131", "E07000132", "E07000133",
                                       "E07000134", "E07000135")))
    adjacency = tmp_path / "adjacency.csv"
    adjacency.write_text("code_a,code_b\nE06000016,E10000018\n")
    authorities = Authorities(las, adjacency)
    shire = panel_map.authority_outline("E10000018", authorities)
    city = panel_map.authority_outline("E06000016", authorities)
    assert any(panel_map._area(r) < 0 for r in shire.rings)  # a hole, drawn with fill-rule evenodd
    leicester = _points("E06000016", "L")
    assert city.contains(leicester).mean() > 0.97 and shire.contains(leicester).mean() < 0.03


def test_the_grid_survives_its_cache_file(tmp_path):
    grid = panel_map.national_grid()
    path = tmp_path / "grid.npz"
    panel_map.save_grid(grid, path)
    again = panel_map.load_grid(path)
    assert np.array_equal(again.labels, grid.labels) and again.codes == grid.codes
    assert np.array_equal(again.boxes, grid.boxes) and again.district_names == grid.district_names
    assert np.allclose(again.district_points, grid.district_points)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.npz"]  # written whole, no part left behind
    assert grid.codes[grid.label_of(*locate(["ME4 4TR"]).iloc[0][["easting", "northing"]])] == MEDWAY


# --- labels, lines and their list ----------------------------------------------------------------


def test_authorities_and_towns_are_labelled(view):
    root = ET.fromstring(str(view.svg))
    texts = {"".join(t.itertext()) for t in root.iter(f"{SVG}text")}
    assert {"Medway", "Kent", "Thurrock"} <= texts
    assert 1 <= len(view.towns) <= panel_map.TOWNS_WIDE
    for town in view.towns:  # postcode districts: the directory has no town names
        assert re.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?", town) and town in texts
    # A handful, not overlapping: each label's box is clear of the others'.
    boxes = [panel_map._Labels.box(float(t.get("x")), float(t.get("y")), "".join(t.itertext()),
                                   float(t.get("font-size"))) for t in root.iter(f"{SVG}text")
             if t.get("font-size") and "".join(t.itertext()) in texts - {str(k) for k in range(1, 100)}]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not (a[0] < b[2] - 1 and b[0] < a[2] - 1 and a[1] < b[3] - 1 and b[1] < a[3] - 1), (a, b)


def test_each_line_is_numbered_focusable_titled_and_listed(view, pairs):
    root = ET.fromstring(str(view.svg))
    groups = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("pair ")]
    assert [g.get("data-referral") for g in groups] == [p.label for p in pairs]
    for k, (g, pair) in enumerate(zip(groups, pairs, strict=True), start=1):
        assert g.get("tabindex") == "0" and g.get("id") == f"map-line-{k}" and g.get("data-item") == f"map-item-{k}"
        title = g.find(f"{SVG}title").text
        assert title.startswith(f"{k}. {pair.label} to {pair.name}: {pair.miles:.1f} miles from home")
        ring = g.find(f"{SVG}circle")
        assert "pair-ring" in ring.get("class") and ring.get("visibility") == "hidden"  # shown on focus (CSS)
        assert "".join(g.find(f"{SVG}g").itertext()) == str(k)  # the number on the line
        line = g.find(f"{SVG}line[@class='pair-line']")
        assert (line.get("stroke-dasharray") is not None) == pair.far
    # The list beside the map: one item per line, in the same order, linking to the case.
    items = re.findall(r'<li id="map-item-(\d+)"[^>]*>(.*?)</li>', str(view.list_html))
    assert [int(k) for k, _ in items] == list(range(1, len(pairs) + 1))
    assert '<ol class="map-list"' in str(view.list_html)
    first = html.unescape(re.sub(r"<[^>]+>", "", items[0][1]))
    assert first == "R0001 \u2192to Gillingham flat, 2.1 miles, in area"
    assert '<a href="/panel/runs/1/proposals/12">R0002</a>' in items[1][1]
    assert "Maidstone &lt;foster&gt; home" in items[2][1]  # names are escaped
    assert [i.text for i in view.items][3] == "R0004 to Grays flat, 12.0 miles, at a distance"


def test_the_svg_is_well_formed_scalable_and_named(view):
    root = ET.fromstring(str(view.svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img" and root.get("id") == "map"
    assert root.get("width") == "100%" and root.get("height") is None
    width, height = (float(v) for v in root.get("viewBox").split()[2:])
    assert width == panel_map.MAP_WIDTH and panel_map.MIN_HEIGHT <= height <= panel_map.MAX_HEIGHT
    title = root.find(f"{SVG}title")
    assert title.text == "Map of match run 1's proposals"
    assert root.get("aria-labelledby") == "map-title map-desc" and root.find(f"{SVG}desc") is not None
    page = str(view)  # what {{ map_svg }} renders: the figure with the key and the list
    assert page.startswith('<div class="map-figure">') and '<svg id="map"' in page and "20-mile ring" in page
    assert page.index("<svg") < page.index('<ol class="map-list"')
    ET.fromstring(f"<root>{page}</root>")  # the whole figure is well-formed too


def test_the_map_is_deterministic(pairs):
    first = str(panel_map.council_map(MEDWAY, pairs, tiles=""))
    panel_map._outline.cache_clear()
    panel_map._path.cache_clear()
    assert str(panel_map.council_map(MEDWAY, pairs, tiles="")) == first


def test_one_line_shows_its_whole_ring(pairs):
    view = panel_map.council_map(MEDWAY, pairs[1:2], title="Map of R0002's home and the proposed placement",
                                 tiles="")
    root = ET.fromstring(str(view.svg))
    ring = next(c for c in root.iter(f"{SVG}circle") if "pair-ring" in (c.get("class") or ""))
    assert ring.get("visibility") is None  # always shown
    cx, cy, r = (float(ring.get(k)) for k in ("cx", "cy", "r"))
    _, _, width, height = (float(v) for v in root.get("viewBox").split())
    assert r <= cx <= width - r and r <= cy <= height - r
    assert 'class="map-skip"' not in str(view)  # one stop for the Tab key: no need to skip it


def test_many_lines_get_a_skip_link_and_a_line_without_a_grid_reference_is_listed(pairs):
    many = [*pairs, *pairs[:2], panel_map.Pair("R0099", (math.nan, math.nan), pairs[0].placement, 3.0, False,
                                                 "in area", "Chatham flat")]
    view = panel_map.council_map(MEDWAY, many, tiles="")
    assert '<a class="map-skip" href="#map-list">' in str(view)
    assert view.items[-1].text == "R0099 to Chatham flat, 3.0 miles, in area (not on the map)"
    assert 'data-referral="R0099"' not in str(view.svg) and 'id="map-item-7"' in str(view.list_html)
    ids = re.findall(r'<g class="pair [a-z]+" id="(map-line-\d+)"', str(view.svg))
    assert ids == [f"map-line-{k}" for k in range(1, 7)]  # the same pair twice: two lines, two numbers


def test_no_council_and_no_lines_still_draw():
    view = panel_map.council_map(None, [], tiles="")
    ET.fromstring(str(view.svg))
    assert "No proposals to show on the map." in str(view.list_html)


# --- optional tiles ------------------------------------------------------------------------------


def test_tiles_only_from_an_https_template(monkeypatch, pairs):
    for bad in ("http://tiles.example.org/{z}/{x}/{y}.png", "https://tiles.example.org/{z}/{x}.png", "tiles"):
        with pytest.raises(ValueError):
            panel_map.tile_template(bad)
    monkeypatch.delenv("PLACEMATCH_MAP_TILES", raising=False)
    assert "<image" not in str(panel_map.council_map(MEDWAY, pairs))  # default: none
    monkeypatch.setenv("PLACEMATCH_MAP_TILES", "ftp://nope/{z}/{x}/{y}")  # refused, logged: drawn without
    assert "<image" not in str(panel_map.council_map(MEDWAY, pairs))
    monkeypatch.setenv("PLACEMATCH_MAP_TILES", "https://tiles.example.org/{z}/{x}/{y}.png")
    view = panel_map.council_map(MEDWAY, pairs)
    images = re.findall(r'<image class="tile" href="https://tiles\.example\.org/(\d+)/(\d+)/(\d+)\.png"', str(view.svg))
    assert 0 < len(images) <= panel_map.MAX_TILES and "tiles.example.org" in str(view.note)
    ET.fromstring(str(view.svg))


def test_tiles_are_placed_on_the_national_grid():
    # WGS-84 <-> National Grid: a round trip is exact to centimetres, and the datum shift from
    # OSGB36 (what providers.geography's inverse projection gives) is the expected ~100 m.
    e = np.array([575_711.0, 400_000.0, 250_000.0])
    n = np.array([168_586.0, 300_000.0, 700_000.0])
    lat, lon = panel_map._grid_to_wgs84(e, n)
    back_e, back_n = panel_map._latlon_to_grid(lat, lon)
    assert np.abs(back_e - e).max() < 0.5 and np.abs(back_n - n).max() < 0.5
    from providers.geography import grid_to_latlon

    lat36, lon36 = grid_to_latlon(e, n)
    shift_m = np.hypot((lat - lat36) * 111_000, (lon - lon36) * 111_000 * np.cos(np.radians(lat)))
    assert (shift_m > 50).all() and (shift_m < 200).all()
    # Each tile's transform puts its corners within a pixel of where their grid references
    # project (an affine fit of a Mercator tile: a third of a tile pixel at this zoom).
    proj, height = panel_map._frame(np.array([[560_000.0, 150_000.0], [600_000.0, 180_000.0]]))
    image = panel_map._tile_images("https://t.example/{z}/{x}/{y}.png", proj, height)[1]
    z, x, y = (int(v) for v in re.search(r"/(\d+)/(\d+)/(\d+)\.png", image).groups())
    matrix = [float(v) for v in re.search(r'matrix\(([^)]+)\)', image).group(1).split()]
    a, b, c, d, e0, f0 = matrix
    for u, v in ((0, 0), (1, 0), (0, 1), (1, 1)):
        corner_lat, corner_lon = panel_map._tile_corner(x + u, y + v, z)
        ce, cn = panel_map._latlon_to_grid(np.array([corner_lat]), np.array([corner_lon]))
        px, py = u * panel_map.TILE_PIXELS, v * panel_map.TILE_PIXELS
        assert (a * px + c * py + e0, b * px + d * py + f0) == pytest.approx(proj(float(ce[0]), float(cn[0])), abs=1.0)
