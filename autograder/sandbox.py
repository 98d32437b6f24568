"""Sandboxed execution of one assembled notebook (the parent's side).

Three levels, the strongest the machine allows (``probe``):

* ``full`` (root, namespaces allowed): the runner enters new network, PID, mount, IPC and UTS
  namespaces and a fresh read-only root; the kernel runs as an unprivileged uid of its own (one per
  parallel slot) with limits on CPU time, memory, processes, open files and file size.
* ``userns`` (no root, unprivileged user namespaces allowed): the same namespaces and root, but
  the kernel keeps the instructor's uid, so the process limit is looser and it could signal the
  runner (which then reports the kernel as dead).
* ``limits``: resource limits and timeouts only; the kernel can see what the instructor's user can.

The grade command prints which level was in force. No container engine is needed.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import nbformat

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "sandbox_runner.py"
LAUNCHER = HERE / "kernel_launcher.py"
BASE_UID = 61000
SYSTEM_DIRS = ["/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin", "/etc", "/dev", "/opt/conda"]


@dataclass(frozen=True)
class Limits:
    """What one submission may use. The grade command's flags set these."""

    cell_timeout: int = 120        # CPU seconds (or seconds idle) for one cell; wall clock 20x, a backstop
    deadline: int = 600            # CPU seconds for the whole notebook; wall clock 20x
    memory_mb: int = 4096          # address space of the kernel
    tmp_mb: int = 512              # its private /tmp (the working folder lives there)
    max_output_mb: int = 8         # output kept from the whole notebook
    nproc: int = 256               # processes and threads of the kernel's uid
    nofile: int = 1024
    fsize_mb: int = 256
    threads: int = 2               # torch/BLAS threads in the kernel


@dataclass
class RunResult:
    status: str                    # completed | timed-out | kernel-died | sandbox-error
    cell: int | None
    message: str
    notebook: nbformat.NotebookNode | None
    protections: list[str] = field(default_factory=list)
    seconds: float = 0.0
    tests: dict = field(default_factory=dict)   # grade_id -> {"visible": error|None, "hidden": ..., "ran": bool}


def _works(cmd: list[str]) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@lru_cache(maxsize=1)
def probe() -> str:
    """The strongest isolation level this machine allows: 'full', 'userns' or 'limits'."""
    if os.environ.get("COURSE_SANDBOX") in ("full", "userns", "limits"):
        return os.environ["COURSE_SANDBOX"]
    if not shutil.which("unshare"):
        return "limits"
    flags = ["--net", "--pid", "--mount", "--ipc", "--uts", "--fork", "--kill-child", "true"]
    if os.geteuid() == 0 and _works(["unshare", *flags]):
        return "full"
    if _works(["unshare", "--user", "--map-root-user", *flags]):
        return "userns"
    return "limits"


def _binds() -> list[str]:
    """Paths the kernel needs: system dirs, the Python install, this environment, course_utils."""
    import course_utils

    paths = list(SYSTEM_DIRS)
    for p in {sys.base_prefix, sys.prefix, os.path.realpath(sys.base_prefix), os.path.realpath(sys.executable)}:
        paths.append(p if os.path.isdir(p) else os.path.dirname(p))
    paths.append(str(Path(course_utils.__file__).resolve().parent))
    paths.append(str(HERE))  # the kernel launcher; the workspace inside it is covered again
    for entry in sys.path:  # editable installs and .pth entries
        if entry and os.path.isdir(entry) and entry.startswith(("/",)) and "site-packages" in entry:
            paths.append(entry)
    seen, out = set(), []
    for p in sorted(paths, key=len):
        if not any(p == q or p.startswith(q.rstrip("/") + "/") for q in seen):
            seen.add(p)
            out.append(p)
    return out


UID_RANGE = 64   # kernel uids BASE_UID .. BASE_UID + 63, leased one per running sandbox


