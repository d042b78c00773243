"""The server's errors: every bad request is answered with a status and one JSON line in the
shape OpenAI's API uses, ``{"error": {"message", "type", "param", "code"}}``, so that its
clients raise their usual exceptions."""

from __future__ import annotations

TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
         405: "invalid_request_error", 413: "invalid_request_error", 415: "invalid_request_error",
         500: "server_error", 503: "server_error"}


class RequestError(Exception):
    """A request the server refuses: ``status`` and one line saying what is wrong."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": TYPES.get(self.status, "invalid_request_error"),
                          "param": self.param, "code": self.code}}
