"""Prometheus metrics. Defined once per process (the registry is global)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter("nagara_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "nagara_http_request_seconds",
    "HTTP request latency",
    ["method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EXCHANGES = Counter(
    "nagara_exchange_requests_total",
    "Signed exchange requests served, by member (unknown before its signature is checked), service and outcome",
    ["member", "service", "outcome"],
)
JOBS = Counter("nagara_jobs_total", "Background jobs handled", ["name", "outcome"])
