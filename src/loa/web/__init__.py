"""The dashboard: server-rendered pages (Jinja2), no CDN, Vietnamese by default."""

from __future__ import annotations

from fastapi import APIRouter

from loa.web import auth, campaigns, compose, contacts, pages, segments

router = APIRouter(include_in_schema=False)
for _module in (auth, pages, contacts, segments, compose, campaigns):
    router.include_router(_module.router)
