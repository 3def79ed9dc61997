"""Contacts: search, import with a progress bar (a background job the page polls) and its
per-row error report, and one person's timeline."""

from __future__ import annotations

import json
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from loa.domain.phones import parse_phone
from loa.i18n import Lang, LoaError, Msg, set_lang
from loa.services.contacts import people
from loa.services.contacts.importer import import_contacts, parse_consent_specs
from loa.store.db import Store
from loa.store.tables import contact_tags
from loa.web import queries
from loa.web.compose import forget_audiences
from loa.web.core import Page, PageRoute, current_page, error_text, form_page, new_token, render, tr
from loa.web.pages import require

router = APIRouter(route_class=PageRoute)

PHASES = {
    "queued": ("Đang chờ", "Waiting"),
    "read": ("Đọc tệp", "Reading the file"),
    "clean": ("Kiểm tra dữ liệu", "Checking the data"),
    "stage": ("Gộp trùng", "Merging duplicates"),
    "write": ("Ghi vào danh bạ", "Writing to the book"),
    "done": ("Xong", "Done"),
    "failed": ("Không nhập được", "Import failed"),
}
NO_FILE = Msg(
    "web.import_no_file",
    "Chưa chọn tệp: chọn một tệp CSV hoặc XLSX có cột số điện thoại.",
    "No file chosen: choose a CSV or XLSX file with a phone number column.",
)
JOB_GONE = Msg(
    "web.import_gone",
    "Không tìm thấy lần nhập này (máy chủ đã khởi động lại?): nhập lại tệp.",
    "This import is not known (was the server restarted?): import the file again.",
)
CONFIRM_NEEDED = Msg(
    "web.erase_unconfirmed",
    "Chưa xác nhận: đánh dấu ô xác nhận xoá vĩnh viễn rồi bấm Xoá.",
    "Not confirmed: tick the box that confirms the erasure, then press Erase.",
)
FORGOTTEN = Msg(
    "web.erased",
    "Đã xoá hồ sơ. Vẫn giữ {consents} bản ghi đồng ý làm bằng chứng và {opt_outs} yêu cầu "
    "từ chối (Nghị định 91/2020, Luật 91/2025).",
    "The profile is erased. Kept {consents} consent records as evidence and {opt_outs} "
    "refusals (Decree 91/2020, Law 91/2025).",
)
ERRORS_SHOWN = 200
PAGE_SIZE = 50
JOBS_KEPT_S = 24 * 3600


@dataclass
class ImportJob:
    """One import running in the background, as the progress bar reads it."""

    id: str
    workspace_id: int
    user_id: int | None
    filename: str
    folder: Path
    phase: str = "queued"
    done: int = 0
    total: int = 4
    state: str = "running"  # running / done / failed
    summary: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.monotonic)


_JOBS: dict[str, ImportJob] = {}
_LOCK = threading.Lock()


def _job(page: Page, job_id: str) -> ImportJob:
    with _LOCK:
        job = _JOBS.get(job_id)
    # Another workspace's (or person's) import is as good as absent.
    if job is None or job.workspace_id != page.workspace_id:
        raise HTTPException(status_code=404, detail=JOB_GONE.render())
    return job


def _forget_old_jobs() -> None:
    now = time.monotonic()
    with _LOCK:
        old = [j for j in _JOBS.values() if now - j.started > JOBS_KEPT_S]
        for j in old:
            del _JOBS[j.id]
    for j in old:
        shutil.rmtree(j.folder, ignore_errors=True)


def _run_import(
    job: ImportJob, store: Store, path: Path, options: dict[str, Any], lang: Lang, actor: str
) -> None:
    set_lang(lang)

    def tick(phase: str, done: int, total: int) -> None:
        job.phase, job.done, job.total = phase, done, total

    try:
        report = import_contacts(
            store,
            path,
            on_conflict=options["on_conflict"],
            consents=options["consents"],
            invalid_file=job.folder / "loi.csv",
            source=job.filename,
            actor=actor,
            progress=tick,
        )
    except LoaError as exc:
        job.error, job.state, job.phase = exc.render(lang), "failed", "failed"
    except Exception as exc:  # the person must see that it failed, not a bar stuck forever
        job.error, job.state, job.phase = f"{type(exc).__name__}: {exc}", "failed", "failed"
    else:
        job.summary = report.summary()
        job.summary["errors"] = job.summary["errors"][:ERRORS_SHOWN]
        job.summary["errors_total"] = len(report.errors)
        job.state, job.phase, job.done, job.total = "done", "done", 4, 4
    finally:
        path.unlink(missing_ok=True)
        forget_audiences()


@router.get("/contacts", response_class=HTMLResponse)
def contacts_page(request: Request, page: Page = Depends(current_page)) -> Response:
    """Search the customer book; the import form."""
    require(page, "contacts:read")
    query = (request.query_params.get("q") or "").strip()
    before = request.query_params.get("before") or ""
    phone = None
    if query and any(ch.isdigit() for ch in query):
        parsed = parse_phone(query)
        phone = parsed.e164 if parsed.valid else None
    with page.engine.connect() as conn:
        found = queries.search_contacts(
            conn,
            workspace_id=page.workspace_id,
            query=query,
            phone=phone,
            before=int(before) if before.isdigit() else None,
            limit=PAGE_SIZE,
        )
    total = people.count_contacts(page.store)
    return render(
        request,
        "contacts.html",
        {
            "found": found,
            "q": query,
            "total": total,
            "next_before": found[-1]["id"] if len(found) == PAGE_SIZE else None,
        },
        page=page,
    )


