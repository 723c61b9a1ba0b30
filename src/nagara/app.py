"""The application factory: settings -> runtime -> FastAPI app with every domain's router."""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import logging
import secrets
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
import fastapi_offline
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.orm.exc import StaleDataError
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nagara import __version__
from nagara.analytics.views import router as analytics_views_router
from nagara.applications.api import router as applications_router
from nagara.applications.views import router as applications_views_router
from nagara.audit.api import router as audit_router
from nagara.catalog.api import router as catalog_router
from nagara.catalog.views import router as catalog_views_router
from nagara.certificates.api import public_router as certificates_public_router
from nagara.certificates.api import router as certificates_router
from nagara.certificates.views import router as certificates_views_router
from nagara.domains import load_all
from nagara.exchange.api import digilocker_router as exchange_digilocker_router
from nagara.exchange.api import router as exchange_router
from nagara.exchange.api import signed_router as exchange_signed_router
from nagara.grievances.api import open311_router
from nagara.grievances.api import router as grievances_router
from nagara.grievances.views import router as grievances_views_router
from nagara.identity.api import router as identity_router
from nagara.identity.views import router as identity_views_router
from nagara.kit import context, migrate
from nagara.kit.edge import InputGuard, Limits
from nagara.kit.errors import Problem, http_problem
from nagara.kit.logging import configure_logging
from nagara.kit.metrics import LATENCY, REQUESTS
from nagara.kit.settings import Settings, load_settings
from nagara.ledger.api import router as ledger_router
from nagara.notifications.api import router as notifications_router
from nagara.notifications.views import router as notifications_views_router
from nagara.officer.admin import router as officer_admin_router
from nagara.officer.assist import router as officer_assist_router
from nagara.officer.dashboard import router as officer_dashboard_router
from nagara.officer.exchange import router as officer_exchange_router
from nagara.officer.views import router as officer_views_router
from nagara.opendata.api import router as opendata_router
from nagara.opendata.dcat import router as dcat_router
from nagara.payments.api import router as payments_router
from nagara.payments.gateway_views import router as local_gateway_router
from nagara.payments.views import router as payments_views_router
from nagara.privacy.api import router as privacy_router
from nagara.privacy.views import router as privacy_views_router
from nagara.runtime import Runtime, build_runtime
from nagara.tenancy.api import router as tenancy_router
from nagara.web import pages
from nagara.web.i18n import LocaleMiddleware
from nagara.web.info import router as web_info_router
from nagara.web.templating import STATIC_DIR
from nagara.web.views import router as web_views_router
from nagara.worker.runner import Worker

log = logging.getLogger("nagara.http")

PROBLEM_JSON = "application/problem+json"
DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
FONTS_DIR = Path(__file__).resolve().parent / "certificates" / "fonts"
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
# Swagger UI's page starts itself with an inline script.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'unsafe-inline'; frame-ancestors 'none'"
)
# Routes anyone may call without signing in; every other /api/v1 route requires a principal.
PUBLIC_API_ROUTES = {
    ("POST", "/api/v1/auth/otp"),
    ("POST", "/api/v1/auth/otp/verify"),
    ("POST", "/api/v1/auth/officer"),
    ("GET", "/api/v1/states"),
    ("GET", "/api/v1/states/{state}"),
    ("GET", "/api/v1/states/{state}/districts"),
    ("GET", "/api/v1/states/{state}/local-bodies"),
    ("GET", "/api/v1/local-bodies/{code}"),
    ("GET", "/api/v1/local-bodies/{code}/wards"),
    ("GET", "/api/v1/local-bodies/{code}/settings"),
    ("GET", "/api/v1/local-bodies/{code}/working-days"),
    ("GET", "/api/v1/tenants"),
    ("GET", "/api/v1/tenants/{tenant}/services"),
    ("GET", "/api/v1/tenants/{tenant}/services/{code}"),
    ("POST", "/api/v1/payments/callback/{gateway}"),  # authenticated by the gateway's HMAC signature
    ("GET", "/api/v1/payments/return/{gateway}"),  # the payer's browser; its signature is checked
    ("GET", "/api/v1/tenants/{tenant}/grievance-categories"),
    ("GET", "/api/v1/local-bodies/{code}/public-grievances"),  # public grievances only, no personal data
    ("GET", "/api/v1/public-grievances/{number}"),
    ("POST", "/api/v1/notifications/receipts/sms"),  # the SMS provider's delivery receipt, HMAC-signed
}
# Routes that take a file: their bodies may reach NAGARA_UPLOAD_MAX_BYTES, every other body
# NAGARA_REQUEST_MAX_BYTES (kit/edge.py).
UPLOAD_ROUTES = (
    ("POST", "/api/v1/applications/{number}/documents"),
    ("POST", "/applications/{number}/documents"),
    ("POST", "/credentials/verify-document"),
    ("POST", "/verify"),
    # Grievance photos (at most grievances.photos.MAX_PHOTO_BYTES, 5 MiB): the officer's proof of the
    # work done, the citizen's photo, and Open311 POST with its optional media.
    ("POST", "/api/v1/grievances/{number}/resolution"),
    ("POST", "/api/v1/grievances/{number}/photos"),
    ("POST", "/open311/v2/requests.{fmt}"),
    ("POST", "/officer/grievances/{number}"),
)
# The envelope of a multipart upload (boundaries, part headers, the other fields).
UPLOAD_ENVELOPE = 64 * 1024
HSTS = "max-age=31536000; includeSubDomains"
DB_RETRY_AFTER = 5  # seconds a client waits before trying again while the database is unreachable


