"""The HTTP runner of ``confidant serve``: requests too malformed to reach the app still get our error shape.

aiohttp answers what its parser refuses (control bytes in a header, a raw NUL in the request line, an
over-long line) itself, with a text/plain body, and logs each one at error level with a traceback. Those are
a client's mistakes, not ours: here they get the same ``{"error": {"code", "message"}}`` JSON as every other
refusal (``bad_request``, or ``payload_too_large`` for 413), the security headers, and one info log line.
"""

from __future__ import annotations

import logging

import msgspec
from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from server.errors import STATUS, ErrorCode
from server.http.middleware import SECURITY_HEADERS
from server.wire.responses import ErrorBody, ErrorOut

__all__ = ["EdgeRunner", "malformed_response"]

log = logging.getLogger("server.http")
_encoder = msgspec.json.Encoder()
_MESSAGES = {
    ErrorCode.BAD_REQUEST: "The request is not well-formed HTTP (control bytes, bad header or request line).",
    ErrorCode.PAYLOAD_TOO_LARGE: "The request line or headers are too large.",
}


def malformed_response(status: int) -> web.Response:
    """The reply to a request aiohttp's parser refused with ``status`` (a 4xx)."""
    too_large = status == STATUS[ErrorCode.PAYLOAD_TOO_LARGE]
    code = ErrorCode.PAYLOAD_TOO_LARGE if too_large else ErrorCode.BAD_REQUEST
    body = _encoder.encode(ErrorOut(ErrorBody(code.value, _MESSAGES[code])))
    response = web.Response(status=status, body=body, content_type="application/json")
    response.headers.update(SECURITY_HEADERS)
    response.force_close()
    return response


class _EdgeRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if status >= 500 or request.writer.output_size > 0:
            return super().handle_error(request, status, exc, message)
        # No route, no body: the reason class is all there is to log (the raw line may carry a token).
        log.info("malformed request refused", extra={"status": status, "reason": type(exc).__name__})
        return malformed_response(status)


class _EdgeServer(web.Server):
    def __call__(self) -> RequestHandler:
        return _EdgeRequestHandler(self, loop=self._loop, **self._kwargs)


class EdgeRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer parser-level refusals with the API's error JSON."""

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()
        return _EdgeServer(
            base.request_handler,
            request_factory=base.request_factory,
            handler_cancellation=base.handler_cancellation,
            loop=base._loop,
            **base._kwargs,
        )
