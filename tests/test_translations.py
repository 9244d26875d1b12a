"""Every user-facing string is in the vi and en catalogues, and the compiled catalogues are current.

Vietnamese is the default UI language, English the alternative; Flask-Babel loads the compiled
catalogues from idp/translations. To add or change strings, from the repository root:
    .venv/bin/pybabel extract -F babel.cfg -k N_ -k _l -k lazy_gettext --no-location --sort-output \\
        --project idp -o idp/translations/messages.pot .
    .venv/bin/pybabel update -i idp/translations/messages.pot -d idp/translations --no-fuzzy-matching
    (translate the new entries in idp/translations/{vi,en}/LC_MESSAGES/messages.po;
     in en, msgstr repeats the msgid)
    .venv/bin/pybabel compile -d idp/translations
"""

from __future__ import annotations

import re
from collections import Counter
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.catalog import Message
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "idp" / "translations"
LANGUAGES = ["vi", "en"]
# Keywords on top of Babel's defaults (_, gettext, ngettext, N_, ...), as in the documented command.
EXTRA_KEYWORDS = ["N_", "_l", "lazy_gettext"]
FIX = __doc__.split("root:")[1].rstrip()
# printf-style conversions, named (%(portal)s) or positional (%s); %% is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[diouxXeEfFgGcrsa%]")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """Extract the messages afresh, exactly as `pybabel extract` does, into a temporary .pot."""
    pot = tmp_path_factory.mktemp("babel") / "messages.pot"
    keywords = [arg for keyword in EXTRA_KEYWORDS for arg in ("-k", keyword)]
    CommandLineInterface().run(["pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"), *keywords,
                                "--no-location", "--sort-output", "--project", "idp", "-o", str(pot), str(ROOT)])
    with open(pot, "rb") as handle:
        extracted = read_po(handle)
    assert len(extracted) > 50, "the extraction found almost nothing: check babel.cfg"
    return extracted


def catalogue(lang: str) -> Catalog:
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as handle:
        return read_po(handle, locale=lang)


def translated(message: Message | None) -> bool:
    if message is None or message.fuzzy:
        return False
    forms = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return bool(forms) and all(forms)


def placeholders(text: str) -> Counter[str]:
    return Counter(match.group(0) for match in PLACEHOLDER.finditer(text) if match.group(0) != "%%")


def test_required_translation():
    """The UI default; tests/oidc/test_authorization_endpoint.py looks for it on the login page."""
    assert catalogue("vi").get("Log in with your national account").string == \
        "Đăng nhập bằng tài khoản định danh quốc gia"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_string_is_translated(template: Catalog, lang: str):
    po = catalogue(lang)
    missing = sorted(message.id if isinstance(message.id, str) else message.id[0] for message in template
                     if message.id and not translated(po.get(message.id, context=message.context)))
    listing = "\n".join(f"    {msgid!r}" for msgid in missing)
    assert not missing, (f"{len(missing)} string(s) without a (non-fuzzy) {lang} translation:\n{listing}\n"
                         f"To fix, from the repository root:{FIX}")


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_survive_translation(lang: str):
    wrong = []
    for message in catalogue(lang):
        if not message.id or not translated(message):
            continue
        if isinstance(message.id, (list, tuple)):
            # Plural forms may drop the count in one form, but may not invent a name.
            allowed = set().union(*(placeholders(msgid) for msgid in message.id))
            if any(set(placeholders(form)) - allowed for form in message.string):
                wrong.append(message.id[0])
        elif placeholders(message.id) != placeholders(message.string):
            wrong.append(message.id)
    assert not wrong, f"{lang}: msgstr placeholders differ from the msgid's: {wrong}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalogue_matches_po(lang: str):
    """Compile the .po in memory and compare message by message with the committed .mo."""
    expected = BytesIO()
    write_mo(expected, catalogue(lang))
    expected.seek(0)
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as handle:
        compiled = read_mo(handle)
    wanted = read_mo(expected)

    def table(catalog: Catalog) -> dict:
        return {(m.context, m.id if isinstance(m.id, str) else tuple(m.id)): m.string for m in catalog if m.id}

    assert table(compiled) == table(wanted), f"{lang}/LC_MESSAGES/messages.mo is stale: run\n{FIX}"
    assert compiled.plural_forms == wanted.plural_forms, f"{lang}: plural forms differ; recompile"
