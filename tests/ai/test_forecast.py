"""Demand forecasting on its held-out year: weekly applications per service and body, forecast 12 weeks
ahead from four origins a quarter apart in each series' last year (nothing after an origin is seen),
scored by MASE against seasonal naive; the intervals' coverage; short histories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from nagara.ai import forecast as f

DATA = Path(__file__).parent / "data" / "forecast_heldout.yaml"
HORIZON = 12
ORIGINS = (156, 169, 182, 195)  # the last year (weeks 156..207) in four quarters


def _runs() -> list[tuple[np.ndarray, np.ndarray]]:
    doc = yaml.safe_load(DATA.read_text(encoding="utf-8"))
    out = []
    for s in doc["series"]:
        y = np.array(s["weekly"], dtype=float)
        assert len(y) == 4 * 52
        out.extend((y[:origin], y[origin : origin + HORIZON]) for origin in ORIGINS)
    return out


def test_the_forecast_beats_seasonal_naive_on_the_held_out_year() -> None:
    ours, baseline = [], []
    for history, actual in _runs():
        ours.append(f.mase(actual, f.forecast(history, HORIZON).mean, history))
        baseline.append(f.mase(actual, f.seasonal_naive(history, HORIZON), history))
    assert np.mean(ours) < np.mean(baseline), (np.mean(ours), np.mean(baseline))
    assert sum(a < b for a, b in zip(ours, baseline, strict=True)) > len(ours) / 2


def test_the_80_per_cent_interval_holds_most_held_out_weeks() -> None:
    inside = []
    for history, actual in _runs():
        fc = f.forecast(history, HORIZON)
        inside.append(np.mean((actual >= np.array(fc.low)) & (actual <= np.array(fc.high))))
    assert 0.65 <= float(np.mean(inside)) <= 0.95, np.mean(inside)


def test_a_forecast_follows_the_season_and_never_goes_below_zero() -> None:
    weeks = np.arange(3 * 52)
    history = np.where(weeks % 52 < 10, 40.0, 10.0)  # a busy first quarter every year
    fc = f.forecast(history, 12)
    assert fc.mean[1] > 30 and fc.mean[11] < 20
    assert min(fc.low) >= 0


@pytest.mark.parametrize("weeks", [0, 5, 40])
def test_a_short_history_gets_its_recent_mean(weeks: int) -> None:
    history = np.full(weeks, 7.0)
    fc = f.forecast(history, 4)
    assert fc.mean == [7.0 if weeks else 0.0] * 4
    assert all(lo <= m <= hi for lo, m, hi in zip(fc.low, fc.mean, fc.high, strict=True))
