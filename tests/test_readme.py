"""The README is the admin's reference: it must start with the two commands and list every setting."""

from __future__ import annotations

from pathlib import Path

from lti_tool.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    first_block = README.split("```sh", 1)[1].split("```", 1)[0]
    assert [line.split("#")[0].strip() for line in first_block.strip().splitlines()] == ["make demo", "make test"]


def test_readme_documents_every_environment_variable():
    missing = [f"LTI_TOOL_{setting.name}" for setting in SETTINGS if f"`LTI_TOOL_{setting.name}`" not in README]
    assert not missing


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
    assert "make test" in ci


ROOT = Path(__file__).resolve().parent.parent


def test_readme_names_the_sqlite_only_run_and_the_demo_ports_and_the_makefile_honours_them():
    assert "LTI_TOOL_TEST_BACKENDS=sqlite make test" in README
    assert "make demo PORT=" in README and "SANDBOX_PORT=" in README
    makefile = (ROOT / "Makefile").read_text()
    assert "--port $(PORT) --sandbox-port $(SANDBOX_PORT)" in makefile
    assert "$(LOCK)" in makefile.split("$(STAMP):", 1)[1].splitlines()[0]  # a new lock reinstalls .venv
    assert "test: lint typecheck pytest artifact-test" in makefile


def test_every_serve_variable_is_documented():
    from lti_tool.cli import serve

    variables = [param.envvar for param in serve.params if param.envvar]
    assert len(variables) >= 4
    configuration = (ROOT / "docs" / "configuration.md").read_text()
    assert not [name for name in variables if f"`{name}`" not in configuration]


def test_the_production_docs_install_the_wheel_and_their_files_exist():
    deployment = (ROOT / "docs" / "deployment.md").read_text()
    for text in (README, deployment):
        assert "pip install --no-deps dist/lti_tool-*.whl" in text
        assert "lti-tool admin add-user" in text
    for name in ("lti-tool-web.service", "lti-tool-worker.service", "lti-tool.env.example", "nginx-lti-tool.conf"):
        assert f"docs/deploy/{name}" in deployment and (ROOT / "docs" / "deploy" / name).is_file()
    assert "## Monitoring" in deployment and "operations.md" in deployment


def test_the_env_example_names_only_real_settings():
    from lti_tool.cli import serve

    known = {f"LTI_TOOL_{setting.name}" for setting in SETTINGS} | {p.envvar for p in serve.params if p.envvar}
    known.add("PROMETHEUS_MULTIPROC_DIR")  # prometheus-client's own (docs/operations.md, Metrics)
    lines = (ROOT / "docs" / "deploy" / "lti-tool.env.example").read_text().splitlines()
    names = [line.split("=", 1)[0] for line in lines if line and not line.startswith("#")]
    assert names and not [name for name in names if name not in known]


def test_the_operations_guide_covers_probes_doctor_metrics_alerts_and_logs():
    from lti_tool.telemetry import metrics

    operations = (ROOT / "docs" / "operations.md").read_text()
    for text in ("/healthz", "/readyz", "lti-tool doctor", "LTI_TOOL_METRICS_TOKEN", "LTI_TOOL_LOG_FORMAT",
                 "> 900", "lti_tool_outbox_parked > 0", "> 120", "X-Request-Id"):
        assert text in operations, text
    names = {family.name for counter in (metrics.LAUNCHES, metrics.CALLBACKS, metrics.AGS_REQUESTS)
             for family in counter.describe()}
    gauges = {"lti_tool_outbox_pending", "lti_tool_outbox_oldest_pending_age_seconds", "lti_tool_outbox_parked",
              "lti_tool_worker_heartbeat_age_seconds", "lti_tool_database_up"}
    assert not [name for name in names | gauges if f"`{name}" not in operations]
    assert "`lti-tool doctor" in README
