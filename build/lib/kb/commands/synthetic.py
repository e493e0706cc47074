"""Write a synthetic knowledge base of N articles, made from the shipped articles' vocabulary, for benchmarks.

Each synthetic article takes a shipped article's locale, category and tags, and a title and one or two
sections whose sentences are drawn from shipped articles of the same locale and category, so that its
words, scripts and lengths are those of the real help center while its text is new (no two articles share
a vector). A fixed --seed gives the same knowledge base every time. Public and internal in the shipped mix."""
from __future__ import annotations

import argparse
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

from kb.config import PROJECT_ROOT as ROOT  # dev data lives in the checkout

import yaml
from tqdm import tqdm

from kb.articles import CATEGORIES_FILE, load_articles

_SENTENCE = re.compile(r"[^.!?。！？\n]+[.!?。！？]?")
_MARKUP = re.compile(r"[*_`#>|\[\]]|\(/[^)]*\)")


def sentences(body: str) -> list[str]:
    text = _MARKUP.sub("", body)
    return [s.strip() for s in _SENTENCE.findall(text) if len(s.strip()) > 12]


def headings(body: str) -> list[str]:
    return [m.group(1).strip() for m in re.finditer(r"^#{2,3}\s+(.+)$", body, flags=re.M)]


def generate(source: Path, out: Path, count: int, seed: int = 7, sections: int = 2, per_section: int = 4) -> int:
    loaded = load_articles(source)
    if not loaded.articles:
        raise SystemExit(f"no articles in {source}")
    rnd = random.Random(seed)
    pool: dict[tuple[str, str], list[str]] = defaultdict(list)
    heads: dict[str, list[str]] = defaultdict(list)
    for a in loaded.articles:
        pool[(a.locale, a.category)].extend(sentences(a.body))
        heads[a.locale].extend(headings(a.body))
    templates = [a for a in loaded.articles if pool[(a.locale, a.category)] and heads[a.locale]]
    out.mkdir(parents=True, exist_ok=True)
    if (source / CATEGORIES_FILE).exists():
        (out / CATEGORIES_FILE).write_text((source / CATEGORIES_FILE).read_text(encoding="utf-8"), encoding="utf-8")
    for n in tqdm(range(count), unit="article", desc="writing", file=sys.stderr):
        t = rnd.choice(templates)
        words = pool[(t.locale, t.category)]
        sep = "" if t.locale in ("zh-CN", "ja") else " "
        title = f"{t.title} ({n})" if rnd.random() < 0.5 else f"{rnd.choice(heads[t.locale])} — {t.title[:40]} #{n}"
        body = [sep.join(rnd.sample(words, min(2, len(words)))), ""]
        for _ in range(sections):
            body += [f"## {rnd.choice(heads[t.locale])}", "", sep.join(rnd.choices(words, k=per_section)), ""]
        article_id = f"syn-{n:06d}-{t.locale.lower()}"
        folder = out / t.locale / t.category
        folder.mkdir(parents=True, exist_ok=True)
        front = yaml.safe_dump({
            "id": article_id, "title": title, "locale": t.locale, "category": t.category, "tags": list(t.tags),
            "audience": t.audience, "status": "published", "translation_group": f"syn-{n:06d}", "updated": "2026-11-01",
        }, allow_unicode=True, sort_keys=False)
        front = f"---\n{front}---\n\n"
        (folder / f"{article_id}.md").write_text(front + "\n".join(body), encoding="utf-8")
    return count


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--articles", type=int, required=True, help="how many articles to write")
    p.add_argument("--out", required=True, help="folder to write them into (created)")
    p.add_argument("--source", default=str(ROOT / "articles"), help="articles whose vocabulary is used (default: the shipped ones)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--sections", type=int, default=2, help="sections per article (default 2)")
    args = p.parse_args(argv)
    out = Path(args.out)
    if out.exists() and any(out.rglob("*.md")):
        p.error(f"--out: {out} already holds articles; give an empty or new folder")
    generate(Path(args.source), out, args.articles, args.seed, args.sections)
    print(f"wrote {args.articles} articles to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
