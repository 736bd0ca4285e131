"""Who reaches what: every role × every route of the URL map × a case of the role's own body, of
the other body, and one the reporter excluded the role from — allowed exactly where DESIGN.md's
table of roles says.

The routes come from `app.url_map`, so a new route is in the matrix the day it is added: its
access declaration decides what is expected, and a route parameter the matrix has no value for
fails the test (add it to `parameter_values`).

Expected, from DESIGN.md ("Who uses it"):
- public routes: everyone;
- reporter routes: only a reporter in a follow-up session (anyone else: 401);
- staff routes: handlers, chairs and administrators as the route declares; a visitor or a
  reporter gets 401, a staff member of another role 403;
- a route about one case: only a handler or chair of the case's body whom the reporter did not
  exclude; the other body and an excluded person get 404 (nobody learns the case exists);
- an administrator reaches no case route at all (403): they can never read a case.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from service.admin import invitations
from service.admin.settings import add_head_of_unit, add_recipient, set_routing_rule
from service.cases.lifecycle import accept_case, acknowledge_case, resolve_case
from service.cases.publication import draft_publication
from service.mail.outbox import delivery_bodies
from service.models import (
    Account,
    Attachment,
    Category,
    DeadlineRule,
    Invitation,
    Role,
)
from service.people.principal import Principal
from service.web.access import ACCESS_ATTRIBUTE
from tests.casefactory import file_case
from tests.conftest import add_staff, csrf_from, domain_session, found, log_in
from tests.flows import follow_up

ROLES = ("anonymous", "reporter", "handler", "chair", "admin")
VARIANTS = ("own body", "other body", "excluded")
STAFF_ROLES = {"handler", "chair", "admin"}
DENIED = {401, 403, 404}


def expected_status(access: str, role: str, variant: str | None) -> str | int:
    """'allowed', or the status that must refuse `role` (DESIGN.md's table of roles)."""
    if access == "public":
        return "allowed"
    if access == "reporter":
        return "allowed" if role == "reporter" else 401
    assert access.startswith("staff"), access
    if role not in STAFF_ROLES:
        return 401
    roles = access.split(":", 1)[1].split(",") if ":" in access else sorted(STAFF_ROLES)
    if role not in roles:
        return 403
    if variant is not None and variant != "own body":
        return 404
    return "allowed"


@dataclass
class Setting:
    """The organisation the matrix runs in, and the values for route parameters."""

    cases: dict[tuple[str, str | None], str]  # (role, variant) → case id
    attachments: dict[str, str]  # case id → one of its attachment ids
    values: dict[tuple[str, str], str]  # (endpoint or "*", parameter) → value


@pytest.fixture
def setting(app, world) -> Setting:
    admin = add_staff(app, world, "admin", Role.ADMIN, None)
    with domain_session(app) as db:
        own = file_case(db, world, files=[("a.txt", b"a")]).case.id
        other = file_case(db, world, world.ttnd, files=[("b.txt", b"b")]).case.id
        not_handler = file_case(db, world, excluded=("cd_handler",), files=[("c.txt", b"c")])
        not_chair = file_case(db, world, excluded=("cd_chair",), files=[("d.txt", b"d")])
        attachments = {
            case_id: db.scalars(select(Attachment.id).where(Attachment.case_id == case_id)).one()
            for case_id in (own, other, not_handler.case.id, not_chair.case.id)
        }
        admin_account = db.get_one(Account, admin.account.id)
        head = add_head_of_unit(
            db, admin_account, code="TTDV", name_vi="Thủ trưởng", name_en="Head"
        )
        recipient = add_recipient(
            db, admin_account, email="ld@homthu.test", display_name="Lãnh đạo", kind="management"
        )
        category = db.scalars(select(Category).order_by(Category.id)).first()
        assert category is not None
        route = set_routing_rule(
            db, admin_account, kind=None, category_id=category.id, body_id=world.cd.id
        )
        deadline = db.scalars(select(DeadlineRule).order_by(DeadlineRule.id)).first()
        assert deadline is not None
        invitation_ids: Sequence[int] = []
        for email in ("moi@homthu.test", "rut@homthu.test"):
            invitations.invite(
                db,
                admin_account,
                email=email,
                display_name="Người mới",
                role=Role.HANDLER,
                body_id=world.cd.id,
                base_url="http://homthu.test",
                hours=72,
            )
        from service.models import OutboxMessage

        mail = db.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == "moi@homthu.test")
        ).one()
        token = found(r"/board/invite/([\w-]+)", delivery_bodies(mail)[0]).group(1)
        invitation_ids = db.scalars(
            select(Invitation.id).where(Invitation.email == "rut@homthu.test")
        ).all()
        # The own case, resolved, with a draft public summary (for the publication routes).
        handler = db.get_one(Account, world["cd_handler"].account.id)
        key = world["cd_handler"].private_key()
        acknowledge_case(db, handler, own)
        accept_case(db, handler, own)
        resolve_case(db, Principal(handler, key), own, summary="Đã giải quyết")
        publication = draft_publication(db, Principal(handler, key), own, text="Tóm tắt")
        ids = (head.body.id, recipient.id, category.id, route.id, deadline.id, publication.id)
    colleague = add_staff(app, world, "cd_new", Role.HANDLER, world.cd)
    leaving = add_staff(app, world, "cd_leaving", Role.HANDLER, world.cd)
    forgetful = add_staff(app, world, "cd_forgetful", Role.HANDLER, world.cd)
    body_id, recipient_id, category_id, route_id, deadline_id, publication_id = ids
    cases: dict[tuple[str, str | None], str] = {
        ("handler", "own body"): own,
        ("chair", "own body"): own,
    }
    for role in ("handler", "chair"):
        cases[(role, "other body")] = other
    cases[("handler", "excluded")] = not_handler.case.id
    cases[("chair", "excluded")] = not_chair.case.id
    values = {
        ("*", "code"): "en",
        ("*", "token"): token,
        ("account.grant", "account_id"): str(colleague.account.id),
        ("admin.deactivate", "account_id"): str(leaving.account.id),
        ("admin.reset", "account_id"): str(forgetful.account.id),
        ("*", "body_id"): str(body_id),
        ("*", "recipient_id"): str(recipient_id),
        ("*", "category_id"): str(category_id),
        ("admin.delete_route", "rule_id"): str(route_id),
        ("admin.update_deadline", "rule_id"): str(deadline_id),
        ("*", "invitation_id"): str(invitation_ids[0]),
        ("admin.set_retention", "status"): "resolved",
        ("*", "period"): "2026-H1",
        ("*", "fmt"): "csv",
        ("board.transition", "action"): "acknowledge",
        ("*", "publication_id"): str(publication_id),
    }
    return Setting(cases, attachments, values)


