"""Charts as inline SVG drawn on the server: no chart library, nothing fetched, readable by a
screen reader (a title and each bar's figure as text)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

PALETTE = ("#0b5cad", "#1e6b34", "#8a4b00", "#b00020", "#5b3f9e", "#00707a", "#4a5568")


def hbars(
    title: str,
    rows: Sequence[tuple[str, float, str]],
    *,
    width: int = 560,
    color: str | None = None,
) -> Markup:
    """Horizontal bars: (label, value, the value as shown) per row."""
    bar_h, gap, label_w, value_w = 22, 8, 170, 110
    height = max(1, len(rows)) * (bar_h + gap) + 8
    top = max((v for _, v, _ in rows), default=0) or 1
    span = width - label_w - value_w
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}"'
        f' width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>'
    ]
    for i, (label, value, shown) in enumerate(rows):
        y = 4 + i * (bar_h + gap)
        w = max(0.0, span * value / top)
        fill = color or PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="0" y="{y + 15}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="3" fill="{fill}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    width: int = 560,
    height: int = 200,
) -> Markup:
    """Grouped columns, one group per label, one column per series, with a legend."""
    left, bottom, top_pad = 40, 36, 24
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    peak = max((v for _, values in series for v in values), default=0) or 1
    group_w = plot_w / max(1, len(labels))
    col_w = min(36.0, max(2.0, (group_w - 6) / max(1, len(series))))
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}"'
        f' width="100%" preserveAspectRatio="xMinYMin meet"><title>{escape(title)}</title>',
        f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{width - 8}" y2="{top_pad + plot_h}"'
        ' stroke="#8a96a8"/>',
        f'<text x="0" y="{top_pad + 4}">{int(peak):,}</text>',
        f'<text x="0" y="{top_pad + plot_h}">0</text>',
    ]
    for s, (name, values) in enumerate(series):
        fill = PALETTE[s % len(PALETTE)]
        parts.append(
            f'<rect x="{left + s * 120}" y="4" width="12" height="12" fill="{fill}"/>'
            f'<text x="{left + s * 120 + 16}" y="15">{escape(name)}</text>'
        )
        for i, value in enumerate(values):
            h = plot_h * value / peak
            x = left + i * group_w + 3 + s * col_w
            parts.append(
                f'<rect x="{x:.1f}" y="{top_pad + plot_h - h:.1f}" width="{col_w:.1f}"'
                f' height="{h:.1f}" fill="{fill}"><title>{escape(labels[i])}: {value:,.0f}'
                "</title></rect>"
            )
    step = max(1, len(labels) // 7)
    for i, label in enumerate(labels):
        if i % step == 0:
            x = left + i * group_w + group_w / 2
            parts.append(
                f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))
