"""Conventions shared by every domain's router."""

API_PREFIX = "/api/v1"
