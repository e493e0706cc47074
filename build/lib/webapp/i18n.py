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
        "form_title": "Submit a request", "subject": "Subject", "description": "Description",
        "description_hint": "Tell us what happened: coin, network, amount, TXID, time. Never include your password or 2FA codes.",
        "category": "Topic", "choose": "Choose a topic (optional)", "email": "Your e-mail", "submit": "Submit request",
        "suggested": "These articles may answer your question", "solved": "This solved my problem",
        "no_match": "No article matches yet. Go on and submit your request; our team will answer.",
        "deflected": "Glad it helped! No request was filed.", "request_received": "Request received",
        "request_number": "Your request number is", "next_steps": "We answer by e-mail, usually within 4 hours and always within 24 hours. Account-security cases are answered first.",
        "emergency_contact": "Contact a human now", "read_section": "Read this section", "searching": "Looking for answers…",
        "was_helpful": "Was this article helpful?", "yes": "Yes", "no": "No", "comment": "Tell us more (optional)",
        "thanks_feedback": "Thank you for your feedback.",
        "showing_results_for": "Showing results for",
    },
    "zh-CN": {
        "site": "Coinharbor 帮助中心", "search_placeholder": "搜索问题，例如：充值未到账", "search": "搜索",
        "browse": "按主题浏览", "results_for": "搜索结果：", "no_results": "暂时没有文章能回答这个问题。",
        "no_answer_hint": "换个说法试试，或提交工单，我们的客服会帮助你。", "fallback": "没有找到中文的合适答案，以下是其他语言的文章。",
        "articles": "篇文章", "updated": "更新于", "other_languages": "其他语言", "home": "帮助中心",
        "submit_request": "提交工单", "on_this_page": "本页内容", "all_categories": "全部主题",
        "low_confidence": "以下结果可能不能完全回答你的问题。", "not_found": "页面不存在", "back_home": "返回帮助中心", "language": "语言",
        "form_title": "提交工单", "subject": "主题", "description": "问题描述",
        "description_hint": "请说明发生了什么：币种、网络、数量、TXID、时间。切勿填写密码或谷歌验证码。",
        "category": "问题类型", "choose": "选择问题类型（可选）", "email": "你的邮箱", "submit": "提交工单",
        "suggested": "以下文章可能解决你的问题", "solved": "问题已解决", "no_match": "暂时没有匹配的文章，请继续提交工单，客服会尽快回复。",
        "deflected": "很高兴帮到你！工单未提交。", "request_received": "工单已提交", "request_number": "你的工单编号是",
        "next_steps": "我们会通过邮件回复，通常 4 小时内，最晚 24 小时内。账户安全问题优先处理。",
        "emergency_contact": "立即联系人工客服", "read_section": "查看此部分", "searching": "正在查找答案…",
        "was_helpful": "这篇文章有帮助吗？", "yes": "有", "no": "没有", "comment": "补充说明（可选）", "thanks_feedback": "感谢你的反馈。",
        "showing_results_for": "以下是这些词的结果：",
    },
    "ko": {
        "site": "Coinharbor 고객센터", "search_placeholder": "질문을 검색하세요. 예: 입금 미반영", "search": "검색",
        "browse": "주제별 보기", "results_for": "검색 결과:", "no_results": "이 질문에 답하는 문서가 아직 없습니다.",
        "no_answer_hint": "다른 단어로 검색하거나 문의를 남겨 주세요.", "fallback": "한국어 문서가 없어 다른 언어의 문서를 보여 드립니다.",
        "articles": "개 문서", "updated": "업데이트", "other_languages": "다른 언어", "home": "고객센터",
        "submit_request": "문의하기", "on_this_page": "목차", "all_categories": "모든 주제",
        "low_confidence": "질문과 정확히 맞지 않을 수 있습니다.", "not_found": "페이지를 찾을 수 없습니다", "back_home": "고객센터로 돌아가기", "language": "언어",
        "form_title": "1:1 문의하기", "subject": "제목", "description": "내용",
        "description_hint": "코인, 네트워크, 수량, TXID, 시간 등 어떤 일이 있었는지 알려 주세요. 비밀번호나 OTP 코드는 절대 적지 마세요.",
        "category": "문의 유형", "choose": "문의 유형 선택 (선택 사항)", "email": "이메일", "submit": "문의 접수",
        "suggested": "이 도움말이 답이 될 수 있어요", "solved": "문제가 해결됐어요",
        "no_match": "맞는 도움말이 아직 없어요. 문의를 접수해 주시면 담당자가 답변드립니다.",
        "deflected": "도움이 되었다니 다행이에요! 문의는 접수되지 않았습니다.", "request_received": "문의가 접수되었습니다",
        "request_number": "문의 번호", "next_steps": "이메일로 답변드리며, 보통 4시간 이내, 늦어도 24시간 이내에 답변합니다. 계정 보안 문의는 가장 먼저 처리합니다.",
        "emergency_contact": "지금 바로 상담원 연결", "read_section": "이 부분 읽기", "searching": "답변을 찾는 중…",
        "was_helpful": "이 도움말이 도움이 되었나요?", "yes": "예", "no": "아니요", "comment": "의견을 남겨 주세요 (선택 사항)",
        "thanks_feedback": "의견을 보내 주셔서 감사합니다.",
        "showing_results_for": "다음 검색어의 결과입니다:",
    },
    "ja": {
        "site": "Coinharbor ヘルプセンター", "search_placeholder": "質問を検索（例：入金が反映されない）", "search": "検索",
        "browse": "トピックから探す", "results_for": "検索結果：", "no_results": "この質問に答える記事はまだありません。",
        "no_answer_hint": "別の言葉で検索するか、お問い合わせください。", "fallback": "日本語の記事がないため、他の言語の記事を表示しています。",
        "articles": "件の記事", "updated": "更新日", "other_languages": "他の言語", "home": "ヘルプセンター",
        "submit_request": "お問い合わせ", "on_this_page": "目次", "all_categories": "すべてのトピック",
        "low_confidence": "質問に正確に答えていない可能性があります。", "not_found": "ページが見つかりません", "back_home": "ヘルプセンターに戻る", "language": "言語",
        "form_title": "お問い合わせ", "subject": "件名", "description": "内容",
        "description_hint": "通貨、ネットワーク、数量、TXID、日時など、何が起きたかをお知らせください。パスワードや二段階認証コードは絶対に書かないでください。",
        "category": "お問い合わせの種類", "choose": "種類を選択（任意）", "email": "メールアドレス", "submit": "送信する",
        "suggested": "こちらの記事で解決できるかもしれません", "solved": "解決しました",
        "no_match": "該当する記事がまだありません。このまま送信してください。担当者が回答します。",
        "deflected": "お役に立ててよかったです。お問い合わせは送信されていません。", "request_received": "お問い合わせを受け付けました",
        "request_number": "お問い合わせ番号", "next_steps": "メールで回答します。通常4時間以内、遅くとも24時間以内です。アカウントのセキュリティに関するお問い合わせは最優先で対応します。",
        "emergency_contact": "今すぐ担当者に連絡", "read_section": "この部分を読む", "searching": "回答を探しています…",
        "was_helpful": "この記事は役に立ちましたか？", "yes": "はい", "no": "いいえ", "comment": "ご意見をお聞かせください（任意）",
        "thanks_feedback": "ご意見ありがとうございます。",
        "showing_results_for": "次の語句の検索結果を表示しています：",
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
        return {"t": {**STRINGS["en"], **STRINGS.get(locale, {})}, "ui_locale": locale, "language_names": LANGUAGE_NAMES}

    @app.after_request
    def remember_language(response):
        if request.args.get("lang") in LOCALES:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
        return response