def _path(rule, setting: Setting, role: str, variant: str | None) -> str:
    values = {}
    for name in rule.arguments:
        if name == "case_id":
            # Roles without a case of their own ask for the own body's case of the handler.
            values[name] = setting.cases.get((role, variant), setting.cases[("handler", variant)])
        elif name == "attachment_id":
            continue
        else:
            value = setting.values.get((rule.endpoint, name)) or setting.values.get(("*", name))
            if value is None:
                pytest.fail(
                    f"{rule.rule} ({rule.endpoint}) has a parameter {name!r} the access matrix "
                    "has no value for: add one to the `setting` fixture"
                )
            values[name] = value
    if "attachment_id" in rule.arguments:
        values["attachment_id"] = setting.attachments[values["case_id"]]
    path = rule.rule
    for name, value in values.items():
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", value, path)
    return path


class Visitor:
    """A browser in one role, logged in again whenever a route ended its session."""

    def __init__(self, app, world, role: str, receipt: str):
        self.app, self.world, self.role, self.receipt = app, world, role, receipt
        self.client: FlaskClient
        self.renew()

    def renew(self) -> None:
        self.client = self.app.test_client()
        if self.role == "reporter":
            assert follow_up(self.client, self.receipt).status_code == 302
        elif self.role != "anonymous":
            name = {"handler": "cd_handler", "chair": "cd_chair", "admin": "admin"}[self.role]
            log_in(self.client, self.app, self.world[name])

    def token(self, path: str) -> str:
        staff_area = path.startswith(("/board", "/admin"))
        page = self.client.get("/board/login" if staff_area else "/follow-up")
        return csrf_from(page.get_data(as_text=True))

    def request(self, method: str, path: str) -> int:
        if method == "GET":
            status = self.client.get(path).status_code
        else:
            status = self.client.post(path, data={"csrf_token": self.token(path)}).status_code
            self.renew()  # a POST may have ended the session (logging out, ending a follow-up)
        return status


@pytest.fixture
def receipt(app, world) -> str:
    from tests.flows import file_report

    _response, code = file_report(app.test_client(), body=str(world.cd.id))
    assert code
    return code


@pytest.mark.parametrize("role", ROLES)
def test_every_route_admits_exactly_whom_the_design_says(app, world, setting, receipt, role):
    visitor = Visitor(app, world, role, receipt)
    wrong = []
    checked = 0
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint == "static":
            continue
        access = getattr(app.view_functions[rule.endpoint], ACCESS_ATTRIBUTE)
        variants = VARIANTS if "case_id" in rule.arguments else (None,)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for variant in variants:
                path = _path(rule, setting, role, variant)
                status = visitor.request(method, path)
                expected = expected_status(access, role, variant)
                got = "allowed" if status not in DENIED and status < 500 else status
                checked += 1
                if got != expected:
                    wrong.append(f"{method} {path} [{variant}]: expected {expected}, got {status}")
    assert checked > 40
    assert not wrong, f"{role}:\n" + "\n".join(wrong)


def test_the_expectations_follow_the_design_table():
    case_route = "staff:handler,chair"
    assert expected_status(case_route, "handler", "own body") == "allowed"
    assert expected_status(case_route, "chair", "excluded") == 404
    assert expected_status(case_route, "handler", "other body") == 404
    assert expected_status(case_route, "admin", "own body") == 403
    assert expected_status("staff:admin", "chair", None) == 403
    assert expected_status("staff:admin", "reporter", None) == 401
    assert expected_status("reporter", "admin", None) == 401
    assert expected_status("public", "anonymous", None) == "allowed"
