"""`nagara exchange` as an operator uses it: keys, a member read from its published keys, a signed test call."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nagara.app import create_app
from nagara.cli import app as cli
from nagara.kit.settings import load_settings
from nagara.runtime import build_runtime
from tests.conftest import PACKS, DatabaseFactory
from tests.ledger.helpers import free_socket, serving

SELF = "IN/GOV/KL-NAGARA/self"


def test_keys_members_and_a_signed_call(db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = free_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for name, value in {
        "NAGARA_DATABASE_URL": db_factory.new_url(migrated=False),
        "NAGARA_VAR_DIR": str(tmp_path),
        "NAGARA_PACKS_DIR": str(PACKS),
        "NAGARA_LOG_JSON": "false",
        "NAGARA_BASE_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["pack", "load"]).exit_code == 0
    first = runner.invoke(cli, ["exchange", "keys", "rotate", "--name", "one"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("did:web:127.0.0.1%3A")
    assert runner.invoke(cli, ["exchange", "keys", "rotate", "--name", "one"]).exit_code == 1  # the name is taken
    runtime = build_runtime(load_settings())
    try:
        with serving(create_app(runtime=runtime, start_worker=False), sock):
            # The node registers itself as a member, reading its keys from /exchange/v1/keys, and calls itself.
            registered = runner.invoke(
                cli,
                [
                    "exchange",
                    "register",
                    SELF,
                    "--state",
                    "kl",
                    "--name",
                    "This node",
                    "--url",
                    url,
                    "--service",
                    "certificate-verify",
                    "--purpose",
                    "testing",
                ],
            )
            assert registered.exit_code == 0, registered.output
            assert "with 1 key(s)" in registered.output
            listed = runner.invoke(cli, ["exchange", "list"])
            assert SELF in listed.output and "certificate-verify" in listed.output and "#one" in listed.output
            called = runner.invoke(
                cli, ["exchange", "call", SELF, "certificate-verify", '{"purpose": "testing", "number": "KL-NONE-1"}']
            )
            assert called.exit_code == 0, called.output
            assert "200 (signature checked)" in called.output and '"known": false' in called.output
            refused = runner.invoke(
                cli, ["exchange", "call", SELF, "application-status", '{"purpose": "testing", "number": "X"}']
            )
            assert refused.exit_code == 1 and "403" in refused.output and "exchange-service-not-allowed" in refused.output
            # Rotation: a second key signs at once; once the member (here: ourselves) knows it, the old one retires.
            second = runner.invoke(cli, ["exchange", "keys", "rotate", "--name", "two"]).output.split()
            assert runner.invoke(cli, ["exchange", "add-key", SELF, second[0], second[1]]).exit_code == 0
            old = first.output.split()[0]
            assert runner.invoke(cli, ["exchange", "keys", "retire", old]).exit_code == 0
            assert runner.invoke(cli, ["exchange", "retire-key", SELF, old]).exit_code == 0
            again = runner.invoke(
                cli, ["exchange", "call", SELF, "certificate-verify", '{"purpose": "testing", "number": "KL-NONE-1"}']
            )
            assert again.exit_code == 0, again.output
            assert runner.invoke(cli, ["exchange", "keys", "list"]).output.split() == second
            bad = runner.invoke(
                cli, ["exchange", "register", "not an identifier", "--state", "kl", "--name", "x", "--did", "did:web:x.example"]
            )
            assert bad.exit_code == 1 and "identifier" in bad.output
    finally:
        runtime.db.dispose()
