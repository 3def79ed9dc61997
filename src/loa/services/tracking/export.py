"""Reports a manager can open: CSV rows, one self-contained HTML page with inline SVG charts
(no scripts, no CDN: it opens offline and prints), and the same charts as one PNG image."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any, Final

from loa.i18n import Lang, Msg

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PALETTE: Final = ("#2563eb", "#16a34a", "#f59e0b", "#dc2626", "#7c3aed", "#0891b2", "#db2777")

L: Final[dict[str, Msg]] = {
    k: Msg(f"tracking.html.{k}", vi, en)
    for k, vi, en in (
        ("title", "Báo cáo chiến dịch", "Campaign report"),
        ("compare", "So sánh chiến dịch", "Campaign comparison"),
        ("funnel", "Từ gửi tới mua", "From sent to bought"),
        ("daily", "Theo ngày", "Per day"),
        ("carriers", "Theo nhà mạng", "By carrier"),
        ("variants", "Theo phiên bản", "By variant"),
        ("segments", "Theo phân khúc", "By segment"),
        ("states", "Tình trạng tin nhắn", "Where the messages stand"),
        ("carrier_rate", "Tỉ lệ đến máy theo nhà mạng (%)", "Delivery rate by carrier (%)"),
        ("segment_delivered", "Tin đến máy theo phân khúc", "Delivered by segment"),
        ("failures", "Lý do không đến", "Why messages did not arrive"),
        ("incremental", "Hiệu quả tăng thêm so với nhóm đối chứng", "Effect against the holdout"),
        ("budget", "Ngân sách", "Budget"),
        ("recipients", "Người nhận", "Recipients"),
        ("sent", "Đã gửi", "Sent"),
        ("delivered", "Đã đến máy", "Delivered"),
        ("unique_clicks", "Lượt nhấn (người)", "Unique clicks"),
        ("orders", "Đơn hàng", "Orders"),
        ("revenue_vnd", "Doanh thu (đ)", "Revenue (VND)"),
        ("cost_vnd", "Chi phí (đ)", "Cost (VND)"),
        ("roi", "ROI", "ROI"),
        ("ctr", "Tỉ lệ nhấn", "Click-through"),
        ("delivery_rate", "Tỉ lệ đến máy", "Delivery rate"),
        ("reason", "Lý do", "Reason"),
        ("count", "Số tin", "Messages"),
        ("latency", "Thời gian đến máy (giây)", "Time to deliver (s)"),
        ("bots", "Lượt mở bởi máy (không tính)", "Opened by machines (not counted)"),
    )
}


STATES: Final[dict[str, Msg]] = {
    k: Msg(f"tracking.state.{k}", vi, en)
    for k, vi, en in (
        ("planned", "Đã lên kế hoạch", "Planned"),
        ("queued", "Chờ gửi", "Queued"),
        ("leased", "Đang gửi", "Sending"),
        ("submitting", "Đang gửi", "Sending"),
        ("submitted", "Đã gửi, chờ báo cáo", "Sent, awaiting receipt"),
        ("delivered", "Đã đến máy", "Delivered"),
        ("undelivered", "Không đến được", "Undelivered"),
        ("expired", "Hết hạn", "Expired"),
        ("rejected", "Bị từ chối", "Rejected"),
        ("failed", "Lỗi khi gửi", "Failed"),
        ("uncertain", "Không rõ", "Uncertain"),
        ("suppressed", "Bị chặn (luật)", "Blocked (law)"),
        ("holdout", "Nhóm đối chứng", "Holdout"),
        ("cancelled", "Đã huỷ", "Cancelled"),
    )
}


def _t(key: str, lang: Lang) -> str:
    return L[key].render(lang)


def state_name(status: str, lang: Lang) -> str:
    """A message state in words (the stored name when it has none)."""
    words = STATES.get(status)
    return status if words is None else words.render(lang)


def segment_name(row: dict[str, Any], lang: Lang) -> str:
    """A `by_segment` row's name: the segment's, or words for messages outside any segment."""
    return str(row["label_vi" if lang == "vi" else "label_en"])


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def bar_chart(labels: Sequence[str], values: Sequence[float], *, width: int = 560) -> str:
    """Horizontal bars with their values, as an inline SVG."""
    row = 26
    height = row * len(values) + 8
    top = max(values, default=0) or 1
    label_w = 150
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" font-family="system-ui,sans-serif" font-size="12">'
    ]
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 4 + i * row
        w = max(1.0, (width - label_w - 90) * value / top) if value else 0
        color = PALETTE[i % len(PALETTE)]
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="18" fill="{color}"/>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 16}">{escape(_fmt(value))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def line_chart(
    labels: Sequence[str], series: dict[str, Sequence[float]], *, width: int = 640
) -> str:
    """Lines over days (one per series) with a legend, as an inline SVG."""
    height, left, bottom, top_pad = 220, 50, 40, 20
    n = len(labels)
    peak = max((v for vals in series.values() for v in vals), default=0) or 1
    inner_w, inner_h = width - left - 20, height - bottom - top_pad

    def x(i: int) -> float:
        return left + (inner_w * i / (n - 1) if n > 1 else inner_w / 2)

    def y(v: float) -> float:
        return top_pad + inner_h * (1 - v / peak)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" font-family="system-ui,sans-serif" font-size="11">',
        f'<line x1="{left}" y1="{top_pad + inner_h}" x2="{left + inner_w}" '
        f'y2="{top_pad + inner_h}" stroke="#999"/>',
        f'<text x="{left - 4}" y="{top_pad + 4}" text-anchor="end">{escape(_fmt(peak))}</text>',
        f'<text x="{left - 4}" y="{top_pad + inner_h}" text-anchor="end">0</text>',
    ]
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(
            f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle">'
            f"{escape(labels[i][5:])}</text>"
        )
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}"/>')
        parts.append(
            f'<rect x="{left + k * 120}" y="{height - 14}" width="10" height="10" '
            f'fill="{color}"/><text x="{left + k * 120 + 14}" y="{height - 5}">'
            f"{escape(name)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


_STYLE: Final = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;"
    "color:#1f2937}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ddd;padding:.3rem "
    ".6rem;text-align:right}th{background:#f3f4f6}td:first-child,th:first-child{text-align:left}"
    ".kpi{display:flex;flex-wrap:wrap;gap:.75rem}.kpi div{border:1px solid #ddd;border-radius:6px;"
    "padding:.5rem .8rem;min-width:8rem}.kpi b{display:block;font-size:1.2rem}"
)

_KPIS: Final = (
    "recipients",
    "sent",
    "delivered",
    "unique_clicks",
    "orders",
    "revenue_vnd",
    "cost_vnd",
    "roi",
)


def _page(title: str, body: str, lang: Lang) -> str:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>\n"
    )


Chart = tuple[str, list[str], list[float]]
_FUNNEL: Final = ("sent", "delivered", "unique_clicks", "orders")


def charts(report: dict[str, Any], lang: Lang) -> list[Chart]:
    """The report's charts as (title, labels, values): where the messages stand, from sent to
    bought, the delivery rate by carrier and delivered by segment (those with something to
    show). The HTML page and the PNG image draw the same figures."""
    states = sorted(report["by_status"].items(), key=lambda kv: (-kv[1], kv[0]))
    carriers = [c for c in report["by_carrier"] if c["sent"]]
    segments = report.get("by_segment", [])
    out: list[Chart] = [
        (_t("states", lang), [state_name(s, lang) for s, _ in states], [n for _, n in states]),
        (_t("funnel", lang), [_t(k, lang) for k in _FUNNEL], [report[k] for k in _FUNNEL]),
        (
            _t("carrier_rate", lang),
            [str(c["carrier"]) for c in carriers],
            [round(100 * c["delivered"] / c["sent"], 1) for c in carriers],
        ),
        (
            _t("segment_delivered", lang),
            [segment_name(r, lang) for r in segments],
            [r["delivered"] for r in segments],
        ),
    ]
    return [chart for chart in out if chart[1]]


def _row_name(section: str, row: dict[str, Any], lang: Lang) -> str:
    if section == "by_segment":
        return segment_name(row, lang)
    return str(row["variant" if section == "by_variant" else "carrier"])


def report_html(report: dict[str, Any], lang: Lang = "vi") -> str:
    """One campaign's report as a self-contained HTML page."""
    kpis = "".join(
        f"<div>{escape(_t(k, lang))}<b>{escape(_fmt(report[k]))}</b></div>" for k in _KPIS
    )
    sections = [f'<div class="kpi">{kpis}</div>']
    for title, labels, values in charts(report, lang)[:2]:  # states, then the funnel
        sections.append(f"<h2>{escape(title)}</h2>")
        sections.append(bar_chart(labels, values))
    daily = report["series"]["daily"]
    if daily:
        sections.append(f"<h2>{_t('daily', lang)}</h2>")
        sections.append(
            line_chart(
                [d["day"] for d in daily],
                {
                    _t("delivered", lang): [d["delivered"] for d in daily],
                    _t("unique_clicks", lang): [d["clicks"] for d in daily],
                    _t("orders", lang): [d["orders"] for d in daily],
                },
            )
        )
    cols = ("recipients", "sent", "delivered", "delivery_rate", "unique_clicks", "ctr")
    cols2 = ("orders", "revenue_vnd", "cost_vnd", "roi")
    for key, label in (
        ("by_variant", "variants"),
        ("by_segment", "segments"),
        ("by_carrier", "carriers"),
    ):
        rows = report.get(key, [])
        if not rows:
            continue
        names = [_row_name(key, r, lang) for r in rows]
        sections.append(f"<h2>{_t(label, lang)}</h2>")
        sections.append(bar_chart(names, [r["delivered"] for r in rows]))
        sections.append(
            _table(
                ["", *(_t(c, lang) for c in (*cols, *cols2))],
                [[n, *(r[c] for c in (*cols, *cols2))] for n, r in zip(names, rows, strict=True)],
            )
        )
    if report["failures"]:
        sections.append(f"<h2>{_t('failures', lang)}</h2>")
        reason = "reason_vi" if lang == "vi" else "reason_en"
        sections.append(
            bar_chart(
                [f[reason] for f in report["failures"]], [f["count"] for f in report["failures"]]
            )
        )
    lat = report["latency_s"]
    sections.append(f"<h2>{_t('latency', lang)}</h2>")
    sections.append(
        _table(
            ["p50", "p90", "p95", "p99", "max"],
            [[lat[k] for k in ("p50", "p90", "p95", "p99", "max")]],
        )
    )
    inc = report["incremental"]
    sections.append(f"<h2>{_t('incremental', lang)}</h2><p>{escape(inc['words'][lang])}</p>")
    if "conversion" in inc:
        c = inc["conversion"]
        sections.append(
            _table(
                ["", "treated", "holdout", "Δ", "95% CI"],
                [
                    [
                        "conversion",
                        c["a"],
                        c["b"],
                        c["difference"],
                        f"[{c['ci95'][0]:.4f}, {c['ci95'][1]:.4f}]",
                    ]
                ],
            )
        )
    b = report["budget"]
    sections.append(f"<h2>{_t('budget', lang)}</h2>")
    sections.append(
        _table(
            ["budget", "planned", "spent", "left", "%"],
            [[b["budget_vnd"], b["planned_vnd"], b["spent_vnd"], b["left_vnd"], b["spent_pct"]]],
        )
    )
    if report["bots"]:
        sections.append(f"<h2>{_t('bots', lang)}</h2>")
        sections.append(_table(["", _t("count", lang)], list(report["bots"].items())))
    title = f"{_t('title', lang)} #{report['campaign_id']} — {report['name']}"
    return _page(title, "".join(sections), lang)


