"""The one table of Unicode script ranges kb uses: language detection, the BM25 tokenizer and snippets."""
from __future__ import annotations

# Character-class bodies (for use inside [...] in a regular expression).
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"      # Han characters (Chinese, kanji)
KANA = "\u3040-\u30ff\u31f0-\u31ff"                  # hiragana, katakana, katakana extensions
HANGUL = "\uac00-\ud7af\u1100-\u11ff\u3130-\u318f"   # syllables, jamo, compatibility jamo
CJK = HAN + KANA + HANGUL
