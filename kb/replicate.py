"""Published builds in PostgreSQL: `kb build --publish-to URL` uploads the live build, replicas fetch it.

Tables (made by webapp/migrations/versions/0007_published_builds.py, the app's own Alembic history)::

    kb_published_builds   the record: one row per build ever published (name, model, built_at, published_at,
                          files, bytes, the manifest's sha256; stored: its files are still in the database)
    kb_published_files    one row per file of a stored build: path, size, sha256, number of chunks
    kb_published_chunks   the bytes, CHUNK_BYTES a row: (build, path, chunk_no) → data
    kb_current            one row: the build replicas serve

A build is uploaded in one transaction, `current` set in the same one: a replica sees all of it or nothing.
A replica's copy is an ordinary local build: downloaded under builds/.tmp-<name>, every file checked against the
database's size and sha256 and the build's own manifest, renamed, published and pruned as a local build is
(kb.store); kb.live's LiveIndex then switches to it by itself.
"""
from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import re
import shutil
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import sqlalchemy as sa

from .errors import KBError
from .manifest import MANIFEST, Manifest
from .store import build_lock, current_build, fsync_dir, prune_builds, publish

log = logging.getLogger(__name__)

CHUNK_BYTES = 8 << 20  # one bytea row: far below PostgreSQL's 1 GB limit, small enough to hold in memory
PUBLISH_LOCK_KEY = 0x6B62_7075_626C  # pg_advisory_xact_lock key ("kbpubl"): one publisher at a time
FETCH_LOCK = ".fetch.lock"  # in the index folder: one download per machine, whatever the number of workers
BUILD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


class ReplicaError(KBError):
    """A build could not be published or fetched; the message names the database and the file."""


metadata = sa.MetaData()  # the app registers these on webapp.db.metadata (webapp/replica.py)