def compare_html(rows: Sequence[dict[str, Any]], lang: Lang = "vi") -> str:
    """Several campaigns side by side, with a chart per key figure."""
    names = [f"#{r['campaign_id']} {r['name']}" for r in rows]
    sections = []
    for key in ("delivered", "ctr", "orders", "revenue_vnd", "roi"):
        sections.append(f"<h2>{_t(key, lang)}</h2>")
        sections.append(bar_chart(names, [float(r[key] or 0) for r in rows]))
    keys = [k for k in rows[0] if k != "name"] if rows else []
    sections.append(
        _table(["", *keys], [[n, *(r[k] for k in keys)] for n, r in zip(names, rows, strict=True)])
    )
    return _page(_t("compare", lang), "".join(sections), lang)


def report_csv(report: dict[str, Any], lang: Lang = "vi") -> str:
    """One campaign's figures as CSV rows: section, name, then the figures (a segment's name,
    or words in `lang` for messages outside any segment)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["section", "name", "metric", "value"])
    for key, value in report.items():
        if not isinstance(value, (dict, list)):
            w.writerow(["total", "", key, value])
    for key, value in report["budget"].items():
        w.writerow(["budget", "", key, value])
    for section, name in (
        ("by_variant", "variant"),
        ("by_segment", "segment"),
        ("by_carrier", "carrier"),
    ):
        for row in report.get(section, []):
            shown = _row_name(section, row, lang)
            for key, value in row.items():
                if key not in (name, "label_vi", "label_en") and not isinstance(
                    value, (dict, list)
                ):
                    w.writerow([section, shown, key, value])
    for f in report["failures"]:
        w.writerow(["failures", f"{f['status']}:{f['code'] or ''}", "count", f["count"]])
    for day in report["series"]["daily"]:
        for key, value in day.items():
            if key != "day":
                w.writerow(["daily", day["day"], key, value])
    return out.getvalue()


def compare_csv(rows: Sequence[dict[str, Any]]) -> str:
    """Campaigns side by side: one row each."""
    out = io.StringIO()
    if not rows:
        return ""
    w = csv.DictWriter(out, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return out.getvalue()


def report_figure(report: dict[str, Any], lang: Lang = "vi") -> Figure:
    """One campaign's charts (see `charts`) on one matplotlib figure, titled with the key
    figures, drawn without a display (Agg) and without anything fetched."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    drawn = charts(report, lang)
    rows = max(1, -(-len(drawn) // 2))
    figure = Figure(figsize=(12, 1.2 + 3.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(
        f"{_t('title', lang)} #{report['campaign_id']} — {report['name']}",
        fontsize=15,
        fontweight="bold",
    )
    axes = figure.subplots(rows, 2, squeeze=False).flat
    kpis = "   ".join(f"{_t(k, lang)}: {_fmt(report[k])}" for k in _KPIS)
    figure.supxlabel(kpis, fontsize=9, color="#374151")
    # Charts first: zip takes the next panel only for a chart to draw in it.
    for (title, labels, values), ax in zip(drawn, axes, strict=False):
        places = list(range(len(values)))
        colors = [PALETTE[i % len(PALETTE)] for i in places]
        ax.barh(places, values, color=colors)
        ax.set_yticks(places, labels)
        ax.invert_yaxis()  # the first row on top, as in the tables
        ax.set_title(title, loc="left", fontsize=11)
        ax.margins(x=0.25)
        ax.spines[["top", "right", "bottom"]].set_visible(False)
        ax.xaxis.set_visible(False)  # each bar carries its value
        for place, value in zip(places, values, strict=True):
            ax.text(value, place, f" {_fmt(value)}", va="center", fontsize=9)
    for ax in list(axes):  # the panels left empty
        ax.set_visible(False)
    return figure


def report_png(report: dict[str, Any], lang: Lang = "vi") -> bytes:
    """One campaign's charts as a PNG image a manager can open (see `report_figure`)."""
    buffer = io.BytesIO()
    report_figure(report, lang).savefig(buffer, format="png")
    return buffer.getvalue()
