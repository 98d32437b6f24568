"""Run one assembled notebook inside the sandbox; write the executed notebook and the test results
to the descriptor the grader passed (never stdout).

``python -I sandbox_runner.py SETTINGS_JSON RESULT_FD``. Started by ``sandbox.run`` inside fresh
network, PID and mount namespaces where the machine allows them. This process is trusted (it is
ours); the kernel it starts is not. It: brings up the loopback interface (the kernel protocol
needs it; there is no other interface, so no network); builds a fresh root from read-only binds of
the system, the Python install and the course's helper package, with a private size-limited /tmp,
and enters it (so the sources, the gradebook and other submissions do not exist for the kernel);
then executes the student's cells in the kernel one by one and runs every test cell *here*
(``autograder.trusted``), while the kernel serves the calls the test makes over a private socket
(``autograder.remote``). Time limits are on CPU time (``CpuWatch``); output kept is capped. When
it exits, being PID 1 of its namespace, every process the kernel started dies with it.
"""
import ctypes
import ctypes.util
import fcntl
import json
import os
import socket
import struct
import sys
import tempfile
import time

MS_BIND, MS_REC, MS_RDONLY, MS_REMOUNT, MS_NOSUID, MS_NODEV = 4096, 16384, 1, 32, 2, 4


def _libc():
    return ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def mount(source, target, fstype, flags, data=""):
    libc = _libc()
    if libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags, data.encode()) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


def loopback_up():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    ifr = struct.pack("16sH", b"lo", 0)
    flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, ifr)[:18])[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 0x1))  # SIOCSIFFLAGS, IFF_UP


