"""Service levels as the work happens: rollups folded from the record of every step, and the
dashboards and open data that read them (never the applications table)."""
