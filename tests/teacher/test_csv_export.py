"""The CSV export read back as a spreadsheet would: UTF-8 with a BOM, one row per student and result, names as the
LMS gave them, no cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io

from lti_tool.teacher.export import safe_cell
from tests.speechace.test_callback import take_test
from tests.teacher.support import known_class
from tests.teacher.support import link_url
from tests.teacher.support import scores
from tests.teacher.support import teacher_page


def _export(connected, speechace_setup):
    browser, page = teacher_page(connected, speechace_setup)
    return browser.get(connected.tool_url + link_url(page.text, "/export.csv"))


def test_csv_parses_back_with_non_ascii_names_and_the_bom(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    take_test(connected, speechace_setup, sub="grace", scores=scores(6.3))  # Grace: a second result, not yet sent
    response = _export(connected, speechace_setup)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="Unit-3-speaking-test.csv"')
    assert response.content.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    by_name: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_name.setdefault(row["Student"], []).append(row)
    assert len(rows) == 6  # Alan, Stella, Edsger one result each; Grace two; Mallory none
    (stella,) = by_name["Stella Ström"]
    assert (stella["Given name"], stella["Family name"], stella["Email"]) == ("Stella", "Ström", "stella@example.edu")
    assert stella["Status"] == "Graded, in the gradebook" and stella["Overall (provider)"] == "9"
    assert (stella["Gradebook points"], stella["Gradebook maximum"]) == ("100", "100")
    assert stella["Vocabulary (provider)"] == "5.5" and stella["Provider scale maximum"] == "9"
    assert stella["Report"].startswith(f"{connected.tool_url}/teacher/results/")
    assert stella["Started (UTC)"] and stella["Result received (UTC)"] and stella["Sent to the gradebook (UTC)"]
    newest, older = by_name["Grace Hopper"]
    assert (newest["Latest result"], older["Latest result"]) == ("yes", "no")
    assert (newest["Overall (provider)"], older["Overall (provider)"]) == ("6.3", "4.5")
    assert newest["Status"] == "Grade on its way to the gradebook"
    (edsger,) = by_name["Edsger Dijkstra"]
    assert edsger["Status"] == "Grade on its way to the gradebook" and edsger["Gradebook points"] == "66.67"
    (mallory,) = [row for name, found in by_name.items() for row in found if name.endswith("Mallory")]
    assert mallory["Status"] == "Not started" and mallory["Result received (UTC)"] == ""


def test_cells_that_look_like_formulas_are_text(connected, speechace_setup, settings, database):
    known_class(connected, speechace_setup, settings, database)
    rows = list(csv.DictReader(io.StringIO(_export(connected, speechace_setup).content.decode("utf-8-sig"))))
    (mallory,) = [row for row in rows if "Mallory" in row["Student"]]
    assert mallory["Student"] == "'=HYPERLINK(\"http://evil.example\") Mallory"
    assert mallory["Given name"] == "'=HYPERLINK(\"http://evil.example\")"
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


def test_safe_cell_quotes_every_formula_start():
    for start in ("=", "+", "-", "@", "\t", "\r"):
        assert safe_cell(f"{start}1+1") == f"'{start}1+1"
    assert safe_cell("Stella Ström") == "Stella Ström" and safe_cell(None) == ""
