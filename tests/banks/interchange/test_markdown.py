"""Foreign HTML → sanitised, simple Markdown (the app renders Markdown with HTML disabled)."""

import pytest

from app.banks.interchange.common import TextContext, html_to_markdown, slugify, to_markdown


def md(html: str, **kwargs) -> str:
    return html_to_markdown(html, TextContext("essai", []), **kwargs)


@pytest.mark.parametrize(
    ("html", "markdown"),
    [
        ("<p>Un <strong>gras</strong> et un <em>italique</em>.</p>",
         "Un **gras** et un *italique*."),
        ("<p>a</p>\n\n  <p>b</p>", "a\n\nb"),
        ("ligne<br>suivante<br/>", "ligne\\\nsuivante"),
        ("un<br><br>deux", "un\n\ndeux"),
        ('<a href="https://legifrance.gouv.fr/x (1)">Code</a>', "[Code](https://legifrance.gouv.fr/x%20%281%29)"),
        ('<a href="javascript:alert(1)">piège</a>', "piège"),
        ("<script>alert(1)</script><style>p{}</style>texte", "texte"),
        ("<ul><li>un</li><li>deux <b>gras</b></li></ul>", "- un\n- deux **gras**"),
        ("<ol><li>un</li><li><p>deux</p><ul><li>sous</li></ul></li></ol>",
         "1. un\n2. deux\n   - sous"),
        ("<h2>Titre</h2><p>texte</p>", "**Titre**\n\ntexte"),
        ("<pre><code>x = 1\n  y</code></pre>", "```\nx = 1\n  y\n```"),
        ("<code>a*b</code>", "`a*b`"),
        ("<table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2 | 3</td></tr></table>",
         "| a | b |\n| --- | --- |\n| 1 | 2 \\| 3 |"),
        ("<blockquote><p>cité</p></blockquote>", "> cité"),
        ("<p>1. pas une liste</p><p>- ni celle-ci</p><p># ni un titre</p>",
         "1\\. pas une liste\n\n\\- ni celle-ci\n\n\\# ni un titre"),
        ("12\u00a0%\u202fnets", "12\u00a0%\u202fnets"),
        ("<span style='color:red'>rouge</span> &amp; &lt;b&gt;", "rouge & \\<b>"),
    ],
)  # fmt: skip
def test_html_to_markdown(html, markdown):
    assert md(html) == markdown


def test_inline_mode_for_options():
    assert md("<p>un</p><p>deux<br>trois</p>", inline=True) == "un deux trois"


def test_images_without_source_are_reported():
    warnings: list[str] = []
    text = html_to_markdown('<img src="a.png" alt="Un schéma">', TextContext("ici", warnings))
    assert text == "(image non reprise : Un schéma)"
    assert warnings == ["ici : image « a.png » absente du fichier importé, non reprise"]
    svg = to_markdown(
        '<img src="data:image/svg+xml;base64,PHN2Zz4=" alt="x">',
        "html",
        TextContext("là", warnings),
    )
    assert svg == "(image non reprise : x)"
    assert warnings[-1] == "là : image intégrée d'un format non pris en charge"


def test_formats():
    ctx = TextContext("ici", [])
    assert to_markdown("**tel quel** <b>", "markdown", ctx) == "**tel quel** <b>"
    assert to_markdown("a < b\nc", "plain", ctx) == "a < b\\\nc"
    assert to_markdown("a <b>b</b>\nc", "moodle", ctx) == "a **b**\\\nc"


def test_slugify():
    assert slugify("Barème de l'impôt – IR") == "bareme-de-l-impot-ir"
    assert slugify("Œuvres d'art ") == "oeuvres-d-art"
    assert slugify("***") == ""
