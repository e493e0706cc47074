"""The writers' glossary: validated by the build (file, line, field), used to expand queries across languages."""
import pytest

from kb.build import build_index
from kb.errors import BuildError
from kb.glossary import load_glossary
from kb.query import analyse
from kb.store import load_current

GLOSSARY = """\
withdrawal:
  en: [withdrawal, withdraw]
  zh-CN: [提币, 提现]
  ko: [출금]
  ja: [出金]
deposit:
  en: [deposit]
  zh-CN: [充值, 充币]
"""


def test_a_valid_glossary_expands_a_query_into_the_other_languages(tmp_path):
    (tmp_path / "glossary.yml").write_text(GLOSSARY, encoding="utf-8")
    glossary, errors = load_glossary(tmp_path)
    assert errors == [] and glossary.concepts_in("출금이 안 돼요") == ["withdrawal"]
    q = analyse("출금이 안 돼요", glossary=glossary)
    assert {"withdraw", "提币", "提现", "出金"} <= set(q.expanded) and "withdraw" not in q.tokens
    assert q.tokens_for("en") == ("withdraw",) and q.tokens_for("ko") == q.tokens
    assert "充值" in analyse("充币没到账", glossary=glossary).expanded  # a synonym within one language
    assert analyse("a withdrawal fee", glossary=glossary).concepts == ("withdrawal",)
    assert analyse("withdrawals", glossary=glossary).concepts == ()  # Latin terms match whole words


@pytest.mark.parametrize("text, line, field", [
    ("withdrawal:\n  en: [withdrawal]\n  klingon: [x]\n", 3, "withdrawal.klingon"),
    ("withdrawal:\n  en: []\n  ko: [출금]\n", 2, "withdrawal.en"),
    ("ok:\n  en: [a]\n  ko: [b]\nBad Name:\n  en: [a]\n  ko: [b]\n", 4, "Bad Name"),
    ("lonely:\n  en: [alone]\n", 2, "lonely"),
])
def test_glossary_errors_name_the_file_line_and_field(tmp_path, text, line, field):
    (tmp_path / "glossary.yml").write_text(text, encoding="utf-8")
    _, errors = load_glossary(tmp_path)
    assert len(errors) == 1 and errors[0].path == f"{tmp_path / 'glossary.yml'}:{line}" and errors[0].field == field


def test_a_broken_glossary_refuses_the_build_and_an_edit_rebuilds(built, kb_dir, embedder):
    (kb_dir / "glossary.yml").write_text("withdrawal:\n  en: [withdrawal]\n  xx: [y]\n", encoding="utf-8")
    with pytest.raises(BuildError) as info:
        build_index(built, embedder=embedder)
    assert [e.field for e in info.value.errors] == ["withdrawal.xx"]
    (kb_dir / "glossary.yml").write_text(GLOSSARY, encoding="utf-8")
    report = build_index(built, embedder=embedder)
    assert report.published and report.chunks_embedded == 0  # only the glossary changed: nothing re-embedded
    assert load_current(built.index_dir).glossary.concepts_in("提币") == ["withdrawal"]


def test_concepts_are_found_longest_term_first_latin_as_whole_words_cjk_anywhere():
    from kb.glossary import Glossary

    glossary = Glossary({
        "deposit": {"en": ("deposit",)}, "deposit-address": {"en": ("deposit address",)},
        "api-error": {"en": ("-1021",)}, "withdrawal": {"zh-CN": ("提币",), "en": ("withdraw",)},
    })
    assert glossary.concepts_in("My DEPOSIT ADDRESS changed") == ["deposit-address"]  # not also "deposit"
    assert glossary.concepts_in("deposit, then deposit address") == ["deposit", "deposit-address"]
    assert glossary.concepts_in("redeposit withdrawals") == []  # inside a Latin word: no whole-word term
    assert glossary.concepts_in("error -1021 now") == ["api-error"] and glossary.concepts_in("x-1021") == []
    assert glossary.concepts_in("usdt提币失败") == ["withdrawal"] and glossary.concepts_in("提币withdraw") == ["withdrawal"]
    assert glossary.concepts_in("") == [] and Glossary({}).concepts_in("deposit") == []
