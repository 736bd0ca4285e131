"""What a staff password must be: long, not common, not made of the person's own name or email.

NIST SP 800-63B's advice: length and a list of known-bad passwords, no rules about symbols. A
staff password also unlocks the person's key to every case they hold, so the bar is 12
characters.
"""

from __future__ import annotations

import unicodedata

from flask_babel import lazy_gettext as _l

MIN_LENGTH = 12
MAX_LENGTH = 200

# The most common passwords and Vietnamese keyboard habits (lower case, without spaces).
COMMON = frozenset(
    {
        "123456789012",
        "1234567890123",
        "123456123456",
        "111111111111",
        "000000000000",
        "abc123456789",
        "password1234",
        "passwordpassword",
        "qwertyuiop12",
        "qwertyuiopasdf",
        "1qaz2wsx3edc",
        "matkhau12345",
        "matkhaucuatoi",
        "matkhaumoi123",
        "anhyeuem1234",
        "emyeuanh1234",
        "iloveyou1234",
        "vietnam12345",
        "vietnamvodich",
        "homthukin123",
        "homthukin2026",
        "congdoan12345",
        "thanhtranhandan",
        "khanhhoa12345",
        "nhatrang12345",
        "admin1234567",
        "administrator",
        "letmein12345",
        "welcome12345",
        "changeme1234",
    }
)


def _fold(text: str) -> str:
    """Lower case, no spaces, no diacritics ("Mật khẩu" → "matkhau")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(
        c for c in decomposed if not unicodedata.combining(c) and not c.isspace()
    ).lower()


def password_problems(password: str, *, email: str = "", display_name: str = "") -> list[str]:
    """Every rule the password breaks, as messages to show (empty: the password is fine)."""
    text = unicodedata.normalize("NFC", password or "")
    problems = []
    if len(text) < MIN_LENGTH:
        problems.append(
            _l("The password must have at least %(count)d characters.", count=MIN_LENGTH)
        )
    if len(text) > MAX_LENGTH:
        problems.append(_l("The password can have at most %(count)d characters.", count=MAX_LENGTH))
    folded = _fold(text)
    if len(set(folded)) < 5:
        problems.append(_l("The password repeats too few different characters."))
    if folded in COMMON or folded.isdigit():
        problems.append(_l("This password is too common or only digits: choose another."))
    local = _fold(email.split("@", 1)[0]) if email else ""
    name = _fold(display_name)
    if (len(local) >= 3 and local in folded) or (len(name) >= 4 and name in folded):
        problems.append(_l("The password must not contain your email address or your name."))
    return problems
