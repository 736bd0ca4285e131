"""Vietnamese first: every string the users see is translated, and the pages follow the language.

The msgids are extracted here from the current sources (templates and service code, with the
mapping of babel.cfg), so a string added without a Vietnamese translation fails this file until
`make update-catalogs` has been run and the new entry of vi/messages.po has been translated.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from tests.conftest import form_token_from

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "service" / "translations"
LOCALES = ("vi", "en")
# The keywords the code marks strings with (the Makefile's `pybabel extract -k ...`).
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None}
# Words that are spelled the same in Vietnamese; any other msgstr equal to its msgid is a copy.
SAME_IN_VIETNAMESE = {"Email"}

# A printf placeholder, %(name)s or %s, or a lone % (which `msgstr % values` would trip on).
PLACEHOLDER = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa%]|%")
LANG_ATTRIBUTE = re.compile(r"<html[^>]*\blang=\"([^\"]*)\"")
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _po_path(locale: str) -> Path:
    return TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po"


def _read_catalog(locale: str) -> Catalog:
    with _po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale)


def _message_id(message) -> str:
    return message if isinstance(message, str) else message[0]


@pytest.fixture(scope="module")
def source_messages() -> dict[str, str]:
    """Every msgid in the sources, extracted now, mapped to the first place that uses it."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle, "babel.cfg")
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        method_map,
        options_map,
        keywords=KEYWORDS,
        comment_tags=(),
        strip_comment_tags=True,
    ):
        found.setdefault(_message_id(message), f"{filename}:{lineno}")
    assert len(found) > 100, f"extraction found only {len(found)} messages: is babel.cfg right?"
    return found


@pytest.fixture(scope="module")
def vi_catalog() -> Catalog:
    return _read_catalog("vi")


def _translation(catalog: Catalog, msgid: str) -> str:
    """The msgstr (the first form of a plural) if present, usable and not fuzzy, else ''."""
    message = catalog.get(msgid)
    if message is None or message.fuzzy:
        return ""
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    # A catalog read from a .po file holds a str, or for a plural a tuple of str: never None.
    return strings[0] if all(s.strip() for s in strings) else ""  # type: ignore[union-attr,return-value]


# --- the catalogs --------------------------------------------------------------------------


def test_every_source_string_has_a_vietnamese_translation(source_messages, vi_catalog):
    missing = [
        f"  {msgid!r}  ({where})"
        for msgid, where in sorted(source_messages.items())
        if not _translation(vi_catalog, msgid)
    ]
    assert not missing, (
        f"{len(missing)} message(s) have no Vietnamese translation (missing, empty or fuzzy) in "
        f"{_po_path('vi').relative_to(ROOT)}; run `make update-catalogs` and translate:\n"
        + "\n".join(missing)
    )


def test_vietnamese_translations_are_not_english_copies(source_messages, vi_catalog):
    copied = [
        f"  {msgid!r}"
        for msgid in sorted(source_messages)
        if _translation(vi_catalog, msgid) == msgid and msgid not in SAME_IN_VIETNAMESE
    ]
    assert not copied, "msgstr is the English msgid; translate it:\n" + "\n".join(copied)


@pytest.mark.parametrize("locale", LOCALES)
def test_no_catalog_entry_is_fuzzy(locale):
    catalog = _read_catalog(locale)
    fuzzy = [f"  {message.id!r}" for message in catalog if message.id and message.fuzzy]
    assert not catalog.fuzzy, f"the header of {locale}/messages.po is marked fuzzy"
    assert not fuzzy, f"fuzzy entries in {locale}/messages.po (review, then drop the flag):\n" + (
        "\n".join(fuzzy)
    )


def test_vietnamese_plural_forms():
    catalog = _read_catalog("vi")
    assert catalog.num_plurals == 1
    assert catalog.plural_expr.replace(" ", "") in ("0", "(0)")


def test_placeholders_are_the_same_in_msgid_and_vietnamese_msgstr(source_messages, vi_catalog):
    wrong = []
    for msgid in sorted(source_messages):
        message = vi_catalog.get(msgid)
        if message is None or not message.string:
            continue  # reported by the translation test
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = sorted(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            actual = sorted(PLACEHOLDER.findall(string))
            if actual != expected:
                wrong.append(f"  {msgid!r}: msgid has {expected}, msgstr has {actual}")
    assert not wrong, "placeholders differ between msgid and Vietnamese msgstr:\n" + "\n".join(
        wrong
    )


def test_the_catalogs_pass_babels_own_checks():
    problems = []
    for locale in LOCALES:
        for message, errors in _read_catalog(locale).check():
            problems += [f"  {locale}: {message.id!r}: {error}" for error in errors]
    assert not problems, "\n".join(problems)


# --- the pages -----------------------------------------------------------------------------


def _compile_if_stale(locale: str) -> None:
    """Write messages.mo next to messages.po when it is missing or older (`make translations`)."""
    po = _po_path(locale)
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        return
    catalog = _read_catalog(locale)
    descriptor, temporary = tempfile.mkstemp(dir=mo.parent, prefix=".messages-", suffix=".mo")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        os.replace(temporary, mo)  # atomic: a concurrent run never reads half a file
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@pytest.fixture
def compiled() -> None:
    for locale in LOCALES:
        _compile_if_stale(locale)


def _page(client, url: str) -> tuple[str, str]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    html = response.get_data(as_text=True)
    match = LANG_ATTRIBUTE.search(html)
    assert match, f"{url} has no <html lang>"
    return match.group(1), html


sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite_only
def test_the_site_is_vietnamese_by_default(compiled, world, client, vi_catalog):
    lang, html = _page(client, "/")
    assert lang == "vi"
    assert _translation(vi_catalog, "Send a report") in html
    assert "Send a report" not in html
    assert "Hòm thư kín" in html


@sqlite_only
def test_switching_to_english_and_back(compiled, world, client, vi_catalog):
    vietnamese = _translation(vi_catalog, "Send a report")

    response = client.get("/lang/en")
    assert response.status_code == 302
    lang, html = _page(client, "/")
    assert lang == "en"
    assert "Send a report" in html
    assert vietnamese not in html

    client.get("/lang/vi")
    lang, html = _page(client, "/")
    assert lang == "vi"
    assert vietnamese in html


@sqlite_only
@pytest.mark.parametrize("first", [None, "en"])
def test_an_unknown_language_is_ignored(compiled, world, client, first):
    if first:
        client.get(f"/lang/{first}")
    before, _html = _page(client, "/")
    response = client.get("/lang/xx")
    assert response.status_code == 302
    after, _html = _page(client, "/")
    assert after == before == (first or "vi")


@sqlite_only
def test_a_form_error_from_wtforms_is_in_vietnamese(compiled, world, client, vi_catalog):
    """WTForms' own messages (here a plural one) go through our catalogs, formatted once."""
    choices = "kind=suggestion&identity=named&body=auto"
    _lang, html = _page(client, f"/report/write?{choices}")
    token = CSRF_INPUT.search(html)
    assert token, "the report form carries no CSRF token"
    response = client.post(
        "/report/write",
        data={
            "csrf_token": token.group(1),
            "form_token": form_token_from(html),
            "kind": "suggestion",
            "identity": "named",
            "body": "auto",
            "title": "Tiêu đề",
            "text": "Nội dung",
            "name": "N" * 201,
            "contact": "0900 000 000",
        },
    )
    assert response.status_code == 400
    expected = _translation(vi_catalog, "Field cannot be longer than %(max)d character.")
    assert expected % {"max": 200} in response.get_data(as_text=True)
