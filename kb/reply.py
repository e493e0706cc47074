"""Replies that are safe to send: internal notes marked in the article's Markdown, and placeholders filled from
the request.

The convention (README, "Writing articles"): in an internal article (a reply template, an SOP), a note for agents
only is a fenced block

    ::: internal
    Escalate to WALLET-OPS as P3. Don't promise a date.
    :::

It is rendered marked, searched by agents, and never inserted into a reply. In a template, the text to send is the
blockquote (`> Hi, …`); a section without one inserts its text without the internal notes. Placeholders are
`{TXID}`, `{amount}`, `{coin}`, `{network}`, `{address}`, `{request}`, `{name}` (and any other `{word}`, left for
the agent): those a request's text gives are filled, the rest are shown and must be edited before sending."""
from __future__ import annotations

import re
from typing import Any

from .identifiers import NETWORKS, TICKERS

_OPEN = re.compile(r"^:::\s*(\S+)\s*$")
_CLOSE = re.compile(r"^:::\s*$")
_FENCE = re.compile(r"^(```|~~~)")
KINDS = ("internal",)
PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")

_TX_HASH = re.compile(r"(?<![0-9A-Za-z])(?:0x)?[0-9a-fA-F]{64}(?![0-9A-Za-z])")
_ADDRESS = re.compile(r"(?<![0-9A-Za-z])(?:0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33}|bc1[0-9a-z]{25,60}|"
                      r"[13][1-9A-HJ-NP-Za-km-z]{25,34})(?![0-9A-Za-z])")
_TICKER_RE = "|".join(sorted(TICKERS, key=len, reverse=True))
_AMOUNT = re.compile(rf"(?<![\w.])(\d+(?:[.,]\d+)?)\s*({_TICKER_RE})\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z0-9]+")
_UID = re.compile(r"\bUID[:\s#]*(\d{5,12})\b", re.IGNORECASE)


def block_errors(body: str, public: bool) -> list[tuple[int, str]]:
    """(line, message) for every misuse of the `:::` blocks in an article body (lines counted in the body)."""
    errors: list[tuple[int, str]] = []
    open_at, in_code = None, False
    for n, line in enumerate(body.splitlines(), 1):
        stripped = line.strip()
        if _FENCE.match(stripped):
            in_code = not in_code
        if in_code:
            continue
        if _CLOSE.match(stripped):
            if open_at is None:
                errors.append((n, "':::' closes no block"))
            open_at = None
        elif (m := _OPEN.match(stripped)) is not None:
            if m.group(1) not in KINDS:
                errors.append((n, f"unknown block '::: {m.group(1)}' (use '::: internal')"))
            elif open_at is not None:
                errors.append((n, f"'::: internal' inside the block opened on line {open_at}"))
            elif public:
                errors.append((n, "an internal note in a public article: move it to an internal article (audience: "
                                  "internal) or remove it"))
            open_at = n
    if open_at is not None:
        errors.append((open_at, "'::: internal' is never closed (end it with a line ':::')"))
    return errors


def to_html_blocks(body: str) -> str:
    """The Markdown with each internal block as a `<div class="internal-note">` whose content is Markdown
    (md_in_html); a body without blocks is returned as it is."""
    if ":::" not in body:
        return body
    out, in_code = [], False
    for line in body.splitlines():
        stripped = line.strip()
        if _FENCE.match(stripped):
            in_code = not in_code
        if not in_code and _CLOSE.match(stripped):
            out += ["", "</div>", ""]
        elif not in_code and (m := _OPEN.match(stripped)) and m.group(1) in KINDS:
            out += ["", '<div class="internal-note" markdown="1">', ""]
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def request_values(req: dict[str, Any], agent: str | None = None) -> dict[str, str]:
    """What a request's text gives for the placeholders (only those found; never a guess)."""
    text = f"{req.get('subject', '')}\n{req.get('description', '')}"
    values: dict[str, str] = {}
    if req.get("id") is not None:
        values["request"] = f"#{req['id']}"
    if (m := _TX_HASH.search(text)) is not None:
        values["TXID"] = m.group()
        text = text.replace(m.group(), " ")
    if (m := _ADDRESS.search(text)) is not None:
        values["address"] = m.group()
    words = [w.lower() for w in _WORD.findall(text)]
    network = next((w for w in words if w in NETWORKS), None)
    if network:
        values["network"] = network.upper() if network[-2:].isdigit() or len(network) <= 4 else network.capitalize()
    if (m := _AMOUNT.search(text)) is not None:
        values["amount"], values["coin"] = m.group(1), m.group(2).upper()
    elif (coin := next((w for w in words if w in TICKERS), None)) is not None:
        values["coin"] = coin.upper()
    if (m := _UID.search(text)) is not None:
        values["UID"] = m.group(1)
    if agent:
        values["name"] = values["agent_name"] = agent
    return values


def fill(text: str, values: dict[str, str]) -> tuple[str, list[str]]:
    """The text with the placeholders `values` has filled in, and the names of those left (in order, once)."""
    left: list[str] = []

    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        if name not in left:
            left.append(name)
        return m.group()

    return PLACEHOLDER.sub(sub, text), left
