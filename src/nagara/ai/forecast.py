"""Demand forecasting: weekly applications of one service at one local body for the weeks ahead, with intervals.

The model (:func:`forecast`) is a seasonal level: each week-of-year's share of its year (the counts of
that week and its neighbours over every year of history, against the year's mean) times the current
level (the last :data:`LEVEL_WEEKS` weeks with their season taken out). Averaging the season over
years and neighbouring weeks keeps one year's chance peaks out of next year's forecast, which is
where the baseline, seasonal naive (the same week a year earlier, :func:`seasonal_naive`), loses.
Intervals are the quantiles of the model's own errors, relative to its forecast, in backtests on
the history (rolling origins), so they widen for a noisy service.

Pure NumPy: no model is stored; a forecast is computed from the history when asked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEASON = 52  # weeks in a year (a 53rd week folds into the 52nd)
LEVEL_WEEKS = 8  # recent weeks the level is read from
SMOOTH = 1  # neighbouring weeks (each side) averaged into a week's seasonal share
MIN_HISTORY = SEASON + LEVEL_WEEKS  # shorter histories get the recent mean, without a season


@dataclass(frozen=True)
class Forecast:
    mean: list[float]  # expected applications in each week ahead
    low: list[float]  # the interval's lower bound (the ``coverage`` interval)
    high: list[float]
    coverage: float


def seasonal_naive(history: np.ndarray, horizon: int) -> np.ndarray:
    """The baseline: each week ahead as the same week a year earlier."""
    history = np.asarray(history, dtype=float)
    if len(history) < SEASON:
        return np.full(horizon, history[-LEVEL_WEEKS:].mean() if len(history) else 0.0)
    last = history[-SEASON:]
    return np.array([last[h % SEASON] for h in range(horizon)])


def _season(history: np.ndarray) -> np.ndarray:
    """Each week-of-year's share (1.0 = an average week), the week of ``history[0]`` first."""
    n = len(history)
    years = n // SEASON
    part = history[n - years * SEASON :].reshape(years, SEASON)  # whole years, ending at the last week
    means = part.mean(axis=1, keepdims=True)
    ratios = np.divide(part, means, out=np.ones_like(part), where=means > 0).mean(axis=0)
    kernel = np.ones(2 * SMOOTH + 1) / (2 * SMOOTH + 1)
    wrapped = np.concatenate([ratios[-SMOOTH:], ratios, ratios[:SMOOTH]])
    smooth = np.convolve(wrapped, kernel, mode="valid")
    smooth = smooth / smooth.mean() if smooth.mean() > 0 else np.ones(SEASON)
    # smooth[i] is the share of the week at position (n - years*SEASON + i) mod SEASON of history
    offset = (n - years * SEASON) % SEASON
    return np.roll(smooth, offset)


def point_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """The model's expected counts for the weeks ahead (no interval)."""
    history = np.asarray(history, dtype=float)
    n = len(history)
    if n < MIN_HISTORY:
        return np.full(horizon, history[-LEVEL_WEEKS:].mean() if n else 0.0)
    season = _season(history)  # season[k] is the share of weeks whose index i has i % SEASON == k
    recent = np.arange(n - LEVEL_WEEKS, n)
    shares = season[recent % SEASON]
    level = float(history[recent].sum() / shares.sum()) if shares.sum() > 0 else float(history[recent].mean())
    ahead = np.arange(n, n + horizon)
    return np.asarray(level * season[ahead % SEASON])


def forecast(history: np.ndarray, horizon: int = 12, *, coverage: float = 0.8, origins: int = 12) -> Forecast:
    """The next ``horizon`` weeks from weekly counts (oldest first), with a ``coverage`` interval from
    the model's relative errors when it forecast the history's last ``origins`` stretches."""
    history = np.asarray(history, dtype=float)
    mean = point_forecast(history, horizon)
    errors = []
    for k in range(origins):
        cut = len(history) - horizon - k
        if cut < MIN_HISTORY:
            break
        past = point_forecast(history[:cut], horizon)
        actual = history[cut : cut + horizon]
        errors.append((actual - past) / np.maximum(past, 1.0))
    if errors:
        rel = np.concatenate(errors)
        lo_q, hi_q = np.quantile(rel, [(1 - coverage) / 2, 1 - (1 - coverage) / 2])
        low, high = mean + lo_q * np.maximum(mean, 1.0), mean + hi_q * np.maximum(mean, 1.0)
    else:  # too short to backtest: a Poisson interval
        z = 1.2816 if coverage == 0.8 else 1.96
        spread = z * np.sqrt(np.maximum(mean, 1.0))
        low, high = mean - spread, mean + spread
    return Forecast(
        [round(float(x), 2) for x in mean],
        [round(float(max(x, 0.0)), 2) for x in low],
        [round(float(x), 2) for x in high],
        coverage,
    )


def mase(actual: np.ndarray, predicted: np.ndarray, history: np.ndarray) -> float:
    """Mean absolute scaled error: the forecast's mean absolute error over that of the in-sample
    seasonal-naive forecast (one year back) on the history."""
    history = np.asarray(history, dtype=float)
    scale = np.abs(history[SEASON:] - history[:-SEASON]).mean() if len(history) > SEASON else np.abs(np.diff(history)).mean()
    return float(np.abs(np.asarray(actual, dtype=float) - np.asarray(predicted, dtype=float)).mean() / max(scale, 1e-9))
