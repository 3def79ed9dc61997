"""Who opened a link: people count as clicks; previews, scanners and scripts do not."""

from __future__ import annotations

import pytest

from loa.services.tracking.bots import classify
from loa.services.tracking.reasons import reason_words

PEOPLE = [
    # Chrome on Android, Zalo's in-app browser, Safari on iPhone, Facebook's in-app browser.
    "Mozilla/5.0 (Linux; Android 13; SM-A546E) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 12; Redmi Note 11) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/119.0 Mobile Safari/537.36 Zalo android/12100681 ZaloTheme/light ZaloLanguage/vi",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.33.116;FBBV/541418545]",
]


@pytest.mark.parametrize("agent", PEOPLE)
def test_people_are_people(agent: str) -> None:
    assert classify(agent, "GET") is None


@pytest.mark.parametrize(
    ("agent", "method", "why"),
    [
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "GET",
         "facebook"),
        ("Mozilla/5.0 (compatible; ZaloBot/1.0; +https://zalo.me)", "GET", "zalo"),
        ("Zalo/1.0 link preview", "GET", "zalo"),
        ("TelegramBot (like TwitterBot)", "GET", "telegram"),
        ("WhatsApp/2.23.20.0 A", "GET", "whatsapp"),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET", "slack"),
        ("Twitterbot/1.0", "GET", "twitter"),
        ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "GET",
         "google"),
        ("Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 (KHTML, like Gecko) BingPreview/1.0b",
         "GET", "bing"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) HeadlessChrome/120.0 Safari/537.36", "GET",
         "headless"),
        ("Mozilla/5.0 (compatible; Proofpoint URL Defense)", "GET", "scanner"),
        ("curl/8.5.0", "GET", "script"),
        ("python-requests/2.31.0", "GET", "script"),
        ("", "GET", "empty"),
        (None, "GET", "empty"),
        (PEOPLE[2], "HEAD", "head"),
    ],
)  # fmt: skip
def test_machines_are_named(agent: str | None, method: str, why: str) -> None:
    assert classify(agent, method) == why


def test_carrier_codes_read_as_words() -> None:
    assert reason_words("undelivered", "027").render("vi") == "máy tắt hoặc ngoài vùng phủ sóng"
    assert reason_words("undelivered", "27").render("en") == (
        "absent subscriber (phone off or out of range)"
    )
    assert reason_words("failed", "0x0000000b").render("en") == "invalid destination number"
    assert reason_words("undelivered", "099").render("en") == "undelivered (code 099)"
    assert reason_words("uncertain", None).render("vi") == "không rõ (worker dừng giữa chừng)"
