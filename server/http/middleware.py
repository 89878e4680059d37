"""The HTTP edge: request ids, access logs, error mapping (one of the two wire mappings), security headers."""

from __future__ import annotations

import logging
import re
import time

import msgspec
from aiohttp import web

from server.context import Handler
from server.errors import (
    AppError,
    BadRequest,
    ErrorCode,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    to_app_error,
)
from server.http._base import reply
from server.logging import new_request_id, request_id_var
from server.wire.responses import ErrorBody, ErrorOut
from signaling.errors import SessionError

__all__ = ["CSP", "SECURITY_HEADERS", "error_middleware"]

log = logging.getLogger("server.http")
# One line per request, on its own logger: shown at info only when asked for (``--log-requests``), so the
# console of `make run` stays readable (server.logging.configure_logging).
access_log = logging.getLogger("server.access")

CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=(), payment=()",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
# After percent-decoding: a NUL or other control byte is never part of a real path (and a NUL makes file
# system calls raise). Raw ones never get here: aiohttp's parser refuses them (server.http.protocol).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _error_response(error: AppError) -> web.Response:
    body = ErrorOut(ErrorBody(error.code.value, error.message, error.details or None))
    response = reply(body, error.status)
    if isinstance(error, MethodNotAllowed):
        response.headers["Allow"] = ", ".join(error.allowed)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after_seconds)
    return response


def _from_http_exception(exc: web.HTTPException) -> AppError:
    if exc.status == 404:
        return NotFound("No such resource.")
    if exc.status == 413:
        return PayloadTooLarge("The body is too large.")
    if isinstance(exc, web.HTTPMethodNotAllowed):
        return MethodNotAllowed(list(exc.allowed_methods))
    return AppError(exc.reason, code=ErrorCode.BAD_REQUEST if exc.status < 500 else ErrorCode.INTERNAL)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    incoming = request.headers.get("X-Request-Id", "")
    request_id = incoming if _REQUEST_ID.match(incoming) else new_request_id()
    token = request_id_var.set(request_id)
    started = time.perf_counter()
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    status = 500
    try:
        try:
            if _CONTROL.search(request.path):
                raise BadRequest("The path contains a control character.")
            response: web.StreamResponse = await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            response = _error_response(_from_http_exception(exc))
        except (AppError, SessionError, msgspec.ValidationError) as exc:
            response = _error_response(to_app_error(exc))
        except Exception as exc:
            error = to_app_error(exc)
            if error.code is ErrorCode.INTERNAL:
                log.exception("unhandled error", extra={"route": route})
            else:
                log.warning("request failed", extra={"route": route, "code": error.code.value})
            response = _error_response(error)
        status = response.status
        if response.prepared:  # a websocket upgrade or streamed body: headers are already sent
            return response
        response.headers["X-Request-Id"] = request_id
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if route.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
    finally:
        duration_ms = round((time.perf_counter() - started) * 1000, 2)
        quiet = route in ("/healthz", "/readyz") or route.startswith("/socket.io")
        level = logging.DEBUG if quiet else logging.INFO
        access_log.log(
            level,
            "request",
            extra={"method": request.method, "route": route, "status": status, "duration_ms": duration_ms},
        )
        request_id_var.reset(token)
