"""Forms. Every message is ours and translated; what was typed is kept on a validation error."""

from __future__ import annotations

from flask import current_app
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    Form,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from service.models import NAMED_ONLY_KINDS, CaseKind, CaseStatus

# WTForms' own messages, so extraction puts them in our catalogs (WTForms has no Vietnamese).
_WTFORMS_MESSAGES = (
    _l("Not a valid choice."),
    _l("This field is required."),
    _l("Invalid value, must be one of: %(values)s."),
    _l("'%(value)s' is not a valid choice for this field."),
    _l("Invalid email address."),
    _l("Field must be between %(min)d and %(max)d characters long."),
    _l("Field cannot be longer than %(max)d character."),  # asked for through ngettext
    _l("Invalid Choice: could not coerce."),
    _l("Not a valid integer value."),
    _l("Not a valid date value."),
)


class _Translations:
    def gettext(self, string: str) -> str:
        return gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        # WTForms fills in %(max)d itself; flask_babel's ngettext would format with num= only
        # and raise KeyError. Vietnamese has one plural form, so the catalogs hold WTForms'
        # plural messages under their singular msgid (above).
        translated = gettext(singular)
        if translated != singular:
            return translated
        return singular if n == 1 else plural


class _TranslatedMeta:
    def get_translations(self, form):
        return _Translations()


class SecureForm(FlaskForm):
    """A POST form with a CSRF token and translated built-in messages."""

    class Meta(_TranslatedMeta):
        pass


class QueryForm(Form):
    """A GET form: nothing changes, so no CSRF token."""

    class Meta(_TranslatedMeta):
        pass


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


KIND_LABELS = {
    CaseKind.SUGGESTION: _l("Suggestion or petition"),
    CaseKind.PROBLEM: _l("Report of a problem"),
    CaseKind.COMPLAINT: _l("Complaint"),
    CaseKind.DENUNCIATION: _l("Denunciation"),
    CaseKind.MISCONDUCT: _l("Harassment or misconduct"),
}

KIND_HINTS = {
    CaseKind.SUGGESTION: _l("An idea or a request to improve how the unit works."),
    CaseKind.PROBLEM: _l("Something is wrong and should be looked at."),
    CaseKind.COMPLAINT: _l("A decision or action concerning you was wrong and should be reviewed."),
    CaseKind.DENUNCIATION: _l("Someone broke the law or the rules and should be held to account."),
    CaseKind.MISCONDUCT: _l("Harassment, bullying or abuse of position at work."),
}

IDENTITY_CHOICES = [
    SelectChoice("anonymous", _l("Anonymous: nobody learns who I am")),
    SelectChoice("named", _l("With my name: only the chair of the receiving body sees it")),
]

AUTO_BODY = "auto"

TITLE_MAX = 200
TEXT_MAX = 20_000


def _kind_choices() -> list[SelectChoice]:
    return [SelectChoice(kind.value, KIND_LABELS[kind]) for kind in CaseKind]


def choice_label(choices: list[SelectChoice], value: str | None) -> str:
    return next((str(c.label) for c in choices if c.value == value), "")


class ChooseReportForm(QueryForm):
    """Step 1: what kind of report, to whom, and whether to give a name."""

    kind = RadioField(
        _l("What is it about?"),
        choices=_kind_choices(),
        validators=[InputRequired(_l("Choose what the report is about."))],
    )
    identity = RadioField(
        _l("Who you are"),
        choices=IDENTITY_CHOICES,
        default="anonymous",
        validators=[InputRequired(_l("Choose whether to give your name."))],
    )
    body = RadioField(_l("Send it to"), validators=[InputRequired(_l("Choose a recipient."))])
    category = SelectField(_l("Subject (optional)"), default="")
    concerns_head = BooleanField(_l("This concerns the head of the unit"))

    # Set by the view: the bodies that are the head of the unit (Law on Denunciations Art. 18).
    head_of_unit_bodies: frozenset[str] = frozenset()

    def validate_body(self, field) -> None:
        refuse_head_of_unit(self, field)


def refuse_head_of_unit(form, field) -> None:
    if form.concerns_head.data and field.data in form.head_of_unit_bodies:
        raise ValidationError(
            _l(
                "A report that concerns the head of the unit cannot be sent to the head of "
                "the unit. Choose another recipient."
            )
        )