class UidLease:
    """A kernel uid that no other sandbox on this machine uses while this one runs.

    Process limits (RLIMIT_NPROC) count every process of a uid, machine-wide: two graders (two
    batches, a grader and the audit, several instructors' workers) whose kernels shared a uid
    would share one student's fork bomb. Each run holds an exclusive lock on its uid's lock file
    (released by the kernel if the grader dies) and first kills anything still running under that
    uid, which can only be left over from a grader that crashed."""

    def __init__(self):
        import fcntl

        folder = Path("/run/lock/course-grader") if os.access("/run/lock", os.W_OK) else \
            Path(tempfile.gettempdir()) / f"course-grader-uids-{os.geteuid()}"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for uid in range(BASE_UID, BASE_UID + UID_RANGE):
            fd = os.open(folder / f"{uid}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self.fd = uid, fd
            _kill_uid(uid)
            return
        raise OSError(f"all {UID_RANGE} sandbox uids ({BASE_UID}-{BASE_UID + UID_RANGE - 1}) are in use by other "
                      "graders on this machine; wait for one to finish or use fewer --jobs")

    def release(self) -> None:
        os.close(self.fd)


def _kill_uid(uid: int) -> None:
    import psutil

    for p in psutil.process_iter(["uids"]):
        try:
            if p.info["uids"] and p.info["uids"].real == uid:
                p.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def settings_for(mode: str, limits: Limits, uid: int | None, job: Path, workspace: Path) -> dict:
    """The runner's settings; ``uid`` is the leased kernel uid in the full mode, else None."""
    isolated = mode in ("full", "userns")
    workdir = "/tmp/work" if isolated else str(job / "work")
    rl = {
        "cpu": limits.deadline * max(1, limits.threads) + 60,
        "as": limits.memory_mb * 1024 * 1024,
        "nofile": limits.nofile,
        "fsize": limits.fsize_mb * 1024 * 1024,
        "core": 0,
    }
    if mode == "full":
        rl["nproc"] = limits.nproc
    threads = str(limits.threads)
    return {
        "mode": mode,
        "newroot": str(job / "root"),
        "binds": _binds(),
        "hide_inside": [str(workspace)],
        "tmp_mb": limits.tmp_mb,
        "private_tmp": "/tmp" if isolated else str(job),
        "notebook": str(job / "input.ipynb"),
        "cell_timeout": limits.cell_timeout,
        "deadline": limits.deadline,
        "max_output_bytes": limits.max_output_mb * 1024 * 1024,
        "launcher_path": str(LAUNCHER),
        "launcher": {
            "workdir": workdir, "debug": bool(os.environ.get("COURSE_SANDBOX_DEBUG")), "uid": uid, "gid": uid, "tmpdir": workdir, "rlimits": rl, "writable": [],
            "python": sys.executable,
            "path": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
            "env": {"COURSE_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
                    "OPENBLAS_NUM_THREADS": threads, "COURSE_GRADING": "1",
                    "MPLBACKEND": "module://matplotlib_inline.backend_inline"},
        },
    }


def describe(mode: str, limits: Limits) -> list[str]:
    """One line per protection, for the grade command's header."""
    lines = {
        "full": "isolation: full (namespaces for network, processes and files; unprivileged kernel uid)",
        "userns": "isolation: user namespaces (network, processes and files isolated; kernel keeps your uid)",
        "limits": "isolation: limits only (run as root with unshare available for full isolation)",
    }[mode]
    return [
        lines,
        f"limits: {limits.cell_timeout} s of CPU (or idle) a cell, {limits.deadline} s of CPU a notebook, "
        f"{limits.memory_mb} MB memory, "
        f"{limits.tmp_mb} MB disk, {limits.max_output_mb} MB output"
        + (f", {limits.nproc} processes" if mode == "full" else ""),
    ]


def run(nb: nbformat.NotebookNode, limits: Limits, slot: int, jobs: Path, workspace: Path,
        mode: str | None = None) -> RunResult:
    """Execute ``nb`` in the sandbox (scratch under ``jobs``; ``workspace`` is hidden from the
    kernel); never raises for anything the notebook does."""
    mode = mode or probe()
    jobs.mkdir(parents=True, exist_ok=True)
    os.chmod(jobs, 0o700)
    job = Path(tempfile.mkdtemp(prefix=f"slot{slot}-", dir=jobs))
    lease = None
    try:
        (job / "root").mkdir()
        nbformat.write(nb, job / "input.ipynb")
        if mode == "full":
            try:
                lease = UidLease()
            except OSError as exc:
                return RunResult("sandbox-error", None, str(exc), None, describe(mode, limits))
        settings = settings_for(mode, limits, lease.uid if lease else None, job, workspace)
        (job / "settings.json").write_text(json.dumps(settings))
        # The runner's result comes back through a file it inherits as an open descriptor: nothing
        # the notebook prints can be mistaken for it, and the kernel never holds that descriptor.
        result_fd = os.open(job / "result.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        cmd = [sys.executable, "-I", str(RUNNER), str(job / "settings.json"), str(result_fd)]
        ns = ["--net", "--pid", "--mount", "--ipc", "--uts", "--fork", "--kill-child"]
        if mode == "full":
            cmd = ["unshare", *ns, *cmd]
        elif mode == "userns":
            cmd = ["unshare", "--user", "--map-root-user", *ns, *cmd]
        threads = str(limits.threads)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": str(job),
               "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
               "COURSE_NUM_THREADS": threads, "COURSE_GRADING": "1", "MPLBACKEND": "Agg"}
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    start_new_session=True, env=env, cwd=str(job), pass_fds=(result_fd,))
        finally:
            os.close(result_fd)
        try:
            out, err = proc.communicate(timeout=20 * limits.deadline + 180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return RunResult("timed-out", None, "the sandbox did not finish in time and was killed", None,
                             describe(mode, limits))
        finally:
            if mode == "limits":
                _kill_leftovers(proc.pid)
        try:
            payload = json.loads((job / "result.json").read_bytes() or b"null")
            r = payload["result"]
        except (ValueError, TypeError, KeyError):
            tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
            return RunResult("sandbox-error", None, f"the sandbox runner exited {proc.returncode} without a result: "
                             + " | ".join(tail), None, describe(mode, limits))
        nb_out = nbformat.reads(payload["notebook"], as_version=4) if payload.get("notebook") else None
        return RunResult(r["status"], r["cell"], r["message"], nb_out,
                         describe(mode, limits) + r.get("protections", []), r.get("seconds", 0.0),
                         r.get("tests", {}))
    finally:
        if lease is not None:  # only the full mode leases a uid
            _kill_uid(lease.uid)  # nothing of this run outlives it under the uid the next run gets
            lease.release()
        shutil.rmtree(job, ignore_errors=True)


def _kill_leftovers(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
