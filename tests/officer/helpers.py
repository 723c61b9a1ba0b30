"""Signing an officer in to the pages (a session cookie, as the sign-in page sets) in TestClient tests."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from nagara.identity import service as identity
from nagara.identity.deps import csrf_token_for
from nagara.identity.models import User
from tests.conftest import People


def sign_in(client: TestClient, people: People, name: str) -> str:
    """Put the officer's web session cookie on the client; returns the CSRF token for forms."""
    with people.runtime.db.unit_of_work() as s:
        user = s.get(User, people.users[name].id)
        assert user is not None
        raw = identity.issue_token(s, user, "session")
    client.cookies.set(people.runtime.settings.session_cookie, raw)
    return csrf_token_for(people.runtime, raw)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)
