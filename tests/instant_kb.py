"""The knowledge base of the instant-search tests: the fixture one, plus Korean and Japanese translations and ten
one-section topics about fees (more topics than the list shows), built once per test session."""
from __future__ import annotations

import shutil

from kb.build import build_index
from kb.config import Settings

from conftest import FIXTURE_KB

ARTICLES = {
    "lost-2fa-ko": ("ko", "security", "lost-2fa", "구글 OTP를 잃어버렸어요",
                    "인증 앱이 있는 휴대폰을 잃어버렸다면 본인 확인 후 2단계 인증을 재설정할 수 있습니다.\n\n"
                    "## 2단계 인증 재설정\n\n로그인 화면에서 \"보안 인증을 사용할 수 없나요?\"를 누르고 신분증 사진을 올려 주세요."),
    "lost-2fa-ja": ("ja", "security", "lost-2fa", "Google認証アプリをなくしました",
                    "認証アプリの入ったスマートフォンをなくした場合は、本人確認のあとで二段階認証をリセットできます。\n\n"
                    "## 二段階認証のリセット\n\nログイン画面で「セキュリティ認証を利用できない場合」を選び、身分証の写真をアップロードしてください。"),
    "deposit-not-credited-ko": ("ko", "deposits", "deposit-not-credited", "입금이 반영되지 않아요",
                                "대부분의 입금은 30분 안에 반영됩니다.\n\n## 네트워크 확인\n\n"
                                "보낸 네트워크가 입금 주소의 네트워크와 같아야 합니다."),
    "deposit-not-credited-ja": ("ja", "deposits", "deposit-not-credited", "入金が反映されない",
                                "ほとんどの入金は30分以内に反映されます。\n\n## ネットワークの確認\n\n"
                                "送金したネットワークは入金アドレスのネットワークと同じである必要があります。"),
}
FEE_TOPICS = 10


def _article(article_id: str, locale: str, category: str, group: str, title: str, body: str) -> str:
    return (f"---\nid: {article_id}\ntitle: \"{title}\"\nlocale: {locale}\ncategory: {category}\ntags: []\n"
            f"audience: public\nstatus: published\ntranslation_group: {group}\nupdated: 2026-12-01\n---\n\n{body}\n")


_built: dict[str, Settings] = {}


def instant_index(tmp_path_factory, embedder) -> Settings:
    """Settings of the built knowledge base (made on the first call of the session, reused after)."""
    if "settings" not in _built:
        root = tmp_path_factory.mktemp("instant")
        articles = root / "articles"
        shutil.copytree(FIXTURE_KB, articles)
        for article_id, (locale, category, group, title, body) in ARTICLES.items():
            (articles / f"{article_id}.md").write_text(_article(article_id, locale, category, group, title, body), encoding="utf-8")
        for n in range(FEE_TOPICS):
            body = f"Network fee number {n} is charged on withdrawals of coin {n}; it is shown before you confirm."
            (articles / f"fee-topic-{n}-en.md").write_text(
                _article(f"fee-topic-{n}-en", "en", "withdrawals", f"fee-topic-{n}", f"Fees for coin {n}", body), encoding="utf-8")
        settings = Settings.from_mapping({"articles_dir": str(articles), "index_dir": str(root / "index")})
        build_index(settings, embedder=embedder)
        _built["settings"] = settings
    return _built["settings"]
