"""A region's sufficiency forecast (issue 17, part 4), on the DfE's synthetic SSDA903 sample, which
holds three London boroughs' returns: each council is projected from its own returns, the
region's mean is the sum of theirs, and its intervals come from adding the councils'
replications one by one: narrower than adding their bounds (which would have every council's
worst year at once), and a council's own figures do not depend on who else is in the region."""

from __future__ import annotations

import numpy as np
import pytest

from scenarios.cohort import STATES
from scenarios.forecast import ForecastError, band_summary, council_projections, forecast_history, forecast_region
from scenarios.ssda903 import history_from_folder

COUNCILS = ["Bromley", "Hillingdon", "Southwark"]


@pytest.fixture(scope="module")
def history(shared_data):
    # The sample has known faults (children missing from its header): repaired as the CLI's --repair does.
    return history_from_folder(shared_data / "ssda903-demand-samples", repair=True)


def test_the_region_is_the_sum_of_its_councils_replication_by_replication(history):
    members = council_projections(history, 5, replications=200, seed=7)
    assert sorted(members) == COUNCILS
    region = forecast_region(history, 5, replications=200, seed=7)
    total = sum(p.sims for p in members.values())
    people = region.people
    for la, p in members.items():
        alone = forecast_history(history, 5, la=la, replications=200, seed=7).people
        mine = region.councils[region.councils["council"] == la].reset_index(drop=True)
        # The mean of a council in the region is its mean alone (the mean path needs no draws).
        assert np.allclose(mine["mean"].to_numpy(), alone["mean"].to_numpy())
    summed = region.councils.groupby(["date", "band", "state"])[["mean", "hi95", "lo95"]].sum()
    joined = people.merge(summed.reset_index(), on=["date", "band", "state"], suffixes=("", "_summed"))
    assert np.allclose(joined["mean"], joined["mean_summed"])
    # The region's bounds are those of the summed replications...
    mean = sum(p.mean for p in members.values())
    by_band = band_summary(mean, total)
    last = people["date"].max()
    row = people[(people["date"] == last) & (people["band"] == "16-17") & (people["state"] == "care_leaver")]
    s = list(STATES).index("care_leaver")
    assert float(row["hi95"].iloc[0]) == pytest.approx(float(by_band["16-17"]["hi95"][-1, s]))
    # ...which keep the uncertainty: far narrower, overall, than adding the councils' bounds.
    width = (joined["hi95"] - joined["lo95"]).sum()
    added = (joined["hi95_summed"] - joined["lo95_summed"]).sum()
    assert width < 0.9 * added


def test_a_councils_figures_do_not_depend_on_who_else_is_in_the_region(history):
    two = council_projections(history, 3, ["Bromley", "Southwark"], replications=100, seed=7)
    three = council_projections(history, 3, replications=100, seed=7)
    assert np.array_equal(two["Bromley"].sims, three["Bromley"].sims)


def test_a_council_not_in_the_files_is_named(history):
    with pytest.raises(ForecastError, match="Kent"):
        council_projections(history, 3, ["Bromley", "Kent"], replications=50)