def _problem_response(
    body: dict[str, object], headers: dict[str, str] | None = None, *, request_id: str | None = None
) -> JSONResponse:
    request_id = request_id or context.current().request_id
    if request_id:
        body.setdefault("request_id", request_id)
    return JSONResponse(body, status_code=int(str(body["status"])), media_type=PROBLEM_JSON, headers=headers)


def _unreachable(exc: Exception) -> bool:
    """Whether a database error means the database cannot be reached (not a bad statement)."""
    if isinstance(exc, DisconnectionError):
        return True
    # SQLAlchemy names no statement when connecting failed; a dropped connection is invalidated.
    return isinstance(exc, DBAPIError) and (exc.statement is None or exc.connection_invalidated)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def problem(request: Request, exc: Problem) -> Response:
        if pages.is_page(request):
            return pages.problem_page(request, exc)
        return _problem_response(exc.body(instance=request.url.path), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if pages.is_page(request):
            return pages.error_page(request, 400, "; ".join(str(e["msg"]) for e in exc.errors()))
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        body = http_problem(422, f"{len(errors)} field(s) are invalid; see 'errors'")
        body["type"] = "https://nagara.dev/problems/validation-error"
        body["title"] = "Invalid input"
        body["instance"] = request.url.path
        body["errors"] = errors
        return _problem_response(body)

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> JSONResponse:
        body = http_problem(409, "someone else changed this record at the same moment; reload it and try again")
        body["instance"] = request.url.path
        return _problem_response(body)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if pages.is_page(request):
            return pages.error_page(request, exc.status_code, None if detail in ("Not Found", "Method Not Allowed") else detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}; the API is described at /docs"
        body = http_problem(exc.status_code, detail)
        body["instance"] = request.url.path
        return _problem_response(body, dict(exc.headers or {}))

    @app.exception_handler(DBAPIError)
    @app.exception_handler(DisconnectionError)
    async def database_error(request: Request, exc: Exception) -> Response:
        if not _unreachable(exc):
            raise exc  # a bad statement is a bug: the 500 below, logged
        log.warning("database unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        detail = "the database cannot be reached at the moment; try again shortly"
        retry = {"Retry-After": str(DB_RETRY_AFTER)}
        if pages.is_page(request):
            page = pages.error_page(request, 503, detail)
            page.headers.update(retry)
            return page
        body = http_problem(503, detail)
        body["instance"] = request.url.path
        return _problem_response(body, retry)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        # Starlette runs this outside the middleware: the request's id comes from the scope.
        request_id = str(request.scope.get(REQUEST_ID_KEY, ""))
        log.error("unhandled error on %s %s (request %s)", request.method, request.url.path, request_id, exc_info=exc)
        headers = {"X-Request-ID": request_id, **SECURITY_HEADERS}
        if pages.is_page(request):
            page = pages.error_page(request, 500)
            page.headers.update(headers)
            return page
        body = http_problem(500, "an internal error occurred; quote the request id when reporting it")
        return _problem_response(body, headers, request_id=request_id)


# Request ids: this process's random prefix and a counter, unique without a uuid4 per request
# (os.urandom's system call showed as 12% of /api/v1/me's samples).
_PROCESS_PREFIX = secrets.token_hex(8)
_REQUEST_COUNTER = itertools.count(1)


REQUEST_ID_KEY = "nagara.request_id"  # where the middleware leaves the request's id in the ASGI scope
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Content-Security-Policy": CSP}


def new_request_id() -> str:
    return f"{_PROCESS_PREFIX}{next(_REQUEST_COUNTER):016x}"


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(peer: str | None, forwarded_for: str, trusted: tuple[Network, ...]) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy and says whom it forwards.

    ``X-Forwarded-For`` lists the hops, the client first; each proxy appends the address it was
    reached from. Read from the right, every trusted proxy is passed over; the first address that is
    not one is the client (what lies left of it was written by the client and proves nothing). An
    entry that is not an address stops the walk at the last trusted hop.
    """
    peer_address = _address(peer or "")
    if not trusted or peer_address is None or not any(peer_address in net for net in trusted) or not forwarded_for:
        return peer
    client = peer
    for entry in reversed(forwarded_for.split(",")):
        hop = _address(entry)
        if hop is None:
            return client
        client = str(hop)
        if not any(hop in net for net in trusted):
            return client
    return client


class TrustedProxyMiddleware:
    """``X-Forwarded-For`` and ``X-Forwarded-Proto`` from the proxies in ``NAGARA_TRUSTED_PROXIES`` only.

    From any other peer they are ignored: a client cannot choose the address its requests are
    limited and audited under. (``nagara serve`` runs uvicorn without its own proxy headers.)
    """

    def __init__(self, app: ASGIApp, trusted: tuple[Network, ...] = ()) -> None:
        self.app = app
        self.trusted = trusted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            host, _port = scope["client"]
            peer = _address(host)
            if peer is not None and any(peer in net for net in self.trusted):
                headers = Headers(scope=scope)
                client = forwarded_client(host, headers.get("x-forwarded-for", ""), self.trusted)
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                scope = dict(scope)
                if client and client != host:
                    scope["client"] = (client, 0)
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)


class RequestContextMiddleware:
    """Per request: the actor context, an X-Request-ID, security headers, metrics and one log line.

    Plain ASGI rather than ``@app.middleware("http")``: Starlette's BaseHTTPMiddleware
    runs the app in a separate task with a memory stream, a cost every request pays.
    """

    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("x-request-id", "")[:64]
        request_id = given if given.isascii() and given.isprintable() and given else new_request_id()
        scope[REQUEST_ID_KEY] = request_id
        path: str = scope["path"]
        client = scope.get("client")
        ctx = context.ActorContext(
            request_id=request_id,
            ip=client[0] if client else None,
            user_agent=headers.get("user-agent"),
            via="api" if path.startswith("/api/") else "web",
        )
        token = context.set_context(ctx)
        started = time.perf_counter()
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = request_id
                out.setdefault("X-Content-Type-Options", "nosniff")
                out.setdefault("Referrer-Policy", "same-origin")
                out.setdefault("Content-Security-Policy", DOCS_CSP if path in ("/docs", "/docs/oauth2-redirect") else CSP)
                if self.hsts:
                    out.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            elapsed = time.perf_counter() - started
            route_path = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            REQUESTS.labels(method, route_path, str(status)).inc()
            LATENCY.labels(method, route_path).observe(elapsed)
            log.info("%s %s %s %.1fms", method, path, status, elapsed * 1000)
            context.reset_context(token)


def _ops_routes(app: FastAPI) -> None:
    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz(request: Request) -> JSONResponse:
        """Ready when the database answers and its schema is the code's migration head."""
        runtime: Runtime = request.app.state.runtime
        url = make_url(runtime.settings.database_url)
        database = url.database or ""
        if url.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not Path(database).is_file():
            return _problem_response(http_problem(503, f"the SQLite database file {database} is missing"))
        try:
            with runtime.db.unit_of_work(readonly=True) as session:
                session.execute(text("SELECT 1"))
                current, revisions = migrate.at_head(session.connection())
        except Exception as exc:  # noqa: BLE001 - readiness reports any failure
            return _problem_response(http_problem(503, f"database unreachable: {type(exc).__name__}"))
        if not current:
            head = ", ".join(sorted(migrate.heads()))
            detail = f"the database schema is at {revisions}, not the code's migration head {head}: run nagara db upgrade"
            return _problem_response(http_problem(503, detail))
        return JSONResponse({"status": "ready", "database": runtime.db.engine.dialect.name})

    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        settings: Settings = request.app.state.runtime.settings
        token = settings.metrics_token.get_secret_value()
        if not token:
            if settings.env == "production":
                detail = "/metrics is closed: set NAGARA_METRICS_TOKEN and send it as a bearer token"
                return _problem_response(http_problem(403, detail))
        else:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                body = http_problem(401, "/metrics needs the bearer token NAGARA_METRICS_TOKEN")
                return _problem_response(body, {"WWW-Authenticate": "Bearer"})
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Nagara API",
            swagger_js_url="/static/docs/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger-ui.css",
            swagger_favicon_url="/static/docs/favicon.png",
        )


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    start_worker: bool | None = None,
) -> FastAPI:
    load_all()  # every domain's tables, jobs, event handlers and pack checks, before the first request
    if runtime is None:
        settings = settings or load_settings()
        runtime = build_runtime(settings)
    settings = runtime.settings
    run_worker = settings.worker_embedded if start_worker is None else start_worker

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.threads
        stop = threading.Event()
        thread = None
        if run_worker:
            worker = Worker(runtime.db)
            thread = threading.Thread(
                target=worker.run_forever, args=(stop, settings.worker_poll_seconds), name="nagara-worker", daemon=True
            )
            thread.start()
        try:
            yield
        finally:
            stop.set()
            if thread is not None:
                thread.join(timeout=10)

    app = FastAPI(
        title="Nagara",
        version=__version__,
        description="Citizen services of a state's local governments. Errors are RFC 9457 problem+json.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.public_api_routes = PUBLIC_API_ROUTES
    _install_errors(app)
    app.add_middleware(LocaleMiddleware)
    app.add_middleware(pages.PageCompression)
    limits = Limits(settings.request_max_bytes, settings.upload_max_bytes + UPLOAD_ENVELOPE, UPLOAD_ROUTES)
    app.add_middleware(InputGuard, limits=limits)  # inside the request context: its refusals carry the request id
    app.add_middleware(RequestContextMiddleware, hsts=settings.env == "production")
    app.add_middleware(TrustedProxyMiddleware, trusted=settings.trusted_networks)  # outermost: the address first
    _ops_routes(app)
    for router in API_ROUTERS:
        app.include_router(router)
    # The pages' Urdu font is the certificates' Noto Naskh Arabic (one copy of the files, with OFL.txt)
    app.mount("/static/fonts", StaticFiles(directory=FONTS_DIR), name="fonts")
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for router in VIEW_ROUTERS:
        app.include_router(router)
    app.include_router(ledger_router)  # /ledger: tlog-tiles and tlog-witness, public, outside /api/v1
    if settings.env != "production":
        app.include_router(local_gateway_router)  # /gateway/local: the development gateway's hosted page
    app.include_router(certificates_public_router)  # DID, JWKS, status lists, /credentials/verify: public
    app.include_router(exchange_signed_router)  # /exchange/v1: members' RFC 9421-signed requests, outside /api/v1
    app.include_router(exchange_digilocker_router)  # /digilocker: DigiLocker's issuer API, HMAC-signed XML
    app.include_router(open311_router)  # /open311/v2: GeoReport v2 for partner apps, public reads
    return app


# Each router carries the /api/v1 prefix itself, so a matched route knows its
# full path (FastAPI reports the router's own path in metrics and logs).
API_ROUTERS: tuple[APIRouter, ...] = (
    identity_router,
    tenancy_router,
    audit_router,
    catalog_router,
    applications_router,
    payments_router,
    certificates_router,
    exchange_router,
    privacy_router,
    grievances_router,
    notifications_router,
)


# Pages (server-rendered HTML, outside /api/v1); see CONVENTIONS.md "Pages".
VIEW_ROUTERS: tuple[APIRouter, ...] = (
    web_views_router,
    web_info_router,
    identity_views_router,
    catalog_views_router,
    applications_views_router,
    payments_views_router,
    certificates_views_router,
    officer_views_router,
    officer_admin_router,
    officer_exchange_router,
    officer_assist_router,
    privacy_views_router,
    officer_dashboard_router,
    analytics_views_router,
    opendata_router,
    dcat_router,
    grievances_views_router,
    notifications_views_router,
)


def api_route_table() -> set[tuple[str, str]]:
    """Every (method, path) the API serves: what the access-control tests walk."""
    return {
        (method, route.path)
        for router in API_ROUTERS
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def main_app() -> FastAPI:
    """Entry point for ``uvicorn --factory nagara.app:main_app``."""
    settings = load_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    return create_app(settings)
