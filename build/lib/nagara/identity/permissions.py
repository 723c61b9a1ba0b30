"""The permissions the code checks, named ``domain:resource:action``.

Packs grant them to roles; a pack naming a permission not listed here is
rejected, so a typo cannot silently grant nothing (or the wrong thing).
"""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "identity:profile:read": "Read one's own profile",
    "identity:profile:update": "Change one's own name and language",
    "identity:user:read": "Read officers and their roles within the jurisdiction",
    "identity:user:manage": "Create officers and grant or revoke roles within the jurisdiction",
    "identity:citizen:assist": "Look up or register a citizen to act on their behalf (assisted access)",
    "audit:event:read": "Read audit events within the jurisdiction",
    "tenancy:pack:read": "Read the state's pack and its validation status",
    # Granted now so that roles are complete; checked by the application domains.
    "applications:application:create": "Apply for a service (for oneself, or assisted)",
    "applications:application:read": "Read applications within the jurisdiction",
    "applications:application:act": "Take workflow actions the role allows",
    "applications:appeal:decide": "Hear and decide appeals",
    "payments:payment:collect": "Record counter payments",
    "certificates:certificate:manage": "Reissue, revoke, suspend and reinstate certificates and licences",
}
