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
