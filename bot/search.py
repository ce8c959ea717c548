"""Find guides from a person's own words: jieba segments Chinese, bm25s ranks the trees.

Platform-neutral: `find_guides` returns plain results (best guides, the triage guide, a
status); adapters render them. The index is built once per content snapshot (at load and on
every reload, see bot.content), so jieba's dictionary load (~0.6 s) never lands on a request.
What a person typed is processed in memory only: never stored, never logged.
"""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import bm25s
import jieba
import Stemmer
from bm25s.stopwords import STOPWORDS_CHINESE, STOPWORDS_EN_PLUS

from bot.core.model import Dilemma

jieba.setLogLevel(logging.WARNING)  # it prints "Building prefix dict…" to stderr otherwise
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs each index build at DEBUG

MAX_CHARS: Final = 2000  # only this much of what was typed is read (a 100 KB paste is cut)
TOP: Final = 3
TRIAGE: Final = "triage"
# repetition is how BM25 weighs a field: title and keywords count three times, summary twice
WEIGHTS: Final = {"title": 3, "keywords": 3, "summary": 2, "nodes": 1}

_MARKUP = re.compile(r"<[!@#][^>]*>|<(?:https?|mailto):[^>]*>|:[a-z0-9_+-]+:")
_CJK = re.compile(r"[\u3400-\u9fff]")
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]*|[\u3400-\u9fff]+")
_STOP: Final = frozenset(STOPWORDS_EN_PLUS) | frozenset(STOPWORDS_CHINESE) | {"我", "他", "她"}
_stemmer = Stemmer.Stemmer("english")
_jieba_lock = threading.Lock()

Status = Literal["ok", "empty", "no_match"]


def clean(text: str) -> tuple[str, bool]:
    """Normalised text with Slack markup and emoji codes removed; True if it was cut."""
    cut = len(text) > MAX_CHARS
    text = unicodedata.normalize("NFKC", text[:MAX_CHARS]).lower()
    return _MARKUP.sub(" ", text), cut


def language_of(text: str) -> str:
    return "zh" if _CJK.search(text) else "en"


def tokens(text: str) -> list[tuple[str, str]]:
    """(index term, surface form) pairs: jieba words for Chinese, stemmed English words."""
    out: list[tuple[str, str]] = []
    for run in _WORD.findall(text):
        if _CJK.match(run):
            with _jieba_lock:
                words = jieba.lcut_for_search(run)
            out += [(w, w) for w in words if w not in _STOP]
        elif run not in _STOP and len(run) > 1:
            out.append((_stemmer.stemWord(run), run))
    return out


def terms(text: str) -> list[str]:
    return [t for t, _ in tokens(clean(text)[0])]


def _tree_text(tree: Dilemma) -> dict[str, list[str]]:
    nodes: list[str] = []
    for n in tree.nodes.values():
        nodes += [n.text.en, n.text.zh]
        for o in n.options or []:
            nodes += [o.label.en, o.label.zh]
        if n.outcome is not None:
            nodes += [n.outcome.headline.en, n.outcome.headline.zh]
    return {
        "title": [tree.title.en, tree.title.zh],
        "keywords": list(tree.keywords),
        "summary": [tree.summary.en, tree.summary.zh],
        "nodes": nodes,
    }


@dataclass(frozen=True)
class Guide:
    id: str
    title: str
    score: float
    why: list[str]  # words of the query that matched, as the person typed them

    def as_json(self, lang: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "score": self.score,
            "why": why_line(self, lang),
        }


@dataclass(frozen=True)
class Findings:
    """What adapters render: the best guides, and always the triage guide as a way out."""

    status: Status
    lang: str
    guides: list[Guide]
    triage: Guide | None
    truncated: bool = False


@dataclass
class SearchIndex:
    """One BM25 index over every tree except triage (which is always offered anyway)."""

    ids: list[str]
    trees: Mapping[str, Dilemma]
    retriever: Any = field(repr=False)

    @classmethod
    def build(cls, trees: Mapping[str, Dilemma]) -> SearchIndex:
        ids = sorted(t for t in trees if t != TRIAGE)
        corpus = []
        for tid in ids:
            doc: list[str] = []
            for name, texts in _tree_text(trees[tid]).items():
                words = [t for text in texts for t, _ in tokens(clean(text)[0])]
                doc += words * WEIGHTS[name]
            corpus.append(doc or ["-"])
        retriever = bm25s.BM25()
        if corpus:
            retriever.index(corpus, show_progress=False)
        return cls(ids=ids, trees=trees, retriever=retriever)

    def rank(self, query: Iterable[tuple[str, str]], lang: str, top: int = TOP) -> list[Guide]:
        pairs = list(dict.fromkeys(query))
        if not self.ids or not pairs:
            return []
        qterms = list(dict.fromkeys(t for t, _ in pairs))
        total = self.retriever.get_scores(qterms)
        order = sorted(range(len(self.ids)), key=lambda i: (-float(total[i]), self.ids[i]))
        out: list[Guide] = []
        for i in order[:top]:
            if total[i] <= 0:
                break
            per = {t: float(self.retriever.get_scores([t])[i]) for t in qterms}
            surface: dict[str, str] = {}
            for t, s in pairs:
                surface.setdefault(t, s)
            why = [surface[t] for t in sorted(per, key=lambda t: -per[t]) if per[t] > 0][:4]
            tree = self.trees[self.ids[i]]
            out.append(Guide(tree.id, tree.title.get(lang), round(float(total[i]), 3), why))
        return out


def why_line(g: Guide, lang: str) -> str:
    if lang == "zh":
        return "匹配词：" + "、".join(g.why)
    return "Matched: " + ", ".join(g.why)


def find_guides(index: SearchIndex, text: str, lang: str | None = None, top: int = TOP) -> Findings:
    """The best guides for a description; never raises on any input, never logs it."""
    cleaned, cut = clean(text)
    lang = lang if lang in ("en", "zh") else language_of(cleaned)
    triage_tree = index.trees.get(TRIAGE)
    triage = Guide(triage_tree.id, triage_tree.title.get(lang), 0.0, []) if triage_tree else None
    query = tokens(cleaned)
    if not query:
        return Findings("empty", lang, [], triage, cut)
    guides = index.rank(query, lang, top)
    return Findings("ok" if guides else "no_match", lang, guides, triage, cut)
