"""Generated malformed inputs: every reader refuses with its own error, never a traceback.

Bank YAML (``parse_bank_bytes`` and ``ccpq banks import``), GIFT and Moodle XML (the
importers and the conversion), the enrolment CSV (the parser and the jury's upload). The
documents are valid ones, mutated: keys deleted, duplicated, renamed, values replaced by
other types, text truncated, bytes inserted, lines re-indented, huge numbers, impossible
dates, anchors and aliases, other encodings. Deterministic: Hypothesis is derandomized
and keeps no example database.
"""

import copy
import csv
import io
import re
from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from app.auth.models import UserAccount
from app.banks.format import BankDocument, BankFileError, ThemeCatalog, parse_bank_bytes
from app.banks.interchange import Conversion, convert_report
from app.banks.interchange.common import MOODLE_GRADES, ConversionError, ImportResult
from app.banks.interchange.gift import import_gift
from app.banks.interchange.moodlexml import import_moodlexml
from app.banks.models import Bank, BankVersion
from app.referential.model import default_referential
from app.sessions import service as sessions_service
from app.sessions.enrolment_csv import (
    COLUMNS,
    EnrolmentCsvError,
    EnrolmentRow,
    parse_enrolment_csv,
)
from app.sessions.models import Enrolment
from tests.auth.test_auth import form_login
from tests.banks.samples import VALID_BANK
from tests.exam_fixtures import CLOSES, EXAM_BANK, OPENS

CATALOG = ThemeCatalog.from_referential(default_referential())
INTEROP = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "interop"
TODAY = date(2026, 1, 15)
BANK_NAME = "banque.yaml"
MAX_BYTES = 1_000_000


def fuzz(examples: int) -> settings:
    """Deterministic runs: same examples every time, no example database, no deadline."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


# ─── Shared text and byte mutations ─────────────────────────────────────────────────────

TEXT = st.text(st.characters(codec="utf-8"), max_size=12)


@st.composite
def spliced(draw, data: bytes, snippets: list[bytes]) -> bytes:
    """``data`` cut, pasted and salted with ``snippets`` and random bytes (1 to 3 edits)."""
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(("truncate", "insert", "bytes", "delete", "repeat")))
        if edit == "truncate":
            data = data[:at]
        elif edit == "insert":
            data = data[:at] + draw(st.sampled_from(snippets)) + data[at:]
        elif edit == "bytes":
            data = data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
        elif edit == "delete":
            end = draw(st.integers(at, min(len(data), at + 200)))
            data = data[:at] + data[end:]
        else:
            end = draw(st.integers(at, min(len(data), at + 200)))
            data = data[:end] + data[at:]
    return data


def encoded(draw, text: str) -> bytes:
    """Mostly UTF-8; sometimes with a BOM, in Latin-1, Windows-1252 or UTF-16."""
    encoding = draw(st.sampled_from(("utf-8",) * 6 + ("utf-8-sig", "latin-1", "cp1252", "utf-16")))
    return text.encode(encoding, errors="replace")


# ─── Bank YAML ──────────────────────────────────────────────────────────────────────────

SEED_BANKS = [yaml.safe_load(VALID_BANK), yaml.safe_load(EXAM_BANK)]
HUGE_NUMBERS = ["9" * 5000, "1e999999999", "-1e999999999", "1e-999999999", "9.9e999999"]
KEYS = st.one_of(
    TEXT,
    st.sampled_from(["id", "type", "options", "answer", "correct", "topic", "quotas", "<<"]),
    st.integers(-3, 3),
    st.booleans(),
    st.none(),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**80), max_value=10**80),
    st.floats(),
    TEXT,
    st.dates(),
    st.datetimes(),
    st.binary(max_size=8),
    st.sampled_from(
        [
            "",
            " ",
            "2026.1",
            "2026.01",
            "C9",
            "fiscalite",
            "single_choice",
            "multiple_choice",
            "true_false",
            "numeric",
            "bareme",
            "a",
            "https://example.fr",
            "x" * 600,
            "x" * 20_001,
            10**100,
            2**63,
            -(2**63) - 1,
        ]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=6,
)


def _children(node) -> list:
    if isinstance(node, dict):
        return list(node)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def _paths(node, prefix: tuple = ()) -> list[tuple]:
    paths = [prefix]
    for key in _children(node):
        paths.extend(_paths(node[key], (*prefix, key)))
    return paths


def _at(data, path: tuple):
    for key in path:
        data = data[key]
    return data


@st.composite
def mutated_bank_data(draw):
    """A valid bank's data with 1 to 4 structural mutations."""
    data = copy.deepcopy(draw(st.sampled_from(SEED_BANKS)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(data)))
        node = _at(data, path)
        parent = _at(data, path[:-1]) if path else None
        edit = draw(st.sampled_from(("replace", "delete", "rename", "add", "duplicate", "empty")))
        if edit == "replace":
            if parent is None:
                data = draw(VALUES)
            else:
                parent[path[-1]] = draw(VALUES)
        elif edit == "delete" and parent is not None:
            del parent[path[-1]]
        elif edit == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(path[-1])
        elif edit == "add" and isinstance(node, dict):
            node[draw(KEYS)] = draw(VALUES)
        elif edit == "add" and isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(VALUES))
        elif edit == "duplicate" and isinstance(node, list) and node:
            node.append(copy.deepcopy(node[draw(st.integers(0, len(node) - 1))]))
        elif edit == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(node))
        elif edit == "empty" and parent is not None:
            parent[path[-1]] = type(node)() if isinstance(node, dict | list | str) else None
    return data


