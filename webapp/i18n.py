"""Interface strings per locale and the UI locale of a request (?lang=, cookie, Accept-Language)."""
from __future__ import annotations

from flask import Flask, g, request

from kb.config import LOCALES

LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文", "ko": "한국어", "ja": "日本語"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "site": "Coinharbor Help Center", "search_placeholder": "Search for answers, e.g. deposit not arrived",
        "search": "Search", "browse": "Browse by topic", "results_for": "Results for", "no_results": "No article answers this yet.",
        "no_answer_hint": "Try other words, or submit a request and our team will help you.",
        "fallback": "No good answer in your language; showing articles in other languages.", "articles": "articles",
        "updated": "Updated", "other_languages": "Also in", "home": "Help Center", "submit_request": "Submit a request",
        "on_this_page": "On this page", "all_categories": "All topics", "low_confidence": "These may not answer your question exactly.",
        "not_found": "Page not found", "back_home": "Back to the Help Center", "language": "Language",
    },
    "zh-CN": {
        "site": "Coinharbor 帮助中心", "search_placeholder": "搜索问题，例如：充值未到账", "search": "搜索",
        "browse": "按主题浏览", "results_for": "搜索结果：", "no_results": "暂时没有文章能回答这个问题。",
        "no_answer_hint": "换个说法试试，或提交工单，我们的客服会帮助你。", "fallback": "没有找到中文的合适答案，以下是其他语言的文章。",
        "articles": "篇文章", "updated": "更新于", "other_languages": "其他语言", "home": "帮助中心",
        "submit_request": "提交工单", "on_this_page": "本页内容", "all_categories": "全部主题",
        "low_confidence": "以下结果可能不能完全回答你的问题。", "not_found": "页面不存在", "back_home": "返回帮助中心", "language": "语言",
    },
    "ko": {
        "site": "Coinharbor 고객센터", "search_placeholder": "질문을 검색하세요. 예: 입금 미반영", "search": "검색",
        "browse": "주제별 보기", "results_for": "검색 결과:", "no_results": "이 질문에 답하는 문서가 아직 없습니다.",
        "no_answer_hint": "다른 단어로 검색하거나 문의를 남겨 주세요.", "fallback": "한국어 문서가 없어 다른 언어의 문서를 보여 드립니다.",
        "articles": "개 문서", "updated": "업데이트", "other_languages": "다른 언어", "home": "고객센터",
        "submit_request": "문의하기", "on_this_page": "목차", "all_categories": "모든 주제",
        "low_confidence": "질문과 정확히 맞지 않을 수 있습니다.", "not_found": "페이지를 찾을 수 없습니다", "back_home": "고객센터로 돌아가기", "language": "언어",
    },
    "ja": {
        "site": "Coinharbor ヘルプセンター", "search_placeholder": "質問を検索（例：入金が反映されない）", "search": "検索",
        "browse": "トピックから探す", "results_for": "検索結果：", "no_results": "この質問に答える記事はまだありません。",
        "no_answer_hint": "別の言葉で検索するか、お問い合わせください。", "fallback": "日本語の記事がないため、他の言語の記事を表示しています。",
        "articles": "件の記事", "updated": "更新日", "other_languages": "他の言語", "home": "ヘルプセンター",
        "submit_request": "お問い合わせ", "on_this_page": "目次", "all_categories": "すべてのトピック",
        "low_confidence": "質問に正確に答えていない可能性があります。", "not_found": "ページが見つかりません", "back_home": "ヘルプセンターに戻る", "language": "言語",
    },
}


def ui_locale() -> str:
    """The interface language: ?lang=, then the cookie, then the browser's Accept-Language."""
    if "ui_locale" in g:
        return g.ui_locale
    chosen = request.args.get("lang")
    if chosen not in LOCALES:
        chosen = request.cookies.get("lang")
    if chosen not in LOCALES:
        chosen = request.accept_languages.best_match(["en", "zh-CN", "zh", "ko", "ja"], default="en")
        chosen = "zh-CN" if chosen == "zh" else chosen
    g.ui_locale = chosen
    return chosen


def init_app(app: Flask) -> None:
    @app.context_processor
    def strings():
        locale = ui_locale()
        return {"t": STRINGS.get(locale, STRINGS["en"]), "ui_locale": locale, "language_names": LANGUAGE_NAMES}

    @app.after_request
    def remember_language(response):
        if request.args.get("lang") in LOCALES:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
        return response
