"""parse_json's nesting bound: exact at the limit, whatever shortcut decides it."""

from __future__ import annotations

import json

import pytest

from lti_tool.inputs import InputError
from lti_tool.inputs import parse_json


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("max_depth", [1, 4, 32])
def test_the_limit_is_accepted_and_one_level_more_refused(max_depth: int) -> None:
    assert parse_json(nested(max_depth), max_depth=max_depth) is not None
    with pytest.raises(InputError, match="nested deeper than"):
        parse_json(nested(max_depth + 1), max_depth=max_depth)


def test_brackets_inside_strings_do_not_count_as_levels() -> None:
    text = json.dumps({"note": "[{" * 50, "scores": {"overall": 80}})
    assert parse_json(text, max_depth=2) == {"note": "[{" * 50, "scores": {"overall": 80}}


def test_many_shallow_brackets_pass_and_one_deep_branch_among_them_is_refused() -> None:
    shallow = [[index] for index in range(40)]
    assert parse_json(json.dumps(shallow), max_depth=2) == shallow
    with pytest.raises(InputError, match="nested deeper than"):
        parse_json(json.dumps([*shallow, [[[1]]]]), max_depth=3)


def test_an_escaped_quote_does_not_end_the_string() -> None:
    text = '{"a": "\\\\\\"[[[[", "b": [[1]]}'
    assert parse_json(text, max_depth=3)["b"] == [[1]]
    with pytest.raises(InputError, match="nested deeper than"):
        parse_json('{"a": "\\"", "b": [[[[1]]]]}', max_depth=3)


def test_objects_count_as_levels_as_arrays_do() -> None:
    with pytest.raises(InputError, match="nested deeper than"):
        parse_json('{"a": {"b": {"c": {}}}}', max_depth=3)
    assert parse_json('{"a": {"b": {"c": {}}}}', max_depth=4) == {"a": {"b": {"c": {}}}}
