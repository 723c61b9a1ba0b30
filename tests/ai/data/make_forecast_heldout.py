"""Writes forecast_heldout.yaml: the held-out set of the demand forecast (nagara.ai.forecast).

Origin: no local body's real application counts are public, so the weekly series are simulated, once,
with this script (seed fixed) and kept; neither the model nor its tuning reads anything else. Each
series is 4 years of weekly applications of one service at one body (three years of history and
the 12 weeks after it held out), drawn from Poisson counts around a mean built from patterns that
Kerala's services are known to follow, written here before the model was tried on them:
- trade licence renewals crowd into March and April (licences run with the financial year);
- birth and death certificates are steady, with more in May and June (school admissions ask for
  them) and fewer in Onam week (a late-August or September holiday week) and Vishu week (mid-April);
- building permits fall in the south-west monsoon (June to August) and rise after it;
- every body has its own size (2 to 80 applications in an average week) and a trend of -10% to
  +20% a year.

    .venv/bin/python tests/ai/data/make_forecast_heldout.py   # rewrites forecast_heldout.yaml
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import yaml

WEEKS = 4 * 52
HELD_OUT = 12
SEED = 20261206

PATTERNS = {
    # service: (weeks of year with more demand, factor), (weeks with less, factor)
    "trade-licence": ([(9, 17, 2.6)], []),
    "birth-certificate": ([(18, 26, 1.5)], [(14, 15, 0.6), (34, 36, 0.5)]),
    "death-certificate": ([(18, 26, 1.2)], [(14, 15, 0.7), (34, 36, 0.6)]),
    "building-permit": ([(36, 46, 1.4)], [(22, 34, 0.55)]),
}


def series(rng: np.random.Generator, service: str, size: float, trend: float) -> list[int]:
    up, down = PATTERNS[service]
    week = np.arange(WEEKS)
    of_year = week % 52
    shape = np.ones(WEEKS)
    for start, end, factor in up + down:
        shape[(of_year >= start) & (of_year < end)] *= factor
    mean = size * shape * (1 + trend) ** (week / 52)
    return [int(x) for x in rng.poisson(mean)]


def main() -> None:
    rng = np.random.default_rng(SEED)
    out = []
    for i in range(40):
        service = list(PATTERNS)[i % len(PATTERNS)]
        size = float(np.exp(rng.uniform(np.log(2), np.log(80))))
        trend = float(rng.uniform(-0.10, 0.20))
        out.append({"body": f"body-{i // len(PATTERNS):02d}", "service": service, "weekly": series(rng, service, size, trend)})
    doc = {"held_out_weeks": HELD_OUT, "series": out}
    path = Path(__file__).with_name("forecast_heldout.yaml")
    path.write_text(
        "# Made by make_forecast_heldout.py (simulated: see its docstring for the origin). Each series: 4 years\n"
        "# of weekly applications; the last held_out_weeks are the held-out weeks the forecast is scored on.\n"
        + yaml.safe_dump(doc, default_flow_style=None, width=200),
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