builds = sa.Table(
    "kb_published_builds", metadata,
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("built_at", sa.String(64), nullable=False),
    sa.Column("published_at", sa.Float, nullable=False),  # when it last became current
    sa.Column("files", sa.Integer, nullable=False),
    sa.Column("bytes", sa.BigInteger, nullable=False),
    sa.Column("manifest_sha256", sa.String(64), nullable=False),
    sa.Column("stored", sa.Boolean, nullable=False),
)
files = sa.Table(
    "kb_published_files", metadata,
    sa.Column("build", sa.String(128), sa.ForeignKey("kb_published_builds.name", ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.String(512), primary_key=True),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("chunks", sa.Integer, nullable=False),
)
chunks = sa.Table(
    "kb_published_chunks", metadata,
    sa.Column("build", sa.String(128), primary_key=True),
    sa.Column("path", sa.String(512), primary_key=True),
    sa.Column("chunk_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("data", sa.LargeBinary, nullable=False),
    sa.ForeignKeyConstraint(["build", "path"], ["kb_published_files.build", "kb_published_files.path"],
                            ondelete="CASCADE"),
)
current = sa.Table(
    "kb_current", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("build", sa.String(128), sa.ForeignKey("kb_published_builds.name"), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.CheckConstraint("id = 1", name="kb_current_one_row"),
)


@dataclass(frozen=True)
class Published:
    """The build a database's `current` row names."""

    name: str
    model: str
    built_at: str
    published_at: float
    files: int
    bytes: int


@dataclass(frozen=True)
class PublishResult:
    name: str
    where: str  # host/database
    files: int
    bytes: int
    uploaded: bool  # False: the database had the build already
    made_current: bool  # False: it was current already

    def summary(self) -> str:
        note = "" if self.uploaded else (" (already there)" if not self.made_current else " (already there, made current)")
        return f"published {self.name} to {self.where}: {self.files} files, {self.bytes / 1e6:.1f} MB{note}"


def reason(exc: BaseException) -> str:
    """An error in one line: SQLAlchemy's carry the driver's message, then the statement and a link."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def postgres_url(url: str) -> sa.URL:
    """`postgresql://`, `postgres://` or `postgresql+<driver>://` as a SQLAlchemy URL (psycopg by default)."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ReplicaError(f"not a database URL: {url.split('@')[-1]!r} (expected postgresql://user@host/db)") from None
    if parsed.get_backend_name() not in ("postgresql", "postgres"):
        raise ReplicaError(f"builds are published to PostgreSQL; {parsed.get_backend_name()}:// is not supported "
                           f"(expected postgresql://user@host/db)")
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def describe(url: sa.URL) -> str:
    """host[:port]/database, never the user or password (a unix socket's folder when host is a query parameter)."""
    host = url.host or url.query.get("host") or "localhost"
    if isinstance(host, tuple):
        host = host[0]
    return f"{host}{f':{url.port}' if url.port else ''}/{url.database or ''}"


class Source:
    """A PostgreSQL database builds are published to, with its engine (made once; `dispose` when done)."""

    def __init__(self, url: str):
        parsed = postgres_url(url)
        self.where = describe(parsed)
        # hide_parameters: a failed insert's message never carries megabytes of bytea
        self.engine = sa.create_engine(parsed, pool_pre_ping=True, hide_parameters=True, pool_size=1,
                                       connect_args={"connect_timeout": 5})

    def dispose(self) -> None:
        self.engine.dispose()

    def current(self) -> Published | None:
        """The published build (None when nothing was published, or the tables do not exist yet)."""
        query = sa.select(builds).join(current, current.c.build == builds.c.name).where(current.c.id == 1)
        try:
            with self.engine.connect() as conn:
                row = conn.execute(query).first()
        except sa.exc.ProgrammingError as exc:
            if getattr(exc.orig, "sqlstate", None) == "42P01":  # undefined table: no build was ever published
                return None
            raise ReplicaError(f"{self.where}: {reason(exc)}") from None
        except sa.exc.SQLAlchemyError as exc:
            raise ReplicaError(f"{self.where}: {reason(exc)}") from None
        if row is None:
            return None
        return Published(row.name, row.model, row.built_at, row.published_at, row.files, row.bytes)

    # -- publishing ----------------------------------------------------------------------------------------

    def publish(self, build_dir: str | Path, keep: int = 3) -> PublishResult:
        """Upload one local build folder (its manifest's files and the manifest) unless the database has it,
        and make it current, in one transaction; then keep the files of the `keep` builds published last
        (current included) and delete the others' (their rows in kb_published_builds stay: the record)."""
        build_dir = Path(build_dir)
        name = _build_name(build_dir.name)
        manifest_bytes = _read(build_dir / MANIFEST)
        manifest = _manifest(build_dir)
        if not manifest.files:
            raise ReplicaError(f"{build_dir}: its manifest lists no files (built by an older kb); run: kb build --full")
        if manifest.get("partial"):  # every replica would search by BM25 alone until the next publish
            raise ReplicaError(f"{build_dir} is a lexical snapshot (its vectors not computed yet); nothing published: "
                               f"run kb build again")
        listed = {_safe_path(path): meta for path, meta in manifest.files.items()}
        total = sum(int(meta["size"]) for meta in listed.values()) + len(manifest_bytes)
        manifest_sha = hashlib.sha256(manifest_bytes).hexdigest()
        now = time.time()
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK_KEY})
                row = conn.execute(sa.select(builds).where(builds.c.name == name)).first()
                if row is not None and row.manifest_sha256 != manifest_sha:
                    raise ReplicaError(f"{self.where} has another build named {name} (its manifest differs); nothing "
                                       f"published")
                uploaded = row is None or not row.stored
                if uploaded:
                    values = dict(model=manifest.model, built_at=manifest.built_at, published_at=now,
                                  files=len(listed) + 1, bytes=total, manifest_sha256=manifest_sha, stored=True)
                    if row is None:
                        conn.execute(builds.insert().values(name=name, **values))
                    else:
                        conn.execute(builds.update().where(builds.c.name == name).values(**values))
                    self._upload(conn, name, MANIFEST, manifest_bytes, len(manifest_bytes), manifest_sha)
                    for path, meta in sorted(listed.items()):
                        self._upload_file(conn, name, build_dir, path, meta)
                made_current = self._make_current(conn, name, now)
                if made_current:
                    self._prune(conn, name, keep)
        except sa.exc.SQLAlchemyError as exc:
            raise ReplicaError(f"cannot publish {name} to {self.where}: {reason(exc)}") from None
        return PublishResult(name, self.where, len(listed) + 1, total, uploaded, made_current)

    def _upload(self, conn: sa.Connection, name: str, path: str, data: bytes, size: int, sha256: str) -> None:
        n = -(-size // CHUNK_BYTES)
        conn.execute(files.insert().values(build=name, path=path, size=size, sha256=sha256, chunks=n))
        for no in range(n):
            conn.execute(chunks.insert().values(build=name, path=path, chunk_no=no,
                                                data=data[no * CHUNK_BYTES:(no + 1) * CHUNK_BYTES]))

    def _upload_file(self, conn: sa.Connection, name: str, build_dir: Path, path: str, meta: dict[str, Any]) -> None:
        """One listed file, read CHUNK_BYTES at a time and checked against the manifest as it is uploaded."""
        size, n = int(meta["size"]), -(-int(meta["size"]) // CHUNK_BYTES)
        conn.execute(files.insert().values(build=name, path=path, size=size, sha256=meta["sha256"], chunks=n))
        digest, read = hashlib.sha256(), 0
        try:
            with open(build_dir / path, "rb") as f:
                for no in range(n):
                    data = f.read(CHUNK_BYTES)
                    digest.update(data)
                    read += len(data)
                    conn.execute(chunks.insert().values(build=name, path=path, chunk_no=no, data=data))
                read += len(f.read(1))  # a file that grew
        except OSError as exc:
            raise ReplicaError(f"{build_dir / path}: unreadable ({exc.strerror}); nothing published") from None
        if read != size or digest.hexdigest() != meta["sha256"]:
            raise ReplicaError(f"{build_dir / path}: not the file its manifest records (changed since it was built); "
                               f"nothing published")

    def _make_current(self, conn: sa.Connection, name: str, now: float) -> bool:
        live = conn.execute(sa.select(current.c.build).where(current.c.id == 1)).scalar()
        if live == name:
            return False
        if live is None:
            conn.execute(current.insert().values(id=1, build=name, updated_at=now))
        else:
            conn.execute(current.update().where(current.c.id == 1).values(build=name, updated_at=now))
        conn.execute(builds.update().where(builds.c.name == name).values(published_at=now))
        return True

    def _prune(self, conn: sa.Connection, live: str, keep: int) -> None:
        stored = conn.execute(sa.select(builds.c.name).where(builds.c.stored, builds.c.name != live)
                              .order_by(builds.c.published_at.desc())).scalars().all()
        for name in stored[max(keep, 1) - 1:]:
            conn.execute(chunks.delete().where(chunks.c.build == name))
            conn.execute(files.delete().where(files.c.build == name))
            conn.execute(builds.update().where(builds.c.name == name).values(stored=False))

    # -- fetching ------------------------------------------------------------------------------------------

    def fetch(self, index_dir: str | Path, published: Published | None = None, keep: int = 3, wait: bool = False,
              model: str | None = None) -> Path | None:
        """Make the published build (default: the database's current one) this machine's `current`: the local
        build folder it published, or None when `current` is that build already, nothing is published, or
        another process of this machine is fetching (`wait`: wait for it, then look again). `model`: a build
        of another embedding model is refused before anything is downloaded."""
        index_dir = Path(index_dir)
        published = published or self.current()
        if published is None or _live_name(index_dir) == published.name:
            return None
        name = _build_name(published.name)
        if model is not None and published.model != model:
            raise ReplicaError(f"the build published to {self.where} ({name}) was made with model {published.model!r}, "
                               f"but this server's model is {model!r}; not fetched")
        index_dir.mkdir(parents=True, exist_ok=True)
        with _fetch_lock(index_dir, wait) as locked:
            if not locked or _live_name(index_dir) == name:  # another worker has it, or just fetched it
                return None
            # The build lock too: a local build's prune would delete the download, and ours its folder.
            with build_lock(index_dir):
                final = self._download(index_dir, name)
                publish(index_dir, final)
                prune_builds(index_dir, keep)
        log.info("fetched build %s from %s", name, self.where)
        return final

    def _download(self, index_dir: Path, name: str) -> Path:
        """The build folder builds/<name>, every file checked: a complete folder of the same files is used as it
        is (a roll-back to a build this machine still has), anything else is downloaded under a temporary name
        and renamed when complete. A failure leaves nothing behind."""
        folder = index_dir / "builds"
        folder.mkdir(exist_ok=True)
        final, tmp = folder / name, folder / f".tmp-{name}"
        try:
            # REPEATABLE READ: one snapshot of the build, even if a publisher prunes it meanwhile
            with self.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
                record = self._record(conn, name)
                if final.is_dir() and _matches(final, record):
                    return final
                shutil.rmtree(final, ignore_errors=True)
                shutil.rmtree(tmp, ignore_errors=True)
                tmp.mkdir()
                try:
                    self._download_files(conn, name, record, tmp)
                    fsync_dir(tmp)
                    os.rename(tmp, final)
                except BaseException:
                    shutil.rmtree(tmp, ignore_errors=True)
                    raise
        except sa.exc.SQLAlchemyError as exc:
            raise ReplicaError(f"cannot fetch {name} from {self.where}: {reason(exc)}; the local index is unchanged") \
                from None
        except OSError as exc:  # a full disk, above all
            raise ReplicaError(f"cannot write build {name} to {folder} ({exc.strerror}); the local index is "
                               f"unchanged") from None
        fsync_dir(folder)
        return final

    def _record(self, conn: sa.Connection, name: str) -> dict[str, Any]:
        """path → {"size", "sha256", "chunks"} of a stored build, paths checked to stay inside its folder."""
        rows = conn.execute(sa.select(files).where(files.c.build == name)).all()
        if not rows:
            raise ReplicaError(f"{self.where}: build {name} has no files stored; not fetched")
        record = {_safe_path(r.path): {"size": r.size, "sha256": r.sha256, "chunks": r.chunks} for r in rows}
        if MANIFEST not in record:
            raise ReplicaError(f"{self.where}: build {name} has no {MANIFEST}; not fetched")
        return record

    def _download_files(self, conn: sa.Connection, name: str, record: dict[str, Any], tmp: Path) -> None:
        """The manifest first; then every file it lists, each checked against the database and the manifest."""
        self._download_file(conn, name, MANIFEST, record[MANIFEST], tmp)
        listed = _manifest(tmp).files
        extra = sorted(set(record) - set(listed) - {MANIFEST})
        missing = sorted(set(listed) - set(record))
        if extra or missing:
            path = (extra or missing)[0]
            raise ReplicaError(f"{self.where}: build {name}: {path} is {'not in its manifest' if extra else 'missing'}; "
                               f"not fetched, the local index is unchanged")
        for path, meta in sorted(listed.items()):
            stored = record[path]
            if (stored["size"], stored["sha256"]) != (meta.get("size"), meta.get("sha256")):
                raise ReplicaError(f"{self.where}: build {name}: {path}: the database's size and sha256 are not its "
                                   f"manifest's; not fetched, the local index is unchanged")
            self._download_file(conn, name, path, stored, tmp)

    def _download_file(self, conn: sa.Connection, name: str, path: str, meta: dict[str, Any], tmp: Path) -> None:
        target = tmp / path
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, size = hashlib.sha256(), 0
        with open(target, "wb") as f:
            for no in range(meta["chunks"]):
                data = conn.execute(sa.select(chunks.c.data).where(chunks.c.build == name, chunks.c.path == path,
                                                                   chunks.c.chunk_no == no)).scalar()
                if data is None:
                    raise ReplicaError(f"{self.where}: build {name}: {path}: chunk {no} of {meta['chunks']} is missing; "
                                       f"not fetched, the local index is unchanged")
                f.write(data)
                digest.update(data)
                size += len(data)
            f.flush()
            os.fsync(f.fileno())
        if size != meta["size"] or digest.hexdigest() != meta["sha256"]:
            raise ReplicaError(f"{self.where}: build {name}: {path}: the downloaded bytes do not match their recorded "
                               f"{'size' if size != meta['size'] else 'sha256'} (corrupt in the database); not fetched, "
                               f"the local index is unchanged")


@contextmanager
def _open(source: str | Source) -> Iterator[Source]:
    if isinstance(source, Source):
        yield source
        return
    opened = Source(source)
    try:
        yield opened
    finally:
        opened.dispose()


def publish_build(url: str | Source, build_dir: str | Path, keep: int = 3) -> PublishResult:
    """Upload a local build folder to the database at `url` and make it the published one (see Source.publish)."""
    with _open(url) as source:
        return source.publish(build_dir, keep)


def fetch_current(url: str | Source, index_dir: str | Path, keep: int = 3, wait: bool = False,
                  model: str | None = None) -> Path | None:
    """Download the database's published build into index_dir and make it current (see Source.fetch)."""
    with _open(url) as source:
        return source.fetch(index_dir, keep=keep, wait=wait, model=model)


@contextmanager
def _fetch_lock(index_dir: Path, wait: bool) -> Iterator[bool]:
    """True while this process holds the machine's fetch lock; False at once when another one does (not `wait`)."""
    with open(index_dir / FETCH_LOCK, "w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True


def _live_name(index_dir: Path) -> str | None:
    live = current_build(index_dir)
    return live.name if live is not None else None


def _build_name(name: str) -> str:
    if not BUILD_NAME.fullmatch(name) or name.startswith(".tmp-"):
        raise ReplicaError(f"{name!r} is not a build folder's name")
    return name


def _safe_path(path: str) -> str:
    """A path inside a build folder, as the manifest writes them (relative, '/'-separated, no '..')."""
    parts = PurePosixPath(path).parts
    if not parts or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ReplicaError(f"{path!r} is not a path inside a build folder")
    return path


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ReplicaError(f"{path}: unreadable ({exc.strerror})") from None


def _manifest(build_dir: Path) -> Manifest:
    try:
        return Manifest.read(build_dir)
    except KBError as exc:
        raise ReplicaError(str(exc)) from None


def _matches(folder: Path, record: dict[str, Any]) -> bool:
    """Whether a local folder holds exactly the recorded files (sizes and sha256)."""
    present = {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}
    if present != {path: meta["size"] for path, meta in record.items()}:
        return False
    for path, meta in record.items():
        digest = hashlib.sha256()
        with open(folder / path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        if digest.hexdigest() != meta["sha256"]:
            return False
    return True
