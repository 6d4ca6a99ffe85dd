"""The facility × discrimination scatter: accessible, CSP-safe SVG."""

import xml.etree.ElementTree as ET
from fractions import Fraction

import pytest

from app.analysis.charts import facility_discrimination_svg
from app.analysis.items import ItemResponse, analyse_items
from tests.analysis.test_items import dataset

NS = {"svg": "http://www.w3.org/2000/svg"}
TITLE = "Facilité et discrimination – questionnaire « Crédit » <B1>"


@pytest.fixture(scope="module")
def svg() -> str:
    return facility_discrimination_svg(
        analyse_items(dataset()), title=TITLE, chart_id="items-credit"
    )


@pytest.fixture(scope="module")
def root(svg) -> ET.Element:
    return ET.fromstring(svg)


def test_is_an_image_labelled_by_its_title_and_description(root):
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "items-credit-title items-credit-desc"
    title = root.find("svg:title", NS)
    desc = root.find("svg:desc", NS)
    assert (title.get("id"), title.text) == ("items-credit-title", TITLE)
    assert desc.get("id") == "items-credit-desc"
    assert "5 question(s), 12 copie(s)" in desc.text
    assert "1 trop difficile (p < 0,2) : Q2" in desc.text
    assert "1 trop facile (p > 0,95) : Q1" in desc.text
    assert "1 peu discriminante (< 0,1) : Q3" in desc.text
    assert "2 à discrimination non définie : Q1, Q2" in desc.text
    assert "fidélité (KR-20) : 0,41" in desc.text


def test_one_circle_per_item_each_with_a_title_naming_it(root):
    circles = root.findall(".//svg:circle", NS)
    titles = [c.find("svg:title", NS).text for c in circles]
    assert [t.split(" : ")[0] for t in titles] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert titles[3] == "Q4 : p = 0,58 ; discrimination = 0,78 ; n = 12"
    assert titles[0].startswith("Q1 : p = 1,00 ; discrimination = non définie ; n = 12 — ")
    assert "trop facile (p > 0,95)" in titles[0]


def test_points_positions_follow_p_and_discrimination(root):
    circles = {c.find("svg:title", NS).text[:2]: c for c in root.findall(".//svg:circle", NS)}
    x = {qid: float(c.get("cx")) for qid, c in circles.items()}
    y = {qid: float(c.get("cy")) for qid, c in circles.items()}
    assert x["Q2"] < x["Q3"] < x["Q5"] < x["Q4"] < x["Q1"]  # p: 0 < 1/3 < 5/12 < 7/12 < 1
    assert y["Q4"] < y["Q5"] < y["Q3"]  # higher discrimination drawn higher
    assert y["Q1"] == y["Q2"] > y["Q3"]  # undefined: the band under the plot
    assert circles["Q1"].get("fill") == "#ffffff"  # hollow


def test_threshold_lines(root):
    lines = {
        line.get("data-threshold"): line
        for line in root.findall("svg:line", NS)
        if line.get("data-threshold")
    }
    assert set(lines) == {"p=0.2", "p=0.95", "d=0.1"}
    p_low, p_high, d_min = lines["p=0.2"], lines["p=0.95"], lines["d=0.1"]
    assert p_low.get("x1") == p_low.get("x2")  # vertical
    assert p_high.get("x1") == p_high.get("x2")
    assert d_min.get("y1") == d_min.get("y2")  # horizontal
    texts = [t.text for t in root.findall("svg:text", NS)]
    assert {"p = 0,2", "p = 0,95", "r = 0,1"} <= set(texts)
    assert "facilité p (part de réussite)" in texts
    assert "discrimination (r corrigée)" in texts
    assert all(int(t.get("font-size")) >= 11 for t in root.findall("svg:text", NS))


def test_no_style_attribute_nor_element(svg, root):
    assert "style=" not in svg
    assert "<style" not in svg
    assert all("style" not in element.attrib for element in root.iter())


def test_text_is_escaped():
    responses = [ItemResponse(a, 'Q<1>&"', Fraction(a % 2), (), (), None) for a in range(1, 5)]
    svg = facility_discrimination_svg(analyse_items(responses), title="A & B", chart_id="x<y")
    root = ET.fromstring(svg)  # well-formed
    assert root.find("svg:title", NS).text == "A & B"
    assert root.find(".//svg:circle/svg:title", NS).text.startswith('Q<1>&" : p = 0,50')


def test_empty_report():
    root = ET.fromstring(
        facility_discrimination_svg(analyse_items([]), title="Vide", chart_id="empty")
    )
    assert root.find("svg:desc", NS).text == "Aucune question analysée."
    assert root.findall(".//svg:circle", NS) == []
