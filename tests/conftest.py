"""Shared fixtures: a throw-away copy of the tiny fixture course, built and released once."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).parent / "fixtures" / "tiny_course"


@pytest.fixture(scope="session")
def tiny_course(tmp_path_factory):
    from autograder.course import Course
    from autograder.release import build, release

    root = tmp_path_factory.mktemp("course") / "tiny_course"
    shutil.copytree(FIXTURE, root)
    course = Course(root)
    build(course, "t_tiny")
    release(course, "t_tiny")
    return course
