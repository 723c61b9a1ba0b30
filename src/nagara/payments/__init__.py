"""Payments: demands, payments, gateway adapters, receipts, refunds, accounts journal."""