@router.post("/contacts/import")
async def start_import(request: Request) -> Response:
    """Save the uploaded file and import it in the background; show the progress page."""
    page, form = await form_page(request)
    require(page, "contacts:write")
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return render(
            request,
            "contacts.html",
            {
                "found": [],
                "q": "",
                "total": people.count_contacts(page.store),
                "error": NO_FILE.render(),
            },
            page=page,
            status_code=400,
        )
    _forget_old_jobs()
    consent_specs = ["sms:marketing"] if form.get("consent") == "sms:marketing" else []
    try:
        consents = parse_consent_specs(
            consent_specs,
            str(form.get("consent_method") or "") or None,
            str(form.get("consent_evidence") or "") or None,
            datetime.now(UTC),
        )
    except LoaError as exc:
        return render(
            request,
            "contacts.html",
            {
                "found": [],
                "q": "",
                "total": people.count_contacts(page.store),
                "error": error_text(exc),
            },
            page=page,
            status_code=400,
        )
    folder = Path(tempfile.mkdtemp(prefix="loa-import-"))
    name = Path(upload.filename).name
    path = folder / name
    with path.open("wb") as out:
        shutil.copyfileobj(upload.file, out)
    await upload.close()
    job = ImportJob(
        id=new_token(),
        workspace_id=page.workspace_id,
        user_id=page.principal.user_id,
        filename=name,
        folder=folder,
    )
    with _LOCK:
        _JOBS[job.id] = job
    options = {
        "on_conflict": "skip" if form.get("on_conflict") == "skip" else "update",
        "consents": consents,
    }
    lang: Lang = "en" if page.principal.lang == "en" else "vi"
    threading.Thread(
        target=_run_import,
        args=(job, page.store, path, options, lang, page.principal.actor),
        name=f"loa-import-{job.id[:8]}",
        daemon=True,
    ).start()
    return RedirectResponse(f"/contacts/import/{job.id}", status_code=303)


def _job_json(job: ImportJob) -> dict[str, Any]:
    return {
        "id": job.id,
        "state": job.state,
        "phase": job.phase,
        "phase_text": tr(*PHASES.get(job.phase, PHASES["queued"])),
        "done": job.done,
        "total": job.total,
        "pct": round(100 * job.done / job.total) if job.total else 0,
        "error": job.error,
    }


@router.get("/contacts/import/{job_id}", response_class=HTMLResponse)
def import_page(request: Request, job_id: str, page: Page = Depends(current_page)) -> Response:
    """The progress bar while the import runs; the report and the bad rows once it is done."""
    job = _job(page, job_id)
    return render(
        request,
        "import.html",
        {"job": job, "status": _job_json(job)},
        page=page,
    )


@router.get("/contacts/import/{job_id}/status")
def import_status(job_id: str, page: Page = Depends(current_page)) -> JSONResponse:
    """What the progress bar polls."""
    return JSONResponse(_job_json(_job(page, job_id)))


@router.get("/contacts/import/{job_id}/errors.csv")
def import_errors(job_id: str, page: Page = Depends(current_page)) -> Response:
    """The rows that could not be used, with the reason next to each, to fix and re-import."""
    job = _job(page, job_id)
    path = job.folder / "loi.csv"
    if not path.is_file():
        raise HTTPException(status_code=404)
    stem = Path(job.filename).stem
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=f"{stem}.loi.csv")


@router.get("/contacts/{phone}", response_class=HTMLResponse)
def person(request: Request, phone: str, page: Page = Depends(current_page)) -> Response:
    """One person: their profile, tags, consent, and a timeline of messages, clicks, orders."""
    require(page, "contacts:read")
    try:
        with page.engine.connect() as conn:
            contact = people.find_contact(conn, workspace_id=page.workspace_id, phone=phone)
            items = queries.timeline(conn, workspace_id=page.workspace_id, contact=contact)
            tags = list(
                conn.execute(
                    select(contact_tags.c.tag)
                    .where(contact_tags.c.contact_id == contact.id)
                    .order_by(contact_tags.c.tag)
                ).scalars()
            )
    except LoaError as exc:
        return render(
            request,
            "person.html",
            {"contact": None, "error": error_text(exc)},
            page=page,
            status_code=404,
        )
    return render(
        request, "person.html", {"contact": contact, "items": items, "tags": tags}, page=page
    )


@router.post("/contacts/{phone}/export")
async def export(request: Request, phone: str) -> Response:
    """Everything Loa holds about one person, as a JSON file (their right of access)."""
    page, _form = await form_page(request)
    require(page, "contacts:export")
    try:
        data = await run_in_threadpool(
            people.export_person, page.store, phone, actor=page.principal.actor
        )
    except LoaError as exc:
        raise HTTPException(status_code=404, detail=error_text(exc)) from None
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2, default=str),
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="person.json"'},
    )


@router.post("/contacts/{phone}/forget")
async def forget(request: Request, phone: str) -> Response:
    """Erase one person's profile; refusals and consent proof stay, as the law asks."""
    page, form = await form_page(request)
    require(page, "contacts:erase")
    if not form.get("confirm"):
        raise HTTPException(status_code=400, detail=CONFIRM_NEEDED.render())
    try:
        done = await run_in_threadpool(
            people.forget_person, page.store, phone, actor=page.principal.actor
        )
    except LoaError as exc:
        raise HTTPException(status_code=404, detail=error_text(exc)) from None
    forget_audiences()
    return render(
        request,
        "contacts.html",
        {
            "found": [],
            "q": "",
            "total": people.count_contacts(page.store),
            "flash": FORGOTTEN.render(consents=done.consents, opt_outs=done.opt_outs),
        },
        page=page,
    )
