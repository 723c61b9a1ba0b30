from __future__ import annotations

import os

import pytest
import uvicorn
from typer.testing import CliRunner

from nagara.app import create_app
from nagara.cli import app as cli
from nagara.kit.settings import InsecureProductionSettings, Settings, load_settings

GOOD = {
    "NAGARA_ENV": "production",
    "NAGARA_SECRET_KEY": "s" * 48,
    "NAGARA_PII_KEY": "ab" * 32,
    "NAGARA_SMS_BACKEND": "http",
    "NAGARA_SMS_HTTP_URL": "https://sms.example.invalid/send",
    "NAGARA_SMS_HTTP_TOKEN": "token",
    "NAGARA_LEDGER_KEY": "PRIVATE+KEY+ledger.kl.example.gov.in/v1+e174f4e7+AbUv/5BgcrXr5feOTsSpEn2V6iB2G7gdYC5FTlwsvnWp",
    "NAGARA_PAYMENTS_GATEWAY": "razorpay",
    "NAGARA_PAYMENTS_RAZORPAY_KEY_ID": "rzp_live_example",
    "NAGARA_PAYMENTS_RAZORPAY_KEY_SECRET": "key-secret",
    "NAGARA_PAYMENTS_RAZORPAY_WEBHOOK_SECRET": "webhook-secret",
    "NAGARA_METRICS_TOKEN": "metrics-token",
    "NAGARA_CREDENTIAL_KEY": "z3u2VxJP9V3MpgtMBn1U7pThQCUmh3grqq1kPZMMrmG4etq3",  # nagara certificates keygen
}


def set_env(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)


def test_production_refuses_default_secrets_and_names_each(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGARA_ENV", "production")
    with pytest.raises(InsecureProductionSettings) as caught:
        load_settings()
    message = str(caught.value)
    assert "NAGARA_SECRET_KEY" in message
    assert "NAGARA_CREDENTIAL_KEY" in message
    assert "NAGARA_PII_KEY" in message
    assert "NAGARA_SMS_BACKEND" in message


def test_the_app_factory_refuses_too(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**GOOD, "NAGARA_SECRET_KEY": "dev-insecure-change-me"})
    with pytest.raises(InsecureProductionSettings, match="NAGARA_SECRET_KEY"):
        create_app()


def test_production_starts_with_real_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, GOOD)
    settings = load_settings()
    assert settings.env == "production"
    assert settings.insecure_production_problems() == []


@pytest.mark.parametrize(
    "missing",
    ["NAGARA_PAYMENTS_RAZORPAY_KEY_ID", "NAGARA_PAYMENTS_RAZORPAY_KEY_SECRET", "NAGARA_PAYMENTS_RAZORPAY_WEBHOOK_SECRET"],
)
def test_production_refuses_the_gateway_without_its_secrets(monkeypatch: pytest.MonkeyPatch, missing: str) -> None:
    set_env(monkeypatch, GOOD)
    monkeypatch.delenv(missing)
    with pytest.raises(InsecureProductionSettings, match=missing):
        load_settings()


def test_production_refuses_public_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, GOOD)
    monkeypatch.delenv("NAGARA_METRICS_TOKEN")
    with pytest.raises(InsecureProductionSettings, match="NAGARA_METRICS_TOKEN"):
        load_settings()


def test_a_short_or_malformed_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    set_env(monkeypatch, {**GOOD, "NAGARA_SECRET_KEY": "short", "NAGARA_PII_KEY": "xyz"})
    with pytest.raises(InsecureProductionSettings) as caught:
        load_settings()
    assert "shorter than 32" in str(caught.value)
    assert "64 hexadecimal" in str(caught.value)


def test_unknown_keys_are_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGARA_DATABSE_URL", "sqlite://")
    with pytest.raises(ValueError, match="NAGARA_DATABSE_URL") as caught:
        load_settings()
    assert "NAGARA_DATABASE_URL" in str(caught.value)  # the message lists the real names
    with pytest.raises(ValueError, match="Extra inputs"):
        Settings(databse_url="x")  # type: ignore[call-arg]


def test_port_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAGARA_PORT", "8123")
    settings = load_settings()
    assert settings.port == 8123
    assert settings.base_url == "http://127.0.0.1:8123"
    assert settings.database_url.startswith("sqlite:///var/")


def test_serve_runs_one_process_on_sqlite_and_one_per_core_on_postgresql(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *_args, **kw: ran.append(kw))
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.setenv("NAGARA_DATABASE_URL", "sqlite:///var/serve-test.db")
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0  # the embedded mode: one process, its worker inside
    monkeypatch.setenv("NAGARA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/nagara")
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    monkeypatch.setenv("NAGARA_WORKERS", "3")
    assert CliRunner().invoke(cli, ["serve"]).exit_code == 0
    assert CliRunner().invoke(cli, ["serve", "--workers", "1"]).exit_code == 0  # the option wins over the setting
    assert [kw["workers"] for kw in ran] == [1, 8, 3, 1]
