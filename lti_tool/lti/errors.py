"""Launch failures carry an HTTP status and a reason an LMS admin can act on."""

from __future__ import annotations

from lti_tool.translatable import N_
from lti_tool.translatable import MarkedError
from lti_tool.translatable import gettext

NOT_COMPLETED = N_("This launch could not be completed")
OPEN_AGAIN = N_("Please open the activity again")


class LaunchError(MarkedError):
    """A refused login or launch; never a stack trace.

    ``message`` is marked with ``N_`` where the error is raised and has named placeholders filled from ``values``:
    ``reason`` is the English sentence (the log), :meth:`shown` the reader's language (the error page). Values are
    what the platform sent or the tool's own names (ids, claim names), never translated.

    400: the platform sent something malformed; 401: it could not be authenticated (signature, time, replay);
    403: authenticated but not allowed (deployment pending or disabled).
    """

    def __init__(self, status: int, message: str, *, title: str = NOT_COMPLETED,
                 retry_query: str | None = None, waiting: bool = False, **values: object) -> None:
        super().__init__(message, **values)
        self.status = status
        # A heading marked for the catalogues (N_) where the error is raised; translated when the page shows it.
        self.marked_title = title
        # Query string for the login URL that restarts this launch in a new window.
        self.retry_query = retry_query
        # Nothing is wrong, something is pending (a registration awaiting approval): shown as news, not an error.
        self.waiting = waiting

    @property
    def title(self) -> str:
        """The page's heading in the reader's language."""
        return gettext(self.marked_title)