class ReportForm(SecureForm):
    """Step 2: the report itself."""

    kind = RadioField(choices=_kind_choices(), validators=[InputRequired()])
    identity = RadioField(choices=IDENTITY_CHOICES, validators=[InputRequired()])
    body = RadioField(validators=[InputRequired()])
    category = SelectField(default="")
    concerns_head = BooleanField()
    head_of_unit_bodies: frozenset[str] = frozenset()
    title = StringField(
        _l("Title"),
        validators=[
            InputRequired(_l("Give the report a short title.")),
            Length(max=TITLE_MAX, message=_l("The title can be at most %(max)d characters.")),
        ],
    )
    text = TextAreaField(
        _l("What happened"),
        validators=[
            InputRequired(_l("Write what the report is about.")),
            Length(max=TEXT_MAX, message=_l("The text can be at most %(max)d characters.")),
        ],
    )
    name = StringField(_l("Full name"), validators=[Length(max=200)])
    department = StringField(_l("Department"), validators=[Length(max=200)])
    contact = StringField(_l("How to reach you (phone or email)"), validators=[Length(max=200)])
    understood_information = RadioField(
        choices=[SelectChoice("yes", _l("I understand and want to send it anonymously"))],
        validate_choice=False,  # checked below, and only when it applies
    )
    exclude = MultiCheckboxField(_l("People who must not see this report"), coerce=int)
    attachments = MultipleFileField(_l("Files (optional)"))
    # One filing per form (service/web/once.py): a reload or a double click files nothing more.
    form_token = HiddenField()
    notify_email = StringField(
        _l("Email me when there is a reply (optional)"),
        validators=[Length(max=254, message=_l("The address can be at most %(max)d characters."))],
    )

    @property
    def is_named(self) -> bool:
        return self.identity.data == "named"

    @property
    def is_anonymous_information(self) -> bool:
        """An anonymous complaint or denunciation: the law treats it as information."""
        return not self.is_named and self.kind.data in {k.value for k in NAMED_ONLY_KINDS}

    def validate_name(self, field) -> None:
        if self.is_named and not (field.data or "").strip():
            raise ValidationError(_l("Give your name, or go back and choose anonymous."))

    def validate_contact(self, field) -> None:
        if self.is_named and not (field.data or "").strip():
            raise ValidationError(_l("Say how the chair can reach you."))

    def validate_understood_information(self, field) -> None:
        if self.is_anonymous_information and field.data != "yes":
            raise ValidationError(
                _l("Confirm that you have read how anonymous reports are handled.")
            )

    def validate_attachments(self, field) -> None:
        check_file_count(field)

    def validate_body(self, field) -> None:
        refuse_head_of_unit(self, field)

    def validate_notify_email(self, field) -> None:
        address = (field.data or "").strip()
        if address and not looks_like_email(address):
            raise ValidationError(_l("This does not look like an email address."))


def looks_like_email(address: str) -> bool:
    """One @, something before it, a dotted domain after it, no spaces or angle brackets."""
    local, at, domain = address.rpartition("@")
    return bool(at and local and "." in domain.strip(".")) and not any(
        ch.isspace() or ch in '<>,;"' for ch in address
    )


def check_file_count(field) -> None:
    limit = current_app.config["MAX_ATTACHMENTS"]
    if len(chosen_files(field)) > limit:
        raise ValidationError(_l("You can attach at most %(count)d files.", count=limit))


def chosen_files(field) -> list:
    """The file inputs that carry a file (an empty input still sends an empty part)."""
    return [f for f in (field.data or []) if getattr(f, "filename", "")]


class ReceiptForm(SecureForm):
    receipt = StringField(
        _l("Receipt code"),
        validators=[InputRequired(_l("Enter the 16 digits of your receipt code."))],
    )


class MessageForm(SecureForm):
    text = TextAreaField(
        _l("Message"),
        validators=[
            InputRequired(_l("Write a message.")),
            Length(max=TEXT_MAX, message=_l("The text can be at most %(max)d characters.")),
        ],
    )
    attachments = MultipleFileField(_l("Files (optional)"))

    def validate_attachments(self, field) -> None:
        check_file_count(field)


class LoginForm(SecureForm):
    email = EmailField(_l("Email"), validators=[InputRequired(_l("Enter your email."))])
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password."))])
    code = StringField(
        _l("Code from your authenticator app, or a recovery code"),
        validators=[Length(max=40, message=_l("This is not a code."))],
    )


class CodeForm(SecureForm):
    code = StringField(
        _l("The 6-digit code the app shows now"),
        validators=[
            InputRequired(_l("Enter the code from the app.")),
            Length(max=12, message=_l("This is not a code.")),
        ],
    )


class NewPasswordForm(SecureForm):
    """Choosing a password; the view says whose it is (`for_person`), so the rules can check
    that it contains neither their email nor their name."""

    password = PasswordField(
        _l("New password"), validators=[InputRequired(_l("Choose a password."))]
    )
    confirm = PasswordField(
        _l("The new password again"), validators=[InputRequired(_l("Type the password again."))]
    )
    person: tuple[str, str] = ("", "")

    def for_person(self, email: str, display_name: str) -> NewPasswordForm:
        self.person = (email, display_name)
        return self

    def validate_password(self, field) -> None:
        from service.people.passwords import password_problems

        problems = password_problems(
            field.data or "", email=self.person[0], display_name=self.person[1]
        )
        if problems:
            raise ValidationError(problems[0])

    def validate_confirm(self, field) -> None:
        if field.data != self.password.data:
            raise ValidationError(_l("The two passwords are not the same."))


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(
        _l("Current password"), validators=[InputRequired(_l("Enter your current password."))]
    )