@st.composite
def dumped_bank(draw) -> str:
    return yaml.safe_dump(
        draw(mutated_bank_data()),
        allow_unicode=draw(st.booleans()),
        sort_keys=False,
        default_flow_style=draw(st.sampled_from((False, None, True))),
        width=draw(st.sampled_from((80, 20, 10**6))),
    )


YAML_SNIPPETS = [
    ": ",
    "- ",
    "-",
    ":",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&a ",
    "*a",
    "*undefined",
    "!!python/object:os.system ",
    "!!python/name:os.system ",
    "!!binary ",
    "!!binary @@@",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!!set ",
    "!!omap ",
    "!!str ",
    "!custom ",
    "<<: *a\n",
    "<<: 1\n",
    "? ",
    "|",
    ">-",
    "#",
    "'",
    '"',
    "\\",
    "\t",
    "\n",
    "\r",
    "\r\n",
    "---\n",
    "...\n",
    "%YAML 1.1\n",
    "%TAG ! tag:example.fr,2026:\n",
    "\ufeff",
    "\x00",
    "\x85",
    "\u2028",
    "é",
    '"\\0"',
    '"\\x00"',
    "loop: &loop [*loop]\n",
    "self: &self {a: *self}\n",
]
SCALAR_SNIPPETS = [
    *HUGE_NUMBERS,
    "2026-02-30",
    "2026-13-01",
    "0000-01-01",
    "2026-01-01 25:61:00",
    "2026-1-1",
    ".inf",
    "-.inf",
    ".nan",
    "0x1F",
    "0o17",
    "1_000",
    "1:20:30",
    "~",
    "null",
    "yes",
    "on",
    "[]",
    "{}",
    "*a",
    "!!int x",
    "!!float x",
    "!!bool peut-être",
    "!!timestamp hier",
    "!!binary ???",
    "!!python/object/apply:os.system [id]",
    '"\\0"',
    "'",
]


def _key_line(draw, lines: list[str]) -> int | None:
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[\w-]+: \S", line)]
    return draw(st.sampled_from(candidates)) if candidates else None


@st.composite
def mutated_bank_text(draw) -> bytes:
    """Bank YAML text edited as text: 1 to 3 edits, then encoded, sometimes with raw bytes."""
    text = draw(st.sampled_from((VALID_BANK, EXAM_BANK)) | dumped_bank())
    for _ in range(draw(st.integers(1, 3))):
        lines = text.split("\n")
        line = draw(st.integers(0, len(lines) - 1))
        at = draw(st.integers(0, len(text)))
        edit = draw(
            st.sampled_from(
                ("truncate", "insert", "indent", "duplicate", "drop", "swap", "value", "alias")
            )
        )
        if edit == "truncate":
            text = text[:at]
        elif edit == "insert":
            text = text[:at] + draw(st.sampled_from(YAML_SNIPPETS) | TEXT) + text[at:]
        elif edit == "indent":
            pad = draw(st.sampled_from(("", " ", "  ", "   ", "\t", " \t", " " * 8, " " * 40)))
            lines[line] = pad + lines[line].lstrip(" ")
        elif edit == "duplicate":
            lines.insert(line, lines[line])
        elif edit == "drop":
            del lines[line]
        elif edit == "swap":
            other = draw(st.integers(0, len(lines) - 1))
            lines[line], lines[other] = lines[other], lines[line]
        elif edit == "value" and (found := _key_line(draw, lines)) is not None:
            key = lines[found].split(": ", 1)[0]
            lines[found] = f"{key}: {draw(st.sampled_from(SCALAR_SNIPPETS))}"
        elif edit == "alias" and (anchor := _key_line(draw, lines)) is not None:
            # « key: &a value » on one line, « key: *a » on another (before it: undefined)
            target = _key_line(draw, lines)
            key, value = lines[anchor].split(": ", 1)
            lines[anchor] = f"{key}: &a {value}"
            if target is not None:
                lines[target] = lines[target].split(": ", 1)[0] + ": *a"
        if edit in ("indent", "duplicate", "drop", "swap", "value", "alias"):
            text = "\n".join(lines)
    data = encoded(draw, text)
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at:]
    return data


# `fichier:ligne: message`; an empty key gives « banque.yaml:3:  : clé inconnue «  » ».
ISSUE = re.compile(rf"{re.escape(BANK_NAME)}:[1-9][0-9]*: .*\S.*", re.S)
LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")  # YAML's, which editors show too


