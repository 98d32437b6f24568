"""Which build of PyTorch this machine should install; prints pip's extra arguments for it.

`make install` runs it before the long pip step: it says on stderr which build it chose and why,
and prints on stdout the arguments that get that build (nothing when pip's defaults already do).

- A machine with an NVIDIA GPU (``nvidia-smi -L`` lists one): PyPI's Linux wheel, the CUDA build.
- Linux without one: PyTorch's CPU build, about 200 MB instead of several GB of CUDA libraries:
  from a wheel already on this machine when pip's ``find-links`` holds one for the pinned version
  (so nothing is downloaded), else from PyTorch's CPU index (``--extra-index-url
  https://download.pytorch.org/whl/cpu``; the pin ``torch==X`` then matches ``X+cpu``).
- macOS and Windows: PyPI's wheel is the CPU build already.

Only the standard library: it runs before anything is installed.
"""
from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
ROOT = Path(__file__).resolve().parents[1]


def pinned_torch(pins: Path = ROOT / "requirements" / "ci.txt") -> str | None:
    for line in pins.read_text().splitlines():
        m = re.match(r"^torch==([^\s#]+)", line.strip())
        if m:
            return m.group(1)
    return None


def has_nvidia_gpu() -> bool:
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def find_links() -> list[Path]:
    """Folders pip's find-links points at (environment and pip's configuration files)."""
    places = os.environ.get("PIP_FIND_LINKS", "").split()
    try:
        out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60)
        for line in out.stdout.splitlines():
            key, _, value = line.partition("=")
            if key.endswith("find-links"):
                places += value.strip().strip("'\"").split()
    except (OSError, subprocess.SubprocessError):
        pass
    return [Path(p.removeprefix("file://")) for p in places if p and "://" not in p.removeprefix("file://")]


def local_cpu_wheel(version: str) -> Path | None:
    for folder in find_links():
        if folder.is_dir():
            for wheel in sorted(folder.glob(f"torch-{version}+cpu-*.whl")):
                return wheel
    return None


def choose() -> tuple[str, list[str]]:
    """(what was chosen, in words; pip's extra arguments)."""
    version = pinned_torch()
    if os.environ.get("TORCH_BUILD") == "default":
        return "torch: pip's default build (TORCH_BUILD=default)", []
    if has_nvidia_gpu():
        return "torch: an NVIDIA GPU is here: PyPI's build with CUDA (several GB)", []
    if platform.system() != "Linux":
        return f"torch: {platform.system()}: PyPI's build, which is the CPU build there", []
    wheel = local_cpu_wheel(version) if version else None
    if wheel is not None:
        return f"torch: no NVIDIA GPU: the CPU build {version}+cpu from this machine ({wheel})", []
    return (f"torch: no NVIDIA GPU: the CPU build from {CPU_INDEX} (about 200 MB, not the CUDA build)",
            ["--extra-index-url", CPU_INDEX])


def main() -> int:
    what, args = choose()
    print(what, file=sys.stderr)
    print(" ".join(args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
