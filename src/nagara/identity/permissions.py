"""The permissions the code checks, named ``domain:resource:action``.

Packs grant them to roles; a pack naming a permission not listed here is
rejected, so a typo cannot silently grant nothing (or the wrong thing).
"""

from __future__ import annotations

from typing import Any

PERMISSIONS: dict[str, str] = {
    "identity:profile:read": "Read one's own profile",
    "identity:profile:update": "Change one's own name and language",
    "identity:user:read": "Read officers and their roles within the jurisdiction",
    "identity:user:manage": "Create officers and grant or revoke roles within the jurisdiction",
    "identity:citizen:assist": "Look up or register a citizen to act on their behalf (assisted access)",
    "audit:event:read": "Read audit events within the jurisdiction",
    "tenancy:pack:read": "Read the state's pack and its validation status",
    "tenancy:settings:read": "Read a local body's services and settings with its own overrides (administration)",
    # Granted now so that roles are complete; checked by the application domains.
    "applications:application:create": "Apply for a service (for oneself, or assisted)",
    "applications:application:read": "Read applications within the jurisdiction",
    "applications:application:act": "Take workflow actions the role allows",
    "applications:appeal:decide": "Hear and decide appeals",
    "payments:payment:collect": "Record counter payments",
    "payments:payment:create": "Pay a demand online (one's own, or at an assisted-access centre)",
    "payments:payment:refund": "Refund all or part of a payment",
    "payments:demand:read": "Read demands, payments, receipts and counter reports within the jurisdiction",
    "payments:demand:raise": "Raise property tax demands from the property register",
    "payments:accounts:read": "Read the accounts journal and trial balance within the jurisdiction",
    "grievances:grievance:file": "File grievances for a caller (call centre, counter, Open311 partner app)",
    "grievances:grievance:read": "Read grievances within the jurisdiction, with the citizen's contact",
    "grievances:grievance:act": "Handle grievances at the level the role holds: assign, transfer, reply, resolve, merge",
    "certificates:certificate:manage": "Reissue, revoke, suspend and reinstate certificates and licences",
    "exchange:member:manage": "Register exchange members (other nodes, departments), their keys, services and purposes",
    "privacy:breach:manage": "Keep the register of personal data breaches: record, assess, tell the people and the Board",
    "notifications:delivery:read": "Read the delivery rates and failures of notifications per channel and template",
}


def role_problems(role: dict[str, Any]) -> list[tuple[str, str]]:
    """For a pack's ``roles.yaml`` (registered in ``domains.py``): each permission the role grants that no code checks."""
    granted: list[Any] = role["permissions"] if isinstance(role.get("permissions"), list) else []
    return [
        (f"permissions[{j}]", f"unknown permission {perm!r}; known permissions: {', '.join(sorted(PERMISSIONS))}")
        for j, perm in enumerate(granted)
        if isinstance(perm, str) and perm not in PERMISSIONS
    ]
