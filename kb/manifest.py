"""The manifest saved next to every build, and the one check of what a build is good for.

`compatibility` is the only place that decides whether a build can be served with a model, reused by an
incremental build, or is current for the settings: build, load and /healthz all ask it."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import orjson

from .errors import IndexCorrupt, IndexMismatch

FORMAT_VERSION = 7  # 2: pages, listings, BM25 doc terms; 3: identifier postings, columnar chunks; 4: glossary; 5: words;
# 6: public statistics (public/: BM25, identifiers and words of the public chunks alone); 7: each chunk's BM25 word
# counts in lexical/doc_terms.npz (tokens.jsonl gone)
# Formats whose manifest is read: the older ones are not served, but a build reuses their vectors, words and pages.
READABLE_FORMATS = (5, 6, FORMAT_VERSION)
MANIFEST = "manifest.json"
REBUILD_HINT = "run: kb build --full (or python scripts/build_index.py --full)"
UPGRADE_HINT = "run: kb build (it reuses the vectors; or python scripts/build_index.py)"
# Anything that changes what a chunk or its vector is; a change forces a full re-embed.
# 2: chunk text reads like text (kb.plaintext: tables as "header: value", no list markers, no space before punctuation).
# 3: a table is indexed as its header once and its rows' cells (Chunk.index_text), shown as phrases.
CHUNKING_VERSION = 3


@dataclass(frozen=True)
class Manifest:
    """What a build was made with and of; read-only. Subscripting (`m["counts"]`) reads a field."""

    model: str
    model_spec: str
    dim: int
    chunk_max_chars: int
    index_type: str
    tokenizer_version: int
    built_at: str
    counts: dict[str, Any]
    articles: dict[str, str]  # article id → fingerprint
    categories: dict[str, Any]
    build_seconds: float = 0.0
    chunking_version: int = CHUNKING_VERSION
    kb_version: str = ""
    format_version: int = FORMAT_VERSION
    # path in the build folder → {"size": bytes, "sha256": hex}, of every file but the manifest (kb.store checks
    # them at load); empty in a build made before they were recorded, which loads unchecked and is reported stale
    files: dict[str, Any] = dataclasses.field(default_factory=dict)
    # A lexical snapshot: the words, pages and listings of a first build, published before its vectors exist so
    # that a new server answers (by BM25 alone) while they are computed; the full build replaces it.
    partial: bool = False
    # kb.chunking.CHUNKER of the kb that made it ("": an older kb): the same, its chunks are what this kb makes of
    # the same articles (an internal article's reply and notes included)
    chunker: str = ""
    # kb.reuse.STATISTICS of the kb that made it: the same, its identifier postings and spelling words are reused
    statistics: str = ""

    def __getitem__(self, name: str) -> Any:
        if name not in _FIELDS:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        return getattr(self, name, default) if name in _FIELDS else default

    def __iter__(self) -> Iterator[str]:
        return iter(_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> "Manifest":
        return dataclasses.replace(self, **changes)

    def write(self, build_dir: Path) -> None:
        (Path(build_dir) / MANIFEST).write_bytes(orjson.dumps(self, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))

    @classmethod
    def read(cls, build_dir: str | Path) -> "Manifest":
        path = Path(build_dir) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexCorrupt(f"{path}: missing; {REBUILD_HINT}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"{path}: unreadable ({exc}); {REBUILD_HINT}") from None
        if not isinstance(data, dict) or data.get("format_version") not in READABLE_FORMATS:
            found = data.get("format_version") if isinstance(data, dict) else None
            raise IndexMismatch(f"{path}: index format {found} but this kb reads {FORMAT_VERSION}; {REBUILD_HINT}")
        try:
            return cls(**{k: v for k, v in data.items() if k in _FIELDS})
        except TypeError as exc:
            raise IndexCorrupt(f"{path}: {exc}; {REBUILD_HINT}") from None


_FIELDS = tuple(f.name for f in dataclasses.fields(Manifest))


@dataclass(frozen=True)
class Compatibility:
    """What a build is good for under given settings and model. `reason` says why not, in the words the
    build report and `index_is_stale` print."""

    servable: bool  # the configured model can search it
    reusable: bool  # an incremental build may keep its vectors
    current: bool  # nothing but the articles could make a rebuild differ from it
    reason: str = ""


def compatibility(manifest: Manifest, settings=None, model_name: str | None = None, dim: int | None = None,
                  tokenizer_version: int | None = None, index_type: str | None = None,
                  has_titles: bool = True) -> Compatibility:
    """Check a build's manifest against the loaded model's name and dimension (when known), the settings
    (when given: model, chunking), the tokenizer version, the index type a build would choose now, and
    whether the build folder has its title vectors. A build of an older readable format is not servable
    (it lacks files serving reads) but reusable, unless something else says otherwise."""
    check = _compatibility(manifest, settings, model_name, dim, tokenizer_version, index_type, has_titles)
    if manifest.format_version == FORMAT_VERSION:
        return check
    reason = check.reason if not check.reusable else \
        f"index format {manifest.format_version}, but this kb reads {FORMAT_VERSION}"
    return Compatibility(False, check.reusable, False, reason)


def _compatibility(manifest: Manifest, settings, model_name: str | None, dim: int | None,
                   tokenizer_version: int | None, index_type: str | None, has_titles: bool) -> Compatibility:
    if model_name is not None and manifest.model != model_name:
        why = f"index built with model {manifest.model!r}, but the configured model is {model_name!r}"
        return Compatibility(False, False, False, why)
    if dim is not None and manifest.dim != dim:
        return Compatibility(False, False, False, f"index dimension {manifest.dim} != model dimension {dim}")
    if manifest.partial:  # servable by BM25, but it has no vectors to keep: the next build makes them (the cache has
        # those a killed build computed)
        return Compatibility(True, False, False, "the index is a lexical snapshot, its vectors not computed yet")
    if settings is not None:
        if manifest.model_spec != settings.model:
            # Without the model loaded, another spec may be another model: its vectors are not reused.
            return Compatibility(model_name is not None, model_name is not None, False,
                                 f"model changed ({manifest.model_spec} → {settings.model})")
        if manifest.chunk_max_chars != settings.chunk_max_chars or manifest.chunking_version != CHUNKING_VERSION:
            return Compatibility(True, False, False, "chunking settings changed")
    if tokenizer_version is not None and manifest.tokenizer_version != tokenizer_version:
        return Compatibility(True, True, False, "the BM25 tokenizer changed")
    if not has_titles:
        return Compatibility(True, True, False, "the index has no title vectors (built by an older kb)")
    if not manifest.files:
        return Compatibility(True, True, False, "the index has no file sizes and checksums (built by an older kb)")
    if index_type is not None and manifest.index_type != index_type:
        return Compatibility(True, True, False, f"the vector index type changes to {index_type}")
    return Compatibility(True, True, True, "up to date")


def require_servable(manifest: Manifest, build_dir: Path, model_name: str | None, dim: int | None,
                     for_reuse: bool = False) -> None:
    """Raise IndexMismatch, with the command that fixes it, if the loaded model cannot search this build (or,
    `for_reuse`, if a build cannot reuse it either)."""
    check = compatibility(manifest, None, model_name, dim)
    if not check.servable and not (for_reuse and check.reusable):
        hint = UPGRADE_HINT if check.reusable else REBUILD_HINT
        raise IndexMismatch(f"{build_dir}: {check.reason}; {hint}")
