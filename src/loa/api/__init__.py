"""The REST API under /api/v1 (FastAPI routers; one module per resource)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1")
