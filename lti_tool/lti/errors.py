"""Launch failures carry an HTTP status and a reason an LMS admin can act on."""

from __future__ import annotations

from lti_tool.translatable import N_
from lti_tool.translatable import gettext

NOT_COMPLETED = N_("This launch could not be completed")


class LaunchError(Exception):
    """A refused login or launch. ``reason`` is shown to the user and logged; never a stack trace.

    400: the platform sent something malformed; 401: it could not be authenticated (signature, time, replay);
    403: authenticated but not allowed (deployment pending or disabled).
    """

    def __init__(self, status: int, reason: str, *, title: str = NOT_COMPLETED,
                 retry_query: str | None = None, waiting: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
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
