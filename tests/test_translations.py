"""Every user-facing string is in the vi and en catalogues, and the compiled catalogues are current.

To add or change strings, from the repository root:
    .venv/bin/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext --no-location --sort-output \\
        --project idp -o idp/translations/messages.pot .
    .venv/bin/pybabel update -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
    (translate the new entries in idp/translations/{vi,en}/LC_MESSAGES/messages.po)
    .venv/bin/pybabel compile -d idp/translations
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "idp" / "translations"
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None, "_l": None, "lazy_gettext": None}
FIX = __doc__.split("root:")[1]
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


def source_msgids() -> set[str]:
    with open(ROOT / "babel.cfg", encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


def catalogue(lang: str):  # noqa: ANN201
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=lang)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_string_is_translated(lang: str):
    translated = {m.id: m for m in catalogue(lang) if m.id}
    missing = sorted(msgid for msgid in source_msgids()
                     if msgid not in translated or not translated[msgid].string or translated[msgid].fuzzy)
    assert not missing, f"untranslated strings in {lang}: {missing}\nTo fix:{FIX}"


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_placeholders_survive_translation(lang: str):
    for message in catalogue(lang):
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(message.id)) == sorted(PLACEHOLDER.findall(message.string)), message.id


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_compiled_catalogue_matches_po(lang: str):
    expected = BytesIO()
    write_mo(expected, catalogue(lang))
    expected.seek(0)
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = {m.id: m.string for m in read_mo(handle) if m.id}
    wanted = {m.id: m.string for m in read_mo(expected) if m.id}
    assert compiled == wanted, f"messages.mo is stale for {lang}: run pybabel compile -d idp/translations"
