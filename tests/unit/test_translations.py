"""The catalogues are complete: every string the package and its templates mark for translation is in every
catalogue, translated, with the same placeholders, and the committed .mo files say what the .po files say."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from lti_tool.locales import SUPPORTED

REPOSITORY = Path(__file__).resolve().parents[2]
TRANSLATIONS = REPOSITORY / "lti_tool" / "translations"


@pytest.fixture(scope="module")
def marked(tmp_path_factory: pytest.TempPathFactory) -> set[object]:
    """What `make extract` finds today, into a temporary template."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "--quiet", "extract", "-F", "babel.cfg", "-k",
                    "N_", "--no-location", "--sort-output", "--omit-header", "-o", str(pot), "."],
                   cwd=REPOSITORY, check=True)
    with pot.open("rb") as stream:
        return {message.id for message in read_po(stream) if message.id}


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po").open("rb") as stream:
        return read_po(stream, locale=locale)


def test_the_extraction_finds_the_words_people_read(marked):
    assert "Your grade is in your course gradebook ✓" in marked and "Start the test" in marked
    assert len(marked) > 50


@pytest.mark.parametrize("locale", SUPPORTED)
def test_every_marked_string_is_translated_in_every_catalogue(marked, locale):
    catalog = _catalog(locale)
    missing = sorted(str(message_id) for message_id in marked if message_id not in catalog)
    assert not missing, f"{locale}: not in the catalogue (run `make extract` and translate): {missing}"
    untranslated = [str(message.id) for message in catalog if message.id in marked
                    and (message.fuzzy or not all(message.string if isinstance(message.string, tuple)
                                                  else [message.string]))]
    assert not untranslated, f"{locale}: untranslated or fuzzy: {untranslated}"
    problems = [(str(message.id), [str(error) for error in errors]) for message, errors in catalog.check()]
    assert not problems, f"{locale}: placeholders differ from the English: {problems}"


@pytest.mark.parametrize("locale", SUPPORTED)
def test_the_committed_mo_file_says_what_the_po_file_says(locale):
    catalog = _catalog(locale)
    with (TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo").open("rb") as stream:
        compiled = read_mo(stream)
    def texts(messages) -> dict[object, object]:  # type: ignore[no-untyped-def]
        return {_frozen(message.id): _frozen(message.string) for message in messages if message.id}

    assert texts(compiled) == texts(catalog), \
        f"{locale}: messages.mo is stale: run `make compile`"


def _frozen(value: object) -> object:
    return tuple(value) if isinstance(value, (list, tuple)) else value
