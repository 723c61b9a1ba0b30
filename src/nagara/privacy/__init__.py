"""Personal data under the DPDP Act 2023 and its Rules 2025: what a data principal sees of their data."""
