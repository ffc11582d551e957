"""Smoke test of the installed wheels (run by scripts/artifact-test with the fresh venv's python, outside the checkout).

As the README says: `lti-tool init`, then `lti-tool serve`; then, through the sandbox LMS (lti-tool-sandbox), a
learner's launch, a Speechace completion callback, and the score in the sandbox gradebook, sent by the passback
worker that `serve` runs beside gunicorn.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import sqlalchemy as sa

import lti_tool
from lti_tool.activities import create_activity
from lti_tool.config import load_settings
from lti_tool.db import Database
from lti_tool.models import Assessment
from lti_tool.sandbox import demo
from lti_tool.sandbox.browser import FormBrowser

DEADLINE_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def fail(message: str) -> None:
    print(f"artifact smoke test FAILED: {message}", file=sys.stderr)
    sys.exit(1)


def wait_for(url: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            fail(f"lti-tool serve exited with {server.returncode}")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    fail(f"{url} did not answer within {DEADLINE_SECONDS} s")


def check_operations(bin_dir: Path, base: str) -> None:
    """What the admin watches tells the same story: ready, one launch and one callback counted, the score sent
    (one AGS request answered 2xx, nothing pending), doctor green."""
    if requests.get(f"{base}/readyz", timeout=10).status_code != 200:
        fail("/readyz is not 200 on a served, migrated install")
    wanted = ['lti_tool_launches_total{outcome="accepted",status="200"} 1.0',
              'lti_tool_callbacks_total{outcome="accepted",provider="speechace",status="200"} 1.0',
              "lti_tool_outbox_pending 0.0", "lti_tool_outbox_parked 0.0"]
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:  # the worker marks the score sent just after the LMS took it
        text = requests.get(f"{base}/metrics", timeout=10).text
        missing = [line for line in wanted if line not in text.splitlines()]
        if not missing and 'lti_tool_ags_requests_total{status="200"}' in text:
            break
        if time.monotonic() > deadline:
            fail(f"/metrics lacks {missing} (or an AGS request answered 200):\n{text}")
        time.sleep(0.2)
    doctor = subprocess.run([bin_dir / "lti-tool", "doctor"], capture_output=True, text=True)  # noqa: S603
    if doctor.returncode != 0:
        fail(f"lti-tool doctor failed on a working install:\n{doctor.stdout}{doctor.stderr}")


def main() -> None:
    checkout = Path(__file__).resolve().parent.parent
    if Path(lti_tool.__file__).resolve().is_relative_to(checkout):
        fail(f"lti_tool was imported from the checkout ({lti_tool.__file__}), not from the installed wheel")
    bin_dir = Path(sys.executable).parent
    port = free_port()
    os.environ.update({"LTI_TOOL_ENV": "development", "LTI_TOOL_DATA_DIR": str(Path.cwd() / "instance"),
                       "LTI_TOOL_BASE_URL": f"http://127.0.0.1:{port}"})
    subprocess.run([bin_dir / "lti-tool", "init"], check=True)  # noqa: S603 (the venv's own command)
    server = subprocess.Popen([bin_dir / "lti-tool", "serve", "--bind", f"127.0.0.1:{port}", "--workers", "2"])  # noqa: S603
    sandbox = None
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", server)
        settings = load_settings()
        database = Database(settings.database_url)
        _lms, sandbox = demo.start_sandbox(settings, database, 0)
        with database.session() as session:
            assessment = session.scalars(sa.select(Assessment).where(Assessment.title == demo.SPEECHACE_TITLE)).one()
            activity = create_activity(session, assessment, "Smoke test", 100.0, "overall", "latest").public_id
        learner = sandbox.students[0].sub
        launch = sandbox.platform.begin_launch(sandbox.client.client_id, learner, sandbox.course_id,
                                               resource_link_id="smoke-1", custom={"activity": activity},
                                               with_lineitem=True)
        page = FormBrowser().get(launch)
        if page.status_code != 200 or 'id="provider-test"' not in page.text:
            fail(f"the launch did not show the test ({page.status_code}): {page.text[:300]}")
        assert sandbox.speechace is not None
        callback = sandbox.speechace.complete(sandbox.speechace.session_for_user(learner).token)
        if callback.status != 200:
            fail(f"the Speechace callback was refused ({callback.status}): {callback.response_text[:300]}")
        deadline = time.monotonic() + DEADLINE_SECONDS
        while time.monotonic() < deadline:
            grades = [scores[learner] for scores in sandbox.platform.gradebook(sandbox.course_id).values()
                      if learner in scores]
            if grades:
                grade = grades[0]
                check_operations(bin_dir, f"http://127.0.0.1:{port}")
                print(f"artifact smoke test: launch, callback and grade {grade['score']}/{grade['max']} "
                      f"in the sandbox gradebook, from lti_tool {lti_tool.__version__} at {lti_tool.__file__}; "
                      "readyz, metrics and doctor agree")
                return
            time.sleep(0.2)
        fail(f"no grade reached the sandbox gradebook within {DEADLINE_SECONDS} s")
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        if sandbox is not None:
            sandbox.stop()


if __name__ == "__main__":
    main()
