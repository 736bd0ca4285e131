"""Forms of the administration area."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import EmailField, Field, IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from service.models import CaseKind, DayUnit, Role
from service.web.forms import KIND_LABELS, SecureForm

ROLE_LABELS = {
    Role.HANDLER: _l("Handler"),
    Role.CHAIR: _l("Chair"),
    Role.ADMIN: _l("Administrator"),
}
RECIPIENT_LABELS = {
    "management": _l("Management (monthly summary)"),
    "administration": _l("Administration department (summaries and reports)"),
}
UNIT_LABELS = {DayUnit.WORKING: _l("working days"), DayUnit.CALENDAR: _l("calendar days")}
ANY = ""
# WTForms' own message for a number field, so the catalogs carry its translation.
_WTFORMS_NUMBER = _l("Not a valid integer value.")


def _name(label, required_message):
    return StringField(
        label,
        validators=[
            InputRequired(required_message),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )


class OrganisationForm(SecureForm):
    name = StringField(
        _l("Name of the unit"),
        validators=[
            InputRequired(_l("Give the unit's name.")),
            Length(max=300, message=_l("At most %(max)d characters.")),
        ],
    )
    place_name = StringField(
        _l("Place name for dating reports (e.g. Khánh Hòa)"),
        validators=[Length(max=200, message=_l("At most %(max)d characters."))],
    )


class BodyForm(SecureForm):
    code = StringField(
        _l("Code (letters and digits, used in references, e.g. TTDV)"),
        validators=[
            InputRequired(_l("Give a short code.")),
            Regexp(
                r"^[A-Za-z][A-Za-z0-9]{0,15}$",
                message=_l("Use 1 to 16 letters or digits, starting with a letter."),
            ),
        ],
    )
    name_vi = _name(_l("Name in Vietnamese"), _l("Give the name in Vietnamese."))
    name_en = _name(_l("Name in English"), _l("Give the name in English."))


class InviteForm(SecureForm):
    email = EmailField(
        _l("Email"),
        validators=[
            InputRequired(_l("Enter the email address.")),
            Length(max=320, message=_l("At most %(max)d characters.")),
        ],
    )
    display_name = _name(_l("Full name"), _l("Give the person's name."))
    role = RadioField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[InputRequired(_l("Choose a role."))],
    )
    body = SelectField(_l("Body (for handlers and chairs)"), validate_choice=False)

    def body_id(self) -> int | None:
        return int(self.body.data) if (self.body.data or "").isdigit() else None

    def validate_body(self, field: Field) -> None:
        """A handler or chair works in a body: say so at the field, keeping what was typed."""
        if self.role.data != Role.ADMIN and self.body_id() is None:
            raise ValidationError(_l("Choose the body this person will work in."))


class RecipientForm(SecureForm):
    email = EmailField(
        _l("Email"),
        validators=[
            InputRequired(_l("Enter the email address.")),
            Length(max=320, message=_l("At most %(max)d characters.")),
        ],
    )
    display_name = _name(_l("Name or function"), _l("Give a name or function."))
    kind = RadioField(
        _l("Receives"),
        choices=[SelectChoice(kind, label) for kind, label in RECIPIENT_LABELS.items()],
        default="management",
        validators=[InputRequired(_l("Choose what they receive."))],
    )


class CategoryForm(SecureForm):
    code = StringField(
        _l("Code (lower-case letters, digits and dashes)"),
        validators=[
            InputRequired(_l("Give a short code.")),
            Regexp(
                r"^[a-z0-9][a-z0-9-]{0,31}$",
                message=_l("Use up to 32 lower-case letters, digits and dashes."),
            ),
        ],
    )
    name_vi = _name(_l("Name in Vietnamese"), _l("Give the name in Vietnamese."))
    name_en = _name(_l("Name in English"), _l("Give the name in English."))


class RoutingForm(SecureForm):
    kind = SelectField(
        _l("Kind of report"),
        choices=[SelectChoice(ANY, _l("Any kind"))]
        + [SelectChoice(kind.value, KIND_LABELS[kind]) for kind in CaseKind],
    )
    category = SelectField(_l("Category"), validate_choice=False)
    body = SelectField(
        _l("Goes to"), validate_choice=False, validators=[InputRequired(_l("Choose a body."))]
    )

    def category_id(self) -> int | None:
        return int(self.category.data) if (self.category.data or "").isdigit() else None


_DAYS = [
    InputRequired(_l("Give a number of days.")),
    NumberRange(min=1, max=365, message=_l("Between %(min)s and %(max)s.")),
]


class DeadlineForm(SecureForm):
    days = IntegerField(_l("Days"), validators=_DAYS)
    unit = SelectField(
        _l("Counted in"),
        choices=[SelectChoice(unit.value, label) for unit, label in UNIT_LABELS.items()],
    )
    max_extensions = IntegerField(
        _l("Extensions allowed"),
        validators=[
            InputRequired(_l("Give a number (0 for none).")),
            NumberRange(min=0, max=5, message=_l("Between %(min)s and %(max)s.")),
        ],
    )
    extension_days = IntegerField(
        _l("Days per extension"),
        validators=[
            InputRequired(_l("Give a number (0 for none).")),
            NumberRange(min=0, max=365, message=_l("Between %(min)s and %(max)s.")),
        ],
    )


class RetentionForm(SecureForm):
    years = IntegerField(
        _l("Years (empty: keep until an administrator sets a period)"),
        validators=[
            Optional(),
            NumberRange(min=1, max=100, message=_l("Between %(min)s and %(max)s.")),
        ],
    )
