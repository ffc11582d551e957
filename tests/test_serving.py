"""`lti-tool serve` (gunicorn plus one passback worker), `--version`, the sandbox hint, and the packaging metadata.

The built wheel itself (migrations, templates, static files, no sandbox) is checked and run by `make artifact-test`.
"""

from __future__ import annotations

import configparser
import sys
import time
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner
from gunicorn.config import Config

import lti_tool
from lti_tool import serving
from lti_tool.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served(env, monkeypatch):
    """Run `lti-tool serve` up to the point where gunicorn would start; return what it was asked for."""
    calls: list[serving.ServeOptions] = []
    monkeypatch.setattr(serving, "serve", lambda factory, options, on_ready=None: calls.append(options))

    def invoke(*args: str, **environ: str):
        for name, value in environ.items():
            monkeypatch.setenv(name, value)
        calls.clear()
        result = CliRunner().invoke(main, ["serve", *args])
        return result, calls[-1] if calls else None

    return invoke


def test_version_is_the_package_version():
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"lti-tool, version {lti_tool.__version__}"


def test_both_distributions_carry_the_package_version():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    sandbox = tomllib.loads((ROOT / "sandbox-dist" / "pyproject.toml").read_text())["project"]
    assert setup["metadata"]["version"] == sandbox["version"] == lti_tool.__version__
    assert f"lti-tool=={lti_tool.__version__}" in sandbox["dependencies"]
    assert f"lti-tool-sandbox=={lti_tool.__version__}" in setup["options.extras_require"]["sandbox"]


def test_the_main_distribution_leaves_the_sandbox_out_and_ships_the_migrations():
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    assert "lti_tool.sandbox" in setup["options.packages.find"]["exclude"].split()
    assert "migrations/versions/*.py" in setup["options.package_data"]["lti_tool"]


def test_serve_defaults(served):
    result, options = served()
    assert result.exit_code == 0, result.output
    assert options == serving.ServeOptions(bind="127.0.0.1:5000", workers=2, threads=4, timeout=30,
                                           passback_worker=True)


def test_serve_options_and_variables(served):
    result, options = served("--workers", "3", "--threads", "8", "--no-worker",
                             LTI_TOOL_SERVE_BIND="0.0.0.0:8000", LTI_TOOL_SERVE_TIMEOUT="60")
    assert result.exit_code == 0, result.output
    assert options == serving.ServeOptions(bind="0.0.0.0:8000", workers=3, threads=8, timeout=60,
                                           passback_worker=False)
    result, options = served("--host", "0.0.0.0", "--port", "8080")  # the command line wins over the variable
    assert result.exit_code == 0, result.output
    assert options.bind == "0.0.0.0:8080"


def test_serve_refuses_bad_options(served):
    assert served("--workers", "0")[0].exit_code == 2
    assert served("--bind", "127.0.0.1:1", "--port", "2")[0].exit_code == 2
    result, _ = served(LTI_TOOL_SERVE_WORKERS="many")
    assert result.exit_code == 2 and "LTI_TOOL_SERVE_WORKERS" in result.output


def test_serve_creates_the_schema_first(served, env):
    import sqlalchemy as sa

    result, _ = served()
    assert result.exit_code == 0, result.output
    assert "tool_key" in sa.inspect(env.engine).get_table_names()


def test_gunicorn_configuration_is_valid_and_threaded():
    options = serving.gunicorn_options(serving.ServeOptions(bind="127.0.0.1:8123", workers=3, threads=5, timeout=40))
    server = serving.ToolServer(lambda: None, options)  # type: ignore[arg-type,return-value]
    cfg: Config = server.cfg
    assert cfg.bind == ["127.0.0.1:8123"] and cfg.workers == 3 and cfg.threads == 5 and cfg.timeout == 40
    assert cfg.worker_class_str == "gthread" and not cfg.preload_app
    assert cfg.settings["child_exit"].get() is serving.child_exit  # the place for server hooks
    assert cfg.accesslog is None  # its lines hold query strings and launch handles; the tool logs its own
    assert not cfg.logconfig_dict  # text: gunicorn's own format


def test_json_logs_reach_gunicorn_own_lines():
    options = serving.gunicorn_options(serving.ServeOptions(log_format="json"))
    server = serving.ToolServer(lambda: None, options)  # type: ignore[arg-type,return-value]
    logconfig = server.cfg.logconfig_dict
    assert logconfig["root"]["handlers"] == ["tool"] and logconfig["handlers"]["tool"]["log_format"] == "json"
    assert logconfig["loggers"]["gunicorn.access"]["propagate"] is False


def test_child_exit_marks_the_worker_dead_for_the_metrics(monkeypatch, tmp_path):
    from prometheus_client import multiprocess

    dead: list[int] = []
    monkeypatch.setattr(multiprocess, "mark_process_dead", dead.append)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    serving.child_exit(None, type("Worker", (), {"pid": 4242})())
    assert dead == []  # single process: nothing to clean
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    serving.child_exit(None, type("Worker", (), {"pid": 4242})())
    assert dead == [4242]


def test_the_supervisor_runs_one_worker_and_restarts_it(monkeypatch):
    monkeypatch.setattr(serving, "WORKER_RESTART_SECONDS", 0.05)
    supervisor = serving.PassbackSupervisor([sys.executable, "-c", "import time; time.sleep(0.2)"])
    supervisor.start()
    try:
        seen: set[int] = set()
        deadline = time.monotonic() + 10
        while len(seen) < 2 and time.monotonic() < deadline:
            if supervisor.pid is not None:
                seen.add(supervisor.pid)
            time.sleep(0.02)
        assert len(seen) >= 2, "the worker was not started again after it exited"
    finally:
        supervisor.stop()
    process = supervisor._process
    assert process is not None and process.poll() is not None


def test_demo_says_how_to_get_the_sandbox_when_it_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "lti_tool.sandbox.demo", None)  # import fails, as without lti-tool-sandbox
    monkeypatch.setenv("LTI_TOOL_ENV", "development")
    result = CliRunner().invoke(main, ["demo"])
    assert result.exit_code == 1
    assert "pip install 'lti-tool[sandbox]'" in result.output
