"""Separate cookies for the reporter's side and the staff side (as SecureDrop keeps them apart).

Flask's signed session holds only the CSRF token and flashed messages. The staff areas use their
own cookie name, so nothing set while filing a report is ever sent with a staff request, and the
other way round.
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface

from service.platform.logs import STAFF_PREFIXES

PUBLIC_SESSION_COOKIE = "homthu_public"
STAFF_SESSION_COOKIE = "homthu_staff_form"


class AreaSessionInterface(SecureCookieSessionInterface):
    def get_cookie_name(self, app: Flask) -> str:
        if request and request.path.startswith(STAFF_PREFIXES):
            return STAFF_SESSION_COOKIE
        return PUBLIC_SESSION_COOKIE