def _bind(src, newroot, readonly=True):
    """Bind ``src`` at the same absolute path inside ``newroot`` (symlinks are recreated as links)."""
    dst = newroot + src
    if os.path.islink(src) and os.path.dirname(src) == "/":
        os.symlink(os.readlink(src), dst)
        return
    if os.path.isdir(src):
        os.makedirs(dst, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        open(dst, "a").close()
    mount(src, dst, None, MS_BIND | MS_REC)
    if readonly:
        mount("none", dst, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_REC)


def prepare(s):
    """Build the kernel's view of the machine and enter it (chroot); return what is in force."""
    protections = []
    if s["mode"] not in ("full", "userns"):
        return ["network: not isolated", "files: not isolated (kernel sees what this user sees)",
                "processes: the kernel's session is killed at the end"]
    loopback_up()
    protections.append("network: none (own network namespace, loopback only)")
    protections.append("processes: own PID namespace; everything the kernel started dies with it")
    newroot = s["newroot"]
    mount("tmpfs", newroot, "tmpfs", MS_NOSUID | MS_NODEV, "size=8m,mode=0755")
    # Private scratch first, binds after: a clone or environment that lives under /tmp stays visible.
    for d, mb in (("/tmp", s["tmp_mb"]), ("/var/tmp", 1)):
        os.makedirs(newroot + d, exist_ok=True)
        mount("tmpfs", newroot + d, "tmpfs", MS_NOSUID | MS_NODEV, f"size={mb}m,mode=1777")
    for src in s["binds"]:
        if os.path.lexists(src):
            _bind(src, newroot)
    os.makedirs(newroot + "/dev/shm", exist_ok=True)
    mount("tmpfs", newroot + "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777")
    os.makedirs(newroot + "/proc", exist_ok=True)
    mount("proc", newroot + "/proc", "proc", MS_NOSUID | MS_NODEV)
    for hidden in s["hide_inside"]:
        if os.path.isdir(newroot + hidden):
            mount("tmpfs", newroot + hidden, "tmpfs", MS_NOSUID | MS_NODEV | MS_RDONLY, "size=4k,mode=0755")
    os.chroot(newroot)
    os.chdir("/")
    protections.append(f"files: a fresh root holding only system files, Python and course_utils (read-only); "
                       f"private /tmp of {s['tmp_mb']} MB; sources, gradebook and submissions absent")
    return protections


SERVE = "__import__('autograder.remote', fromlist=['serve']).serve({address!r}, globals())"


def _no_dumping():
    """Same-uid processes (the kernel, at the weaker isolation levels) cannot ptrace us."""
    try:
        _libc().prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:
        pass


class CpuWatch:
    """Decides time limits on CPU time, so that a grade does not depend on how busy the machine is.

    A cell may use ``cell_limit`` seconds of CPU (the kernel and its children), and may sit idle
    (neither the kernel nor this process, which runs the tests, using the CPU: a ``sleep``, a
    blocked read) for as long. A cell that is merely slow because the machine is busy keeps using
    the CPU, so it is never stopped for that. Over a limit: interrupt, then kill."""

    IDLE_SHARE = 0.03   # under 3% of one core, over a window, counts as idle

    def __init__(self, cell_limit: float, notebook_limit: float):
        import threading

        self.cell_limit, self.notebook_limit = cell_limit, notebook_limit
        self.pid = None
        self.base = self.start = 0.0
        self.idle = 0.0
        self.active = False
        self.exceeded: str | None = None
        self.stopped = threading.Event()
        threading.Thread(target=self._loop, daemon=True).start()

    def cpu(self) -> float:
        import psutil

        try:
            p = psutil.Process(self.pid)
            t = p.cpu_times()
            total = t.user + t.system + t.children_user + t.children_system
            for c in p.children(recursive=True):
                try:
                    ct = c.cpu_times()
                    total += ct.user + ct.system
                except psutil.Error:
                    pass
            return total
        except psutil.Error:
            return self.base

    def runnable(self) -> bool:
        """Whether the kernel (or a child) is running or waiting for a CPU (a starved process is)."""
        import psutil

        try:
            p = psutil.Process(self.pid)
            for q in (p, *p.children(recursive=True)):
                if q.status() in (psutil.STATUS_RUNNING, psutil.STATUS_DISK_SLEEP):
                    return True
                for t in q.threads()[:64]:
                    try:
                        with open(f"/proc/{q.pid}/task/{t.id}/stat") as f:
                            if f.read().rsplit(")", 1)[1].split()[0] in ("R", "D"):
                                return True
                    except OSError:
                        pass
        except psutil.Error:
            return False
        return False

    def attach(self, pid: int) -> None:
        self.pid = pid
        self.start = self.cpu()

    def begin(self) -> None:
        self.base = self.cpu()
        self.idle = 0.0
        self.active = True

    def end(self) -> float:
        self.active = False
        return self.cpu() - self.base

    def _loop(self) -> None:
        import signal

        last_wall, last_cpu = time.monotonic(), 0.0
        while not self.stopped.wait(1.0):
            if not self.active or self.pid is None:
                last_wall, last_cpu = time.monotonic(), self.cpu() + time.process_time()
                continue
            used = self.cpu()
            now, progress = time.monotonic(), used + time.process_time()
            if progress - last_cpu < self.IDLE_SHARE * (now - last_wall) and not self.runnable():
                self.idle += now - last_wall
            last_wall, last_cpu = now, progress
            if used - self.base > self.cell_limit:
                self.exceeded = f"the cell CPU time limit ({self.cell_limit:g} s) was reached"
            elif used - self.start > self.notebook_limit:
                self.exceeded = f"the notebook's CPU time limit ({self.notebook_limit:g} s) was reached"
            elif self.idle > self.cell_limit:
                self.exceeded = f"the cell waited {self.cell_limit:g} s without using the CPU"
            else:
                continue
            try:
                os.kill(self.pid, signal.SIGINT)
            except OSError:
                pass
            if not self.stopped.wait(2.0) and self.active:
                try:
                    os.kill(self.pid, signal.SIGKILL)
                except OSError:
                    pass
            while self.active and not self.stopped.wait(0.25):
                pass


def slice_polls(kc, step: float = 0.5) -> None:
    """Make the client's waits for kernel messages poll in short slices.

    A wait of the whole cell time-out on one ``zmq.asyncio`` poll can miss its wake-up: seen in CI
    as a kernel idle in its event loop, its reply sent, and this process still waiting in
    ``epoll_wait`` until the cell limit turned the submission into a time-out. Each new poll first
    checks the socket itself, so a slice of ``step`` seconds finds a message whose wake-up was lost.
    The overall time-out is unchanged."""
    import inspect
    from queue import Empty

    for channel in (kc.shell_channel, kc.iopub_channel):
        get = channel.get_msg

        async def sliced(timeout=None, _get=get):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                wait = step if deadline is None else max(0.0, min(step, deadline - time.monotonic()))
                try:
                    got = _get(timeout=wait)
                    return (await got) if inspect.isawaitable(got) else got  # async or blocking client
                except Empty:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise

        channel.get_msg = sliced


def write_result(fd, payload: dict) -> None:
    data = json.dumps(payload).encode()
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def main():
    with open(sys.argv[1]) as f:
        s = json.load(f)
    result_fd = int(sys.argv[2])
    os.set_inheritable(result_fd, False)  # the result goes to the grader only, never to the kernel
    _no_dumping()
    with open(s["notebook"]) as f:
        nb_json = f.read()
    result = {"status": "completed", "cell": None, "message": "", "protections": [], "tests": {}}
    import nbformat  # imported before the chroot; every path it needs is bound anyway
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    try:
        result["protections"] = prepare(s)
        private = tempfile.mkdtemp(prefix="grader-", dir=s["private_tmp"])  # 0700, runner only
        kernel_dir = os.path.join(private, "kernels", "grader-sandbox")
        os.makedirs(kernel_dir)
        launcher_settings = os.path.join(private, "launcher.json")
        with open(launcher_settings, "w") as f:
            json.dump(s["launcher"], f)
        with open(os.path.join(kernel_dir, "kernel.json"), "w") as f:
            json.dump({"argv": [sys.executable, "-I", s["launcher_path"], "{connection_file}", launcher_settings],
                       "display_name": "grader sandbox", "language": "python"}, f)
        work = s["launcher"]["workdir"]
        os.makedirs(work, exist_ok=True)
        for sub in (".config/matplotlib", ".ipython", ".runtime"):
            os.makedirs(os.path.join(work, sub), exist_ok=True)
        for d in s["launcher"].get("writable", []):
            os.makedirs(d, exist_ok=True)
        runtime = os.path.join(private, "runtime")
        os.makedirs(runtime)
        os.environ.update({"JUPYTER_PATH": os.path.join(private), "JUPYTER_RUNTIME_DIR": runtime,
                           "JUPYTER_CONFIG_DIR": runtime, "JUPYTER_DATA_DIR": private, "HOME": private})
        address = "grader-" + os.urandom(16).hex()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind("\0" + address)
        listener.listen(4)
    except OSError as exc:
        result.update(status="sandbox-error", message=f"could not set up the sandbox: {exc}")
        write_result(result_fd, {"result": result, "notebook": None})
        return

    cap = s["max_output_bytes"]

    class CappedClient(NotebookClient):
        """Keeps at most ``cap`` bytes of output per notebook, error outputs included."""

        used = 0
        truncated: set = set()
        discard = False
        tested = False

        def process_message(self, msg, cell, cell_index):
            if CappedClient.tested and msg.get("msg_type") == "update_display_data":
                return None  # once testing began, nothing may rewrite an output shown earlier
            if CappedClient.discard and msg.get("msg_type") in ("stream", "display_data", "execute_result",
                                                                  "update_display_data", "error", "clear_output"):
                return None  # output of the student's code while a test calls it: never kept
            if msg.get("msg_type") in ("stream", "display_data", "execute_result", "update_display_data", "error"):
                size = len(json.dumps(msg.get("content", {})))
                CappedClient.used += size
                if CappedClient.used > cap:
                    if cell_index not in CappedClient.truncated:
                        CappedClient.truncated.add(cell_index)
                        cell.outputs.append(nbformat.v4.new_output(
                            "stream", name="stderr", text="[grader: output truncated, over the size limit]\n"))
                    return None
            return super().process_message(msg, cell, cell_index)

    from autograder.trusted import TrustedTests

    tests = TrustedTests()
    nb = nbformat.reads(nb_json, as_version=4)
    client = CappedClient(nb, timeout=s["cell_timeout"], kernel_name="grader-sandbox", allow_errors=True,
                          record_timing=False, shutdown_kernel="immediate", startup_timeout=120,
                          resources={"metadata": {"path": work}})
    # CPU time (and idle time) decide; the wall clock is only a last backstop, far out, since a
    # loaded machine can be ten times slower.
    wall_cell = 20 * s["cell_timeout"]
    deadline = time.monotonic() + 20 * s["deadline"]
    watch = CpuWatch(s["cell_timeout"], s["deadline"])
    t0 = time.monotonic()
    cells = nb.cells
    try:
        with client.setup_kernel(cwd=work):
            slice_polls(client.kc)
            try:
                watch.attach(client.km.provisioner.process.pid)
            except AttributeError:
                watch.attach(client.km.kernel.pid)
            index = 0
            student_ran = False
            while index < len(cells):
                cell = cells[index]
                role = cell.metadata.get("grader", {})
                if cell.cell_type != "code":
                    index += 1
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.update(status="timed-out", cell=index, message=f"the notebook's wall-clock backstop ({20 * s['deadline']} s) passed")
                    break
                client.timeout = int(max(1, min(wall_cell, remaining)))
                watch.exceeded = None
                if role.get("role") == "test":
                    group = [index]
                    while (group[-1] + 1 < len(cells) and cells[group[-1] + 1].metadata.get("grader", {}).get("grade_id")
                           == role.get("grade_id") and cells[group[-1] + 1].metadata["grader"].get("role") == "test"):
                        group.append(group[-1] + 1)
                    stop = run_test(client, tests, listener, address, cells, group, index, result, s, CappedClient, watch)
                    if stop:
                        break
                    index = group[-1] + 1
                    continue
                watch.begin()
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    watch.end()
                    result.update(status="timed-out", cell=index, message=watch.exceeded or
                                  f"the wall-clock backstop ({client.timeout} s) was reached")
                    break
                except DeadKernelError:
                    watch.end()
                    if watch.exceeded:
                        result.update(status="timed-out", cell=index, message=watch.exceeded)
                    else:
                        result.update(status="kernel-died", cell=index, message="the kernel exited or was killed")
                    break
                watch.end()
                if watch.exceeded:
                    result.update(status="timed-out", cell=index, message=watch.exceeded)
                    break
                if role.get("role") == "locked":
                    failed = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)
                    if failed is not None and not student_ran:
                        # Nothing of the student's has run yet: the course's own set-up failed here
                        # (course_utils not installed where the kernel runs, a missing dependency).
                        # That is the grader's environment, not the submission: never a 0.
                        result.update(status="sandbox-error", cell=index, message=(
                            f"the notebook's set-up cell failed before any answer ran: {failed.get('ename', 'Error')}: "
                            f"{str(failed.get('evalue', ''))[:200]}. Install the course (pip install -e .) and its "
                            "dependencies in the Python that runs the grader, then grade again."))
                        break
                    tests.replay_locked(cell.source)
                else:
                    student_ran = True
                index += 1
    except Exception as exc:  # kernel failed to start, protocol broke: not the student's fault
        if result["status"] == "completed":
            import traceback

            where = traceback.extract_tb(exc.__traceback__)[-1]
            result.update(status="sandbox-error", message=f"{type(exc).__name__}: {str(exc)[:300]} "
                          f"({os.path.basename(where.filename)}:{where.lineno})")
    watch.stopped.set()
    result["seconds"] = round(time.monotonic() - t0, 2)
    result["cpu_seconds"] = round(watch.cpu() - watch.start, 2) if watch.pid else 0.0
    write_result(result_fd, {"result": result, "notebook": nbformat.writes(nb)})
    os._exit(0)


