"""Benchmark: signed exchange round trips between two nodes, and the cost of signing and verifying.

Run: ``.venv/bin/python bench/exchange.py [--seconds 10] [--clients 4]``.

Two nodes (Kerala and Karnataka), each ``nagara serve`` (uvicorn, one process, worker off) on a
free loopback port with a SQLite database of its own, register each other as members (keys read
from ``/exchange/v1/keys``). The Karnataka side then calls Kerala's ``certificate-verify`` as fast as
``--clients`` threads can: each call is signed (RFC 9421, Ed25519, Content-Digest), checked,
admitted (rate counter and nonce, one transaction), served and logged with its ledger entry (a
second transaction), answered signed, and the answer's signature checked. Printed beside it, in the
same run: ``/healthz`` round trips of the same server from the same client (the HTTP ceiling), and
per-operation costs of our signing and verification next to raw Ed25519 sign and verify.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from read_endpoint import free_port  # noqa: E402


def _env(url: str, var: Path, port: int) -> dict[str, str]:
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NAGARA_")},
        "NAGARA_DATABASE_URL": url,
        "NAGARA_VAR_DIR": str(var),
        "NAGARA_PORT": str(port),
        "NAGARA_BASE_URL": f"http://127.0.0.1:{port}",
        "NAGARA_WORKER_EMBEDDED": "false",
        "NAGARA_LOG_LEVEL": "WARNING",
        "NAGARA_PACKS_DIR": str(ROOT / "packs"),
    }


def _nagara(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "nagara", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"nagara {' '.join(args)}: {done.stdout}{done.stderr}")
    return done.stdout


def _serve(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "nagara", "serve"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not become ready")


def _load(seconds: float, clients: int, call: object) -> float:
    """Calls per second of ``call()`` from ``clients`` threads for ``seconds``."""
    stop = time.perf_counter() + seconds
    counts = [0] * clients

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            call()  # type: ignore[operator]
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def _per_second(n: int, fn: object) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()  # type: ignore[operator]
    return n / (time.perf_counter() - started)


def crypto(n: int) -> None:
    from nagara.exchange import httpsig, service
    from nagara.kit.db import utcnow

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = b"x" * 200
    signature = key.sign(message)
    body = json.dumps({"purpose": "bench", "number": "KL-TVMCORP-B-2026-000001"}).encode()
    path = "/exchange/v1/services/certificate-verify"
    now = utcnow()
    headers = {"content-digest": httpsig.content_digest(body), "date": service.http_date(now)}
    values = service.component_values("POST", path, headers)

    def ours_sign() -> dict[str, str]:
        digest = httpsig.content_digest(body)
        vals = {**values, "content-digest": digest}
        return httpsig.sign(
            key,
            keyid="did:web:x#k",
            values=vals,
            components=httpsig.REQUEST_COMPONENTS,
            created=int(now.timestamp()),
            nonce=secrets.token_urlsafe(18),
        )

    signed = {k.lower(): v for k, v in ours_sign().items()} | headers

    def ours_verify() -> None:
        parsed = httpsig.parse(signed["signature-input"], signed["signature"], httpsig.REQUEST_COMPONENTS)
        httpsig.check_content_digest(signed["content-digest"], body)
        httpsig.verify(parsed, public, service.component_values("POST", path, signed))

    rows = [
        ("raw Ed25519 sign", _per_second(n, lambda: key.sign(message))),
        ("raw Ed25519 verify", _per_second(n, lambda: public.verify(signature, message))),
        ("our request signing (digest, base, sign, fields)", _per_second(n, ours_sign)),
        ("our request verification (parse, digest, base, verify)", _per_second(n, ours_verify)),
    ]
    for name, rate in rows:
        print(f"  {name:<56} {rate:>10,.0f}/s  {1e6 / rate:7.1f} µs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--crypto-n", type=int, default=20_000)
    args = parser.parse_args()
    print("signing and verification, one thread:")
    crypto(args.crypto_n)

    with tempfile.TemporaryDirectory() as tmp:
        ports = {"kl": free_port(), "ka": free_port()}
        envs = {}
        for state, port in ports.items():
            var = Path(tmp) / state
            var.mkdir()
            envs[state] = _env(f"sqlite:///{var / 'nagara.db'}", var, port)
            _nagara(envs[state], "db", "upgrade")
            _nagara(envs[state], "pack", "load")
            _nagara(envs[state], "exchange", "keys", "rotate")
        procs = {s: _serve(envs[s], ports[s]) for s in ports}
        try:
            kl, ka = (f"http://127.0.0.1:{ports[s]}" for s in ("kl", "ka"))
            _nagara(
                envs["kl"],
                "exchange",
                "register",
                "IN/GOV/KA-NAGARA/portal",
                "--state",
                "kl",
                "--name",
                "Karnataka",
                "--url",
                ka,
                "--service",
                "certificate-verify",
                "--purpose",
                "bench",
                "--rate",
                "100000000",
            )
            _nagara(
                envs["ka"], "exchange", "register", "IN/GOV/KL-NAGARA/portal", "--state", "ka", "--name", "Kerala", "--url", kl
            )
            os.environ.update(envs["ka"])
            from nagara.domains import load_all
            from nagara.exchange import client
            from nagara.kit.settings import load_settings
            from nagara.runtime import build_runtime

            load_all()
            rt = build_runtime(load_settings())
            local = threading.local()

            def http() -> httpx.Client:
                if not hasattr(local, "http"):
                    local.http = httpx.Client(timeout=30)
                return local.http  # type: ignore[no-any-return]

            def signed() -> None:
                with rt.db.unit_of_work(readonly=True) as s:
                    sent = client.send(
                        s,
                        "IN/GOV/KL-NAGARA/portal",
                        "certificate-verify",
                        {"purpose": "bench", "number": "KL-NONE-1"},
                        http=http(),
                    )
                if sent.response.status_code != 200:
                    raise RuntimeError(sent.response.text)

            def healthz() -> None:
                http().get(f"{kl}/healthz")

            signed()
            print(f"round trips, {args.clients} client threads, {args.seconds:.0f} s each, Kerala node on SQLite:")
            health = _load(args.seconds, args.clients, healthz)
            rate = _load(args.seconds, args.clients, signed)
            print(f"  GET /healthz (the HTTP ceiling, same server and client)      {health:>8,.1f}/s")
            print(f"  signed certificate-verify (sign, admit, serve, log, answer)  {rate:>8,.1f}/s")
            rt.db.dispose()
        finally:
            for proc in procs.values():
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()
