"""Certificates and licences: issue, render (PDF with QR), verifiable credentials, verify, revoke."""
