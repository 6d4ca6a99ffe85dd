"""Score distribution as an accessible SVG histogram. Pure: no DB, no web."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from html import escape

from app.decimals import french_number

WIDTH, HEIGHT, MARGIN = 440, 220, 36
BIN_WIDTH = 10  # percentage points per bar


@dataclass(frozen=True)
class Bin:
    low: int
    high: int
    count: int

    @property
    def label(self) -> str:
        closing = "]" if self.high == 100 else "["
        return f"[{self.low} ; {self.high}{closing} %"


def bins_of(percents: Sequence[Decimal]) -> list[Bin]:
    """Ten bins of 10 points; 100 % falls in the last one."""
    counts = [0] * (100 // BIN_WIDTH)
    for percent in percents:
        index = min(int(percent) // BIN_WIDTH, len(counts) - 1)
        counts[index] += 1
    return [Bin(i * BIN_WIDTH, (i + 1) * BIN_WIDTH, n) for i, n in enumerate(counts)]


def histogram_svg(
    percents: Sequence[Decimal], *, threshold: Decimal, title: str, chart_id: str
) -> str:
    """An SVG with a title and a description read by screen readers; the threshold marked."""
    bins = bins_of(percents)
    top = max((b.count for b in bins), default=0) or 1
    plot_w, plot_h = WIDTH - 2 * MARGIN, HEIGHT - 2 * MARGIN
    bar_w = plot_w / len(bins)
    passed = sum(1 for p in percents if p >= threshold)
    description = (
        f"{len(percents)} copie(s) ; {passed} au-dessus du seuil de {french_number(threshold)} %. "
        + " ; ".join(f"{b.label} : {b.count}" for b in bins)
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" class="histogram">',
        f'<title id="{chart_id}-title">{escape(title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>',
        f'<line x1="{MARGIN}" y1="{HEIGHT - MARGIN}" x2="{WIDTH - MARGIN}" '
        f'y2="{HEIGHT - MARGIN}" stroke="#1e1e1e"/>',
    ]
    for index, b in enumerate(bins):
        height = plot_h * b.count / top
        x = MARGIN + index * bar_w
        y = HEIGHT - MARGIN - height
        parts.append(
            f'<rect x="{x + 2:.1f}" y="{y:.1f}" width="{bar_w - 4:.1f}" height="{height:.1f}" '
            f'fill="#000091"/>'
        )
        if b.count:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle" '
                f'font-size="11" fill="#1e1e1e">{b.count}</text>'
            )
        parts.append(
            f'<text x="{x + bar_w / 2:.1f}" y="{HEIGHT - MARGIN + 14}" text-anchor="middle" '
            f'font-size="10" fill="#1e1e1e">{b.low}</text>'
        )
    x = MARGIN + plot_w * float(threshold) / 100
    parts.append(
        f'<line x1="{x:.1f}" y1="{MARGIN - 10}" x2="{x:.1f}" y2="{HEIGHT - MARGIN}" '
        f'stroke="#b60000" stroke-width="2" stroke-dasharray="6 3"/>'
    )
    parts.append(
        f'<text x="{x + 4:.1f}" y="{MARGIN - 12}" font-size="11" fill="#b60000">'
        f"seuil {french_number(threshold)} %</text>"
    )
    parts.append(
        f'<text x="{WIDTH / 2:.1f}" y="{HEIGHT - 4}" text-anchor="middle" font-size="11" '
        f'fill="#1e1e1e">score (%)</text>'
    )
    parts.append("</svg>")
    return "".join(parts)
