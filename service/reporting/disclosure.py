"""Small-cell protection for published counts: nobody is singled out by a number.

A count of 1 or 2 would point at one or two people, so it is shown as "< 3" (primary
suppression). Hiding it is not enough when a total is shown beside it: a row with one hidden cell
and a visible total gives the hidden cell back by subtraction. The tables here are two-level
hierarchies — cells add up to their group's total (a body's kinds to the body's total), group
totals add up to the grand total (the organisation's) — and every one of these sums is a line.
Two rules, repeated until neither applies:

1. a line never has exactly one hidden member: if it has, another member is hidden too
   (complementary suppression): a zero if there is one — shown as "< 3" as well, which is true,
   and which is why a reader cannot tell a "< 3" from 0 — else the smallest count, shown as "×";
2. nor may what a reader sees pin a hidden small count down in any other way — e.g. two cells
   shown as "< 3" with 4 left over for them must both be 2. The check is exact: a reader who knows
   these rules knows that "< 3" is 0, 1 or 2 and that "×" is at least 3; for each small count
   we ask whether the other value is possible too, propagating the sets of possible sums up the
   hierarchy (intervals, so large counts cost nothing). If it is not, another member of a line
   through that cell is hidden.

Medians over fewer than 3 cases are not shown at all (see service/reporting/summaries.py).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence

SMALL_MAX = 2  # counts 1..SMALL_MAX are never shown
THRESHOLD = SMALL_MAX + 1
UNBOUNDED = 10**12

Group = tuple[Hashable, Sequence[Hashable]]  # (total, the cells that add up to it)
Intervals = tuple[tuple[int, int], ...]  # sorted, disjoint, closed


class Mark(enum.StrEnum):
    SHOWN = "shown"
    SMALL = "small"  # shown as "< 3": a count of 1 or 2, or a 0 hidden with one
    HIDDEN = "hidden"  # "×": a count of 3 or more hidden so that a small one cannot be worked out


def protect(
    values: Mapping[Hashable, int], groups: Sequence[Group], grand: Hashable | None = None
) -> dict[Hashable, Mark]:
    """How each cell may be shown. `groups`: each total with its cells; `grand`: the total of
    the groups' totals, if the table shows one."""
    lines = [[total, *cells] for total, cells in groups]
    if grand is not None:
        lines.append([grand, *(total for total, _cells in groups)])
    small = {key for key, value in values.items() if 1 <= value <= SMALL_MAX}
    hidden = set(small)
    while True:
        extra = _lone_hidden(values, lines, hidden)
        if extra is None:
            extra = _pinned(values, groups, grand, lines, hidden, small)
        if extra is None:
            break
        hidden.add(extra)
    return _marks(values, hidden)


def _marks(values: Mapping[Hashable, int], hidden: set) -> dict[Hashable, Mark]:
    return {
        key: Mark.SHOWN
        if key not in hidden
        else Mark.SMALL
        if values[key] < THRESHOLD
        else Mark.HIDDEN
        for key in values
    }


def _partner(values: Mapping[Hashable, int], members: list[Hashable], hidden: set) -> Hashable:
    """The member to hide with another: a zero if there is one (it costs the reader nothing),
    else the smallest count still shown."""
    candidates = [(index, key) for index, key in enumerate(members) if key not in hidden]
    if not candidates:
        return None
    _index, key = min(candidates, key=lambda item: (values[item[1]], item[0]))
    return key


def _lone_hidden(values, lines, hidden) -> Hashable | None:
    for members in lines:
        if sum(key in hidden for key in members) == 1:
            return _partner(values, members, hidden)
    return None


# --- what a reader can work out ---------------------------------------------------------------


def _merge(intervals) -> Intervals:
    merged: list[list[int]] = []
    for low, high in sorted(intervals):
        if merged and low <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], high)
        else:
            merged.append([low, high])
    return tuple((low, min(high, UNBOUNDED)) for low, high in merged)


def _add(a: Intervals, b: Intervals) -> Intervals:
    return _merge((x + y, p + q) for x, p in a for y, q in b)


def _meet(a: Intervals, b: Intervals) -> Intervals:
    return _merge((max(x, y), min(p, q)) for x, p in a for y, q in b if max(x, y) <= min(p, q))


def reader_domain(value: int, mark: Mark) -> Intervals:
    """The values a cell may have for a reader who knows the rules."""
    if mark == Mark.SHOWN:
        return ((value, value),)
    if mark == Mark.SMALL:
        return ((0, SMALL_MAX),)
    return ((THRESHOLD, UNBOUNDED),)


def consistent(domains: Mapping[Hashable, Intervals], groups, grand) -> bool:
    """Whether some counts within `domains` satisfy every sum of the hierarchy (exact: each
    cell is in one group, so the groups' possible sums are independent)."""
    sums = []
    for total, cells in groups:
        possible: Intervals = ((0, 0),)
        for cell in cells:
            possible = _add(possible, domains[cell])
        possible = _meet(possible, domains[total])
        if not possible:
            return False
        sums.append(possible)
    if grand is None:
        return True
    possible = ((0, 0),)
    for group_sum in sums:
        possible = _add(possible, group_sum)
    return bool(_meet(possible, domains[grand]))


def _pinned(values, groups, grand, lines, hidden, small) -> Hashable | None:
    marks = _marks(values, hidden)
    domains = {key: reader_domain(values[key], mark) for key, mark in marks.items()}
    for key in sorted(small, key=repr):
        others = [v for v in range(SMALL_MAX + 1) if v != values[key]]
        if any(consistent({**domains, key: ((v, v),)}, groups, grand) for v in others):
            continue
        for members in lines:
            if key in members:
                partner = _partner(values, members, hidden)
                if partner is not None:
                    return partner
        # Every line through it is hidden already: hide more in the lines of its neighbours.
        for members in lines:
            if any(k in hidden for k in members):
                partner = _partner(values, members, hidden)
                if partner is not None:
                    return partner
    return None


def shown_text(value: int, mark: Mark) -> str:
    if mark == Mark.SMALL:
        return f"< {THRESHOLD}"
    if mark == Mark.HIDDEN:
        return "×"
    return str(value)
