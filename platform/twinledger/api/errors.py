"""Errors of the partner API, in Ditto's JSON error shape (``status``, ``error``, ``message``,
``description``), and the handlers that turn every exception into such a body (never a bare 500
page, never a stack trace)."""

from __future__ import annotations

from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from twinledger.errors import TwinError

log = structlog.get_logger("twinledger.api")


class ApiError(TwinError):
    """An API error with its own status and code."""

    def __init__(self, status: int, error: str, message: str, *, description: str | None = None) -> None:
        super().__init__(message, description=description)
        self.status = status
        self.error = error


class NotAuthenticated(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(
            401,
            "gateway:authentication.failed",
            message,
            description="Send 'Authorization: Bearer <token>' with an API token (twinledger tokens create) or a JWT.",
        )


class RqlInvalid(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(
            400,
            "rql.expression.invalid",
            message,
            description='RQL looks like and(eq(attributes/site,"north"),gt(features/oxygen/properties/value,5)).',
        )


class ParameterInvalid(ApiError):
    def __init__(self, message: str, *, description: str | None = None) -> None:
        super().__init__(400, "api:parameter.invalid", message, description=description)


def ditto_response(error: TwinError, *, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(error.to_ditto()), status_code=error.status, media_type="application/json", headers=headers
    )


_STATUS_CODES = {
    401: "gateway:authentication.failed",
    404: "api:resource.notfound",
    405: "api:method.notallowed",
    406: "api:accept.notacceptable",
    413: "api:request.tooLarge",
    415: "api:mediatype.unsupported",
}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(TwinError)
    async def _twin_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, TwinError)
        return ditto_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(_describe(e) for e in exc.errors()[:5])
        return ditto_response(ApiError(400, "api:request.invalid", f"The request is invalid: {problems}"))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        code = _STATUS_CODES.get(exc.status_code, f"api:http.{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        headers = dict(exc.headers) if exc.headers else None
        return ditto_response(ApiError(exc.status_code, code, message), headers=headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.error("request_failed", method=request.method, path=request.url.path, error=repr(exc), exc_info=exc)
        return ditto_response(
            ApiError(500, "api:internal.error", "The request failed inside the platform; the log has the details.")
        )


def _describe(error: Any) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()))
    return f"{where}: {error.get('msg', 'invalid')}"
