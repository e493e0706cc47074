"""The manifest saved next to every build, and the one check of what a build is good for.

`compatibility` is the only place that decides whether a build can be served with a model, reused by an
incremental build, or is current for the settings: build, load and /healthz all ask it."""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .errors import IndexCorrupt, IndexMismatch

FORMAT_VERSION = 5  # 2: pages, listings, BM25 doc terms; 3: identifier postings, columnar chunks; 4: glossary; 5: words
MANIFEST = "manifest.json"
REBUILD_HINT = "run: kb build --full (or python scripts/build_index.py --full)"
# Anything that changes what a chunk or its vector is; a change forces a full re-embed.
CHUNKING_VERSION = 1


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
        (Path(build_dir) / MANIFEST).write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def read(cls, build_dir: str | Path) -> "Manifest":
        path = Path(build_dir) / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise IndexCorrupt(f"{path}: missing; {REBUILD_HINT}") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"{path}: unreadable ({exc}); {REBUILD_HINT}") from None
        if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
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
    whether the build folder has its title vectors."""
    if model_name is not None and manifest.model != model_name:
        why = f"index built with model {manifest.model!r}, but the configured model is {model_name!r}"
        return Compatibility(False, False, False, why)
    if dim is not None and manifest.dim != dim:
        return Compatibility(False, False, False, f"index dimension {manifest.dim} != model dimension {dim}")
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


def require_servable(manifest: Manifest, build_dir: Path, model_name: str | None, dim: int | None) -> None:
    """Raise IndexMismatch, with the command that fixes it, if the loaded model cannot search this build."""
    check = compatibility(manifest, None, model_name, dim)
    if not check.servable:
        raise IndexMismatch(f"{build_dir}: {check.reason}; {REBUILD_HINT}")
