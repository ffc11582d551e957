"""Headless Chromium from Debian (never a browser Playwright downloads), driven by Playwright for Python, against
the whole demo started in-process exactly as ``lti-tool demo`` starts it.

``scripts/ensure-browser`` (run by ``make pytest``) installs the ``chromium`` package when it is missing. Without
it the browser tests are skipped with a loud reason, except under CI (``CI`` or ``LTI_TOOL_REQUIRE_BROWSER`` set),
where they fail instead.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from typing import NoReturn

import pytest

from lti_tool.app import create_app
from lti_tool.cli import initialise
from lti_tool.config import Settings
from lti_tool.config import load_settings
from lti_tool.maintenance import start_background
from lti_tool.sandbox.demo import Sandbox
from lti_tool.sandbox.demo import start_sandbox
from lti_tool.sandbox.live_server import LiveServer
from lti_tool.sandbox.platform.models import Flavor
from lti_tool.services import Services

CHROMIUM = Path("/usr/bin/chromium")
# The machine's network is closed: keep Chromium from trying to reach Google's services.
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 900}
REPOSITORY = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPOSITORY / "test-artifacts" / "screenshots"
DOC_IMAGES = REPOSITORY / "docs" / "images"
TIMEOUT_MS = 15_000


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") or os.environ.get("LTI_TOOL_REQUIRE_BROWSER"):
        pytest.fail(f"BROWSER TEST CANNOT RUN: {reason}", pytrace=False)
    pytest.skip(f"BROWSER TEST SKIPPED: {reason}")


@dataclass
class Demo:
    """The tool, the sandbox LMS and the provider emulators, all on 127.0.0.1."""

    settings: Settings
    services: Services
    sandbox: Sandbox
    lms_url: str

    @property
    def tool_url(self) -> str:
        return self.settings.base_url


@pytest.fixture
def out() -> Path:
    """The folder named by ``LTI_TOOL_SCREENS`` for the closing notes' screenshot scripts (screens_*.py); they
    skip without it."""
    folder = os.environ.get("LTI_TOOL_SCREENS")
    if not folder:
        pytest.skip("set LTI_TOOL_SCREENS to the folder for the screenshots")
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """What `lti-tool demo` runs: the tool with its passback and housekeeping threads, SQLite, the sandbox."""
    yield from _run_demo(tmp_path_factory, "127.0.0.1")


@pytest.fixture(scope="module")
def cross_site_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """The demo with the LMS and the tool on different sites (127.0.0.1 and localhost), as a school's LMS and the
    tool are: inside the LMS page the tool is a third party, and the browser refuses its cookies."""
    yield from _run_demo(tmp_path_factory, "localhost")


@pytest.fixture(scope="module")
def canvas_cross_site_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """:func:`cross_site_demo` with the sandbox LMS in Canvas mode (Canvas's issuer, auth domain, message hints,
    AGS rules). Its deployment reaches the tool at the first launch, pending, as a real Canvas's does."""
    yield from _run_demo(tmp_path_factory, "localhost", "canvas")


def _run_demo(tmp_path_factory: pytest.TempPathFactory, tool_host: str, flavor: Flavor = "moodle") -> Iterator[Demo]:
    tool_server = LiveServer()
    tool_url = f"http://{tool_host}:{tool_server.port}"
    settings = load_settings({"env": "development", "base_url": tool_url, "proxy_count": 0,
                              "data_dir": str(tmp_path_factory.mktemp("demo")), "http_timeout_seconds": 5.0},
                             environ={})
    app = create_app(settings)
    services: Services = app.extensions["lti_tool.services"]
    initialise(services.database)
    stop = threading.Event()
    services.passback = start_background(services.database, settings, stop)
    tool_server.start(app)
    lms, sandbox = start_sandbox(settings, services.database, 0, flavor=flavor)
    try:
        yield Demo(settings=settings, services=services, sandbox=sandbox, lms_url=lms.url)
    finally:
        stop.set()
        services.passback.wake()
        sandbox.stop()
        tool_server.stop()
        services.database.dispose()


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    """One Playwright driver for the session (a second one cannot run beside it), shared by the browsers."""
    try:
        from playwright.sync_api import expect
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    # Assertions wait as long as actions do: on a busy CI machine a frame can take longer than expect's 5 s.
    expect.set_options(timeout=TIMEOUT_MS)
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing; run scripts/ensure-browser (as root) or apt-get install chromium")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def chromium(playwright_driver: Any) -> Iterator[Any]:
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def chromium_blocking_third_party_cookies(playwright_driver: Any) -> Iterator[Any]:
    """Chromium told to block third-party cookies (as Chrome's setting, or a school's policy, does): only
    partitioned (CHIPS) cookies survive inside another site's frame, so the tool's plain-http cookie never does."""
    browser = playwright_driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                                args=[*LAUNCH_ARGS, "--test-third-party-cookie-phaseout"])
    yield browser
    browser.close()


@pytest.fixture
def blocked_page(chromium_blocking_third_party_cookies: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A page of :func:`chromium_blocking_third_party_cookies`, screenshotted on failure like :func:`page`."""
    context = chromium_blocking_third_party_cookies.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    if request.node.stash.get(FAILED, False):
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"failed-{request.node.name}.png", full_page=True)
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[Any]:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(chromium: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = chromium.new_context(viewport=VIEWPORT)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    yield page
    if request.node.stash.get(FAILED, False):  # what the browser showed when the test failed
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=SCREENSHOTS / f"failed-{request.node.name}.png", full_page=True)
    context.close()


@pytest.fixture
def screenshot(page: Any) -> Callable[..., None]:
    """screenshot("03-deep-link-added", docs=True): into test-artifacts/screenshots/, and — when
    LTI_TOOL_UPDATE_DOC_IMAGES=1 — into docs/images/ (the guides' illustrations; a plain test run leaves them)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str, docs: bool = False) -> None:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path)
        if docs and os.environ.get("LTI_TOOL_UPDATE_DOC_IMAGES") == "1":
            DOC_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, DOC_IMAGES / path.name)

    return take