def check_bank(data: bytes, *, max_bytes: int = MAX_BYTES) -> BankDocument | None:
    """The document, or None when refused with BankFileError listing `fichier:ligne: …`."""
    try:
        document = parse_bank_bytes(data, filename=BANK_NAME, catalog=CATALOG, max_bytes=max_bytes)
    except BankFileError as error:
        assert error.issues, "BankFileError sans aucun problème"
        # PyYAML places an error met at the end of a file without a final newline one line on
        last_line = len(LINE_BREAKS.findall(data.decode("utf-8", errors="replace"))) + 2
        for issue in error.issues:
            assert ISSUE.fullmatch(str(issue)), str(issue)
            assert 1 <= issue.line <= last_line, str(issue)
        return None
    assert isinstance(document, BankDocument)
    document.content_sha256()  # what an import stores: the canonical content
    return document


def refused(data: bytes) -> bool:
    return check_bank(data) is None


def billion_laughs_yaml(levels: int = 9) -> bytes:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{items}]")
    return ("\n".join(lines) + "\n").encode()


def chained_aliases_yaml(depth: int = 1500) -> bytes:
    lines = ["c0: &c0 [fin]"] + [f"c{i}: &c{i} [*c{i - 1}]" for i in range(1, depth)]
    return ("\n".join(lines) + "\n").encode()


NASTY_BANKS = {
    "alias récursif (liste)": b"boucle: &a [*a]\n",
    "alias récursif (dictionnaire)": b"boucle: &a {cle: *a}\n",
    "alias récursif dans une banque": VALID_BANK.replace(
        "authors: [Équipe pédagogique]", "authors: &a [*a]"
    ).encode(),
    "milliard de rires": billion_laughs_yaml(),
    "alias en chaîne": chained_aliases_yaml(),
    "imbrication profonde": b"[" * 20_000 + b"]" * 20_000,
    "date impossible": VALID_BANK.replace("2026-01-01", "2026-02-30").encode(),
    "mois impossible": VALID_BANK.replace("2026-12-31", "2026-13-01").encode(),
    "heure impossible": VALID_BANK.replace("2026-01-05", "2026-01-05 25:61:00").encode(),
    "entier de 5000 chiffres": VALID_BANK.replace(
        "difficulty: 3", "difficulty: " + "9" * 5000
    ).encode(),
    "exposant énorme": VALID_BANK.replace("answer: 17.20", "answer: 1e999999999").encode(),
    "étiquette python": b"id: !!python/object/apply:os.system [id]\n",
    "étiquette inconnue": VALID_BANK.replace("title: ", "title: !perso ").encode(),
    "clé de fusion": b"base: &b {id: x}\nautre:\n  <<: *b\n",
    "booléen étiqueté": VALID_BANK.replace("answer: true", "answer: !!bool peut-etre").encode(),
    "entier étiqueté": VALID_BANK.replace("difficulty: 1", "difficulty: !!int un", 1).encode(),
    "décimal étiqueté": VALID_BANK.replace("answer: 17.20", "answer: !!float x").encode(),
    "binaire illisible": VALID_BANK.replace("stem: Le barème", "stem: !!binary ???").encode(),
    "horodatage étiqueté": VALID_BANK.replace("date: 2026-01-05", "date: !!timestamp x").encode(),
    "Windows-1252": VALID_BANK.encode("cp1252"),
    "UTF-16": VALID_BANK.encode("utf-16"),
    "octet nul": VALID_BANK.replace("stem: Le", "stem: L\x00e").encode(),
    "BOM seul": b"\xef\xbb\xbf",
    "vide": b"",
    "deux documents": (VALID_BANK + "---\n" + VALID_BANK).encode(),
    "liste au lieu d'un dictionnaire": b"- id: essai\n",
    "scalaire seul": b"42\n",
    "document nul": b"~\n",
}
# Odd but not necessarily wrong: accepted or refused, never another exception.
ODD_BANKS = {
    "tolérance d'un million de chiffres": VALID_BANK.replace(
        "tolerance: 0", "tolerance: 9.9e999999"
    ).encode(),
    "texte étiqueté": VALID_BANK.replace("title: ", "title: !!str ").encode(),
    "date comme énoncé": VALID_BANK.replace("stem: Le barème", "stem: 2026-02-30").encode(),
    "clé numérique": VALID_BANK.replace("topics:\n", "topics:\n  1: Un\n").encode(),
    "entier hexadécimal": VALID_BANK.replace("difficulty: 2", "difficulty: 0x2").encode(),
    "entier sexagésimal": VALID_BANK.replace("difficulty: 3", "difficulty: 1:20").encode(),
    "fin de fichier sans saut de ligne": VALID_BANK.rstrip("\n").encode(),
    "fins de ligne Windows": VALID_BANK.replace("\n", "\r\n").encode(),
    "fins de ligne Mac": VALID_BANK.replace("\n", "\r").encode(),
}


