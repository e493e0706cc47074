"""Article → chunks, one per H2/H3 section (long sections split), each with its heading path and anchor."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, asdict
from pathlib import Path
from typing import Any

from .articles import Article
from .plaintext import block_lines, inline_text, table_index_lines, table_lines, tidy, units

# The source of the chunker (this module, the Markdown renderer, the text extraction): a build made by another kb
# has its internal articles chunked again, so that a reply or an internal note is never one an older kb made.
# (Read from the files: a server, which holds chunks but makes none, never imports the renderer, Markdown or bs4.)
CHUNKER = hashlib.sha256(b"".join(Path(__file__).with_name(name).read_bytes()
                                  for name in (Path(__file__).name, "render.py", "plaintext.py"))).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Chunk:
    """One searchable piece of an article: a section, or part of a long one."""

    id: str
    article_id: str
    ordinal: int
    title: str
    heading_path: tuple[str, ...]
    anchor: str
    text: str
    locale: str
    category: str
    audience: str
    tags: tuple[str, ...]
    # What an agent's Insert puts into a reply (kb.reply): a template's blockquotes, else the text without
    # internal notes; and the internal notes of this piece, shown to the agent, never inserted.
    reply: str = ""
    internal: str = ""
    # What BM25 and the model read when it is not `text`: a table's header once and its rows' cells, where `text`
    # shows each row as "header: value" phrases (a header repeated per row would count once per row).
    index_text: str = ""

    @property
    def heading(self) -> str:
        return self.heading_path[-1] if self.heading_path else ""

    @property
    def search_text(self) -> str:
        """The section text BM25 and the dense model read."""
        return self.index_text or self.text

    @property
    def embed_text(self) -> str:
        """What the dense model sees: the title and headings give a section its context."""
        head = " > ".join((self.title, *self.heading_path))
        return f"{head}\n{self.search_text}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Chunk":
        return cls(**{**d, "heading_path": tuple(d["heading_path"]), "tags": tuple(d["tags"])})


def _split_long(block: str, max_chars: int) -> list[str]:
    """Split one over-long block into pieces of the block's own text, at sentence ends (clauses, then words,
    as a last resort): nothing is added to the text or taken from it but the spaces at a cut."""
    if len(block) <= max_chars:
        return [block]
    parts, start, end = [], None, None
    for s, e in units(block, max_chars):
        if start is not None and e - start > max_chars:
            parts.append(block[start:end])
            start = None
        if start is None:
            start = s
        end = e
    if start is not None:
        parts.append(block[start:end])
    return parts


TEXT, QUOTE, INTERNAL = "text", "quote", "internal"  # what a block of a section is
Block = tuple[str, str, str]  # (text, what it is indexed as, kind)


def _pack(blocks: list[Block], max_chars: int) -> list[list[Block]]:
    """Group a section's (text, index text, kind) blocks into pieces of at most max_chars, keeping blocks whole
    where possible (a long block is split at sentence ends, each part keeping its kind; a table's block is one
    row, never split)."""
    pieces: list[list[Block]] = []
    cur: list[Block] = []
    size = 0
    for block, index, kind in blocks:
        for part in (_split_long(block, max_chars) if index == block else [block]):
            if cur and size + 1 + len(part) > max_chars:
                pieces.append(cur)
                cur, size = [], 0
            cur.append((part, index if index != block else part, kind))
            size += len(part) + (1 if size else 0)
    if cur:
        pieces.append(cur)
    return pieces


def _reply(piece: list[Block], template: bool) -> str:
    """The text an agent inserts: in an internal article, its blockquotes (the template's reply) when it has
    any; else every block but the internal notes."""
    quotes = [t for t, _, kind in piece if kind == QUOTE]
    if template and quotes:
        return "\n\n".join(quotes)
    return "\n".join(t for t, _, kind in piece if kind != INTERNAL)


def chunk_article(article: Article, max_chars: int = 700) -> list[Chunk]:
    """Chunks in reading order; the text before the first H2 is the intro (empty anchor)."""
    from bs4 import BeautifulSoup, Tag

    from .render import render_markdown

    soup = BeautifulSoup(render_markdown(article.body), "html.parser")
    sections: list[tuple[tuple[str, ...], str, list[Block]]] = [((), "", [])]
    h2 = ""
    for node in soup.children:
        if not isinstance(node, Tag):
            text = tidy(str(node))
            if text:
                sections[-1][2].append((text, text, TEXT))
            continue
        if node.name in ("h2", "h3"):
            heading = inline_text(node)
            if node.name == "h2":
                h2 = heading
                path = (heading,)
            else:
                path = (h2, heading) if h2 else (heading,)
            sections.append((path, node.get("id", ""), []))
            continue
        kind = QUOTE if node.name == "blockquote" else TEXT
        if node.name == "div" and "internal-note" in (node.get("class") or []):
            kind = INTERNAL
        if node.name == "blockquote":  # a reply to send: its paragraphs stay paragraphs, their lines lines
            paragraphs = [child for child in node.children if isinstance(child, Tag)] or [node]
            text = "\n\n".join(filter(None, ("\n".join(block_lines(p, article.locale, keep_breaks=True))
                                               for p in paragraphs)))
        elif node.name == "table":  # one block a row: shown as a phrase, indexed as its cells (the header once)
            index = table_index_lines(node)
            shown = table_lines(node, article.locale)
            if len(index) == len(shown) + 1:
                index = [f"{index[0]}\n{index[1]}", *index[2:]]
            for row, cells in zip(shown, index if len(index) == len(shown) else shown):
                sections[-1][2].append((row, cells, kind))
            continue
        else:
            text = "\n".join(block_lines(node, article.locale))
        if text:
            sections[-1][2].append((text, text, kind))

    chunks: list[Chunk] = []
    template = article.audience == "internal"
    for path, anchor, blocks in sections:
        if not blocks:
            continue
        for piece in _pack(blocks, max_chars):
            text, index = "\n".join(t for t, _, _ in piece), "\n".join(i for _, i, _ in piece)
            chunks.append(Chunk(
                id=f"{article.id}#{len(chunks)}", article_id=article.id, ordinal=len(chunks), title=article.title,
                heading_path=path, anchor=anchor, text=text, locale=article.locale,
                category=article.category, audience=article.audience, tags=article.tags,
                reply=_reply(piece, template), internal="\n".join(t for t, _, kind in piece if kind == INTERNAL),
                index_text="" if index == text else index,
            ))
    return chunks


def title_to_embed(article: Article) -> str | None:
    """The title to embed on its own (the article-level vector), or None when it says nothing the body
    does not open with: a corpus whose "title" is the first sentence of the text, the whole text, or its
    opening cut short with an ellipsis."""
    title = " ".join(article.title.split())
    opening = title.removesuffix("…").removesuffix("...").rstrip()
    if not opening or " ".join(article.body.split()).startswith(opening):
        return None
    return title
