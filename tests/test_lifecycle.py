"""One lifecycle: the transition table, and `move` as the only writer of a case's status.

Whoever moves a case — staff, the reporter reopening it, a transfer — the status, its copy on
the key wraps, the deadline the case waits on and one audit event move together.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from service.audit.trail import Actor
from service.cases.casework import open_case_with_receipt
from service.cases.custody import transfer_case
from service.cases.intake import Submission, submit_case
from service.cases.lifecycle import (
    DECIDED,
    TRANSITIONS,
    Action,
    RoleNotPermitted,
    TransitionRefused,
    accept_case,
    acknowledge_case,
    move,
    resolve_case,
)
from service.cases.voice import ask_to_reopen
from service.models import AuditEvent, CaseKeyWrap, CaseKind, CaseStatus, KeyPurpose
from service.rules.policy import current_due

NOW = dt.datetime(2026, 11, 27, 3, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
SERVICE = Path(__file__).resolve().parent.parent / "service"


def _file(db, world):
    submission = Submission(kind=CaseKind.PROBLEM, title="t", text="x")
    return submit_case(db, world.organisation, submission, now=NOW)


def _events(db, case_id: str, action: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.action == action)
        )
    )


def _listed_statuses(db, case_id: str) -> set[str]:
    """The copies of the status on the CASE wraps the board counts from."""
    return set(
        db.scalars(
            select(CaseKeyWrap.case_status).where(
                CaseKeyWrap.case_id == case_id,
                CaseKeyWrap.purpose == KeyPurpose.CASE,
                CaseKeyWrap.case_status.is_not(None),
            )
        )
    )


def _assert_in_step(db, case, status: CaseStatus, action: str, before: int) -> None:
    db.expire_all()
    assert case.status == status
    assert _listed_statuses(db, case.id) == {status}
    assert case.next_due is not None and case.next_due == current_due(case)
    assert len(_events(db, case.id, action)) == before + 1


# --- the table -------------------------------------------------------------------------------


def test_the_table_has_one_row_for_every_action():
    assert set(TRANSITIONS) == set(Action)
    for action, row in TRANSITIONS.items():
        assert row.action == action
        assert row.sources and row.roles
        assert row.audit_action.startswith("case.")


def test_the_rows_say_what_each_move_keeps_in_step():
    assert TRANSITIONS[Action.ACKNOWLEDGE].stamp == "acknowledged_on"
    assert TRANSITIONS[Action.ACCEPT].stamp == "accepted_on"
    assert TRANSITIONS[Action.CLOSE].stamp == "closed_on"
    assert {a for a, row in TRANSITIONS.items() if row.decides} == {Action.RESOLVE, Action.DECLINE}
    assert TRANSITIONS[Action.REOPEN].sources == DECIDED
    assert {"decided_on", "decision", "closed_on", "rating"} <= set(
        TRANSITIONS[Action.REOPEN].resets
    )
    assert "reporter" in TRANSITIONS[Action.REOPEN].roles
    assert TRANSITIONS[Action.TRANSFER].restarts_clocks
    assert TRANSITIONS[Action.TRANSFER].audit_action == "case.transferred"


def test_move_refuses_what_the_table_does_not_allow(db, world):
    case = _file(db, world).case
    chair = world["cd_chair"].account
    with pytest.raises(TransitionRefused):
        move(db, case, Action.RESOLVE, actor=Actor.staff(chair), now=NOW)
    with pytest.raises(RoleNotPermitted):
        move(db, case, Action.ACKNOWLEDGE, actor=Actor.reporter(), now=NOW)
    db.rollback()
    assert case.status == CaseStatus.NEW


# --- every path keeps the same things in step ------------------------------------------------


def test_a_staff_move_updates_the_wraps_the_deadline_and_the_audit(db, world):
    handler = world["cd_handler"]
    case = _file(db, world).case
    acknowledge_case(db, handler.account, case.id, now=NOW)
    _assert_in_step(db, case, CaseStatus.ACKNOWLEDGED, "case.acknowledge", 0)
    assert case.acknowledged_on is not None


def test_the_reporters_reopening_goes_through_the_same_move(db, world):
    handler = world["cd_handler"]
    filed = _file(db, world)
    case = filed.case
    acknowledge_case(db, handler.account, case.id, now=NOW)
    accept_case(db, handler.account, case.id, now=NOW)
    resolve_case(db, handler.principal(), case.id, summary="Đã sửa", now=NOW)
    access = open_case_with_receipt(db, world.organisation, filed.receipt)
    assert ask_to_reopen(db, access, "", now=NOW, reopen_window=dt.timedelta(days=30)).changed
    _assert_in_step(db, case, CaseStatus.IN_PROGRESS, "case.reopen", 0)
    (event,) = _events(db, case.id, "case.reopen")
    assert (event.actor_role, event.actor_id, event.occurred_at) == ("reporter", None, None)
    assert case.reopen_count == 1 and case.decided_on is None and case.decision is None


def test_a_transfer_goes_through_the_same_move_and_restarts_the_clock(db, world):
    handler = world["cd_handler"]
    case = _file(db, world).case
    acknowledge_case(db, handler.account, case.id, now=NOW)
    transfer_case(
        db,
        handler.principal(),
        case.id,
        to_body_id=world.ttnd.id,
        keep_access=False,
        reason="x",
        now=LATER,
    )
    _assert_in_step(db, case, CaseStatus.TRANSFERRED, "case.transferred", 0)
    assert case.transferred_on == LATER.date() and case.acknowledged_on is None
    assert case.transfer_count == 1
    assert case.next_due == case.acknowledge_due and case.acknowledge_due > LATER.date()
    # one event for the move, none under the generic name
    assert (
        db.scalar(
            select(func.count()).where(
                AuditEvent.case_id == case.id, AuditEvent.action == "case.transfer"
            )
        )
        == 0
    )


# --- nobody else writes a status -------------------------------------------------------------

# `.status` of other tables, written by their own modules.
_OTHER_STATUSES = {("publication.py", "publication"), ("delivery.py", "message")}


def _status_writes(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            parts = target.elts if isinstance(target, ast.Tuple) else [target]
            for part in parts:
                if isinstance(part, ast.Attribute) and part.attr in ("status", "case_status"):
                    owner = part.value.id if isinstance(part.value, ast.Name) else "?"
                    if (path.name, owner) not in _OTHER_STATUSES:
                        # Only an Assign, AugAssign or AnnAssign has targets: a statement.
                        found.append(f"{path}:{node.lineno} {owner}.{part.attr} =")  # type: ignore[attr-defined]
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            if name == "set_status":
                found.append(f"{path}:{node.lineno} set_status()")
            if name == "setattr" and any(
                isinstance(a, ast.Constant) and a.value in ("status", "case_status")
                for a in node.args
            ):
                found.append(f"{path}:{node.lineno} setattr status")
    return found


def test_no_module_but_the_lifecycle_writes_a_case_status():
    writes = [
        write
        for path in sorted(SERVICE.rglob("*.py"))
        if path.name != "lifecycle.py" and "models" not in path.parts
        for write in _status_writes(path)
    ]
    assert writes == []


def test_the_scan_would_see_a_status_write(tmp_path):
    sneaky = tmp_path / "sneaky.py"
    sneaky.write_text(
        "case.status = 'closed'\nset_status(db, case, s)\nc.x, c.status = 1, 2\n"
        "form.status.choices = []\n",
        encoding="utf-8",
    )
    assert len(_status_writes(sneaky)) == 3
