"""Start a grading kernel with as few rights as the machine allows. Run by jupyter_client.

``python -I kernel_launcher.py CONNECTION_FILE SETTINGS_JSON``: still privileged (inside the
sandbox's namespaces), it copies the connection file where the kernel's user can read it, sets
resource limits, drops to the unprivileged uid/gid, scrubs the environment, sends its own stdout
and stderr to /dev/null (kernel output travels over the kernel protocol only), and execs ipykernel.
"""
import json
import os
import resource
import sys


def main() -> None:
    conn_file, settings_file = sys.argv[1], sys.argv[2]
    with open(settings_file) as f:
        s = json.load(f)
    work, uid, gid = s["workdir"], s.get("uid"), s.get("gid")
    with open(conn_file) as f:
        conn = f.read()
    own_conn = os.path.join(work, ".kernel-connection.json")
    with open(own_conn, "w") as f:
        f.write(conn)
    os.chmod(own_conn, 0o600)
    if uid is not None:
        for top in (work, *s.get("writable", [])):
            for dirpath, dirnames, filenames in os.walk(top):
                for name in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
                    os.chown(name, uid, gid)
    limits = {
        "cpu": resource.RLIMIT_CPU, "as": resource.RLIMIT_AS, "nproc": resource.RLIMIT_NPROC,
        "nofile": resource.RLIMIT_NOFILE, "fsize": resource.RLIMIT_FSIZE, "core": resource.RLIMIT_CORE,
    }
    for name, value in s["rlimits"].items():
        resource.setrlimit(limits[name], (value, value))
    try:
        os.setsid()  # jupyter_client usually made us a session leader already
    except PermissionError:
        pass
    if uid is not None:
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    # COURSE_SANDBOX_DEBUG keeps the kernel's own stderr in the work folder, for diagnosing start-up.
    devnull = os.open(os.path.join(work, ".kernel.log"), os.O_WRONLY | os.O_CREAT, 0o600) \
        if s.get("debug") else os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.chdir(work)
    env = {
        "PATH": s["path"], "HOME": work, "LANG": "C.UTF-8", "TMPDIR": s["tmpdir"],
        "MPLCONFIGDIR": os.path.join(work, ".config", "matplotlib"), "IPYTHONDIR": os.path.join(work, ".ipython"),
        "JUPYTER_RUNTIME_DIR": os.path.join(work, ".runtime"), "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", **s["env"],
    }
    python = s["python"]
    os.execve(python, [python, "-m", "ipykernel_launcher", "-f", own_conn], env)


if __name__ == "__main__":
    main()