class TestBankYaml:
    @pytest.mark.parametrize("data", NASTY_BANKS.values(), ids=NASTY_BANKS.keys())
    def test_hostile_documents_are_refused_with_lines(self, data):
        assert check_bank(data) is None

    @pytest.mark.parametrize("data", ODD_BANKS.values(), ids=ODD_BANKS.keys())
    def test_odd_documents(self, data):
        check_bank(data)

    def test_too_large_is_refused_on_line_one(self):
        with pytest.raises(BankFileError) as caught:
            parse_bank_bytes(
                VALID_BANK.encode(), filename=BANK_NAME, catalog=CATALOG, max_bytes=100
            )
        assert [issue.line for issue in caught.value.issues] == [1]

    @fuzz(250)
    @given(data=mutated_bank_data())
    def test_mutated_structure(self, data):
        check_bank(yaml.safe_dump(data, allow_unicode=True, sort_keys=False).encode())

    @fuzz(400)
    @given(data=mutated_bank_text(), max_bytes=st.sampled_from((MAX_BYTES,) * 9 + (400,)))
    def test_mutated_text(self, data, max_bytes):
        check_bank(data, max_bytes=max_bytes)

    def test_cli_import_with_broken_files_writes_nothing(self, run, db, tmp_path):
        runs = iter(range(10**6))

        @fuzz(15)
        @given(
            broken=st.lists(mutated_bank_text().filter(refused), min_size=1, max_size=3),
            position=st.integers(0, 3),
        )
        def import_folder(broken, position):
            folder = tmp_path / f"essai-{next(runs)}"
            folder.mkdir()
            contents = list(broken)
            contents.insert(min(position, len(contents)), VALID_BANK.encode())
            for index, content in enumerate(contents):
                (folder / f"{index:02d}.yaml").write_bytes(content)
            code, out, err = run("banks", "import", str(folder))
            assert code == 1, (out, err)
            assert "Traceback" not in err and "Erreur inattendue" not in err, err
            assert (
                f"{len(broken)} fichier(s) invalide(s) sur {len(contents)} : rien n'a été importé"
                in err
            ), err
            for index, content in enumerate(contents):
                if content in broken:
                    assert f"{folder / f'{index:02d}.yaml'}:" in err, err
            assert "importée" not in out
            assert count(db, BankVersion) == 0
            assert count(db, Bank) == 0

        import_folder()

    def test_cli_import_conflicting_versions_writes_nothing(self, run, db, tmp_path):
        (tmp_path / "a.yaml").write_text(VALID_BANK, encoding="utf-8")
        other = VALID_BANK.replace("title: Banque d'essai", "title: Autre contenu")
        (tmp_path / "b.yaml").write_text(other, encoding="utf-8")
        code, out, err = run("banks", "import", str(tmp_path))
        assert code == 1, (out, err)
        assert "Traceback" not in err and "Erreur inattendue" not in err, err
        assert count(db, BankVersion) == 0
        assert count(db, Bank) == 0


# ─── GIFT and Moodle XML ────────────────────────────────────────────────────────────────


def fixture_files(folder: str, *patterns: str) -> list[bytes]:
    base = INTEROP / folder
    return [path.read_bytes() for pattern in patterns for path in sorted(base.glob(pattern))]


GIFT_SAMPLE = """\
$CATEGORY: $course$/top/Fiscalité/Barème de l'impôt

::q-choix::[html]Quel est le <b>taux</b> de la première tranche ?{
  =11 %#Oui
  ~30 %#Non
  ####[markdown]La première tranche imposée l'est à **11 %**.
}

::q-multiple:: Lesquels sont des livrets réglementés ?{
  ~%50%Livret A
  ~%50%LDDS
  ~%-100%Compte courant
}

::q-vf:: Le barème est progressif.{TRUE}

::q-nombre:: Taux en pourcentage ?{#17.2:0.1}

::q-intervalle:: Un nombre de 1 à 5 ?{#1..5}
"""
GIFT_SEEDS = [GIFT_SAMPLE.encode(), *fixture_files("gift", "*.txt")]

