"""Small-cell protection for published counts: nobody is singled out by a number.

A count of 1 or 2 would point at one or two people, so it is shown as "< 3" (primary
suppression). Hiding it is not enough when a total is shown beside it: a row with one hidden cell
and a visible total gives the hidden cell back by subtraction. So, for every line of a table
(cells that add up to a shown total, the total included):

1. a line never has exactly one hidden member: if it has, the smallest other member that is
   not zero is hidden too (complementary suppression, shown as "×");
2. nor may the line's visible figures pin a hidden small count down in any other way — e.g.
   two cells shown as "< 3" with 4 left over for them must both be 2. The possible range of
   every hidden member is narrowed from what a reader sees (a "< 3" cell is 1 or 2, a "×" cell
   at least 3), line by line until nothing changes; while a "< 3" cell comes out as a single
   value, another member of its line is hidden.

Both rules are repeated until neither applies. Medians over fewer than 3 cases are not shown at
all (see service/summaries.py).
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping, Sequence

SMALL_MAX = 2  # counts 1..SMALL_MAX are never shown
THRESHOLD = SMALL_MAX + 1
INFINITY = float("inf")

Line = Sequence[tuple[Hashable, int]]  # (cell, +1) for the parts, (total, -1) for the total


class Mark(enum.StrEnum):
    SHOWN = "shown"
    SMALL = "small"  # primary: 1 or 2, shown as "< 3"
    HIDDEN = "hidden"  # complementary: hidden so that a small count cannot be worked out


def protect(values: Mapping[Hashable, int], lines: Sequence[Line]) -> dict[Hashable, Mark]:
    """How each cell may be shown, given the lines (sums) the table displays."""
    small = {key for key, value in values.items() if 1 <= value <= SMALL_MAX}
    hidden = set(small)
    while True:
        extra = _lone_hidden(values, lines, hidden)
        if extra is None:
            extra = _pinned(values, lines, hidden, small)
        if extra is None:
            break
        hidden.add(extra)
    return {
        key: Mark.SMALL if key in small else Mark.HIDDEN if key in hidden else Mark.SHOWN
        for key in values
    }


def _partner(values: Mapping[Hashable, int], members: list[Hashable], hidden: set) -> Hashable:
    """The member to hide with another: the smallest non-zero one still shown."""
    candidates = [(index, key) for index, key in enumerate(members) if key not in hidden]
    if not candidates:
        return None
    positive = [(index, key) for index, key in candidates if values[key] > 0]
    _index, key = min(positive or candidates, key=lambda item: (values[item[1]], item[0]))
    return key


def _lone_hidden(values, lines, hidden) -> Hashable | None:
    for line in lines:
        members = [key for key, _sign in line]
        if sum(key in hidden for key in members) == 1:
            return _partner(values, members, hidden)
    return None


def bounds(
    values: Mapping[Hashable, int], lines: Sequence[Line], hidden: set, small: set
) -> tuple[dict[Hashable, float], dict[Hashable, float]]:
    """What a reader can work out about each cell: its lowest and highest possible value."""
    low: dict[Hashable, float] = {}
    high: dict[Hashable, float] = {}
    for key, value in values.items():
        if key not in hidden:
            low[key] = high[key] = value
        elif key in small:
            low[key], high[key] = 1, SMALL_MAX
        else:
            low[key], high[key] = (THRESHOLD if value >= THRESHOLD else 0), INFINITY
    for _round in range(100):
        changed = False
        for line in lines:
            for key, sign in line:
                if key not in hidden:
                    continue
                rest_low = sum(min(s * low[k], s * high[k]) for k, s in line if k != key)
                rest_high = sum(max(s * low[k], s * high[k]) for k, s in line if k != key)
                # sign * value + rest = 0
                new_low, new_high = (-rest_high, -rest_low) if sign > 0 else (rest_low, rest_high)
                if new_low > low[key]:
                    low[key], changed = new_low, True
                if new_high < high[key]:
                    high[key], changed = new_high, True
        if not changed:
            break
    return low, high


def _pinned(values, lines, hidden, small) -> Hashable | None:
    low, high = bounds(values, lines, hidden, small)
    for key in sorted(small, key=repr):
        if low[key] < high[key]:
            continue
        for line in lines:
            members = [k for k, _sign in line]
            if key in members:
                partner = _partner(values, members, hidden)
                if partner is not None:
                    return partner
        # Every line through it is hidden already: widen to the lines of its neighbours.
        for line in lines:
            members = [k for k, _sign in line]
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
