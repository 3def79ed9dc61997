"""Who opened a link: a person, or a machine fetching it (a messaging app's link preview, a
search engine, a security scanner, a script). Machines are recorded but never counted as
clicks: a preview fires as soon as a message with a link is shown, before anyone taps it."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

# (name stored with the click, pattern on the lower-cased user agent); first match wins.
_BOTS: Final[tuple[tuple[str, re.Pattern[str]], ...]] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("facebook", r"facebookexternalhit|facebookcatalog|facebot|meta-externalagent"),
        ("zalo", r"zalobot|zalo-?link|compatible; ?zalo|^zalo"),
        ("telegram", r"telegrambot"),
        ("whatsapp", r"^whatsapp/|whatsapp/[\d.]+ [ai]$"),
        ("viber", r"viber.*(preview|bot)|^viber/"),
        ("slack", r"slackbot|slack-imgproxy"),
        ("twitter", r"twitterbot"),
        ("discord", r"discordbot"),
        ("linkedin", r"linkedinbot"),
        ("skype", r"skypeuripreview"),
        ("teams", r"microsoft teams|teamsbot|msteams"),
        ("line", r"\bline-poker|^line/"),
        ("kakao", r"kakaotalk-scrap"),
        ("apple", r"applebot|apple.*linkpreview"),
        (
            "google",
            r"googlebot|adsbot-google|google-inspectiontool|googleother|google-read-aloud|"
            r"feedfetcher-google|google web preview|apis-google|mediapartners-google",
        ),
        ("bing", r"bingbot|bingpreview|msnbot|adidxbot"),
        ("yandex", r"yandex(bot|images|mobilebot)"),
        ("baidu", r"baiduspider"),
        ("coccoc", r"coccocbot"),
        (
            "scanner",
            r"proofpoint|mimecast|barracuda|urlscan|virustotal|phishtank|safebrowsing|"
            r"netcraft|paloalto|zscaler|trendmicro|checkpoint|fortinet|fortiguard|sophos|"
            r"kaspersky|forcepoint|symantec|mcafee|cisco ironport|bitdefender|\bsafelinks?\b",
        ),
        ("headless", r"headlesschrome|phantomjs|puppeteer|playwright|selenium|electron/"),
        (
            "script",
            r"^curl/|^wget/|python-requests|python-urllib|python-httpx|aiohttp|"
            r"go-http-client|^java/|okhttp|libwww-perl|axios/|node-fetch|undici|^ruby|"
            r"^php/|httpclient|^scrapy|postmanruntime|insomnia",
        ),
        ("preview", r"preview|embedly|iframely|unfurl|metainspector|opengraph"),
        ("crawler", r"bot\b|bot/|crawler|spider|crawl|scrape|monitor|checker|scan"),
    )
)


@lru_cache(maxsize=4096)
def classify(user_agent: str | None, method: str = "GET") -> str | None:
    """None for a person; otherwise why this request is not a human click (the bot's name,
    'head' for a HEAD request, 'empty' for a request without a user agent)."""
    if method.upper() == "HEAD":
        return "head"
    agent = (user_agent or "").strip().lower()
    if not agent:
        return "empty"
    for name, pattern in _BOTS:
        if pattern.search(agent):
            return name
    if not agent.startswith("mozilla/") and not agent.startswith("opera"):
        # Every browser people use says "Mozilla/…"; anything else is a program (Zalo's own
        # preview fetcher included; its in-app browser does say "Mozilla/").
        return "zalo" if "zalo" in agent else "script"
    return None