PNG = (  # a 1×1 image
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
MOODLE_SAMPLE = """\
<?xml version="1.0" encoding="UTF-8"?>
<quiz>
  <question type="category">
    <category><text>$course$/top/Fiscalité</text></category>
    <idnumber>fiscalite</idnumber>
  </question>
  <question type="multichoice">
    <name><text>Taux</text></name>
    <questiontext format="html">
      <text><![CDATA[<p>Quel <b>taux</b> ? <img src="@@PLUGINFILE@@/a.png" alt="A"></p>]]></text>
      <file name="a.png" path="/" encoding="base64">{PNG}</file>
    </questiontext>
    <generalfeedback format="markdown"><text>Voir **CGI**.</text></generalfeedback>
    <single>true</single>
    <answer fraction="100" format="html"><text>11 %</text></answer>
    <answer fraction="0" format="plain_text"><text>30 %</text></answer>
  </question>
  <question type="truefalse">
    <name><text>Progressif</text></name>
    <questiontext format="moodle_auto_format"><text>Le barème est progressif.</text></questiontext>
    <answer fraction="100"><text>true</text></answer>
    <answer fraction="0"><text>false</text></answer>
  </question>
  <question type="numerical">
    <name><text>Nombre</text></name>
    <questiontext format="plain_text"><text>Taux ?</text></questiontext>
    <answer fraction="100"><text>17.2</text><tolerance>0.1</tolerance></answer>
    <units><unit><multiplier>1</multiplier><unit_name>%</unit_name></unit></units>
  </question>
</quiz>
""".replace("{PNG}", PNG)
MOODLE_SEEDS = [MOODLE_SAMPLE.encode(), *fixture_files("moodlexml", "*.xml")]

HTML_SNIPPETS = [
    "<p>",
    "</p>",
    "<b>gras</b>",
    "<i>",
    "<br>",
    "<br/><br/><br/>",
    '<img src="data:image/png;base64,iVBORw0KGgo=" alt="x">',
    '<img src="data:image/png;base64,!!!">',
    '<img src="data:text/html;base64,PHNjcmlwdD4=">',
    '<img src="@@PLUGINFILE@@/absent.png">',
    '<img src="@@PLUGINFILE@@/a.png?x=1">',
    '<a href="javascript:alert(1)">lien</a>',
    '<a href="http://exemple.fr/a b">lien</a>',
    "<table><tr><td>a|b</td><th>c</th></tr><tr><td></td></tr></table>",
    "<pre>```code```</pre>",
    "<code>`</code>",
    "<ol><li>1. un</li><li></li></ol>",
    "<ul>" * 30,
    "</div>" * 5,
    "<blockquote>&gt; cité</blockquote>",
    "<h1># titre</h1>",
    "<script>alert(1)</script>",
    "<style>p{}</style>",
    "<!-- commentaire -->",
    "&amp;",
    "&nbsp;",
    "&#0;",
    "&#x110000;",
    "&unknown;",
    "<",
    ">",
    "<<<",
    "*_`[]\\",
    "1. ",
    "- ",
    "# ",
    "\u00a0",
]
NUMBERS = [
    "3",
    "-2.5",
    "0",
    "-0",
    "1e999999999",
    "9.9e999999",
    "-9.9e999999",
    "1e-999999999",
    "NaN",
    "sNaN",
    "Infinity",
    "-Infinity",
    "1..",
    "..5",
    "abc",
    "0x10",
    "1_000",
    "\u0663",
    "\uff13",
    "1:2:3",
    "",
]
GIFT_TOKENS = st.sampled_from(
    [
        "{",
        "}",
        "=",
        "~",
        "#",
        "####",
        "::",
        ":",
        "%",
        "%50%",
        "%-100%",
        "%abc%",
        "->",
        "\\",
        "\\{",
        "\\}",
        "\\n",
        "[html]",
        "[moodle]",
        "[plain]",
        "[markdown]",
        "[inconnu]",
        "$CATEGORY:",
        "$course$/top/",
        "//",
        "\n",
        "\n\n",
        " ",
        "T",
        "F",
        "TRUE",
        "FALSE",
        "..",
        *NUMBERS,
        *HTML_SNIPPETS,
    ]
)
RICH_TEXT = st.lists(GIFT_TOKENS | TEXT, max_size=6).map("".join)


@st.composite
def gift_answers(draw) -> str:
    kind = draw(st.sampled_from(("choice", "truefalse", "numerical", "other")))
    if kind == "truefalse":
        return draw(st.sampled_from(("T", "F", "TRUE", "FALSE", "T#bien#mal", "FALSE####g")))
    if kind == "numerical":
        parts = []
        for _ in range(draw(st.integers(0, 3))):
            value = draw(st.sampled_from(NUMBERS))
            if draw(st.booleans()):
                value += draw(st.sampled_from((":", ".."))) + draw(st.sampled_from(NUMBERS))
            weight = draw(st.sampled_from(("", "=", "=%50%", "=%100%", "%abc%")))
            parts.append(weight + value + draw(st.sampled_from(("", "#retour"))))
        return "#" + "".join(parts) + draw(st.sampled_from(("", "~#faux", "####général")))
    if kind == "choice":
        options = []
        for _ in range(draw(st.integers(0, 10))):
            mark = draw(st.sampled_from(("=", "~", "~%50%", "~%-100%", "~%33.33333%", "~%200%")))
            options.append(mark + draw(RICH_TEXT) + draw(st.sampled_from(("", "#retour"))))
        return "\n".join(options) + draw(st.sampled_from(("", "\n####[html]<p>général</p>")))
    return draw(RICH_TEXT)


@st.composite
def gift_documents(draw) -> bytes:
    blocks = []
    for _ in range(draw(st.integers(0, 5))):
        block = draw(st.sampled_from(("", "// commentaire\n")))
        if draw(st.integers(0, 4)) == 0:
            blocks.append("$CATEGORY: " + draw(RICH_TEXT))
        if draw(st.booleans()):
            block += "::" + draw(RICH_TEXT) + "::"
        block += draw(st.sampled_from(("", "[html]", "[plain]", "[markdown]", "[moodle]")))
        block += draw(RICH_TEXT) + "{" + draw(gift_answers()) + "}"
        block += draw(st.sampled_from(("", '";', " suite", "}")))
        blocks.append(block)
    return encoded(draw, "\n\n".join(blocks))


GIFT_BYTES = [token.encode() for token in ["{", "}", "=", "~", "#", "::", "\\", "\n\n", "%50%"]]
XML_BYTES = [
    b"<",
    b">",
    b"</question>",
    b'<question type="multichoice">',
    b"<answer fraction='100'><text>x</text></answer>",
    b"<![CDATA[",
    b"]]>",
    b"&amp;",
    b"&x;",
    b"&#0;",
    b"\x00",
    b"\xff",
    b'<!DOCTYPE quiz [<!ENTITY x "y">]>',
    b"<?xml version='1.0' encoding='latin-1'?>",
    b'fraction="abc"',
    b'fraction="1e999999999"',
    b'format="inconnu"',
]


def check_import(importer, source: str, data: bytes, filename: str) -> ImportResult | None:
    """The importer returns a report or raises ConversionError; so does the conversion."""
    try:
        result = importer(data, filename=filename, today=TODAY)
    except ConversionError as error:
        assert str(error).strip()
        return None
    assert isinstance(result, ImportResult)
    assert isinstance(result.bank, dict) and isinstance(result.bank["questions"], list)
    try:
        conversion = convert_report(
            data, filename=filename, source_format=source, target_format="yaml", today=TODAY
        )
    except ConversionError as error:
        assert str(error).strip()
    else:
        assert isinstance(conversion, Conversion) and conversion.data
    return result


def check_gift(data: bytes) -> ImportResult | None:
    return check_import(import_gift, "gift", data, "questions.gift.txt")


def check_moodle(data: bytes) -> ImportResult | None:
    return check_import(import_moodlexml, "moodlexml", data, "questions.xml")


FRACTIONS = [
    *(format(grade, "f") for grade in MOODLE_GRADES[:6]),
    "-100",
    "-50",
    "33",
    "33.33333",
    "100.0000001",
    " 100 ",
    "1E2",
    "abc",
    "NaN",
    "Infinity",
    "1e999999999",
    "\u0661\u0660\u0660",
    "",
]
QUESTION_TYPES = [
    "multichoice",
    "truefalse",
    "numerical",
    "category",
    "shortanswer",
    "essay",
    "matching",
    "cloze",
    "description",
    "",
    "inconnu",
]


TEXT_FORMATS = ("html", "moodle_auto_format", "plain_text", "markdown", "0", "2", "4", "autre")


def _text_element(draw, parent, tag: str) -> None:
    element = ET.SubElement(parent, tag)
    if draw(st.booleans()):
        element.set("format", draw(st.sampled_from(TEXT_FORMATS)))
    ET.SubElement(element, "text").text = draw(RICH_TEXT)
    for _ in range(draw(st.integers(0, 1))):
        file = ET.SubElement(
            element, "file", name=draw(st.sampled_from(("a.png", "b.gif", "c.txt")))
        )
        file.set("encoding", "base64")
        file.text = draw(st.sampled_from(("iVBORw0KGgo=", "!!!", "", "R0lGODlh" * 40_000)))


@st.composite
def moodle_documents(draw) -> bytes:
    quiz = ET.Element(draw(st.sampled_from(("quiz",) * 9 + ("quizz",))))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(QUESTION_TYPES))
        question = ET.SubElement(quiz, "question", type=kind)
        if kind == "category":
            category = ET.SubElement(question, "category")
            ET.SubElement(category, "text").text = "$course$/top/" + draw(RICH_TEXT)
            ET.SubElement(question, "idnumber").text = draw(RICH_TEXT)
            continue
        if draw(st.integers(0, 5)):
            _text_element(draw, question, "name")
        if draw(st.integers(0, 5)):
            _text_element(draw, question, "questiontext")
        if draw(st.booleans()):
            _text_element(draw, question, "generalfeedback")
        if draw(st.booleans()):
            ET.SubElement(question, "single").text = draw(
                st.sampled_from(("true", "false", "1", "0", "oui"))
            )
        for _ in range(draw(st.integers(0, 9))):
            answer = ET.SubElement(question, "answer")
            if draw(st.integers(0, 5)):
                answer.set("fraction", draw(st.sampled_from(FRACTIONS)))
            if draw(st.booleans()):
                answer.set("format", draw(st.sampled_from(("html", "plain_text", "moodle"))))
            ET.SubElement(answer, "text").text = draw(
                st.sampled_from(("true", "false", *NUMBERS)) | RICH_TEXT
            )
            if draw(st.booleans()):
                ET.SubElement(answer, "tolerance").text = draw(st.sampled_from(NUMBERS))
            if draw(st.booleans()):
                _text_element(draw, answer, "feedback")
        if draw(st.booleans()):
            unit = ET.SubElement(ET.SubElement(question, "units"), "unit")
            ET.SubElement(unit, "multiplier").text = draw(st.sampled_from(("1", "0.5", "x", "")))
            ET.SubElement(unit, "unit_name").text = draw(RICH_TEXT)
    return ET.tostring(quiz, encoding="utf-8", xml_declaration=draw(st.booleans()))


