"""Intake: find the submissions in a folder or zip, and read each notebook defensively.

Accepted layouts, for assignment ``a`` (``s`` is the student id):

* ``<dir>/s/a.ipynb`` or ``<dir>/s/a/a.ipynb`` (nbgrader's submitted layout);
* ``<dir>/s.ipynb`` (one notebook per student, named for the student);
* a ``.zip`` of either layout (a single top folder is looked through).

A student folder holding exactly one notebook under another name is taken, with a flag. Anything
else (stray files, macOS metadata, checkpoints) is listed as ignored. Reading never raises: a file
that is too large, not JSON, or not a notebook becomes an *unreadable* submission with the reason.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import CourseError

MAX_NOTEBOOK_BYTES = 20 * 1024 * 1024
MAX_ZIP_BYTES = 500 * 1024 * 1024
_STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
_NOISE = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db"}


@dataclass
class Submission:
    student: str
    path: Path
    flags: list[str] = field(default_factory=list)
    notebook: nbformat.NotebookNode | None = None
    unreadable: str | None = None
    sha256: str = ""


@dataclass
class Batch:
    submissions: list[Submission]
    ignored: list[str]


def shown(name) -> str:
    """A file name as it may be printed: control characters (terminal escape codes) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))


def _linked(p: Path, root: Path) -> bool:
    """Whether ``p`` or any folder between ``root`` and it is a link (links are never followed)."""
    rel = p.relative_to(root)
    cur = root
    for part in rel.parts:
        cur = cur / part
        if cur.is_symlink():
            return True
    return False


def _is_noise(p: Path) -> bool:
    return any(part in _NOISE or part.startswith("._") for part in p.parts)


def extract_zip(zip_path: Path, dest: Path, broken: dict | None = None) -> Path:
    """Extract a zip safely (no absolute paths, no '..', no links, bounded size) into ``dest``.
    An entry that cannot be read (bad CRC, truncated data) is left empty and named in ``broken``
    with the reason, so that only its submission fails."""
    try:
        zf = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise CourseError(f"{zip_path} is not a valid zip file: re-download it, or unzip it and pass the folder.") from None
    with zf:
        total = sum(i.file_size for i in zf.infolist())
        if total > MAX_ZIP_BYTES:
            raise CourseError(f"{zip_path} unpacks to {total / 1e6:.0f} MB, over the {MAX_ZIP_BYTES / 1e6:.0f} MB limit.")
        for info in zf.infolist():
            name = info.filename
            target = (dest / name).resolve()
            if name.startswith("/") or ".." in Path(name).parts or not str(target).startswith(str(dest.resolve())):
                continue  # path traversal: skipped (it is reported as ignored by discovery below)
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # symbolic link
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                target.write_bytes(b"")
                if broken is not None:
                    broken[str(target)] = f"its zip entry is corrupt ({type(exc).__name__}: {str(exc)[:80]})"
    entries = [p for p in dest.iterdir() if not _is_noise(p.relative_to(dest))]
    if len(entries) == 1 and entries[0].is_dir() and not list(entries[0].glob("*.ipynb")):
        return entries[0]  # a zip of one folder that holds the student folders
    return dest


