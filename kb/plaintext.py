"""Rendered article HTML → text that reads like text (kb.chunking), and the sentence, clause and word units a
long text is cut at (chunking and snippets).

Inline markup is joined without a separator (`**确认中**，如` → `确认中，如`, never `确认中 ，如`); a table row is
a phrase of "header: value" pairs; a list item is a sentence; a line break between two Han or kana characters is
no space (a soft-wrapped Chinese or Japanese paragraph), elsewhere one; no space is left before closing
punctuation in any script."""
from __future__ import annotations

import re

from typing import TYPE_CHECKING

from .charsets import HAN, KANA

if TYPE_CHECKING:  # bs4 is imported by what walks a parsed page (a build): a server's snippets need none of it
    from bs4 import Tag

# CJK symbols and punctuation, full-width and half-width forms: they carry their own spacing.
CJK_PUNCT = "\u3000-\u303f\uff00-\uffef"
_WIDE = f"[{HAN}{KANA}{CJK_PUNCT}]"  # a line break between two of these is no space (Hangul has spaces)
_CLOSE_WIDE = "，。、；：！？）」』〕】》〉］｝｡｣､"  # full-width closing punctuation
_CLOSE = ")]}" + _CLOSE_WIDE  # closing punctuation: never after a space
_OPEN_WIDE = "（「『〔【《〈［｛"

_NEWLINE_GAP = re.compile(rf"(?<={_WIDE})[ \t]*\n\s*(?={_WIDE})")
_SPACE_BEFORE = re.compile(rf"[ \t]+(?=[{re.escape(_CLOSE)}]|[,.;:!?](?:\s|$|[{re.escape(_CLOSE)}\"'”’]))")
_SPACE_AFTER_WIDE = re.compile(rf"(?<=[{_CLOSE_WIDE}{_OPEN_WIDE}])[ \t]+")  # after full-width punctuation
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_LINE_GAP = re.compile(r" *\n[ \n]*")

_BLOCK_TAGS = {"p", "div", "ul", "ol", "li", "table", "thead", "tbody", "tr", "blockquote", "pre", "hr",
               "h1", "h2", "h3", "h4", "h5", "h6"}
_SENTENCE_MARKS = ".!?;。！？；"
_END_MARKS = _SENTENCE_MARKS + ":：…"  # a list item ending in one of these needs no full stop


def is_wide(ch: str) -> bool:
    """A Han, kana or full-width character: no space beside it where the source had none."""
    return bool(re.match(_WIDE, ch))


def tidy(text: str) -> str:
    """One run of text cleaned: spaces collapsed (none kept at a line break between Han or kana characters),
    none before closing punctuation or after full-width punctuation; line breaks kept."""
    text = _NEWLINE_GAP.sub("", text)
    text = _SPACES.sub(" ", text)
    text = _LINE_GAP.sub("\n", text)
    text = _SPACE_BEFORE.sub("", text)
    text = _SPACE_AFTER_WIDE.sub("", text)
    return text.strip()


def flatten(text: str) -> str:
    """A chunk's lines as one line (what a snippet shows): a break beside a Han or kana character or full-width
    punctuation is no space, others one."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    out = ""
    for line in lines:
        if out and not (is_wide(out[-1]) or is_wide(line[0])):
            out += " "
        out += line
    return out


def _marks(locale: str) -> tuple[str, str, str]:
    """(colon, separator, full stop) of a "header: value" phrase in the locale's script."""
    if locale.startswith("zh"):
        return "：", "；", "。"
    if locale.startswith("ja"):
        return "：", "／", "。"
    return ": ", "; ", "."


def sentence(text: str, locale: str) -> str:
    """The text as a sentence: a full stop in the locale's script unless it already ends in punctuation."""
    text = text.rstrip()
    bare = text.rstrip("\"'”’」』)）]")
    if not text or (bare and bare[-1] in _END_MARKS):
        return text
    return text + _marks(locale)[2]


def inline_text(nodes: Tag | list, keep_breaks: bool = False) -> str:
    """The text of inline content (a tag, or a list of sibling nodes), joined without separators (markup never adds a space); `<br>` and nested
    blocks are line breaks, kept only if `keep_breaks` (else spaces, or nothing between Han or kana)."""
    from bs4 import NavigableString

    parts: list[str] = []

    def walk(n) -> None:
        if isinstance(n, NavigableString):
            parts.append(str(n))
        elif n.name == "br":
            parts.append("\n")
        else:
            block = n.name in _BLOCK_TAGS
            if block:
                parts.append("\n")
            for child in n.children:
                walk(child)
            if block:
                parts.append("\n")

    for n in (nodes if isinstance(nodes, list) else [nodes]):
        walk(n)
    text = tidy("".join(parts))
    return text if keep_breaks else flatten(text)


