"""``nagara ledger verify``, ``prove`` and ``check-proof``: a served log checked from outside, and tampering caught."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from typer.testing import CliRunner

from nagara.app import create_app
from nagara.cli import app as cli
from nagara.ledger import checkpoint, keys, merkle, note, tiles
from nagara.ledger.checkpoint import Checkpoint
from nagara.ledger.client import VerificationError, verify_log
from nagara.ledger.models import LogTile, SignedCheckpoint
from nagara.runtime import Runtime
from tests.ledger.helpers import ORIGIN, append_entries, bulk_pending, free_socket, integrate_all, log_vkey, serving

URL = "https://testserver"


def _grow(rt: Runtime, n: int, prefix: str) -> int:
    bulk_pending(rt, n, prefix)
    return integrate_all(rt, batch_size=300)


def test_verify_rebuilds_the_tree_and_next_time_checks_consistency(ledger: Runtime, client: TestClient, tmp_path: Path) -> None:
    state = tmp_path / "seen.json"
    _grow(ledger, 700, "V")
    first = verify_log(client, URL, state_path=state)  # no key given: trust on first use, and remember it
    assert first.trusted_on_first_use
    assert (first.origin, first.size, first.previous_size, first.entries_checked) == (ORIGIN, 700, None, 700)
    remembered = json.loads(state.read_text())[f"{URL}/ledger"]
    assert remembered["vkey"] == log_vkey(ledger)
    assert remembered["size"] == 700

    _grow(ledger, 70, "W")
    second = verify_log(client, URL, state_path=state)
    assert not second.trusted_on_first_use
    assert (second.size, second.previous_size, second.entries_checked) == (770, 700, 70)  # only the new entries read
    full = verify_log(client, URL, state_path=state, full=True)
    assert (full.previous_size, full.entries_checked) == (770, 770)
    assert verify_log(client, URL, vkey=log_vkey(ledger)).size == 770  # no state: a full check against a given key


def test_verify_rejects_a_tampered_entry(ledger: Runtime, client: TestClient) -> None:
    _grow(ledger, 300, "E")
    with ledger.db.unit_of_work() as s:
        data = s.scalar(select(LogTile.data).where(LogTile.level == -1, LogTile.idx == 1))
        assert data is not None
        entries = tiles.decode_entry_bundle(data)
        entries[5] = entries[5].replace(b'"secretary"', b'"secretarx"')
        s.execute(update(LogTile).where(LogTile.level == -1, LogTile.idx == 1).values(data=tiles.encode_entry_bundle(entries)))
    with pytest.raises(VerificationError, match="does not match the entry bundle"):
        verify_log(client, URL, vkey=log_vkey(ledger))
    with pytest.raises(VerificationError, match="root hash"):
        verify_log(client, URL, vkey=log_vkey(ledger), check_tiles=False)


def test_verify_rejects_a_tampered_hash_tile(ledger: Runtime, client: TestClient) -> None:
    _grow(ledger, 600, "H")
    with ledger.db.unit_of_work() as s:
        data = s.scalar(select(LogTile.data).where(LogTile.level == 1, LogTile.idx == 0))
        assert data is not None
        s.execute(update(LogTile).where(LogTile.level == 1, LogTile.idx == 0).values(data=bytes(32) + data[32:]))
    with pytest.raises(VerificationError, match="hash tile"):
        verify_log(client, URL, vkey=log_vkey(ledger))


def test_verify_rejects_a_signed_but_wrong_root(ledger: Runtime, client: TestClient) -> None:
    size = _grow(ledger, 20, "R")
    origin_key = keys.log_signer(ledger.settings, ORIGIN)
    lie = checkpoint.sign_checkpoint(Checkpoint(ORIGIN, size, bytes(32)), [origin_key])  # validly signed, wrong root
    with ledger.db.unit_of_work() as s:
        s.execute(update(SignedCheckpoint).where(SignedCheckpoint.size == size).values(root_hash=bytes(32), note=lie))
    with pytest.raises(VerificationError, match="does not have the checkpoint's root hash"):
        verify_log(client, URL, vkey=log_vkey(ledger))


def test_verify_rejects_a_tampered_signature_or_another_key(ledger: Runtime, client: TestClient) -> None:
    _grow(ledger, 20, "S")
    with ledger.db.unit_of_work() as s:
        row = s.scalar(select(SignedCheckpoint).order_by(SignedCheckpoint.size.desc()).limit(1))
        assert row is not None
        text, _, sig = row.note.rpartition("\u2014 ")
        name, blob = sig.strip().split(" ")
        raw = bytearray(note.b64decode(blob))
        raw[-1] ^= 1
        row.note = f"{text}\u2014 {name} {note.b64encode(bytes(raw))}\n"
    with pytest.raises(VerificationError, match="checkpoint rejected"):
        verify_log(client, URL, vkey=log_vkey(ledger))
    with pytest.raises(VerificationError):
        verify_log(client, URL, vkey=note.generate_key(ORIGIN)[1])


def test_verify_rejects_a_log_that_forked_since_the_last_run(ledger: Runtime, client: TestClient, tmp_path: Path) -> None:
    state = tmp_path / "seen.json"
    _grow(ledger, 300, "F")
    verify_log(client, URL, vkey=log_vkey(ledger), state_path=state)
    # Rewrite history under the same key: a different tree of 400 entries (the log "rolled back" and regrew).
    with ledger.db.unit_of_work() as s:
        s.execute(update(LogTile).where(LogTile.level == 0, LogTile.idx == 0).values(data=bytes(32) * 256))
    memory = merkle.MemoryHashStore()
    memory.append([bytes(32)] * 256)
    with ledger.db.unit_of_work(readonly=True) as s:
        rest = s.scalar(select(LogTile.data).where(LogTile.level == 0, LogTile.idx == 1))
    assert rest is not None
    memory.append([rest[i : i + 32] for i in range(0, len(rest), 32)])
    forged = checkpoint.sign_checkpoint(Checkpoint(ORIGIN, 300, memory.root()), [keys.log_signer(ledger.settings, ORIGIN)])
    with ledger.db.unit_of_work() as s:
        s.execute(update(SignedCheckpoint).where(SignedCheckpoint.size == 300).values(root_hash=memory.root(), note=forged))
    with pytest.raises(VerificationError, match="consistent"):
        verify_log(client, URL, state_path=state)


def test_the_commands_prove_and_check_a_proof_offline(
    committed: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NAGARA_DATABASE_URL", committed.settings.database_url)
    monkeypatch.setenv("NAGARA_VAR_DIR", str(committed.settings.var_dir))
    monkeypatch.setenv("NAGARA_LEDGER_ORIGIN", ORIGIN)
    monkeypatch.setenv("NAGARA_LOG_JSON", "false")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    subjects = append_entries(committed, 12, "KL-TVMCORP-TL-2026")
    runner = CliRunner()
    integrated = runner.invoke(cli, ["ledger", "integrate"])
    assert integrated.exit_code == 0, integrated.output
    shown = runner.invoke(cli, ["ledger", "keys"])
    assert shown.exit_code == 0, shown.output
    vkey = log_vkey(committed)
    assert f"log     {vkey}" in shown.output

    proof_file = tmp_path / "entry.tlog-proof"
    made = runner.invoke(cli, ["ledger", "prove", subjects[7], "--output", str(proof_file)])
    assert made.exit_code == 0, made.output
    assert proof_file.read_text().startswith("c2sp.org/tlog-proof@v1\nextra ")
    ok = runner.invoke(cli, ["ledger", "check-proof", str(proof_file), "--vkey", vkey, "--subject", subjects[7]])
    assert ok.exit_code == 0, ok.output
    assert "OK entry 7" in ok.output
    assert runner.invoke(cli, ["ledger", "check-proof", str(proof_file), "--vkey", vkey, "--subject", subjects[6]]).exit_code == 1
    assert runner.invoke(cli, ["ledger", "check-proof", str(proof_file), "--vkey", note.generate_key(ORIGIN)[1]]).exit_code == 1
    tampered = tmp_path / "tampered.tlog-proof"
    lines = proof_file.read_text().split("\n")
    lines[2] = "index 6"
    tampered.write_text("\n".join(lines))
    assert runner.invoke(cli, ["ledger", "check-proof", str(tampered), "--vkey", vkey]).exit_code == 1
    assert runner.invoke(cli, ["ledger", "prove", "NO-SUCH-SUBJECT"]).exit_code == 1

    # The same over HTTP: verify a running node, then prove from it.
    app = create_app(runtime=committed, start_worker=False)
    with serving(app, free_socket()) as url:
        verified = runner.invoke(cli, ["ledger", "verify", url])
        assert verified.exit_code == 0, verified.output
        assert "OK ledger.test.example.gov.in/v1: 12 entries" in verified.output
        assert "trusting the key" in verified.output
        append_entries(committed, 3, "KL-TVMCORP-TL-2026-NEW")
        integrate_all(committed)
        again = runner.invoke(cli, ["ledger", "verify", url])
        assert again.exit_code == 0, again.output
        assert "consistent with size 12 seen before" in again.output
        remote = runner.invoke(cli, ["ledger", "prove", subjects[2], "--url", url])
        assert remote.exit_code == 0, remote.output
        assert remote.output.startswith("c2sp.org/tlog-proof@v1")
