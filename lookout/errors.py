"""Domain errors raised by services; the app turns each into one HTTP answer."""

from __future__ import annotations


class LookoutError(Exception):
    """Base error: `status` is the HTTP status the API answers with."""

    status = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(LookoutError):
    status = 400


class Unprocessable(LookoutError):
    """Well-formed, but breaks a rule of the domain (e.g. an undecided track marked done)."""

    status = 422


class Unauthenticated(LookoutError):
    status = 401


class Forbidden(LookoutError):
    status = 403


class NotFound(LookoutError):
    status = 404


class Conflict(LookoutError):
    status = 409


class Gone(LookoutError):
    status = 410


class PayloadTooLarge(LookoutError):
    status = 413


class UnsupportedMedia(LookoutError):
    status = 415


class RateLimited(LookoutError):
    status = 429


class Unavailable(LookoutError):
    status = 503