def billion_laughs_xml() -> bytes:
    entities = ['<!ENTITY lol0 "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    ]
    return (
        '<?xml version="1.0"?>\n<!DOCTYPE quiz [\n' + "\n".join(entities) + "\n]>\n"
        '<quiz><question type="truefalse"><name><text>&lol9;</text></name></question></quiz>\n'
    ).encode()


HOSTILE_XML = {
    "milliard de rires": billion_laughs_xml(),
    "explosion quadratique": (
        '<!DOCTYPE quiz [<!ENTITY a "' + "a" * 50_000 + '">]>\n<quiz><question type="essay">'
        "<name><text>" + "&a;" * 2000 + "</text></name></question></quiz>"
    ).encode(),
    "entité externe": (
        b'<?xml version="1.0"?>\n<!DOCTYPE quiz [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        b'<quiz><question type="truefalse"><name><text>&xxe;</text></name></question></quiz>'
    ),
    "entité paramètre": (
        b'<!DOCTYPE quiz [<!ENTITY % p SYSTEM "http://example.invalid/p.dtd"> %p;]><quiz/>'
    ),
    "entité déclarée inutilisée": b'<!DOCTYPE quiz [<!ENTITY x "y">]><quiz/>',
    "entité non analysée": (
        b'<!DOCTYPE quiz [<!NOTATION n SYSTEM "x"><!ENTITY u SYSTEM "x" NDATA n>]><quiz/>'
    ),
}


class TestInterchange:
    @pytest.mark.parametrize("data", HOSTILE_XML.values(), ids=HOSTILE_XML.keys())
    def test_xml_entities_are_refused(self, data):
        with pytest.raises(ConversionError):
            import_moodlexml(data, filename="hostile.xml", today=TODAY)

    def test_seeds_are_read(self):
        for data in GIFT_SEEDS:
            check_gift(data)
        for data in MOODLE_SEEDS:
            check_moodle(data)
        assert check_gift(GIFT_SAMPLE.encode()).bank["questions"]
        assert check_moodle(MOODLE_SAMPLE.encode()).bank["questions"]

    @fuzz(150)
    @given(data=st.lists(GIFT_TOKENS | st.characters(codec="utf-8"), max_size=80))
    def test_gift_random_text(self, data):
        check_gift("".join(data).encode())

    @fuzz(300)
    @given(data=gift_documents())
    def test_gift_generated(self, data):
        check_gift(data)

    @fuzz(120)
    @given(data=st.sampled_from(GIFT_SEEDS).flatmap(lambda seed: spliced(seed, GIFT_BYTES)))
    def test_gift_mutated_fixtures(self, data):
        check_gift(data)

    @fuzz(300)
    @given(data=moodle_documents())
    def test_moodle_generated(self, data):
        check_moodle(data)

    @fuzz(120)
    @given(
        data=st.sampled_from(MOODLE_SEEDS).flatmap(
            lambda seed: spliced(seed, XML_BYTES + [snippet.encode() for snippet in HTML_SNIPPETS])
        )
    )
    def test_moodle_mutated_fixtures(self, data):
        check_moodle(data)

    @fuzz(60)
    @given(data=st.binary(max_size=200) | st.text(max_size=200).map(str.encode))
    def test_moodle_random_bytes(self, data):
        check_moodle(data)
        check_moodle(b"<quiz>" + data + b"</quiz>")


# ─── Enrolment CSV ──────────────────────────────────────────────────────────────────────

CSV_NAME = "inscrits.csv"
HEADER_NAMES = [*COLUMNS, "Nom", "PRÉNOM", " Email ", "numero", "autre", "", "nom"]
CELLS = st.one_of(
    st.sampled_from(
        [
            "Dupont",
            "Marie",
            "marie@example.fr",
            "Marie@Example.FR",
            "C-001",
            "C-002",
            "c.003_x",
            "",
            " ",
            "a@b.c",
            "pas-un-email",
            "a@b",
            "x" * 60 + "@example.fr",
            "y" * 330 + "@example.fr",
            "N" * 150,
            "P" * 250,
            "C" * 51,
            "C 1",
            "-C1",
            "\x00",
            "Jo\x00e",
            "é",
            '"',
            ";",
            ",",
            "\n",
            "\r",
            "=1+1",
            "\ufeff",
            "z" * 140_000,
        ]
    ),
    st.emails(),
    TEXT,
)


CANONICAL_HEADER = ["nom", "prénom", "email", "numéro de candidat"]


@st.composite
def plausible_rows(draw) -> list[list[str]]:
    """Rows a jury could write, one cell in four replaced by something odd."""
    rows = []
    for _ in range(draw(st.integers(1, 3))):
        number = draw(st.integers(1, 10**6))
        row = [
            draw(st.sampled_from(("Dupont", "Lefèvre", "N'Diaye", "García", "Ô"))),
            draw(st.sampled_from(("Marie", "Zoé", "Anne-Sophie", "Jean"))),
            f"candidat{number}@example.fr",
            f"C-{number}",
        ]
        if draw(st.integers(0, 3)) == 0:
            row[draw(st.integers(0, 3))] = draw(CELLS)
        rows.append(row)
    return rows


@st.composite
def enrolment_files(draw) -> bytes:
    """Half plausible files (columns in any order), half random headers and cells."""
    if plausible := draw(st.booleans()):
        order = draw(st.permutations(range(4)))
        header = [CANONICAL_HEADER[i] for i in order]
        rows = [[row[i] for i in order] for row in draw(plausible_rows())]
    else:
        header = draw(st.lists(st.sampled_from(HEADER_NAMES), max_size=6))
        rows = draw(st.lists(st.lists(CELLS, max_size=6), max_size=4))
    delimiters = (";", ",") if plausible else (";", ";", ",", "\t", "|")
    header = [draw(st.sampled_from((str, str.upper, str.title, lambda s: f" {s} ")))(name)
              for name in header]  # fmt: skip
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=draw(st.sampled_from(delimiters)),
        quoting=draw(st.sampled_from((csv.QUOTE_MINIMAL, csv.QUOTE_ALL))),
        lineterminator=draw(st.sampled_from(("\n", "\r\n", "\r"))),
    )
    writer.writerow(header)
    writer.writerows(rows)
    if plausible:  # mostly UTF-8, as asked; sometimes what Excel writes by default
        codec = draw(st.sampled_from(("utf-8",) * 5 + ("utf-8-sig", "cp1252")))
        data = buffer.getvalue().encode(codec, errors="replace")
    else:
        data = encoded(draw, buffer.getvalue())
    if draw(st.integers(0, 5 if plausible else 2)) == 0:
        data = draw(
            spliced(data, [b'"', b";", b",", b"\n", b"\r", b"\x00", b"\xff", b"\xef\xbb\xbf"])
        )
    return data


