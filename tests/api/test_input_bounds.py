"""Denial of service by input, over HTTP: every request, upload, row, cell and list of problems
is bounded before it is read, and a refused input answers 413 or 422 quickly, naming the limit,
with nothing written."""

from __future__ import annotations

import time
import tracemalloc

from models.enums import Role


def laughs(levels: int) -> str:
    lines = ["name: Laughs", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines + [f"description: *l{levels}"]) + "\n"


# --- YAML -------------------------------------------------------------------------------------


def _refused_bomb(client, headers, path: str) -> None:
    response = client.post(path, json={"yaml": laughs(5), "file_name": "laughs.yaml"}, headers=headers)
    assert response.status_code == 422, response.text
    [field] = response.json()["error"]["fields"]
    assert field["path"] == "body.yaml:line 2"
    assert "anchor &l0" in field["message"]


def test_an_alias_bomb_scenario_is_refused_within_a_second_with_memory_flat(client, as_role):
    headers = as_role(Role.commissioner)
    tracemalloc.start()
    try:
        _refused_bomb(client, headers, "/scenario-checks")  # also imports the scenario reader
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    assert peak < 20.0  # MB (measured: about 3); expanded, the bomb would take hundreds
    for path in ("/scenario-checks", "/scenario-results"):
        started = time.perf_counter()
        _refused_bomb(client, headers, path)
        assert time.perf_counter() - started < 1.0  # the bound
    assert client.get("/scenario-results", headers=headers).json() == []  # nothing saved


def test_a_scenario_file_name_with_a_control_character_is_refused(client, as_role):
    response = client.post("/scenario-checks", json={"yaml": "name: x\n", "file_name": "a\x00b.yaml"},
                           headers=as_role(Role.commissioner))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["path"] == "body.file_name"
