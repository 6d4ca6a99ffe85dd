"""Facility × discrimination scatter as an accessible SVG. Pure: no DB, no web.

Presentation attributes only (no ``style`` attribute nor element: strict CSP). The chart has
``role="img"``, a ``<title>`` and a ``<desc>`` summarising the data for screen readers, and
every point carries a ``<title>`` naming its item. Items whose discrimination is undefined
are drawn as hollow circles on a separate band under the plot, labelled « r non définie ».
"""

from html import escape

from app.analysis.items import (
    D_MIN,
    FLAG_LOW_DISCRIMINATION,
    FLAG_TOO_EASY,
    FLAG_TOO_HARD,
    P_MAX,
    P_MIN,
    AnalysisReport,
    ItemStats,
)

__all__ = ["facility_discrimination_svg"]

WIDTH, HEIGHT = 580, 380
LEFT, RIGHT, TOP = 100, 24, 32
PLOT_H = 260
PLOT_W = WIDTH - LEFT - RIGHT
BAND_Y = TOP + PLOT_H + 56  # the row of items whose discrimination is undefined
INK, BLUE, RED, GREY = "#1e1e1e", "#000091", "#b60000", "#929292"
RADIUS = 5


def _fr(value: float, decimals: int = 2) -> str:
    """0.25 → « 0,25 » (display only)."""
    text = f"{value:.{decimals}f}"
    if text.startswith("-") and float(text) == 0:
        text = text[1:]
    return text.replace(".", ",")


def _tick(value: float) -> str:
    """0.5 → « 0,5 », 1.0 → « 1 »."""
    return format(value, "g").replace(".", ",")


def _point_title(item: ItemStats) -> str:
    d = "non définie" if item.discrimination is None else _fr(item.discrimination)
    text = f"{item.question_id} : p = {_fr(item.p)} ; discrimination = {d} ; n = {item.n}"
    if item.flags:
        text += " — " + " ; ".join(item.flags)
    return text


def _listing(label: str, items: list[ItemStats]) -> str:
    if not items:
        return f"aucune {label}"
    return f"{len(items)} {label} : " + ", ".join(i.question_id for i in items)


def _description(report: AnalysisReport) -> str:
    items = report.items
    if not items:
        return "Aucune question analysée."
    form = report.form
    parts = [
        f"{len(items)} question(s), {form.n} copie(s) ; "
        "facilité p en abscisse (0 à 1), discrimination (point-bisériale corrigée) en ordonnée",
        _listing("trop difficile (p < 0,2)", [i for i in items if FLAG_TOO_HARD in i.flags]),
        _listing("trop facile (p > 0,95)", [i for i in items if FLAG_TOO_EASY in i.flags]),
        _listing(
            "peu discriminante (< 0,1)", [i for i in items if FLAG_LOW_DISCRIMINATION in i.flags]
        ),
        _listing("à discrimination non définie", [i for i in items if i.discrimination is None]),
    ]
    if form.reliability is not None:
        parts.append(f"fidélité ({form.reliability_method}) : {_fr(form.reliability)}")
    return " ; ".join(parts) + "."


def facility_discrimination_svg(report: AnalysisReport, *, title: str, chart_id: str) -> str:
    """The items on a p × discrimination plane, with the flag thresholds drawn."""
    cid = escape(chart_id)
    defined = [i.discrimination for i in report.items if i.discrimination is not None]
    y_min = -1.0 if defined and min(defined) < -0.5 else -0.5
    undefined = any(i.discrimination is None for i in report.items)

    def x_of(p: float) -> float:
        return LEFT + PLOT_W * p

    def y_of(d: float) -> float:
        return TOP + PLOT_H * (1 - (d - y_min) / (1 - y_min))

    bottom = TOP + PLOT_H
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{cid}-title {cid}-desc" class="scatter">',
        f'<title id="{cid}-title">{escape(title)}</title>',
        f'<desc id="{cid}-desc">{escape(_description(report))}</desc>',
        # frame and axes
        f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" '
        f'stroke="{GREY}"/>',
    ]
    # x ticks: 0, 0.2, …, 1
    for tenth in range(0, 11, 2):
        x = x_of(tenth / 10)
        parts.append(
            f'<line x1="{x:.1f}" y1="{bottom}" x2="{x:.1f}" y2="{bottom + 4}" stroke="{INK}"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" font-size="11" '
            f'fill="{INK}">{_tick(tenth / 10)}</text>'
        )
    # y ticks every 0.5
    steps = int((1 - y_min) / 0.5)
    for step in range(steps + 1):
        d = y_min + 0.5 * step
        y = y_of(d)
        parts.append(
            f'<line x1="{LEFT - 4}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="{INK}"/>'
            f'<text x="{LEFT - 7}" y="{y + 4:.1f}" text-anchor="end" font-size="11" '
            f'fill="{INK}">{_tick(d)}</text>'
        )
    zero = y_of(0)
    parts.append(
        f'<line x1="{LEFT}" y1="{zero:.1f}" x2="{LEFT + PLOT_W}" y2="{zero:.1f}" '
        f'stroke="{GREY}" stroke-width="1"/>'
    )
    # thresholds
    for p, label, anchor, dx in ((P_MIN, "p = 0,2", "start", 4), (P_MAX, "p = 0,95", "end", -4)):
        x = x_of(float(p))
        parts.append(
            f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{bottom}" stroke="{RED}" '
            f'stroke-width="1.5" stroke-dasharray="6 3" data-threshold="p={float(p):g}"/>'
            f'<text x="{x + dx:.1f}" y="{TOP - 8}" text-anchor="{anchor}" font-size="11" '
            f'fill="{RED}">{label}</text>'
        )
    y = y_of(D_MIN)
    parts.append(
        f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="{RED}" '
        f'stroke-width="1.5" stroke-dasharray="6 3" data-threshold="d={D_MIN:g}"/>'
        f'<text x="{LEFT + PLOT_W - 4}" y="{y - 5:.1f}" text-anchor="end" font-size="11" '
        f'fill="{RED}">r = 0,1</text>'
    )
    # axis titles
    parts.append(
        f'<text x="{LEFT + PLOT_W / 2:.1f}" y="{bottom + 32}" text-anchor="middle" '
        f'font-size="12" fill="{INK}">facilité p (part de réussite)</text>'
        f'<text x="16" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" font-size="12" '
        f'fill="{INK}" transform="rotate(-90 16 {TOP + PLOT_H / 2:.1f})">'
        f"discrimination (r corrigée)</text>"
    )
    if undefined:
        parts.append(
            f'<line x1="{LEFT}" y1="{BAND_Y}" x2="{LEFT + PLOT_W}" y2="{BAND_Y}" '
            f'stroke="{GREY}" stroke-dasharray="2 3"/>'
            f'<text x="{LEFT - 7}" y="{BAND_Y + 4}" text-anchor="end" font-size="11" '
            f'fill="{INK}">r non définie</text>'
        )
    # points
    for item in report.items:
        x = x_of(item.p)
        color = RED if item.flags else BLUE
        if item.discrimination is None:
            shape = (
                f'<circle cx="{x:.1f}" cy="{BAND_Y}" r="{RADIUS}" fill="#ffffff" '
                f'stroke="{color}" stroke-width="2">'
            )
        else:
            shape = (
                f'<circle cx="{x:.1f}" cy="{y_of(item.discrimination):.1f}" r="{RADIUS}" '
                f'fill="{color}" fill-opacity="0.8" stroke="#ffffff" stroke-width="1">'
            )
        parts.append(f"{shape}<title>{escape(_point_title(item))}</title></circle>")
    parts.append("</svg>")
    return "".join(parts)
