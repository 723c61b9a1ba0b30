"""Shared plumbing with no domain logic: settings, database, errors, ids, crypto, i18n."""
