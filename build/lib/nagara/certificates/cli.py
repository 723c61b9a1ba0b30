"""``nagara certificates ...``: verify a certificate file offline or against its issuer, and make an issuer key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from nagara.certificates import compact, verify

certificates_app = typer.Typer(no_args_is_help=True, help="Certificates and licences: verify, keys.")


def _http_fetch(url: str) -> dict[str, Any] | None:
    import httpx

    try:
        response = httpx.get(url, timeout=10, follow_redirects=False)
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    value = response.json()
    return value if isinstance(value, dict) else None


def _did_web_url(did: str) -> str:
    from urllib.parse import unquote

    parts = did.removeprefix("did:web:").split(":")
    host = unquote(parts[0])
    scheme = "http" if host.startswith(("127.", "localhost")) else "https"
    path = "/".join(unquote(p) for p in parts[1:])
    return f"{scheme}://{host}/{path}/did.json" if path else f"{scheme}://{host}/.well-known/did.json"


def _read(path: Path) -> tuple[str, Any]:
    content = path.read_bytes()
    if content.startswith(b"%PDF"):
        return "credential", verify.credential_from_pdf(content)
    text = content.decode("utf-8", errors="replace").strip()
    if text.startswith("{"):
        try:
            return "credential", json.loads(text)
        except json.JSONDecodeError as exc:
            raise verify.InputError(f"{path} is not valid JSON: {exc}") from None
    return "qr", verify.compact_from_qr(text)


def verify_file(
    path: Path,
    *,
    did_document: dict[str, Any] | None = None,
    jwks: dict[str, Any] | None = None,
    fetch: verify.StatusFetcher | None = None,
) -> dict[str, Any]:
    """Verify a PDF, a credential JSON file or a file holding a QR code's content.

    Keys come from ``did_document`` / ``jwks`` (saved copies: fully offline) or, if neither
    is given, from the issuer's did:web document through ``fetch``. Status lists come
    through ``fetch``; with no ``fetch`` the status is reported as not checked.
    """
    kind, value = _read(path)
    trust = verify.Trust()
    if did_document:
        trust.add_did_document(did_document)
    if jwks:
        trust.add_jwks(jwks)
    if not trust.keys and fetch is not None:
        issuer = value.get("issuer") if kind == "credential" else None
        did = (issuer.get("id") if isinstance(issuer, dict) else issuer) if kind == "credential" else None
        if kind == "qr":
            try:
                did = compact.parse(value)[1].get("iss")
            except compact.CompactError:
                did = None
        document = fetch(_did_web_url(str(did))) if isinstance(did, str) and did.startswith("did:web:") else None
        if document:
            trust.add_did_document(document)
    if kind == "credential":
        return verify.verify_credential(value, trust, fetch).as_dict()
    return verify.verify_compact_form(value, trust).as_dict()


@certificates_app.command("verify")
def verify_command(
    file: Annotated[
        Path, typer.Argument(help="A certificate PDF, a credential (.json), or a text file with a QR code's content")
    ],
    did_document: Annotated[Path | None, typer.Option(help="The issuer's DID document (saved /.well-known/did.json)")] = None,
    jwks: Annotated[Path | None, typer.Option(help="The issuer's JWKS (saved /.well-known/jwks.json)")] = None,
    status_list: Annotated[list[Path] | None, typer.Option(help="A saved status list credential (repeat for several)")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Fetch nothing: keys and status lists from files only")] = False,
) -> None:
    """Verify a certificate: its signature, dates and status; exit 0 only when genuine and current."""
    saved: dict[str, dict[str, Any]] = {}
    for listing in status_list or []:
        value = json.loads(listing.read_text())
        saved[str(value.get("id"))] = value

    def fetch(url: str) -> dict[str, Any] | None:
        if url in saved:
            return saved[url]
        return None if offline else _http_fetch(url)

    try:
        result = verify_file(
            file,
            did_document=json.loads(did_document.read_text()) if did_document else None,
            jwks=json.loads(jwks.read_text()) if jwks else None,
            fetch=fetch if (saved or not offline) else None,
        )
    except (verify.InputError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2))
    raise typer.Exit(0 if result["verified"] and result["status"] == "current" else 1)


@certificates_app.command("keygen")
def keygen() -> None:
    """Print a new issuer key for NAGARA_CREDENTIAL_KEY (an Ed25519 Multikey secret key)."""
    from nagara.certificates.issuer import generate_key

    typer.echo(generate_key())
