"""Run one assembled notebook inside the sandbox and print the executed notebook as JSON.

``python -I sandbox_runner.py SETTINGS_JSON``. Started by ``sandbox.run`` inside fresh network,
PID and mount namespaces where the machine allows them. This process is trusted (it is ours); the
kernel it starts is not. It: brings up the loopback interface (the kernel protocol needs it; there
is no other interface, so no network); builds a fresh root from read-only binds of the system, the
Python install and the course's helper package, with a private size-limited /tmp, and enters it
(so the sources, the gradebook and other submissions do not exist for the kernel); then executes cell by cell with a per-cell timeout
and a whole-notebook deadline, capping the output it keeps. When it exits, being PID 1 of its
namespace, every process the kernel started dies with it.
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

MARKER = "@@GRADER-RESULT@@"
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


def main():
    with open(sys.argv[1]) as f:
        s = json.load(f)
    with open(s["notebook"]) as f:
        nb_json = f.read()
    result = {"status": "completed", "cell": None, "message": "", "protections": []}
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
    except OSError as exc:
        result.update(status="sandbox-error", message=f"could not set up the sandbox: {exc}")
        print(MARKER + json.dumps({"result": result, "notebook": None}), flush=True)
        return

    cap = s["max_output_bytes"]

    class CappedClient(NotebookClient):
        """Keeps at most ``cap`` bytes of output per notebook; errors are always kept."""

        used = 0
        truncated: set = set()

        def process_message(self, msg, cell, cell_index):
            if msg.get("msg_type") in ("stream", "display_data", "execute_result", "update_display_data"):
                size = len(json.dumps(msg.get("content", {})))
                CappedClient.used += size
                if CappedClient.used > cap:
                    if cell_index not in CappedClient.truncated:
                        CappedClient.truncated.add(cell_index)
                        cell.outputs.append(nbformat.v4.new_output(
                            "stream", name="stderr", text="[grader: output truncated, over the size limit]\n"))
                    return None
            return super().process_message(msg, cell, cell_index)

    nb = nbformat.reads(nb_json, as_version=4)
    client = CappedClient(nb, timeout=s["cell_timeout"], kernel_name="grader-sandbox", allow_errors=True,
                          record_timing=False, shutdown_kernel="immediate", startup_timeout=120,
                          resources={"metadata": {"path": work}})
    deadline = time.monotonic() + s["deadline"]
    t0 = time.monotonic()
    try:
        with client.setup_kernel(cwd=work):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    result.update(status="timed-out", cell=index, message=f"the notebook's {s['deadline']} s deadline passed")
                    break
                client.timeout = int(max(1, min(s["cell_timeout"], remaining)))
                try:
                    client.execute_cell(cell, index)
                except CellTimeoutError:
                    limit = "cell" if client.timeout == s["cell_timeout"] else "notebook"
                    secs = s["cell_timeout"] if limit == "cell" else s["deadline"]
                    result.update(status="timed-out", cell=index, message=f"the {limit} time limit ({secs} s) was reached")
                    break
                except DeadKernelError:
                    result.update(status="kernel-died", cell=index, message="the kernel exited or was killed")
                    break
    except Exception as exc:  # kernel failed to start, protocol broke: not the student's fault
        if result["status"] == "completed":
            result.update(status="sandbox-error", message=f"{type(exc).__name__}: {str(exc)[:300]}")
    result["seconds"] = round(time.monotonic() - t0, 2)
    print(MARKER + json.dumps({"result": result, "notebook": nbformat.writes(nb)}), flush=True)
    os._exit(0)


if __name__ == "__main__":
    main()
