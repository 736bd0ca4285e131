"""Small-cell protection: a count of 1 or 2 is never shown, and no total gives one back."""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.reporting.disclosure import Group, Mark, protect, shown_text

S, SMALL, HIDDEN = Mark.SHOWN, Mark.SMALL, Mark.HIDDEN


def one_row(cells: list[int]):
    """Cells a, b, c, … and their total t: the line a + b + … = t."""
    values = dict(zip("abcde", cells, strict=False))
    values["t"] = sum(cells)
    return values, [("t", [name for name in values if name != "t"])]


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        # nothing small: everything shown
        ([5, 7, 0], {"a": S, "b": S, "c": S, "t": S}),
        # one small cell: a zero is hidden with it (as "< 3", which is true)
        ([2, 9, 4, 0], {"a": SMALL, "b": S, "c": S, "d": SMALL, "t": S}),
        # no zero beside it: the smallest other count is hidden with it, as "×"
        ([2, 9, 4], {"a": SMALL, "b": S, "c": HIDDEN, "t": S}),
        # two small cells whose sum is not pinned (1 + 2 = 3 could be 2 + 1): enough
        ([1, 2, 8], {"a": SMALL, "b": SMALL, "c": S, "t": S}),
        # two small cells with 4 left over for them: both would be 2, so hide another
        ([2, 2, 6], {"a": SMALL, "b": SMALL, "c": HIDDEN, "t": S}),
        # a small total and the small cell under it: both hidden; nothing pins them
        ([1, 0, 0], {"a": SMALL, "b": S, "c": S, "t": SMALL}),
        # two ones under a total of two: hidden as they are, "< 3" may be 0, so not pinned
        ([1, 1, 0], {"a": SMALL, "b": SMALL, "c": S, "t": SMALL}),
    ],
)
def test_small_counts_and_their_complements_in_one_row(cells, expected):
    values, groups = one_row(cells)
    assert protect(values, groups) == expected


def test_a_hidden_cell_chosen_for_one_row_is_complemented_in_the_total_row():
    # Two bodies with kinds x, y; body totals X, Y; the organisation's total T.
    values: dict[Hashable, int] = {"ax": 2, "ay": 10, "A": 12, "bx": 5, "by": 6, "B": 11, "T": 23}
    groups = [("A", ["ax", "ay"]), ("B", ["bx", "by"])]
    marks = protect(values, groups, grand="T")
    assert marks["ax"] == SMALL and marks["ay"] == HIDDEN
    for line in (["ax", "ay", "A"], ["bx", "by", "B"], ["A", "B", "T"]):
        assert sum(marks[key] != S for key in line) != 1  # never a single hidden member


def test_shown_texts():
    assert [shown_text(7, S), shown_text(2, SMALL), shown_text(11, HIDDEN)] == ["7", "< 3", "×"]


# --- a reader who knows the rules tries to work the small cells out --------------------------


def _possible_values(values, lines, marks, key, limit):
    """Every value the cell `key` can take, given what a reader sees (a brute-force search)."""
    hidden = [k for k, mark in marks.items() if mark != S]
    domains: list[Iterable[int]] = []
    for k in hidden:
        if marks[k] == SMALL:  # 1 or 2, or a 0 hidden with one
            domains.append((0, 1, 2))
        else:  # "×": 3 or more
            domains.append(range(3, limit + 1))
    found = set()
    for guess in itertools.product(*domains):
        assignment = {**values, **dict(zip(hidden, guess, strict=True))}
        if all(sum(assignment[k] for k in cells) == assignment[total] for total, cells in lines):
            found.add(assignment[key])
    return found


@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.lists(st.integers(min_value=0, max_value=4), min_size=3, max_size=3),
        min_size=2,
        max_size=2,
    )
)
def test_no_reader_can_work_out_a_small_count_from_the_totals(grid):
    """A brute-force reader, independent of the implementation's reasoning."""
    values: dict[Hashable, int] = {}
    groups: list[Group] = []
    for row, cells in enumerate(grid):
        for column, value in enumerate(cells):
            values[(row, column)] = value
        values[(row, None)] = sum(cells)
        groups.append(((row, None), [(row, c) for c in range(len(cells))]))
    values[(None, None)] = sum(sum(cells) for cells in grid)
    lines = [*groups, ((None, None), [total for total, _cells in groups])]

    marks = protect(values, groups, grand=(None, None))
    visible = {k: v for k, v in values.items() if marks[k] == S}
    limit = values[(None, None)]
    for key, value in values.items():
        if 1 <= value <= 2:
            assert marks[key] == SMALL
            possible = _possible_values(visible, lines, marks, key, limit)
            assert value in possible and len(possible) > 1, (grid, marks, key, possible)
