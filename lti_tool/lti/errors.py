"""Launch failures carry an HTTP status and a reason an LMS admin can act on."""

from __future__ import annotations


class LaunchError(Exception):
    """A refused login or launch. ``reason`` is shown to the user and logged; never a stack trace.

    400: the platform sent something malformed; 401: it could not be authenticated (signature, time, replay);
    403: authenticated but not allowed (deployment pending or disabled).
    """

    def __init__(self, status: int, reason: str, *, title: str = "This launch could not be completed",
                 retry_query: str | None = None, waiting: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.title = title
        # Query string for the login URL that restarts this launch in a new window.
        self.retry_query = retry_query
        # Nothing is wrong, something is pending (a registration awaiting approval): shown as news, not an error.
        self.waiting = waiting