def table_lines(table: Tag, locale: str) -> list[str]:
    """One phrase per body row: "header: value" pairs in the locale's punctuation (`确认数：20；网络：TRC20。`)."""
    colon, sep, stop = _marks(locale)
    rows = [[inline_text(c) for c in tr.find_all(["th", "td"], recursive=False)] for tr in table.find_all("tr")]
    rows = [r for r in rows if any(r)]
    if not rows:
        return []
    first = table.find("tr")
    has_header = first is not None and first.find("td", recursive=False) is None
    header, body = (rows[0], rows[1:]) if has_header else ([], rows)
    lines = []
    for row in body:
        pairs = []
        for i, value in enumerate(row):
            if not value:
                continue
            head = header[i] if i < len(header) else ""
            pairs.append(f"{head}{colon}{value}" if head else value)
        if pairs:
            lines.append(sentence(sep.join(pairs), locale))
    if not body and header:  # a header without rows: its cells as one phrase
        lines.append(sentence(sep.join(h for h in header if h), locale))
    return lines


def table_index_lines(table: Tag) -> list[str]:
    """What a table is indexed as (kb.chunking: BM25 and the vector, never shown): its header once, then each row's
    cells, so that a header repeated in every displayed phrase does not count once per row."""
    rows = [[inline_text(c) for c in tr.find_all(["th", "td"], recursive=False)] for tr in table.find_all("tr")]
    return [" | ".join(r) for r in rows if any(r)]


def block_lines(node: Tag, locale: str, keep_breaks: bool = False) -> list[str]:
    """The lines of a block element: paragraphs and headings one line each, list items one sentence each,
    table rows one phrase each (nested blocks in reading order). `keep_breaks`: a paragraph's line breaks are
    kept and an ordered list's items numbered (a reply to send)."""
    from bs4 import Tag

    if node.name in ("ul", "ol"):
        # In a reply (`keep_breaks`: a message to send as plain text) an ordered list keeps its numbers.
        numbered = keep_breaks and node.name == "ol"
        return [f"{n}. {line}" if numbered and k == 0 else line
                for n, li in enumerate(node.find_all("li", recursive=False), 1)
                for k, line in enumerate(sentence(line, locale) for line in block_lines(li, locale, keep_breaks))]
    if node.name == "table":
        return table_lines(node, locale)
    if node.name == "pre":
        return [line.rstrip() for line in node.get_text().strip("\n").splitlines() if line.strip()]
    lines: list[str] = []
    inline: list = []

    def flush() -> None:
        if inline:
            text = inline_text(inline, keep_breaks)
            inline.clear()
            if text:
                lines.extend(text.split("\n") if keep_breaks else [text])

    for child in node.children:
        if isinstance(child, Tag) and child.name in _BLOCK_TAGS:
            flush()
            lines.extend(block_lines(child, locale, keep_breaks))
        else:
            inline.append(child)
    flush()
    return lines


# Where a sentence ends: after 。！？； (any context), or after . ! ? ; followed by a space, unless the word before
# is a number ("1. Open") or an abbreviation ("e.g.").
_SENTENCE_END = re.compile(r"[。！？；][」』”’）)]*|[.!?;][\"'”’)]*(?=\s)")
_CLAUSE_END = re.compile(r"[，、：,:](?=\s)|[，、：]")
_ABBREVIATION = re.compile(r"(?:^|\s)(?:\d+|[A-Za-z]|(?:[A-Za-z]\.)+[A-Za-z]|etc|vs|approx|e\.g|i\.e)$", re.IGNORECASE)


def _ends(text: str, pattern: re.Pattern, start: int, end: int) -> list[int]:
    """Positions in text[start:end] right after a match of `pattern` (a boundary), the end included."""
    cuts = []
    for m in pattern.finditer(text, start, end):
        if pattern is _SENTENCE_END and m.group()[0] == "." and _ABBREVIATION.search(text, start, m.start()):
            continue
        cuts.append(m.end())
    if not cuts or cuts[-1] != end:
        cuts.append(end)
    return cuts


def _words(text: str, start: int, end: int, width: int) -> list[int]:
    """Cuts of text[start:end] into pieces of at most `width` at spaces (a run of Han or kana without spaces is
    cut where it must be)."""
    cuts, pos = [], start
    while end - pos > width:
        space = text.rfind(" ", pos + 1, pos + width + 1)
        cut = space if space > pos else pos + width
        cuts.append(cut)
        pos = cut
    cuts.append(end)
    return cuts


def units(text: str, width: int) -> list[tuple[int, int]]:
    """Text cut into (start, end) units that a piece or a snippet is made of: sentences; a sentence longer than
    `width` in clauses; a clause longer than that in words. Spaces between units belong to neither."""
    out: list[tuple[int, int]] = []

    def add(start: int, cuts: list[int], level: int) -> None:
        for cut in cuts:
            s, e = start, cut
            while s < e and text[s].isspace():
                s += 1
            while e > s and text[e - 1].isspace():
                e -= 1
            if s < e:
                if e - s <= width or level == 2:
                    out.append((s, e))
                elif level == 0:
                    add(s, _ends(text, _CLAUSE_END, s, e), 1)
                else:
                    add(s, _words(text, s, e, width), 2)
            start = cut

    add(0, _ends(text, _SENTENCE_END, 0, len(text)), 0)
    return out
