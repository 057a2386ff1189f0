"""The ledger archive: the months of a ledger older than ``[ledger] keep_months``, moved out
of Redis into compressed files that are only ever added to.

One directory per account under ``[ledger] archive_dir`` (``ab/alice%40example.org``: a
shard of two hex digits of the JID's SHA-256, then the JID, percent-encoded), holding

- ``YYYY.jsonl.gz``: the ledger entries whose business time ``at`` is in that year, one
  JSON object per line, ``{"id": STREAM_ID, "currency": "USD", "fields": {...}}``: the
  fields exactly as they were in the stream, the currency the account counted in (its
  amounts' unit: an archive is read without Redis);
- ``invoices.jsonl.gz``: paid invoices moved out, ``{"id": "YYYYMM", "currency": ...,
  "fields": {...}}``.

A file per account and year (not per month or per day): reading a month is one small
file, and a million accounts make a million files a year, not twelve million. Each file
is a series of gzip members, one per archive run that added to it: a run writes the old
bytes and its new member to a temporary file, fsyncs it, renames it over the old one and
fsyncs the directory, so a crash leaves the old file or the new one, never a torn one.
What is already in a file (by id) is never written again: a run that crashed after its
files were written and before Redis was trimmed adds nothing the next time. The caller
trims Redis only once ``add`` has read the files back and found every record in them.

Plain blocking file I/O: the async callers run it in a thread.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from payments.errors import PaymentsError

Record = tuple[str, Mapping[str, str]]  # (id, fields): as read from Redis
StepHook = Callable[[str], None]  # called at each step of a write (kill tests)
INVOICES: Final = "invoices"
MAX_NAME: Final = 200  # bytes of a directory name; longer JIDs are named by their digest


class ArchiveError(PaymentsError):
    """The archive could not be written, or does not hold what was written."""


def _quiet(_step: str) -> None:
    return None


@dataclass(frozen=True, slots=True)
class Archived:
    """One record of the archive: an entry (or invoice) and the currency of its amounts."""

    id: str
    fields: Mapping[str, str]
    currency: str


@dataclass(frozen=True, slots=True)
class LedgerArchive:
    root: Path

    def account_dir(self, jid: str) -> Path:
        digest = hashlib.sha256(jid.encode("utf-8")).hexdigest()
        name = quote(jid, safe="@.+-_")
        if len(name.encode("utf-8")) > MAX_NAME:
            name = f"sha256-{digest}"
        return self.root / digest[:2] / name

    def years(self, jid: str) -> list[int]:
        """The years of ``jid``'s ledger in the archive, oldest first."""
        folder = self.account_dir(jid)
        if not folder.is_dir():
            return []
        names = (p.name.removesuffix(".jsonl.gz") for p in folder.glob("*.jsonl.gz"))
        return sorted(int(name) for name in names if name.isdigit())

    def entries(self, jid: str, years: Iterable[int] | None = None) -> list[Archived]:
        """The archived ledger entries of ``jid`` (of ``years``, or all), in stream order."""
        wanted = self.years(jid) if years is None else sorted(set(years))
        found: list[Archived] = []
        for year in wanted:
            found += _read(self._file(jid, str(year)))
        return found

    def invoices(self, jid: str) -> dict[str, Archived]:
        """The archived invoices of ``jid``, by period."""
        return {record.id: record for record in _read(self._file(jid, INVOICES))}

    def add_entries(
        self, jid: str, currency: str, entries: Sequence[Record], hook: StepHook = _quiet
    ) -> None:
        """Archive ledger entries (each in the file of its year), then check they are all
        there; raises ArchiveError otherwise."""
        by_year: dict[str, list[Archived]] = {}
        for rid, fields in entries:
            by_year.setdefault(fields["at"][:4], []).append(Archived(rid, fields, currency))
        for year, records in sorted(by_year.items()):
            self._add(self._file(jid, year), records, hook)

    def add_invoices(
        self, jid: str, currency: str, invoices: Sequence[Record], hook: StepHook = _quiet
    ) -> None:
        records = [Archived(period, fields, currency) for period, fields in invoices]
        self._add(self._file(jid, INVOICES), records, hook)

    def _file(self, jid: str, name: str) -> Path:
        return self.account_dir(jid) / f"{name}.jsonl.gz"

    def _add(self, path: Path, records: Sequence[Archived], hook: StepHook) -> None:
        _make_dirs(path.parent, self.root)
        with _locked(path.parent):  # one writer of an account's files at a time
            for stray in path.parent.glob(f"{path.name}.*.tmp"):  # a crashed run's
                stray.unlink(missing_ok=True)
            held = {record.id for record in _read(path)}
            new = [record for record in records if record.id not in held]
            if new:
                _replace(path, _bytes(path) + _member(new), hook)
            hook("verified")
            _verify(path, records)


def _member(records: Sequence[Archived]) -> bytes:
    lines = "".join(
        json.dumps(
            {"id": r.id, "currency": r.currency, "fields": dict(r.fields)},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        + "\n"
        for r in records
    )
    return gzip.compress(lines.encode("utf-8"), mtime=0)


def _bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return b""


def _read(path: Path) -> list[Archived]:
    data = _bytes(path)
    if not data:
        return []
    try:
        lines = gzip.decompress(data).decode("utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line]
        return [Archived(str(r["id"]), dict(r["fields"]), str(r["currency"])) for r in rows]
    except (OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise ArchiveError(f"{path}: unreadable archive: {exc!r}") from exc


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    fd = os.open(folder / ".lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _replace(path: Path, data: bytes, hook: StepHook) -> None:
    """Write ``data`` as ``path`` durably: a temporary file, fsynced, renamed over (a
    crash leaves a stray ``.tmp`` file at worst, never a torn archive)."""
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(4)}.tmp")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    hook("written")
    os.replace(temporary, path)
    _sync_dir(path.parent)
    hook("renamed")


def _make_dirs(folder: Path, root: Path) -> None:
    """Create ``folder`` (under ``root``), each new directory's entry made durable."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.is_dir() or parent == root.parent:
            break
        missing.append(parent)
    for new in reversed(missing):
        new.mkdir(exist_ok=True)
        _sync_dir(new.parent)


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _verify(path: Path, records: Sequence[Archived]) -> None:
    held = {record.id: record for record in _read(path)}
    for record in records:
        found = held.get(record.id)
        if found is None or (found.fields, found.currency) != (
            dict(record.fields),
            record.currency,
        ):
            raise ArchiveError(f"{path}: {record.id} is not in the archive as it is in Redis")