def discover(root: Path, assignment: str) -> Batch:
    """List the submissions for ``assignment`` under ``root`` (a folder of students or notebooks)."""
    if not root.exists():
        raise CourseError(f"{root} does not exist: pass the folder (or .zip) that holds the submissions.")
    if not root.is_dir():
        raise CourseError(f"{root} is neither a folder nor a .zip file.")
    subs: dict[str, Submission] = {}
    ignored: list[str] = []
    target = f"{assignment}.ipynb"

    def add(student: str, path: Path, flags: list[str]) -> None:
        if not _STUDENT_ID.match(student):
            ignored.append(f"{shown(path.relative_to(root))}: {shown(repr(student))} is not a usable student id (letters, digits, _.@+-)")
            return
        if student in subs:
            ignored.append(f"{shown(path.relative_to(root))}: a second notebook for {student} (kept {shown(subs[student].path.name)})")
            return
        subs[student] = Submission(student, path, flags)

    for entry in sorted(root.iterdir()):
        rel = entry.relative_to(root)
        if _is_noise(rel):
            continue
        if entry.is_symlink():
            student = entry.stem if entry.suffix == ".ipynb" else entry.name
            if _STUDENT_ID.match(student) and student not in subs:
                add(student, entry, [])
                subs[student].unreadable = "the submission is a link (to a file or folder): links are never followed"
            else:
                ignored.append(f"{shown(rel)}: a link (to a file or folder), refused: links are never followed")
            continue
        if entry.is_file():
            if entry.suffix == ".ipynb":
                add(entry.stem, entry, [])
            else:
                ignored.append(f"{shown(rel)}: not a notebook")
            continue
        links = [p for p in entry.rglob("*") if p.is_symlink()]
        for p in links:
            ignored.append(f"{shown(p.relative_to(root))}: a link (to a file or folder), refused: links are never followed")
        candidates = [entry / target, entry / assignment / target]
        linked = [c for c in candidates if c.is_symlink() or (c.parent != entry and c.parent.is_symlink())]
        if linked and not any(c.is_file() and not _linked(c, root) for c in candidates):
            add(entry.name, linked[0], [])
            if entry.name in subs:
                subs[entry.name].unreadable = f"{shown(linked[0].relative_to(root))} is a link: links are never followed"
            continue
        found = next((c for c in candidates if c.is_file() and not _linked(c, root)), None)
        notebooks = [p for p in entry.rglob("*.ipynb") if not _is_noise(p.relative_to(root)) and not _linked(p, root)]
        if found is not None:
            add(entry.name, found, [])
            others = [p for p in notebooks if p != found]
        elif len(notebooks) == 1:
            add(entry.name, notebooks[0], [f"notebook was renamed to {notebooks[0].name!r}; graded as {target}"])
            others = []
        else:
            why = "no notebook" if not notebooks else f"{len(notebooks)} notebooks and none named {target}"
            ignored.append(f"{shown(rel)}/: {why}")
            continue
        for p in entry.rglob("*"):
            if p.is_file() and not _linked(p, root) and p not in (found, *notebooks[:1]) and not _is_noise(p.relative_to(root)):
                if p not in others:
                    ignored.append(f"{shown(p.relative_to(root))}: extra file, not used")
        for p in others:
            ignored.append(f"{shown(p.relative_to(root))}: extra notebook, not used")
    return Batch(sorted(subs.values(), key=lambda s: s.student), ignored)


def read(sub: Submission, broken: dict | None = None) -> Submission:
    """Load the notebook; on any problem set ``sub.unreadable`` to the reason instead of raising."""
    if sub.unreadable:
        return sub
    if broken and str(sub.path) in broken:
        sub.unreadable = broken[str(sub.path)]
        return sub
    try:
        fd = os.open(sub.path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > MAX_NOTEBOOK_BYTES:
                sub.unreadable = f"notebook is {size / 1e6:.1f} MB, over the {MAX_NOTEBOOK_BYTES / 1e6:.0f} MB limit (outputs or images too large?)"
                return sub
            raw = f.read(MAX_NOTEBOOK_BYTES + 1)
        sub.sha256 = hashlib.sha256(raw).hexdigest()
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        sub.unreadable = "file is not UTF-8 text (is it really a notebook?)"
        return sub
    except json.JSONDecodeError as exc:
        sub.unreadable = f"not valid JSON (line {exc.lineno}, column {exc.colno}): was the file edited outside Jupyter?"
        return sub
    except OSError as exc:
        sub.unreadable = f"cannot read the file: {exc.strerror}" + (" (a link: links are never followed)" if exc.errno == 40 else "")
        return sub
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        sub.unreadable = "JSON, but not a Jupyter notebook (no cells)"
        return sub
    major = data.get("nbformat")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # nbformat raises many kinds; all mean the same to a grader
        sub.unreadable = f"not a notebook nbformat can read (format {major}): {str(exc).splitlines()[0][:120]}"
        return sub
    if major != 4:
        sub.flags.append(f"notebook format {major} was converted to 4")
    sub.notebook = nb
    return sub


def load(path: Path, assignment: str, scratch: Path) -> Batch:
    """Discover and read every submission from a folder or a zip (extracted under ``scratch``)."""
    path = Path(path)
    broken: dict[str, str] = {}
    if path.suffix.lower() == ".zip":
        if not path.is_file():
            raise CourseError(f"{path} does not exist: pass the folder (or .zip) that holds the submissions.")
        root = extract_zip(path, scratch, broken)
    else:
        root = path
    batch = discover(root, assignment)
    for sub in batch.submissions:
        read(sub, broken)
    return batch
