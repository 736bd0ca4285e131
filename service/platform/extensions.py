"""Flask extensions, created unbound and attached in create_app (flaskr's init_app pattern)."""

from __future__ import annotations

from flask_babel import Babel
from flask_login import LoginManager
from flask_mail import Mail
from flask_wtf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
mail = Mail()
login_manager = LoginManager()
