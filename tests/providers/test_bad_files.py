"""Files that must be refused, quickly and by name: YAML that expands without limit, files that
are not text, text that is not UTF-8, control characters and impossible dates in a CSV, and
files too large, too long or too wide. Nothing here may take the reader's time or memory
beyond the limits in providers.limits."""

from __future__ import annotations

import resource
import time
import tracemalloc

import pytest

from matching.policy import PolicyError, load_policy
from providers import safe_yaml
from providers.limits import MAX_YAML_CHARS, MAX_YAML_DEPTH, MAX_YAML_NODES
from scenarios.tender import TenderFileError, read_scenario


def laughs(levels: int, key: str = "description") -> str:
    """A "billion laughs": each level a list of nine aliases of the one before, so the last
    stands for 9 ** (levels + 1) values in a few hundred bytes."""
    lines = ["name: Laughs", "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 9) + "]" for k in range(1, levels + 1)]
    return "\n".join(lines + [f"{key}: *l{levels}"]) + "\n"


def _refused_flat(call) -> tuple[Exception, float, float]:
    """Run ``call``, which must raise; the exception, the seconds it took and the peak MB
    Python allocated meanwhile."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(Exception) as caught:
            call()
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()
    return caught.value, seconds, peak


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


# --- YAML -------------------------------------------------------------------------------------


def test_a_billion_laughs_is_refused_at_its_first_anchor_with_memory_flat():
    before = _maxrss_mb()
    refusal, seconds, peak = _refused_flat(lambda: safe_yaml.load(laughs(8), "laughs.yaml"))
    assert isinstance(refusal, safe_yaml.YamlRefused)
    assert (refusal.file, refusal.line) == ("laughs.yaml", 2)
    assert "anchor &l0" in refusal.reason and "write each value out in full" in refusal.reason
    assert seconds < 1.0
    assert peak < 2.0  # MB: the few hundred bytes of the file, never its expansion
    assert _maxrss_mb() - before < 20


def test_an_alias_bomb_in_a_tender_scenario_is_refused_with_the_file_and_line(tmp_path):
    path = tmp_path / "bomb.yaml"
    path.write_text(laughs(5), encoding="utf-8")
    refusal, seconds, peak = _refused_flat(lambda: read_scenario(path))
    assert isinstance(refusal, TenderFileError)
    [problem] = refusal.problems
    assert (problem.file, problem.line) == ("bomb.yaml", 2) and "anchor" in problem.reason
    assert seconds < 1.0 and peak < 5.0


def test_an_alias_bomb_in_a_policy_file_is_refused(tmp_path):
    path = tmp_path / "policy.yaml"
    path.write_text(laughs(5, key="mode"), encoding="utf-8")
    refusal, seconds, peak = _refused_flat(lambda: load_policy(path))
    assert isinstance(refusal, PolicyError)
    assert "policy.yaml line 2" in str(refusal) and "anchor" in str(refusal)
    assert seconds < 1.0 and peak < 5.0


def test_a_lone_alias_is_refused_too():
    with pytest.raises(safe_yaml.YamlRefused, match=r"alias \*x"):
        safe_yaml.load("name: a\nb: *x\n", "a.yaml")


@pytest.mark.parametrize("text, limit", [
    ("name: " + "x" * MAX_YAML_CHARS, f"{MAX_YAML_CHARS:,}"),
    ("items: [" + ", ".join(["1"] * MAX_YAML_NODES) + "]\n", f"{MAX_YAML_NODES:,}"),
    ("[" * 5000 + "]" * 5000, f"{MAX_YAML_DEPTH}"),  # deeper than Python's recursion limit
])
def test_yaml_too_long_too_many_values_or_too_deep_is_refused_naming_the_limit(text, limit):
    with pytest.raises(safe_yaml.YamlRefused) as caught:
        safe_yaml.load(text, "big.yaml")
    assert limit in caught.value.reason


def test_an_oversize_scenario_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"name: x\n" + b"#" * (4 * MAX_YAML_CHARS + 10) + b"\n")
    with pytest.raises(TenderFileError) as caught:
        read_scenario(path)
    assert "limit" in caught.value.problems[0].reason


def test_yaml_with_a_control_character_names_its_line():
    with pytest.raises(safe_yaml.YamlRefused) as caught:
        safe_yaml.load("name: a\ndescription: b\x00c\n", "nul.yaml")
    assert caught.value.line == 2 and "U+0000" in caught.value.reason


def test_the_shipped_scenarios_and_policies_still_read():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "scenarios" / "examples").glob("*.yaml")) + [root / "matching" / "policy.yaml"]
    assert files
    for path in files:
        assert isinstance(safe_yaml.read(path), dict), path
    assert load_policy(root / "matching" / "policy.yaml") is not None
