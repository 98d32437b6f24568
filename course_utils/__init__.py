"""Helpers that the course notebooks import.

Small on purpose: each module holds one kind of help (``checks`` for the diagnostic asserts the
visible tests call, ``gradcheck`` for numeric gradients, ``data`` for offline data sets,
``plotting`` and ``widgets`` for pictures, ``device`` for seeding, threads and CPU/GPU choice).
Students read these files, so they stay short and free of framework code of our own.
"""
from course_utils.checks import (
    DelegationError,
    check_array,
    check_close,
    check_equal,
    check_shape,
    check_true,
    compare,
    forbidding,
    from_scratch,
    gradients,
)
from course_utils.device import configure_threads, get_device, seed_everything, setup
from course_utils.gradcheck import grad_check, numeric_gradient, rel_error, torch_grad_check

__all__ = [
    "DelegationError",
    "check_array",
    "check_close",
    "check_equal",
    "check_shape",
    "check_true",
    "compare",
    "configure_threads",
    "forbidding",
    "from_scratch",
    "gradients",
    "get_device",
    "grad_check",
    "numeric_gradient",
    "rel_error",
    "seed_everything",
    "setup",
    "torch_grad_check",
]
