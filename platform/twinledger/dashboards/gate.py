"""The dashboards' door: nothing below the prefix is served without a session, except the login
page and the stylesheet it uses.

An ASGI middleware on the platform's app, acting only on paths below the dashboards' prefix:

- ``GET <prefix>login`` shows the login form; ``POST <prefix>login`` exchanges the token for the
  session cookie and goes on to the page asked for; ``POST <prefix>logout`` ends the session.
- Without a valid session a page (HTML) is redirected to the login page, Dash's own requests get
  401 JSON, and the live websocket is refused before it opens (HTTP 403).
- With one, the session is bound for the request (:func:`~twinledger.dashboards.sessions.current_session`),
  also for every callback run over the websocket.

POSTs must come from the dashboards' own origin (or the public address): another site cannot log
an operator in or out. The cookie is ``SameSite=Strict`` and ``HttpOnly``.
"""

from __future__ import annotations

import html
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import structlog
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from twinledger.api.errors import NotAuthenticated
from twinledger.dashboards.sessions import COOKIE, Session, Sessions, bind, unbind

log = structlog.get_logger("twinledger.dashboards")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_FORM_BYTES = 16 * 1024


class SessionGate:
    def __init__(self, app: ASGIApp, *, sessions: Sessions, prefix: str, public_origin: str | None = None) -> None:
        self.app = app
        self.sessions = sessions
        self.prefix = prefix
        self.public_origin = public_origin
        self.login_path = prefix + "login"
        self.logout_path = prefix + "logout"
        self.open_prefixes = (prefix + "assets/",)  # our stylesheet and scripts: no data in them

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        ours = path.startswith(self.prefix) or path + "/" == self.prefix
        if scope["type"] not in ("http", "websocket") or not ours:
            await self.app(scope, receive, send)
            return
        if scope["type"] == "http":
            if path == self.login_path:
                await (await self._login(Request(scope, receive)))(scope, receive, send)
                return
            if path == self.logout_path:
                await (await self._logout(Request(scope, receive)))(scope, receive, send)
                return
            if path.startswith(self.open_prefixes):
                await self.app(scope, receive, send)
                return
        session = self.sessions.read(_cookie(scope))
        if session is None or not await self.sessions.valid(session):
            await self._refuse(scope, receive, send)
            return
        token = bind(session)
        try:
            await self.app(scope, receive, send)
        finally:
            unbind(token)

    # -- refusals ---------------------------------------------------------------------------------

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 4401, "reason": "log in to the dashboards"})
            return
        request = Request(scope, receive)
        wants_page = request.method == "GET" and "/_dash-" not in request.url.path
        response: Response
        if wants_page:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"{self.login_path}?next={quote(target, safe='')}", status_code=303)
        else:
            response = JSONResponse(
                {
                    "status": 401,
                    "error": "dashboards:session.required",
                    "message": f"Your dashboards session has ended or is missing: log in at {self.login_path}.",
                },
                status_code=401,
            )
        if _cookie(scope):  # a stale cookie: drop it
            response.delete_cookie(COOKIE, path=self.prefix, httponly=True, samesite="strict")
        await response(scope, receive, send)

    # -- login and logout -------------------------------------------------------------------------

    async def _login(self, request: Request) -> Response:
        if request.method == "GET":
            wanted = self._next(request.query_params.get("next"))
            current = self.sessions.read(_cookie(request.scope))
            if current is not None and await self.sessions.valid(current):
                return RedirectResponse(wanted, status_code=303)
            bye = "You are logged out." if request.query_params.get("bye") else ""
            return _page(self.prefix, wanted, notice=bye)
        if request.method != "POST":
            return Response(status_code=405, headers={"Allow": "GET, POST"})
        if not self._same_origin(request):
            return _page(self.prefix, self.prefix, error="This login form was sent from another site.", status=403)
        form = await _form(request)
        wanted = self._next(form.get("next"))
        try:
            session, cookie = await self.sessions.open(form.get("token", ""), form.get("name", ""))
        except NotAuthenticated as exc:
            client = request.client.host if request.client else ""
            log.info("dashboards_login_refused", reason=exc.message, client=client)
            return _page(self.prefix, wanted, error=exc.message, name=form.get("name", ""), status=401)
        response = RedirectResponse(wanted, status_code=303)
        self._set_cookie(response, request, cookie, session)
        return response

    async def _logout(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("Log out with the button in the dashboards' sidebar (POST).", status_code=405)
        if not self._same_origin(request):
            return Response("Logout refused: the request came from another site.", status_code=403)
        session = self.sessions.read(_cookie(request.scope))
        if session is not None:
            self.sessions.end(session)
        response = RedirectResponse(f"{self.login_path}?bye=1", status_code=303)
        response.delete_cookie(COOKIE, path=self.prefix, httponly=True, samesite="strict")
        return response

    def _set_cookie(self, response: Response, request: Request, cookie: str, session: Session) -> None:
        secure = self.sessions.secure or request.url.scheme == "https"
        response.set_cookie(
            COOKIE,
            cookie,
            max_age=max(int(session.expires - self.sessions.clock.now()), 1),
            path=self.prefix,
            httponly=True,
            samesite="strict",
            secure=secure,
        )

    def _next(self, wanted: str | None) -> str:
        """Only a path of the dashboards (no open redirect to another site)."""
        if wanted and wanted.startswith(self.prefix) and not wanted.startswith(self.login_path) and "//" not in wanted:
            return wanted
        return self.prefix

    def _same_origin(self, request: Request) -> bool:
        sent = request.headers.get("origin") or _origin_of(request.headers.get("referer", ""))
        if not sent:
            return False
        own = f"{request.url.scheme}://{request.headers.get('host', '')}"
        return sent in (own, self.public_origin)


def _cookie(scope: Scope) -> str | None:
    for name, value in Headers(scope=scope).items():
        if name == "cookie":
            for part in value.split(";"):
                key, _, val = part.strip().partition("=")
                if key == COOKIE:
                    return val.strip('"')
    return None


def _origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


async def _form(request: Request) -> dict[str, str]:
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            break
    return dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace"), keep_blank_values=True))


def _page(
    prefix: str, wanted: str, *, error: str = "", notice: str = "", name: str = "", status: int = 200
) -> HTMLResponse:
    esc = html.escape
    problem = ""
    if error:
        problem = f'<div class="tl-error" role="alert"><div class="tl-error-title">{esc(error)}</div></div>'
    if notice:
        problem += f'<div class="tl-notice" id="tl-login-notice">{esc(notice)}</div>'
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Log in · twinledger</title><link rel="stylesheet" href="{esc(prefix)}assets/twinledger.css"></head>
<body class="tl-login-body"><main class="tl-login">
<div class="tl-brand"><span class="tl-brand-a">twin</span><span class="tl-brand-b">ledger</span></div>
<h1>Operator dashboards</h1>
<p class="tl-page-desc">Log in with your API token or the JWT your identity provider issued. You see what
its policies let it read; operator tokens see everything.</p>
{problem}
<form method="post" action="{esc(prefix)}login" class="tl-login-form" autocomplete="off">
<input type="hidden" name="next" value="{esc(wanted)}">
<label class="tl-field"><span class="tl-field-label">Token</span>
<input id="tl-login-token" name="token" type="password" required placeholder="tl_… or a JWT" autofocus></label>
<label class="tl-field"><span class="tl-field-label">Your name (recorded with what you do)</span>
<input id="tl-login-name" name="name" type="text" maxlength="80" value="{esc(name)}"
 placeholder="e.g. Ana Ruiz"></label>
<button id="tl-login-submit" type="submit" class="tl-button tl-button-primary">Log in</button>
</form>
<p class="tl-muted tl-login-hint">No token? An administrator creates one with
<code>twinledger tokens create operator:NAME --admin</code> (or for a partner, without <code>--admin</code>);
<code>twinledger demo</code> prints an operator token when it starts.</p>
</main></body></html>"""
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
