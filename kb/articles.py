"""Article files: front matter + Markdown → validated `Article`; a folder → articles and errors."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .config import LOCALES
from .errors import ArticleError
from . import reply
from .reply import block_errors

AUDIENCES = ("public", "internal")
STATUSES = ("published", "draft")
_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,119}$")
_KNOWN_FIELDS = {"id", "title", "locale", "category", "tags", "audience", "status", "translation_group", "updated"}
CATEGORIES_FILE = "categories.yml"
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when built in: far faster


@dataclass(frozen=True, slots=True)
class Article:
    """One help-center article as written, validated."""

    id: str
    title: str
    locale: str
    category: str
    tags: tuple[str, ...]
    audience: str
    status: str
    translation_group: str
    updated: str | None
    body: str
    path: str
    fingerprint: str

    @property
    def is_public(self) -> bool:
        return self.audience == "public" and self.status == "published"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "locale": self.locale, "category": self.category,
            "tags": list(self.tags), "audience": self.audience, "status": self.status,
            "translation_group": self.translation_group, "updated": self.updated, "body": self.body,
            "path": self.path, "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Article":
        return cls(**{**d, "tags": tuple(d["tags"])})


@dataclass(frozen=True)
class Category:
    slug: str
    names: dict[str, str]
    order: int

    def name(self, locale: str) -> str:
        return self.names.get(locale) or self.names.get("en") or self.slug


def split_front_matter(text: str, path: str) -> tuple[str, str]:
    """Return (front matter YAML, body) or raise naming the file."""
    if text.startswith("\ufeff"):
        text = text[1:]
    m = re.match(r"^---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", text, flags=re.S)
    if not m:
        raise ArticleError(path, "front matter", "missing: the file must start with '---', the YAML fields, and '---'")
    return m.group(1), text[m.end():]


def parse_article(raw: bytes, path: str, categories: dict[str, Category] | None = None,
                  warnings: list[ArticleError] | None = None) -> Article:
    """Validate one article file's bytes; raise ArticleError naming the file and field.

    Front-matter fields kb does not know (typos such as `tittle`) are not errors: they are appended to
    `warnings` when a list is given."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ArticleError(path, None, f"not UTF-8 (invalid byte at offset {exc.start}); save the file as UTF-8") from None
    fm_text, body = split_front_matter(text, path)
    try:
        meta = yaml.load(fm_text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ArticleError(path, "front matter", f"invalid YAML{where}: {problem}") from None
    if not isinstance(meta, dict):
        raise ArticleError(path, "front matter", "must be a YAML mapping of fields (id, title, locale, ...)")
    if warnings is not None:
        warnings += [ArticleError(path, str(name), "unknown front-matter field (ignored)")
                     for name in sorted(set(map(str, meta)) - _KNOWN_FIELDS)]

    def text_field(name: str, required: bool = True) -> str | None:
        value = meta.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise ArticleError(path, name, "missing or empty")
            return None
        if not isinstance(value, (str, int, float)):
            raise ArticleError(path, name, f"must be text, got {type(value).__name__}")
        return str(value).strip()

    article_id = text_field("id")
    if not _ID_RE.match(article_id):
        raise ArticleError(path, "id", f"{article_id!r} is not a slug (lowercase letters, digits, '-', '_', '.')")
    title = text_field("title")
    locale = text_field("locale")
    if locale not in LOCALES:
        raise ArticleError(path, "locale", f"unknown locale {locale!r}; use one of {', '.join(LOCALES)}")
    category = text_field("category")
    if categories is not None and category not in categories:
        raise ArticleError(path, "category", f"unknown category {category!r}; add it to {CATEGORIES_FILE} or use one of {', '.join(categories)}")
    audience = text_field("audience", required=False) or "public"
    if audience not in AUDIENCES:
        raise ArticleError(path, "audience", f"unknown audience {audience!r}; use public or internal")
    status = text_field("status", required=False) or "published"
    if status not in STATUSES:
        raise ArticleError(path, "status", f"unknown status {status!r}; use published or draft")
    tags = meta.get("tags") or []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    if not isinstance(tags, list) or not all(isinstance(t, (str, int)) for t in tags):
        raise ArticleError(path, "tags", "must be a list of words, e.g. [deposit, txid]")
    updated = meta.get("updated")
    if isinstance(updated, (dt.date, dt.datetime)):
        updated = updated.isoformat()[:10]
    elif updated is not None:
        updated = str(updated)
        try:
            dt.date.fromisoformat(updated[:10])
        except ValueError:
            raise ArticleError(path, "updated", f"{updated!r} is not a date (YYYY-MM-DD)") from None
    if not body.strip():
        raise ArticleError(path, "body", "empty: the article has no text after the front matter")
    block_problems = block_errors(body, public=audience == "public")
    if block_problems:
        first_line = text[: len(text) - len(body)].count("\n") if text.endswith(body) else 0
        n, message = block_problems[0]
        raise ArticleError(path, "body", f"line {first_line + n}: {message}")
    return Article(
        id=article_id, title=title, locale=locale, category=category,
        tags=tuple(str(t).strip() for t in tags if str(t).strip()), audience=audience, status=status,
        translation_group=text_field("translation_group", required=False) or article_id,
        updated=updated, body=body.strip() + "\n", path=path,
        fingerprint=hashlib.sha256(raw).hexdigest(),
    )


def load_categories(articles_dir: str | Path) -> dict[str, Category] | None:
    """categories.yml (slug → names per locale, in browse order), or None when the folder has none."""
    path = Path(articles_dir) / CATEGORIES_FILE
    if not path.exists():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ArticleError(str(path), None, f"invalid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ArticleError(str(path), None, "must map each category slug to its names per locale, e.g. deposits: {en: Deposits}")
    return {str(slug): Category(str(slug), {str(k): str(v) for k, v in names.items()}, i) for i, (slug, names) in enumerate(data.items())}


@dataclass
class LoadResult:
    articles: list[Article]
    errors: list[ArticleError]
    warnings: list[ArticleError]
    categories: dict[str, Category]
    # What the next build may take without reading a file again: {"categories": sha256 of categories.yml,
    # "files": {path: {"stat": [...], "id": article id, "warnings": [[field, reason], ...]}}}
    sources: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class KnownFiles:
    """What an earlier build read: its `LoadResult.sources` and the articles it made (by id)."""

    sources: dict[str, Any]
    articles: dict[str, Article]


# The source of the validation (this module and kb.reply's): another kb reads every file again.
PARSER = hashlib.sha256(b"".join(Path(m.__file__).read_bytes() for m in (sys.modules[__name__], reply))).hexdigest()[:16]
RACY_NS = 2_000_000_000  # a file changed this close to the scan may change again with the same stat: not recorded


def _stat_key(st: os.stat_result) -> list[int]:
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino]


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return ""


def _markdown_files(root: Path) -> list[tuple[str, ...]]:
    """The `*.md` files below `root` as path parts, in the order of sorted(root.rglob("*.md")), without README.md
    and anything in a hidden folder (symlinked folders are not entered, as rglob does not)."""
    found = []
    for folder, dirs, files in os.walk(root):
        where = Path(folder).relative_to(root).parts
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [(*where, f) for f in files if f.endswith(".md") and f.lower() != "readme.md" and not f.startswith(".")]
    return sorted(found)


def load_articles(articles_dir: str | Path, known: KnownFiles | None = None) -> LoadResult:
    """Every `*.md` below the folder, validated; errors are collected, never swallowed. With `known`, a file whose
    stat (mtime, ctime, size, inode) is the one recorded, with the same categories.yml, is not read again: its
    article and warnings are the earlier build's (only valid files are recorded, so errors are always found anew)."""
    root = Path(articles_dir)
    if not root.is_dir():
        raise ArticleError(str(root), None, "articles folder not found")
    started = time.time_ns()
    errors: list[ArticleError] = []
    warnings: list[ArticleError] = []
    try:
        categories = load_categories(root)
    except ArticleError as exc:
        errors.append(exc)
        categories = None
    digest = _digest(root / CATEGORIES_FILE)
    recorded = known.sources.get("files", {}) if known is not None and known.sources.get("categories") == digest \
        and known.sources.get("parser") == PARSER else {}
    sources: dict[str, Any] = {}
    articles: list[Article] = []
    seen: dict[str, str] = {}
    prefix = str(root.relative_to(root.parent))  # paths are named from the folder's parent: articles/en/x.md
    for parts in _markdown_files(root):
        file = os.path.join(root, *parts)  # (not Path: 10,000 of them, most only stat'ed)
        rel = "/".join((prefix, *parts)) if prefix != "." else "/".join(parts)
        stat = _stat_key(os.stat(file))
        entry = recorded.get(rel)
        article = known.articles.get(entry["id"]) if entry is not None and entry.get("stat") == stat else None
        if article is not None and article.path == rel:
            file_warnings = [ArticleError(rel, f, reason) for f, reason in entry.get("warnings", [])]
        else:
            with open(file, "rb") as f:
                raw = f.read()
            file_warnings = []
            try:
                article = parse_article(raw, rel, categories, file_warnings)
            except ArticleError as exc:
                errors.append(exc)
                continue
        if article.id in seen:
            errors.append(ArticleError(rel, "id", f"duplicate id {article.id!r}, also used by {seen[article.id]}"))
            continue
        seen[article.id] = rel
        warnings += file_warnings
        articles.append(article)
        if started - stat[0] > RACY_NS and started - stat[1] > RACY_NS:
            sources[rel] = {"stat": stat, "id": article.id, "warnings": [[w.field, w.reason] for w in file_warnings]}
    if categories is None:
        categories = {slug: Category(slug, {}, i) for i, slug in enumerate(sorted({a.category for a in articles}))}
    return LoadResult(articles, errors, warnings, categories, {"parser": PARSER, "categories": digest, "files": sources})