CSV_PROBLEM = re.compile(rf"{re.escape(CSV_NAME)}:[1-9][0-9]*: \S.*", re.S)


def check_csv(data: bytes) -> list[EnrolmentRow] | None:
    """The rows, or None when refused with EnrolmentCsvError listing `fichier:ligne: …`."""
    try:
        rows = parse_enrolment_csv(data, filename=CSV_NAME)
    except EnrolmentCsvError as error:
        assert error.problems
        for problem in error.problems:
            assert CSV_PROBLEM.fullmatch(problem), problem
        return None
    assert rows and all(isinstance(row, EnrolmentRow) for row in rows)
    return rows


HEADER = "nom;prénom;email;numéro de candidat\n"
NASTY_CSV = {
    "champ énorme": (HEADER + "z" * 140_000 + ";Marie;m@example.fr;C-1\n").encode(),
    "guillemet non fermé": (HEADER + '"Dupont;Marie;m@example.fr;C-1\n').encode(),
    "octet nul": (HEADER + "Du\x00pont;Marie;m@example.fr;C-1\n").encode(),
    "email trop long pour un identifiant": (
        HEADER + "Dupont;Marie;" + "m" * 60 + "@example.fr;C-1\n"
    ).encode(),
    "nom trop long": (HEADER + "D" * 150 + ";" + "M" * 150 + ";m@example.fr;C-1\n").encode(),
    "trop de lignes": (
        HEADER + "".join(f"N;P;p{i}@example.fr;C-{i}\n" for i in range(5001))
    ).encode(),
    "Windows-1252": (HEADER + "Dupont;Hélène;h@example.fr;C-1\n").encode("cp1252"),
    "UTF-16": (HEADER + "Dupont;Marie;m@example.fr;C-1\n").encode("utf-16"),
    "en-tête seul": HEADER.encode(),
    "blancs seuls": b" \n\t\n",
    "retours chariot seuls": b"\r\r\r",
}


