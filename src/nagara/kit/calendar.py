"""Working days: a state's weekly offs, nth-Saturday offs and holidays, plus local additions.

Statutory time limits (Right to Service, Sakala) count working days, so this is
the clock every due time is computed with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class WorkingCalendar:
    weekly_off: frozenset[str]
    off_saturdays: frozenset[int]
    holidays: frozenset[date]
    working_days: frozenset[date]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> WorkingCalendar:
        return cls(
            weekly_off=frozenset(config.get("weekly_off", ["sun"])),
            off_saturdays=frozenset(config.get("off_saturdays", [])),
            holidays=frozenset(date.fromisoformat(str(h["date"])) for h in config.get("holidays", [])),
            working_days=frozenset(date.fromisoformat(str(d)) for d in config.get("working_days", [])),
        )

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.holidays:
            return False
        name = WEEKDAYS[day.weekday()]
        if name in self.weekly_off:
            return False
        return not (name == "sat" and (day.day - 1) // 7 + 1 in self.off_saturdays)

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must be zero or more")
        current = start
        remaining = days
        while remaining:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end``."""
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count
