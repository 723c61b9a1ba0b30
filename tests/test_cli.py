"""The command line as an operator uses it, against a database of its own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from nagara.app import create_app
from nagara.cli import app as cli
from nagara.kit.settings import Settings
from nagara.runtime import build_runtime
from tests.conftest import PACKS, DatabaseFactory


@pytest.fixture
def operator_env(db_factory: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = db_factory.new_url(migrated=False)
    monkeypatch.setenv("NAGARA_DATABASE_URL", url)
    monkeypatch.setenv("NAGARA_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("NAGARA_PACKS_DIR", str(PACKS))
    monkeypatch.setenv("NAGARA_LOG_JSON", "false")
    return url


def test_an_operator_sets_up_and_gets_a_token(operator_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    loaded = runner.invoke(cli, ["pack", "load"])
    assert loaded.exit_code == 0, loaded.output
    assert "loaded kl" in loaded.output
    created = runner.invoke(
        cli,
        [
            "users",
            "create-officer",
            "tvm.sec",
            "--name",
            "Secretary",
            "--role",
            "secretary",
            "--state",
            "kl",
            "--local-body",
            "kl.tvm-corp",
            "--password",
            "a long enough password",
        ],
    )
    assert created.exit_code == 0, created.output
    bad_role = runner.invoke(
        cli,
        [
            "users",
            "create-officer",
            "x.y",
            "--name",
            "X",
            "--role",
            "mayor",
            "--state",
            "kl",
            "--password",
            "a long enough password",
        ],
    )
    assert bad_role.exit_code == 1
    assert "no role 'mayor'" in bad_role.output
    token = runner.invoke(cli, ["users", "token", "tvm.sec"])
    assert token.exit_code == 0, token.output
    raw = token.output.strip()
    unknown = runner.invoke(cli, ["users", "token", "nobody"])
    assert unknown.exit_code == 1
    assert "no user 'nobody'" in unknown.output

    rt = build_runtime(Settings(env="test", database_url=operator_env, var_dir=tmp_path, worker_embedded=False))
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
        me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    rt.db.dispose()
    assert me.status_code == 200
    assert me.json()["username"] == "tvm.sec"

    weak = runner.invoke(cli, ["users", "reset-password", "tvm.sec", "--password", "tvm.sec12345"])
    assert weak.exit_code == 1
    assert "too easy to guess" in weak.output
    reset = runner.invoke(cli, ["users", "reset-password", "tvm.sec", "--password", "a new long passphrase here"])
    assert reset.exit_code == 0, reset.output
    rt = build_runtime(Settings(env="test", database_url=operator_env, var_dir=tmp_path, worker_embedded=False))
    with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:
        ended = client.get("/api/v1/me", headers={"Authorization": f"Bearer {raw}"})
    rt.db.dispose()
    assert ended.status_code == 401  # the reset ended the officer's tokens


def test_demo_loads_packs_and_accounts_without_serving(operator_env: str) -> None:
    result = CliRunner().invoke(cli, ["demo", "--no-serve", "--no-sample"])  # the sample data: tests/test_demo.py
    assert result.exit_code == 0, result.output
    assert "tvm-corp.secretary" in result.output
    assert "nagara-demo-2026" in result.output
    again = CliRunner().invoke(cli, ["demo", "--no-serve"])  # running it twice is harmless
    assert again.exit_code == 0, again.output
    code = CliRunner().invoke(cli, ["users", "totp", "kl.admin"])
    assert code.exit_code == 0
    assert code.output.strip().isdigit()


def test_an_operator_lists_revokes_and_disables(operator_env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["pack", "load"]).exit_code == 0
    created = runner.invoke(
        cli,
        ["users", "create-partner", "ksitm.bridge", "--name", "Bridge", "--role", "auditor", "--state", "kl"],
    )
    assert created.exit_code == 0, created.output
    first = created.output.strip()
    renewed = runner.invoke(cli, ["users", "api-key", "ksitm.bridge", "--label", "renewed"])
    assert renewed.exit_code == 0, renewed.output
    second = renewed.output.strip()
    listed = runner.invoke(cli, ["users", "tokens", "ksitm.bridge"])  # captured, not a terminal: nothing cut
    assert listed.exit_code == 0, listed.output
    rows = [line.split() for line in listed.output.splitlines() if "api_key" in line]
    assert len(rows) == 2, listed.output
    first_id = rows[0][1]  # the table's first column, after its border

    rt = build_runtime(Settings(env="test", database_url=operator_env, var_dir=tmp_path, worker_embedded=False))
    try:
        with TestClient(create_app(runtime=rt, start_worker=False), base_url="https://testserver") as client:

            def works(key: str) -> int:
                return client.get("/api/v1/audit-events", headers={"X-API-Key": key}).status_code

            assert works(first) == 200 and works(second) == 200
            revoked = runner.invoke(cli, ["users", "revoke-token", "ksitm.bridge", first_id])
            assert revoked.exit_code == 0, revoked.output
            assert works(first) == 401 and works(second) == 200
            assert runner.invoke(cli, ["users", "disable", "ksitm.bridge"]).exit_code == 0
            assert works(second) == 401
            assert runner.invoke(cli, ["users", "enable", "ksitm.bridge"]).exit_code == 0
            assert works(second) == 401  # disabling revoked it; a new key is issued with `users api-key`
            unknown = runner.invoke(cli, ["users", "revoke-token", "ksitm.bridge", "no-such-id"])
            assert unknown.exit_code == 1 and "no token or key" in unknown.output
    finally:
        rt.db.dispose()


def test_pack_load_offers_and_withdraws_a_service_and_refuses_an_output_without_its_template(
    operator_env: str, tmp_path: Path
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(cli, ["pack", "load"]).exit_code == 0
    dog = Path(__file__).parent / "tenancy" / "dog-licence"
    copy = tmp_path / "elsewhere" / "kl"
    shutil.copytree(PACKS / "kl", copy)
    shutil.copy(dog / "services" / "dog-licence.yaml", copy / "services")

    refused = runner.invoke(cli, ["pack", "load", str(copy)])
    text = " ".join(refused.output.split())
    assert refused.exit_code == 1, refused.output
    assert "services/dog-licence.yaml: output.type: service 'dog-licence' issues output type 'dog-licence'" in text
    assert "certificates/dog-licence.yaml" in text

    shutil.copy(dog / "certificates" / "dog-licence.yaml", copy / "certificates")
    offered = runner.invoke(cli, ["pack", "load", str(copy)])
    assert offered.exit_code == 0, offered.output
    assert "kl: offered dog-licence" in offered.output
    (copy / "services" / "dog-licence.yaml").unlink()
    withdrawn = runner.invoke(cli, ["pack", "load", str(copy)])
    assert withdrawn.exit_code == 0, withdrawn.output
    assert "kl: withdrew (applications made go on) dog-licence" in withdrawn.output
