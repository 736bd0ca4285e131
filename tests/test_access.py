"""Deny by default: every route says who may reach it, and staff routes refuse everyone else."""

from __future__ import annotations

import re

import pytest

from service.web.access import ACCESS_ATTRIBUTE

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_every_route_declares_who_may_reach_it(app):
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        and getattr(app.view_functions[rule.endpoint], ACCESS_ATTRIBUTE, None) is None
    ]
    assert undeclared == []


def test_a_route_without_a_declaration_does_not_exist(app, world):
    @app.get("/forgotten")
    def forgotten():
        return "should never be served"

    response = app.test_client().get("/forgotten")
    assert response.status_code == 404


def test_every_staff_route_refuses_an_anonymous_visitor(app, world):
    client = app.test_client()
    for rule in app.url_map.iter_rules():
        access = getattr(app.view_functions.get(rule.endpoint), ACCESS_ATTRIBUTE, "")
        if not access.startswith("staff"):
            continue
        path = re.sub(r"<int:[^>]+>", "1", rule.rule)
        path = re.sub(r"<[^>]+>", "0" * 32, path)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            response = client.open(path, method=method)
            # A POST without a CSRF token is refused even earlier, with 400.
            assert response.status_code in (400, 401), (method, path, response.status_code)


def test_staff_routes_live_under_the_staff_prefix(app):
    for rule in app.url_map.iter_rules():
        access = getattr(app.view_functions.get(rule.endpoint), ACCESS_ATTRIBUTE, "")
        if access.startswith("staff"):
            assert rule.rule.startswith(("/board", "/admin")), rule.rule
