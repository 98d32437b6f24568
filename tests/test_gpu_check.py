"""The GPU check refuses clearly, and at once, on a machine that cannot run it.

Its real run needs an NVIDIA GPU (``make gpu-check``; figures in the README); here we prove the
refusals: no driver, a CPU-only torch build, and ``COURSE_DEVICE=cuda`` on a CPU.
"""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import torch

from harness import ROOT
from course_utils import device

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@pytest.mark.skipif(shutil.which("nvidia-smi") is not None, reason="nvidia-smi is present")
def test_make_gpu_check_stops_at_once_without_installing_anything(tmp_path):
    venv = tmp_path / "venv-gpu"
    run = subprocess.run(["make", "-s", "gpu-check", f"GPU_VENV={venv}"], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert run.returncode != 0
    assert "no NVIDIA GPU on this machine" in run.stdout
    assert not venv.exists()


@no_gpu
def test_gpu_check_script_names_the_cpu_only_build():
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "gpu_check.py")], capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 3, run.stdout + run.stderr
    assert ("CPU-only build" if torch.version.cuda is None else "finds no usable GPU") in run.stdout
    assert "Traceback" not in run.stderr


@no_gpu
def test_course_device_cuda_fails_early_on_a_cpu(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="asks for the GPU, but torch"):
        device.get_device()
