"""PNG charts drawn on the server with matplotlib (Agg, no display), in English or Chinese.

Every chart comes back with alt text, since screen readers and chat previews cannot read a
picture. All text is drawn in Noto Sans CJK (OFL-1.1, shipped by the
`noto-cjk-sans-jp-regular` package, so `pip install .` alone makes CJK render — no system
fonts needed; the JP cut covers simplified Chinese). `TEXTS` holds every fixed string, so a
test can check each glyph against the font's cmap.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import cache
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib import font_manager
from matplotlib.axes import Axes

from bot.core.model import Exercise
from bot.exercises.service import MIN_GROUP

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "monthly_title": "Compliance report {month}",
        "by_topic": "Cases by topic",
        "by_severity": "Cases by severity",
        "ack": "Days to acknowledge (legal limit 7 days)",
        "close": "Days to close (legal limit 3 months)",
        "rates": "Share of consultations and cases",
        "median": "median",
        "p90": "90th percentile",
        "limit": "legal limit",
        "missed": "missed the clock: {n}",
        "measured": "cases measured: {n}",
        "few": "fewer than 5",
        "none": "no data",
        "cases_n": "cases received: {n}",
        "resolved": "resolved without\nescalation",
        "follow_up": "anonymous reporter\nanswered",
        "days": "days",
        "exercises_title": "Exercise results, last 12 weeks",
        "participation": "answers",
        "recommended_share": "chose the recommended answer",
        "reveal_title": "How colleagues answered: {title}",
        "recommended": "recommended",
        "answers_n": "{n} answers",
        "topic.confidentiality": "confidentiality",
        "topic.fair_treatment": "fair treatment",
        "topic.honesty": "honesty",
        "topic.conflict_of_interest": "conflict of interest",
        "topic.speaking_up": "speaking up",
        "topic.triage": "triage",
        "sev.none": "none",
        "sev.low": "low",
        "sev.medium": "medium",
        "sev.high": "high",
        "sev.critical": "critical",
    },
    "zh": {
        "monthly_title": "合规月报 {month}",
        "by_topic": "按主题统计的案件",
        "by_severity": "按严重程度统计的案件",
        "ack": "确认收到所需天数（法定时限 7 天）",
        "close": "结案所需天数（法定时限 3 个月）",
        "rates": "咨询与案件比例",
        "median": "中位数",
        "p90": "第 90 百分位",
        "limit": "法定时限",
        "missed": "超出时限：{n}",
        "measured": "已计量案件：{n}",
        "few": "少于 5",
        "none": "无数据",
        "cases_n": "收到案件：{n}",
        "resolved": "未升级即解决",
        "follow_up": "匿名举报人有回复",
        "days": "天",
        "exercises_title": "练习结果（最近 12 周）",
        "participation": "作答人数",
        "recommended_share": "选择推荐答案的比例",
        "reveal_title": "同事们的选择：{title}",
        "recommended": "推荐答案",
        "answers_n": "{n} 人作答",
        "topic.confidentiality": "保密",
        "topic.fair_treatment": "公平对待",
        "topic.honesty": "诚信",
        "topic.conflict_of_interest": "利益冲突",
        "topic.speaking_up": "举报与直言",
        "topic.triage": "分流",
        "sev.none": "无",
        "sev.low": "低",
        "sev.medium": "中",
        "sev.high": "高",
        "sev.critical": "严重",
    },
}

BAR = "#3b6ea5"
MARK = "#d9822b"
GREY = "#888888"


@dataclass(frozen=True)
class Size:
    """How finely a chart is drawn: the same layout, fewer pixels and colours.

    Slack gets the picture as an uploaded file, so it is drawn in full. A Teams card must
    carry it inline (a `data:` URI, base64: a third larger) and stay under 28 KB in all, so
    Teams draws it at a lower resolution with a small palette (PNG-8): text stays legible
    (checked by eye, en and zh) at well under half the bytes."""

    dpi: int = 110
    colors: int | None = None  # quantise to this many colours (PNG-8); None keeps RGBA


FULL = Size()
COMPACT = Size(dpi=72, colors=16)
TINY = Size(dpi=56, colors=8)


@dataclass(frozen=True)
class Chart:
    """A rendered chart: PNG bytes and the alt text that must travel with it."""

    png: bytes
    alt: str


def font_path() -> str:
    """The bundled CJK font file (a dependency, not a system font)."""
    import noto_cjk_sans_jp_regular

    return str(noto_cjk_sans_jp_regular.FONT_PATH)


@cache
def _family() -> str:
    path = font_path()
    font_manager.fontManager.addfont(path)
    return str(font_manager.FontProperties(fname=path).get_name())


def _t(lang: str, key: str, **kw: Any) -> str:
    return TEXTS["zh" if lang == "zh" else "en"][key].format(**kw)


def _label(lang: str, prefix: str, key: str) -> str:
    """Topic / severity names translated; an unknown one is shown as stored."""
    table = TEXTS["zh" if lang == "zh" else "en"]
    return table.get(f"{prefix}.{key}", key)


def _shown(v: Any, lang: str) -> str:
    return _t(lang, "few") if v is None else str(v)


def _pct(v: float | None, lang: str) -> str:
    return _t(lang, "few") if v is None else f"{v * 100:.0f}%"


def _png(fig: Any, size: Size = FULL) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=size.dpi)
    plt.close(fig)
    if size.colors is None:
        return buf.getvalue()
    from PIL import Image

    image = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    small = image.quantize(colors=size.colors, method=Image.Quantize.MEDIANCUT)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _figure(rows: int, cols: int, size: tuple[float, float]) -> tuple[Any, Any]:
    with plt.rc_context({"font.family": [_family()], "axes.unicode_minus": False}):
        fig, axes = plt.subplots(rows, cols, figsize=size, squeeze=False)
    return fig, axes


def _counts_panel(
    ax: Axes, title: str, cells: dict[str, int | None], names: list[str], lang: str
) -> None:
    ax.set_title(title, fontfamily=_family())
    if not cells:
        ax.text(0.5, 0.5, _t(lang, "none"), ha="center", va="center", fontfamily=_family())
        ax.set_axis_off()
        return
    ys = list(range(len(cells)))
    values = [v or 0 for v in cells.values()]
    ax.barh(ys, values, color=BAR)
    ax.set_yticks(ys, names, fontfamily=_family())
    ax.invert_yaxis()
    for y, v in zip(ys, cells.values(), strict=True):
        ax.text(
            (v or 0) + 0.1,
            y,
            _shown(v, lang),
            va="center",
            color=GREY if v is None else "black",
            fontfamily=_family(),
        )
    ax.set_xlim(0, max([*values, 1]) * 1.3 + 1)


def _clock_panel(ax: Axes, title: str, kpi: dict[str, Any], limit_days: float, lang: str) -> None:
    ax.set_title(title, fontfamily=_family())
    names = [_t(lang, "median"), _t(lang, "p90")]
    vals = [kpi["median_days"], kpi["p90_days"]]
    ax.bar([0, 1], [v or 0 for v in vals], color=BAR, width=0.5)
    ax.axhline(limit_days, color=MARK, linestyle="--", label=_t(lang, "limit"))
    for x, v in enumerate(vals):
        ax.text(x, (v or 0) + limit_days * 0.02, _shown(v, lang), ha="center", fontfamily=_family())
    ax.set_xticks([0, 1], names, fontfamily=_family())
    ax.set_ylabel(_t(lang, "days"), fontfamily=_family())
    ax.set_ylim(0, max([limit_days, *(v or 0 for v in vals)]) * 1.25)
    ax.legend(loc="upper left", prop={"family": _family()})
    ax.text(
        0.98,
        0.95,
        _t(lang, "measured", n=_shown(kpi["measured"], lang))
        + "\n"
        + _t(lang, "missed", n=_shown(kpi["missed"], lang)),
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontfamily=_family(),
    )


def monthly_chart(report: dict[str, Any], lang: str = "en", size: Size = FULL) -> Chart:
    """The monthly compliance KPIs as one image (the same dict the CSV is written from)."""
    fig, axes = _figure(2, 3, (15, 8.5))
    fam = _family()
    fig.suptitle(
        _t(lang, "monthly_title", month=report["month"])
        + "  ·  "
        + _t(lang, "cases_n", n=_shown(report["cases"], lang)),
        fontfamily=fam,
        fontsize=15,
    )
    topics = report["by_topic"]
    _counts_panel(
        axes[0][0], _t(lang, "by_topic"), topics, [_label(lang, "topic", t) for t in topics], lang
    )
    sev = report["by_severity"]
    _counts_panel(
        axes[0][1], _t(lang, "by_severity"), sev, [_label(lang, "sev", v) for v in sev], lang
    )
    _clock_panel(axes[1][0], _t(lang, "ack"), report["acknowledge"], 7, lang)
    _clock_panel(axes[1][1], _t(lang, "close"), report["close"], 91, lang)

    ax = axes[0][2]
    ax.set_title(_t(lang, "rates"), fontfamily=fam)
    rates = [report["resolved_without_escalation"], report["anonymous_follow_up_rate"]]
    ax.bar([0, 1], [(r or 0) * 100 for r in rates], color=BAR, width=0.5)
    for x, r in enumerate(rates):
        ax.text(x, (r or 0) * 100 + 2, _pct(r, lang), ha="center", fontfamily=fam)
    ax.set_xticks([0, 1], [_t(lang, "resolved"), _t(lang, "follow_up")], fontfamily=fam)
    ax.set_ylim(0, 115)
    ax.set_ylabel("%")
    axes[1][2].set_axis_off()
    fig.tight_layout()
    return Chart(_png(fig, size), monthly_alt(report, lang))


def monthly_alt(report: dict[str, Any], lang: str = "en") -> str:
    """The whole chart in words, for screen readers."""
    sep = "；" if lang == "zh" else "; "
    parts = [
        _t(lang, "monthly_title", month=report["month"]),
        _t(lang, "cases_n", n=_shown(report["cases"], lang)),
    ]
    if report["by_topic"]:
        parts.append(
            _t(lang, "by_topic")
            + ": "
            + ", ".join(
                f"{_label(lang, 'topic', t)} {_shown(n, lang)}"
                for t, n in report["by_topic"].items()
            )
        )
    if report["by_severity"]:
        parts.append(
            _t(lang, "by_severity")
            + ": "
            + ", ".join(
                f"{_label(lang, 'sev', v)} {_shown(n, lang)}"
                for v, n in report["by_severity"].items()
            )
        )
    for key in ("ack", "close"):
        k = report["acknowledge" if key == "ack" else "close"]
        parts.append(
            f"{_t(lang, key)}: {_t(lang, 'median')} {_shown(k['median_days'], lang)}, "
            f"{_t(lang, 'p90')} {_shown(k['p90_days'], lang)}, "
            f"{_t(lang, 'missed', n=_shown(k['missed'], lang))}"
        )
    parts.append(f"{_t(lang, 'resolved')}: {_pct(report['resolved_without_escalation'], lang)}")
    parts.append(f"{_t(lang, 'follow_up')}: {_pct(report['anonymous_follow_up_rate'], lang)}")
    return sep.join(parts).replace("\n", " ")


def exercises_chart(rows: list[dict[str, Any]], lang: str = "en", size: Size = FULL) -> Chart:
    """Participation (bars) and share choosing the recommended answer (line) per exercise."""
    fig, axes = _figure(1, 1, (max(7.0, 1.1 * len(rows) + 3), 5))
    ax = axes[0][0]
    fam = _family()
    ax.set_title(_t(lang, "exercises_title"), fontfamily=fam)
    xs = list(range(len(rows)))
    names = [f"{r['exercise']}\n{r['posted_for'][:10]}" for r in rows]
    answers = [r["answers"] for r in rows]
    ax.bar(xs, [a or 0 for a in answers], color=BAR, label=_t(lang, "participation"))
    for x, a in zip(xs, answers, strict=True):
        ax.text(x, (a or 0) + 0.2, _shown(a, lang), ha="center", fontfamily=fam, fontsize=8)
    ax.set_xticks(xs, names, fontsize=8)
    ax.set_ylabel(_t(lang, "participation"), fontfamily=fam)
    ax.set_ylim(0, max([a or 0 for a in answers] + [5]) * 1.25)
    ax2 = ax.twinx()
    shares = [r["recommended_share"] for r in rows]
    # a suppressed share is a gap (NaN), not a line drawn through it
    ys = [float("nan") if s is None else s * 100 for s in shares]
    if any(s is not None for s in shares):
        ax2.plot(xs, ys, color=MARK, marker="o", label=_t(lang, "recommended_share"))
    for x, s in zip(xs, shares, strict=True):
        if s is not None:
            ax2.annotate(
                _pct(s, lang),
                (x, s * 100),
                textcoords="offset points",
                xytext=(0, 8),
                ha="center",
                color=MARK,
                fontfamily=fam,
            )
    ax2.set_ylim(0, 105)
    ax2.set_ylabel(_t(lang, "recommended_share") + " (%)", fontfamily=fam)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", prop={"family": fam})
    fig.tight_layout()
    sep = "；" if lang == "zh" else "; "
    alt = sep.join(
        [_t(lang, "exercises_title")]
        + [
            f"{r['exercise']} ({r['posted_for'][:10]}): {_t(lang, 'participation')} "
            f"{_shown(r['answers'], lang)}, {_t(lang, 'recommended_share')} "
            f"{_pct(r['recommended_share'], lang)}"
            for r in rows
        ]
    )
    return Chart(_png(fig, size), alt)


def reveal_chart(
    exercise: Exercise, counts: dict[str, int], lang: str = "en", size: Size = FULL
) -> Chart | None:
    """The answer distribution at the reveal, recommended answer(s) marked; `None` under
    MIN_GROUP answers (no chart and no breakdown, as the text reveal does)."""
    total = sum(counts.values())
    if total < MIN_GROUP:
        return None
    fam = _family()
    fig, axes = _figure(1, 1, (8, 0.7 * len(exercise.options) + 2))
    ax = axes[0][0]
    title = exercise.title.get(lang)
    ax.set_title(_t(lang, "reveal_title", title=title), fontfamily=fam)
    opts = exercise.options
    ys = list(range(len(opts)))
    vals = [counts.get(o.id, 0) for o in opts]
    colors = [MARK if o.id in exercise.recommended else BAR for o in opts]
    ax.barh(ys, vals, color=colors)
    labels = []
    for o in opts:
        mark = f" ✓ {_t(lang, 'recommended')}" if o.id in exercise.recommended else ""
        labels.append(f"{o.id.upper()}. {o.label.get(lang)}{mark}")
    ax.set_yticks(ys, labels, fontfamily=fam)
    ax.invert_yaxis()
    for y, v in zip(ys, vals, strict=True):
        ax.text(v + 0.1, y, f"{v} ({v / total * 100:.0f}%)", va="center", fontfamily=fam)
    ax.set_xlim(0, max(vals) * 1.35 + 1)
    ax.set_xlabel(_t(lang, "answers_n", n=total), fontfamily=fam)
    fig.tight_layout()
    sep = "；" if lang == "zh" else "; "
    alt = sep.join(
        [_t(lang, "reveal_title", title=title), _t(lang, "answers_n", n=total)]
        + [
            f"{o.id.upper()}. {o.label.get(lang)}: {v} ({v / total * 100:.0f}%)"
            + (f" — {_t(lang, 'recommended')}" if o.id in exercise.recommended else "")
            for o, v in zip(opts, vals, strict=True)
        ]
    )
    return Chart(_png(fig, size), alt)