class TestEnrolmentCsv:
    @pytest.mark.parametrize("data", NASTY_CSV.values(), ids=NASTY_CSV.keys())
    def test_hostile_files(self, data):
        check_csv(data)

    @fuzz(500)
    @given(data=enrolment_files())
    def test_generated_files(self, data):
        check_csv(data)

    def test_web_upload(self, client, make_user, db):
        make_user("jules", "jury")
        assert form_login(client, "jules").status_code == 303
        exam = sessions_service.create_session(
            session=db, name="Session fuzz", opens_at=OPENS, closes_at=CLOSES
        )
        db.commit()
        location = f"/sessions/{exam.id}"
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get(location).text)[1]

        def upload(data: bytes, filename: str):
            enrolments, accounts = count(db, Enrolment), count(db, UserAccount)
            response = client.post(
                f"{location}/inscriptions/csv",
                data={"csrf_token": token},
                files={"file": (filename, data, "text/csv")},
                follow_redirects=False,
            )
            assert response.status_code in (303, 400), response.status_code
            if response.status_code == 400:
                assert "Traceback" not in response.text
                assert (count(db, Enrolment), count(db, UserAccount)) == (enrolments, accounts)
            else:
                assert count(db, Enrolment) > enrolments

        for name, data in NASTY_CSV.items():
            if name != "trop de lignes":  # 5001 accounts: slow, and refused by the parser
                upload(data, CSV_NAME)
        upload(b"x" * (1024 * 1024 + 1), CSV_NAME)

        @fuzz(50)
        @given(
            data=enrolment_files(),
            filename=st.sampled_from(
                (CSV_NAME, CSV_NAME, "sans-extension", "../../etc/passwd", 'é ;".csv', "x" * 300)
            ),
        )
        def generated(data, filename):
            upload(data, filename)

        generated()