class ReplyForm(SecureForm):
    text = TextAreaField(
        _l("Reply to the reporter"),
        validators=[
            InputRequired(_l("Write a reply.")),
            Length(max=TEXT_MAX, message=_l("The text can be at most %(max)d characters.")),
        ],
    )


class PostOnlyForm(SecureForm):
    """A button that changes something: only its CSRF token."""


def _strip(value: str | None) -> str | None:
    return value.strip() if value else value


def _text(label, required_message, *, required: bool = True) -> TextAreaField:
    """A text a handler or reporter writes; blank (spaces only) counts as nothing written."""
    first = DataRequired(required_message) if required else Optional()
    return TextAreaField(
        label,
        filters=[_strip],
        validators=[
            first,
            Length(max=TEXT_MAX, message=_l("The text can be at most %(max)d characters.")),
        ],
    )


# --- handling a case (the board) -------------------------------------------------------------


class DecisionForm(SecureForm):
    """Resolve, or decline (không thụ lý): the reasons go to the reporter."""

    text = _text(_l("Reasons, for the reporter"), _l("Write the reasons for the decision."))


class NoteForm(SecureForm):
    text = _text(_l("Internal note"), _l("Write the note."))


class QuestionForm(SecureForm):
    text = _text(_l("Question to the reporter"), _l("Write the question."))


class ExtendForm(SecureForm):
    reason = _text(_l("Reason for the extension"), _l("Give the reason for the extension."))
    # The deadline the page showed: a second submission finds it moved and changes nothing.
    from_due = DateField(validators=[Optional()])


def _offered(label, required_message) -> SelectField:
    """A choice among what the page offered; the domain checks it again when it is posted, so
    the posted form does not need the options (a stale page gets the domain's answer)."""
    return SelectField(
        label, coerce=int, validate_choice=False, validators=[InputRequired(required_message)]
    )


class AssignForm(SecureForm):
    assignee = _offered(_l("Handler"), _l("Choose a handler."))


class GrantIdentityForm(SecureForm):
    account = _offered(_l("Handler"), _l("Choose a handler."))


class TransferForm(SecureForm):
    to_body = _offered(_l("Transfer to"), _l("Choose the receiving body."))
    reason = _text(_l("Reason for the transfer"), _l("Give the reason for the transfer."))
    keep_access = BooleanField(_l("Keep the right to read this case myself"))


class PublicationForm(SecureForm):
    text = _text(_l("Public summary"), _l("Write the summary to publish."))


class RecuseForm(SecureForm):
    confirm = BooleanField(
        _l("I am involved in this matter, or close to someone who is"),
        validators=[DataRequired(_l("Tick the box to confirm that you step aside."))],
    )


class ApproveForm(SecureForm):
    revision = HiddenField(validators=[InputRequired()])


STATUS_FILTERS = (
    CaseStatus.NEW,
    CaseStatus.TRANSFERRED,
    CaseStatus.ACKNOWLEDGED,
    CaseStatus.IN_PROGRESS,
    CaseStatus.RESOLVED,
    CaseStatus.NOT_ACCEPTED,
    CaseStatus.CLOSED,
)


class CaseFilterForm(QueryForm):
    """The case list's filters, sort and page, read from the query string."""

    status = SelectField(_l("Status"), default="")
    kind = SelectField(_l("Kind"), default="")
    overdue = BooleanField(_l("Overdue only"))
    mine = BooleanField(_l("Assigned to me"))
    sort = SelectField(
        _l("Sort by"),
        default="deadline",
        choices=[
            SelectChoice("deadline", _l("Deadline")),
            SelectChoice("received", _l("Date received")),
        ],
    )
    page = IntegerField(
        default=1,
        validators=[Optional(), NumberRange(min=1, message=_l("There is no such page."))],
    )


# --- the reporter's voice ----------------------------------------------------------------------

RATING_LABELS = {
    1: _l("1 — very dissatisfied"),
    2: _l("2 — dissatisfied"),
    3: _l("3 — neither"),
    4: _l("4 — satisfied"),
    5: _l("5 — very satisfied"),
}


class RatingForm(SecureForm):
    rating = RadioField(
        _l("How satisfied are you with the outcome?"),
        choices=[SelectChoice(str(n), label) for n, label in RATING_LABELS.items()],
        validators=[InputRequired(_l("Choose a rating from 1 to 5."))],
    )


class ReopenForm(SecureForm):
    text = _text(_l("Why it should be handled again (optional)"), None, required=False)


class RetaliationForm(SecureForm):
    text = _text(_l("What happened (optional)"), None, required=False)
