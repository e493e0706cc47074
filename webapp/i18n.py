"""Interface strings per locale and the UI locale of a request (?lang=, cookie, Accept-Language)."""
from __future__ import annotations

from flask import Flask, g, request

from kb.config import LOCALES

LANGUAGE_NAMES = {"en": "English", "zh-CN": "简体中文", "ko": "한국어", "ja": "日本語"}

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        # instant search (the search box's suggestions while typing; {n} is the number)
        "instant_label": "Suggested articles", "instant_count_one": "1 suggestion. Use the up and down arrow keys to choose one and Enter to open it.",
        "instant_count": "{n} suggestions. Use the up and down arrow keys to choose one and Enter to open it.",
        "instant_none": "No suggestions. Press Enter to search.",
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
        "deflected": "Glad it helped! No request was filed.", "back_to_article": "Back to the article:", "undo": "Undo", "undone": "Undone: your request form is back.", "request_received": "Request received",
        "request_number": "Your request number is", "next_steps": "We answer by e-mail, usually within 4 hours and always within 24 hours. Account-security cases are answered first.",
        "emergency_contact": "Contact a human now", "read_section": "Read this section", "searching": "Looking for answers…",
        "was_helpful": "Was this article helpful?", "yes": "Yes", "no": "No", "comment": "Tell us more (optional)",
        "thanks_feedback": "Thank you for your feedback.",
        "showing_results_for": "Showing results for",
        "indexing": "Indexing, {percent} %: until it finishes, results match your words only.",
        "indexing_unknown": "Indexing: until it finishes, results match your words only.",
        # the no-results page (webapp.pages._no_answer_help)
        "did_you_mean": "Did you mean", "related": "Related articles", "ask_us": "Ask our team about this", "most_read": "Most-read articles",
        "most_read_in": "Most-read articles in {topic}",
        "ask_us_hint": "Your question goes into the request form; add the details there.",
        # the requester's mail and follow-up page (webapp.mail, webapp.followup)
        "mail_subject": "[Coinharbor request #{number}] {subject}",
        "mail_ack_body": (
            "Hello,\n"
            "\n"
            "We received your request.\n"
            "Request number: #{number}\n"
            "Subject: {subject}\n"
            "\n"
            "{next_steps}\n"
            "\n"
            "Follow your request, add information or tell us it is solved:\n"
            "{link}\n"
            "This link works for {days} days. Please do not reply to this e-mail; use the link instead.\n"
            "\n"
            "Never share your password or 2FA codes with anyone, Coinharbor staff included.\n"
            "\n"
            "Coinharbor Support\n"
        ),
        "mail_reply_body": (
            "Hello,\n"
            "\n"
            "Our support team has answered your request #{number} ({subject}):\n"
            "\n"
            "{reply}\n"
            "\n"
            "Reply, add information or tell us it is solved:\n"
            "{link}\n"
            "This link works for {days} days. Please do not reply to this e-mail; use the link instead.\n"
            "\n"
            "Coinharbor Support\n"
        ),
        "followup_title": "Your request",
        "followup_status": "Status",
        "status_open": "Open: our team will answer",
        "status_answered": "Answered",
        "status_closed": "Closed",
        "followup_you": "You",
        "followup_support": "Coinharbor Support",
        "followup_add": "Add a message",
        "followup_add_hint": "More details, or an answer to our question. Never include your password or 2FA codes.",
        "followup_send": "Send",
        "followup_solved": "This is solved",
        "followup_sent": "Thank you. Your message was added; our team will answer.",
        "followup_closed": "Glad it is solved! Your request is closed. If the problem comes back, write below and it opens again.",
        "followup_empty": "Write a message first.",
        "followup_expired": "This link has expired: the link in an e-mail works for {days} days. A newer e-mail about your request has a newer link; or submit a new request and mention your request number.",
        "followup_invalid": "This link is not valid. Open it exactly as it is in our e-mail.",
        "followup_link": "Follow your request, add information or tell us it is solved:",
        "mail_off_note": "E-mail is switched off on this help center: no e-mail will come. Keep this link to follow your request.",
        # accessibility and error pages (base.html's skip link and language switch, webapp.errors)
        "skip_to_content": "Skip to content",
        "change_language": "Change language",
        "nav_main": "Main menu", "nav_breadcrumb": "You are here",
        "error_code": "Error {code}",
        "error_param": "The value of “{parameter}” is not valid. Please check it and try again.",
        "error_csrf": "This form has expired or was opened in another window. Reload the page and send it again.",
        "error_400": "Something in the request is not right",
        "error_400_text": "This page could not be shown because the request was not valid. Go back and try again.",
        "error_401": "Please log in",
        "error_401_text": "This page is for logged-in support agents.",
        "error_403": "Access denied",
        "error_403_text": "You do not have permission to open this page.",
        "error_404": "Page not found",
        "error_404_text": "The page you are looking for does not exist or is no longer published.",
        "error_405": "This action is not available",
        "error_405_text": "This page cannot be used this way. Go back and try again.",
        "error_413": "Too much data",
        "error_413_text": "What you sent is too large. Please shorten it and try again.",
        "error_429": "Too many requests",
        "error_429_text": "You have made many requests in a short time. Please wait a few minutes and try again.",
        "error_500": "Something went wrong",
        "error_500_text": "Something went wrong on our side. It has been logged; please try again later.",
        "error_503": "Temporarily unavailable",
        "error_503_text": "The help center is temporarily unavailable. Please try again in a few minutes.",
    },
    "zh-CN": {
        # instant search (the search box's suggestions while typing; {n} is the number)
        "instant_label": "推荐文章", "instant_count_one": "找到 1 条建议。用上下方向键选择，按回车打开。",
        "instant_count": "找到 {n} 条建议。用上下方向键选择，按回车打开。",
        "instant_none": "没有建议。按回车搜索。",
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
        "deflected": "很高兴帮到你！工单未提交。", "back_to_article": "返回文章：", "undo": "撤销", "undone": "已撤销：工单表单已恢复。", "request_received": "工单已提交", "request_number": "你的工单编号是",
        "next_steps": "我们会通过邮件回复，通常 4 小时内，最晚 24 小时内。账户安全问题优先处理。",
        "emergency_contact": "立即联系人工客服", "read_section": "查看此部分", "searching": "正在查找答案…",
        "was_helpful": "这篇文章有帮助吗？", "yes": "有", "no": "没有", "comment": "补充说明（可选）", "thanks_feedback": "感谢你的反馈。",
        "showing_results_for": "以下是这些词的结果：",
        "indexing": "正在建立索引（{percent}%）：完成之前，结果只按关键词匹配。",
        "indexing_unknown": "正在建立索引：完成之前，结果只按关键词匹配。",
        "did_you_mean": "您是不是要找", "related": "相关文章", "ask_us": "就此问题联系我们的团队", "most_read": "最常阅读的文章",
        "most_read_in": "“{topic}”中最常阅读的文章",
        "ask_us_hint": "您的问题会填入工单表单，请在那里补充详细信息。",
        # the requester's mail and follow-up page (webapp.mail, webapp.followup)
        "mail_subject": "[Coinharbor 工单 #{number}] {subject}",
        "mail_ack_body": (
            "你好！\n"
            "\n"
            "我们已收到你的工单。\n"
            "工单编号：#{number}\n"
            "主题：{subject}\n"
            "\n"
            "{next_steps}\n"
            "\n"
            "通过以下链接查看工单进度、补充信息，或告诉我们问题已解决：\n"
            "{link}\n"
            "此链接 {days} 天内有效。请不要直接回复本邮件，请使用上面的链接。\n"
            "\n"
            "请勿向任何人（包括 Coinharbor 工作人员）透露你的密码或谷歌验证码。\n"
            "\n"
            "Coinharbor 客服团队\n"
        ),
        "mail_reply_body": (
            "你好！\n"
            "\n"
            "客服已回复你的工单 #{number}（{subject}）：\n"
            "\n"
            "{reply}\n"
            "\n"
            "如需回复、补充信息，或告诉我们问题已解决，请打开：\n"
            "{link}\n"
            "此链接 {days} 天内有效。请不要直接回复本邮件，请使用上面的链接。\n"
            "\n"
            "Coinharbor 客服团队\n"
        ),
        "followup_title": "你的工单",
        "followup_status": "状态",
        "status_open": "处理中：客服会尽快回复",
        "status_answered": "已回复",
        "status_closed": "已关闭",
        "followup_you": "你",
        "followup_support": "Coinharbor 客服",
        "followup_add": "补充留言",
        "followup_add_hint": "补充更多信息，或回答客服的问题。切勿填写密码或谷歌验证码。",
        "followup_send": "发送",
        "followup_solved": "问题已解决",
        "followup_sent": "谢谢！你的留言已添加，客服会尽快回复。",
        "followup_closed": "很高兴问题已解决！工单已关闭。如果问题再次出现，在下方留言即可重新打开工单。",
        "followup_empty": "请先填写留言内容。",
        "followup_expired": "此链接已过期：邮件中的链接 {days} 天内有效。请使用有关此工单的最新邮件中的链接，或提交新工单并注明你的工单编号。",
        "followup_invalid": "此链接无效。请完整打开邮件中的链接。",
        "followup_link": "查看工单进度、补充信息，或告诉我们问题已解决：",
        "mail_off_note": "本帮助中心未开启邮件通知，你不会收到邮件。请保存此链接，以便查看工单进度。",
        # accessibility and error pages (base.html's skip link and language switch, webapp.errors)
        "skip_to_content": "跳到正文",
        "change_language": "切换语言",
        "nav_main": "主菜单", "nav_breadcrumb": "当前位置",
        "error_code": "错误代码 {code}",
        "error_param": "“{parameter}”的值无效，请检查后重试。",
        "error_csrf": "表单已过期，或已在其他窗口中打开。请刷新页面后重新提交。",
        "error_400": "请求有误",
        "error_400_text": "请求内容无效，无法显示此页面。请返回后重试。",
        "error_401": "请先登录",
        "error_401_text": "此页面仅供已登录的客服人员使用。",
        "error_403": "无权访问",
        "error_403_text": "你没有权限打开此页面。",
        "error_404": "页面不存在",
        "error_404_text": "你要找的页面不存在或已下线。",
        "error_405": "无法执行此操作",
        "error_405_text": "此页面不支持这种操作，请返回后重试。",
        "error_413": "内容过大",
        "error_413_text": "你提交的内容过大，请精简后重试。",
        "error_429": "请求过于频繁",
        "error_429_text": "你在短时间内发送了过多请求，请等待几分钟后重试。",
        "error_500": "出错了",
        "error_500_text": "我们这边出了点问题，已记录在案，请稍后再试。",
        "error_503": "服务暂时不可用",
        "error_503_text": "帮助中心暂时无法使用，请几分钟后再试。",
    },
    "ko": {
        # instant search (the search box's suggestions while typing; {n} is the number)
        "instant_label": "추천 도움말", "instant_count_one": "추천 항목 1개. 위/아래 방향키로 고르고 Enter 키로 여세요.",
        "instant_count": "추천 항목 {n}개. 위/아래 방향키로 고르고 Enter 키로 여세요.",
        "instant_none": "추천 항목이 없습니다. Enter 키를 누르면 검색합니다.",
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
        "deflected": "도움이 되었다니 다행이에요! 문의는 접수되지 않았습니다.", "back_to_article": "문서로 돌아가기:", "undo": "실행 취소", "undone": "취소했습니다. 문의 양식이 다시 열렸어요.", "request_received": "문의가 접수되었습니다",
        "request_number": "문의 번호", "next_steps": "이메일로 답변드리며, 보통 4시간 이내, 늦어도 24시간 이내에 답변합니다. 계정 보안 문의는 가장 먼저 처리합니다.",
        "emergency_contact": "지금 바로 상담원 연결", "read_section": "이 부분 읽기", "searching": "답변을 찾는 중…",
        "was_helpful": "이 도움말이 도움이 되었나요?", "yes": "예", "no": "아니요", "comment": "의견을 남겨 주세요 (선택 사항)",
        "thanks_feedback": "의견을 보내 주셔서 감사합니다.",
        "showing_results_for": "다음 검색어의 결과입니다:",
        "indexing": "색인 작성 중({percent}%): 완료될 때까지는 입력한 단어와 일치하는 결과만 표시됩니다.",
        "indexing_unknown": "색인 작성 중: 완료될 때까지는 입력한 단어와 일치하는 결과만 표시됩니다.",
        "did_you_mean": "이것을 찾으셨나요?", "related": "관련 도움말", "ask_us": "이 내용으로 상담팀에 문의하기", "most_read": "많이 본 도움말",
        "most_read_in": "'{topic}'에서 많이 본 도움말",
        "ask_us_hint": "검색하신 내용이 문의 양식에 입력됩니다. 자세한 내용을 덧붙여 주세요.",
        # the requester's mail and follow-up page (webapp.mail, webapp.followup)
        "mail_subject": "[Coinharbor 문의 #{number}] {subject}",
        "mail_ack_body": (
            "안녕하세요.\n"
            "\n"
            "문의가 접수되었습니다.\n"
            "문의 번호: #{number}\n"
            "제목: {subject}\n"
            "\n"
            "{next_steps}\n"
            "\n"
            "아래 링크에서 진행 상황을 확인하고, 내용을 추가하거나, 문제가 해결되었다고 알려 주실 수 있습니다:\n"
            "{link}\n"
            "이 링크는 {days}일 동안 유효합니다. 이 이메일에 직접 회신하지 마시고 위 링크를 이용해 주세요.\n"
            "\n"
            "Coinharbor 직원을 포함해 누구에게도 비밀번호나 OTP 코드를 알려 주지 마세요.\n"
            "\n"
            "Coinharbor 고객센터\n"
        ),
        "mail_reply_body": (
            "안녕하세요.\n"
            "\n"
            "문의 #{number}({subject})에 대한 답변입니다:\n"
            "\n"
            "{reply}\n"
            "\n"
            "답장하거나, 내용을 추가하거나, 문제가 해결되었다고 알려 주시려면 아래 링크를 이용해 주세요:\n"
            "{link}\n"
            "이 링크는 {days}일 동안 유효합니다. 이 이메일에 직접 회신하지 마시고 위 링크를 이용해 주세요.\n"
            "\n"
            "Coinharbor 고객센터\n"
        ),
        "followup_title": "내 문의",
        "followup_status": "상태",
        "status_open": "접수됨: 담당자가 답변드릴 예정입니다",
        "status_answered": "답변 완료",
        "status_closed": "종료",
        "followup_you": "고객님",
        "followup_support": "Coinharbor 고객센터",
        "followup_add": "메시지 추가",
        "followup_add_hint": "추가 정보나 질문에 대한 답을 적어 주세요. 비밀번호나 OTP 코드는 절대 적지 마세요.",
        "followup_send": "보내기",
        "followup_solved": "문제가 해결됐어요",
        "followup_sent": "감사합니다. 메시지가 추가되었습니다. 담당자가 답변드리겠습니다.",
        "followup_closed": "문제가 해결되었다니 다행입니다! 문의가 종료되었습니다. 문제가 다시 생기면 아래에 메시지를 남겨 주세요. 문의가 다시 열립니다.",
        "followup_empty": "먼저 메시지를 입력해 주세요.",
        "followup_expired": "링크가 만료되었습니다. 이메일의 링크는 {days}일 동안 유효합니다. 이 문의에 관한 최신 이메일의 링크를 이용하시거나, 문의 번호를 적어 새로 문의해 주세요.",
        "followup_invalid": "유효하지 않은 링크입니다. 이메일에 있는 링크를 그대로 열어 주세요.",
        "followup_link": "진행 상황 확인, 내용 추가, 해결 알림은 아래 링크에서 할 수 있습니다:",
        "mail_off_note": "이 고객센터는 이메일 발송이 꺼져 있어 이메일이 오지 않습니다. 진행 상황을 확인하려면 이 링크를 보관해 주세요.",
        # accessibility and error pages (base.html's skip link and language switch, webapp.errors)
        "skip_to_content": "본문으로 건너뛰기",
        "change_language": "언어 변경",
        "nav_main": "주 메뉴", "nav_breadcrumb": "현재 위치",
        "error_code": "오류 코드 {code}",
        "error_param": "‘{parameter}’ 값이 올바르지 않습니다. 확인 후 다시 시도해 주세요.",
        "error_csrf": "양식이 만료되었거나 다른 창에서 열렸습니다. 페이지를 새로고침한 후 다시 보내 주세요.",
        "error_400": "요청이 올바르지 않습니다",
        "error_400_text": "요청이 유효하지 않아 페이지를 표시할 수 없습니다. 이전 페이지로 돌아가 다시 시도해 주세요.",
        "error_401": "로그인이 필요합니다",
        "error_401_text": "이 페이지는 로그인한 상담원만 이용할 수 있습니다.",
        "error_403": "접근 권한이 없습니다",
        "error_403_text": "이 페이지를 열 수 있는 권한이 없습니다.",
        "error_404": "페이지를 찾을 수 없습니다",
        "error_404_text": "찾으시는 페이지가 없거나 더 이상 게시되지 않습니다.",
        "error_405": "이 작업은 할 수 없습니다",
        "error_405_text": "이 페이지는 이런 방식으로 사용할 수 없습니다. 이전 페이지로 돌아가 다시 시도해 주세요.",
        "error_413": "내용이 너무 큽니다",
        "error_413_text": "보내신 내용이 너무 큽니다. 내용을 줄여서 다시 시도해 주세요.",
        "error_429": "요청이 너무 많습니다",
        "error_429_text": "짧은 시간에 너무 많은 요청을 보내셨습니다. 몇 분 후에 다시 시도해 주세요.",
        "error_500": "문제가 발생했습니다",
        "error_500_text": "저희 쪽에서 문제가 발생했습니다. 오류는 기록되었으니 잠시 후 다시 시도해 주세요.",
        "error_503": "일시적으로 이용할 수 없습니다",
        "error_503_text": "고객센터를 일시적으로 이용할 수 없습니다. 몇 분 후에 다시 시도해 주세요.",
    },
    "ja": {
        # instant search (the search box's suggestions while typing; {n} is the number)
        "instant_label": "おすすめの記事", "instant_count_one": "候補が 1 件あります。上下の矢印キーで選び、Enter キーで開きます。",
        "instant_count": "候補が {n} 件あります。上下の矢印キーで選び、Enter キーで開きます。",
        "instant_none": "候補はありません。Enter キーで検索します。",
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
        "deflected": "お役に立ててよかったです。お問い合わせは送信されていません。", "back_to_article": "記事に戻る：", "undo": "元に戻す", "undone": "元に戻しました。お問い合わせフォームを再表示しています。", "request_received": "お問い合わせを受け付けました",
        "request_number": "お問い合わせ番号", "next_steps": "メールで回答します。通常4時間以内、遅くとも24時間以内です。アカウントのセキュリティに関するお問い合わせは最優先で対応します。",
        "emergency_contact": "今すぐ担当者に連絡", "read_section": "この部分を読む", "searching": "回答を探しています…",
        "was_helpful": "この記事は役に立ちましたか？", "yes": "はい", "no": "いいえ", "comment": "ご意見をお聞かせください（任意）",
        "thanks_feedback": "ご意見ありがとうございます。",
        "showing_results_for": "次の語句の検索結果を表示しています：",
        "indexing": "索引を作成中（{percent}%）：完了するまでは、入力した語句に一致する結果のみ表示されます。",
        "indexing_unknown": "索引を作成中：完了するまでは、入力した語句に一致する結果のみ表示されます。",
        "did_you_mean": "もしかして", "related": "関連記事", "ask_us": "この内容でサポートに問い合わせる", "most_read": "よく読まれている記事",
        "most_read_in": "「{topic}」でよく読まれている記事",
        "ask_us_hint": "検索した内容が問い合わせフォームに入力されます。詳細を追記してください。",
        # the requester's mail and follow-up page (webapp.mail, webapp.followup)
        "mail_subject": "[Coinharbor お問い合わせ #{number}] {subject}",
        "mail_ack_body": (
            "お問い合わせいただきありがとうございます。\n"
            "\n"
            "お問い合わせを受け付けました。\n"
            "お問い合わせ番号：#{number}\n"
            "件名：{subject}\n"
            "\n"
            "{next_steps}\n"
            "\n"
            "以下のリンクから、対応状況の確認、情報の追加、解決のご連絡ができます：\n"
            "{link}\n"
            "このリンクは {days} 日間有効です。このメールには返信せず、上記のリンクをご利用ください。\n"
            "\n"
            "パスワードや二段階認証コードは、Coinharbor のスタッフを含め、誰にも教えないでください。\n"
            "\n"
            "Coinharbor サポート\n"
        ),
        "mail_reply_body": (
            "お問い合わせ #{number}（{subject}）について、サポート担当者より回答いたします。\n"
            "\n"
            "{reply}\n"
            "\n"
            "返信、情報の追加、解決のご連絡は、以下のリンクからお願いします：\n"
            "{link}\n"
            "このリンクは {days} 日間有効です。このメールには返信せず、上記のリンクをご利用ください。\n"
            "\n"
            "Coinharbor サポート\n"
        ),
        "followup_title": "お問い合わせの状況",
        "followup_status": "状態",
        "status_open": "対応中：担当者が回答します",
        "status_answered": "回答済み",
        "status_closed": "完了",
        "followup_you": "お客様",
        "followup_support": "Coinharbor サポート",
        "followup_add": "メッセージを追加",
        "followup_add_hint": "詳しい情報や、担当者からの質問への回答をご記入ください。パスワードや二段階認証コードは絶対に書かないでください。",
        "followup_send": "送信",
        "followup_solved": "解決しました",
        "followup_sent": "ありがとうございます。メッセージを追加しました。担当者が回答します。",
        "followup_closed": "解決してよかったです！お問い合わせを完了しました。問題が再発した場合は、下にメッセージをご記入いただくと再開されます。",
        "followup_empty": "メッセージを入力してください。",
        "followup_expired": "このリンクは有効期限が切れています。メールのリンクの有効期間は {days} 日間です。このお問い合わせに関する最新のメールのリンクをご利用いただくか、お問い合わせ番号を記入して新たにお問い合わせください。",
        "followup_invalid": "このリンクは無効です。メールに記載されたリンクをそのまま開いてください。",
        "followup_link": "対応状況の確認、情報の追加、解決のご連絡はこちら：",
        "mail_off_note": "このヘルプセンターではメール送信がオフになっているため、メールは届きません。このリンクを保存して、お問い合わせの状況をご確認ください。",
        # accessibility and error pages (base.html's skip link and language switch, webapp.errors)
        "skip_to_content": "本文へスキップ",
        "change_language": "言語を切り替える",
        "nav_main": "メインメニュー", "nav_breadcrumb": "現在地",
        "error_code": "エラーコード {code}",
        "error_param": "「{parameter}」の値が正しくありません。ご確認のうえ、もう一度お試しください。",
        "error_csrf": "フォームの有効期限が切れたか、別のウィンドウで開かれています。ページを再読み込みして、もう一度送信してください。",
        "error_400": "リクエストが正しくありません",
        "error_400_text": "リクエストの内容が無効なため、このページを表示できませんでした。前のページに戻って、もう一度お試しください。",
        "error_401": "ログインが必要です",
        "error_401_text": "このページはログインしたサポート担当者専用です。",
        "error_403": "アクセスできません",
        "error_403_text": "このページを開く権限がありません。",
        "error_404": "ページが見つかりません",
        "error_404_text": "お探しのページは存在しないか、公開が終了しました。",
        "error_405": "この操作はできません",
        "error_405_text": "このページはこの方法ではご利用いただけません。前のページに戻って、もう一度お試しください。",
        "error_413": "データが大きすぎます",
        "error_413_text": "送信された内容が大きすぎます。短くしてから、もう一度お試しください。",
        "error_429": "リクエストが多すぎます",
        "error_429_text": "短時間に多くのリクエストが送信されました。数分待ってから、もう一度お試しください。",
        "error_500": "エラーが発生しました",
        "error_500_text": "システムで問題が発生しました。記録済みですので、しばらくしてからもう一度お試しください。",
        "error_503": "一時的にご利用いただけません",
        "error_503_text": "ヘルプセンターは一時的にご利用いただけません。数分後にもう一度お試しください。",
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
