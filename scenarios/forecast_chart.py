"""The forecast page's fan chart, in the page's words: the same figures as
``scenarios.forecast.fan_chart`` (the command line's and the API's), with each axis labelled,
each 31 March written as a date, and the shaded ranges named by their chances ("80 in 100",
"95 in 100") rather than as intervals."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from scenarios import cohort as C
from scenarios.forecast import QUANTILES, Forecast

COLOURS = ["#1d70b8", "#d4351c", "#00703c", "#4c2c92", "#f47738"]


def fan_chart(forecast: Forecast, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen, no fonts fetched: renders offline
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=100)
    people = forecast.people
    groups = {
        "Looked after, 16-17": (people["band"] == "16-17") & people["state"].isin(C.LOOKED_AFTER),
        "Care leavers and Staying Put, 18-25": people["band"].isin(["18-20", "21-25"])
                                               & people["state"].isin(["care_leaver", "staying_put"]),
    }
    if not people["state"].isin(C.STATES).any():  # a published table: by group and age band
        groups = {f"{state.removesuffix(' (table)').capitalize()}, {band}": (people["band"] == band)
                  & (people["state"] == state)
                  for state, band in people[["state", "band"]].drop_duplicates().itertuples(index=False)}
    for (label, mask), colour in zip(groups.items(), COLOURS):
        _fan(axes[0], people[mask].groupby("date")[["mean", *QUANTILES]].sum(), label, colour)
    axes[0].set_title("Young people")
    axes[0].set_ylabel("young people on 31 March")
    beds = forecast.beds[forecast.beds["service_type"] == "supported_accommodation"]
    for tier, colour in zip(("standard", "enhanced", "intensive"), COLOURS[2:] + COLOURS[:1]):
        _fan(axes[1], beds[beds["tier"] == tier].groupby("date")[["mean", *QUANTILES]].sum(),
             f"{tier.capitalize()} support", colour)
    axes[1].set_title("Supported accommodation beds, by support tier")
    axes[1].set_ylabel("beds needed on 31 March")
    for ax in axes:
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.set_xlabel(f"31 March each year, from the latest data ({forecast.start:%-d %B %Y})")
        ax.xaxis.set_major_locator(mdates.YearLocator(month=3, day=31))
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %Y"))
        handles, _ = ax.get_legend_handles_labels()
        shades = [Patch(color="#505a5f", alpha=0.45, label="80 in 100 chances within"),
                  Patch(color="#505a5f", alpha=0.2, label="95 in 100 chances within")]
        ax.legend(handles=handles + shades, fontsize=8, loc="upper left")
    fig.suptitle(f"Sufficiency forecast from the latest data, {forecast.start:%-d %B %Y}: "
                 "the forecast (line) and its ranges (shaded)")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fan(ax, frame: pd.DataFrame, label: str, colour: str) -> None:
    if not len(frame):
        return
    x = pd.to_datetime(list(frame.index))
    ax.fill_between(x, frame["lo95"], frame["hi95"], color=colour, alpha=0.15, linewidth=0)
    ax.fill_between(x, frame["lo80"], frame["hi80"], color=colour, alpha=0.3, linewidth=0)
    ax.plot(x, frame["mean"], color=colour, label=label, linewidth=2, marker="o", markersize=3)
