"""The ways a request ends other than success, shared by the modules of the double."""
from http import HTTPStatus


def reason(code):
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "Unknown"


class BadControl(Exception):
    """A control request the double refuses: answered 400 with the message."""


class HttpError(Exception):
    """An API answer other than success: JSON {"message": ...} with headers."""

    def __init__(self, code, message=None, headers=None):
        super().__init__(message)
        self.code = code
        self.message = message or "%d %s" % (code, reason(code))
        self.headers = headers or {}


class Dropped(Exception):
    """Close the connection without an answer."""