def run_test(client, tests, listener, address, cells, group, index, result, s, capped, watch) -> bool:
    """Run one test cell (its visible and hidden parts) in this trusted process while the kernel
    serves the calls it makes. Returns True when the run must stop (time limit, dead kernel)."""
    import threading

    import nbformat
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    from autograder import remote

    gid = cells[index].metadata["grader"]["grade_id"]
    parts = [(cells[i].metadata["grader"].get("part", "visible"), cells[i].source) for i in group]
    limit = client.timeout
    deadline = time.monotonic() + limit
    box: dict = {}

    def trusted_side():
        listener.settimeout(max(1.0, limit))
        try:
            conn, _ = listener.accept()
        except OSError:
            box["run"] = None
            return
        conn.settimeout(None)
        box["conn"] = conn
        peer = remote.Peer(conn, trusted=True)
        try:
            box["run"] = tests.run_test(gid, parts, peer, deadline)
        finally:
            try:
                conn.close()
            except OSError:
                pass

    worker = threading.Thread(target=trusted_side, daemon=True)
    worker.start()
    serve = nbformat.v4.new_code_cell(SERVE.format(address=address))
    stop = None
    capped.discard = capped.tested = True
    original = cells[index]
    watch.begin()
    try:
        client.execute_cell(serve, index)
    except CellTimeoutError:
        stop = ("timed-out", watch.exceeded or f"the wall-clock backstop ({client.timeout} s) was reached")
    except DeadKernelError:
        stop = ("timed-out", watch.exceeded) if watch.exceeded else ("kernel-died", "the kernel exited or was killed")
    finally:
        watch.end()
        capped.discard = False
        if stop is None and watch.exceeded:
            stop = ("timed-out", watch.exceeded)
        cells[index] = original  # nbclient stores the cell it ran at that index
    worker.join(timeout=2.0)
    if worker.is_alive():  # the kernel stopped serving early: unblock the trusted side
        conn = box.get("conn")
        if conn is not None:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        else:
            # accept() is still waiting: connect once so it returns, then the peer sees the close
            try:
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect("\0" + address)
                c.close()
            except OSError:
                pass
        worker.join(timeout=5.0)
    run = box.get("run")
    record = {"visible": None, "hidden": None, "ran": run is not None}
    for i in group:
        part = cells[i].metadata["grader"].get("part", "visible")
        cells[i].outputs = []
        pr = run.parts.get(part) if run is not None else None
        if run is None:
            err = ("GraderError", "the student's process did not serve the test")
        elif pr is None:
            err = ("NotRun", "an earlier part of this test stopped it")
        else:
            err = pr.error
            if pr.output:
                cells[i].outputs.append(nbformat.v4.new_output("stream", name="stdout", text=pr.output))
        if err is not None:
            cells[i].outputs.append(nbformat.v4.new_output("error", ename=err[0], evalue=err[1],
                                                           traceback=[f"{err[0]}: {err[1]}"]))
        record[part] = None if err is None else f"{err[0]}: {err[1]}"[:2000]
    result["tests"][gid] = record
    if stop is None and run is not None and run.status == "timed-out":
        stop = ("timed-out", f"the wall-clock backstop ({limit} s) was reached")
    if stop is not None:
        result.update(status=stop[0], cell=index, message=stop[1])
        return True
    return False


if __name__ == "__main__":
    main()
