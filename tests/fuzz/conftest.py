"""The admin fixtures, so the fuzz can also run logged in as a tool admin."""

from tests.admin.conftest import admin_account  # noqa: F401
from tests.admin.conftest import admin_client  # noqa: F401
from tests.admin.conftest import client  # noqa: F401
