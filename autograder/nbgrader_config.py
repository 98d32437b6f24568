"""nbgrader configuration for the course: the one place where paths and limits are set.

nbgrader reads this file when run from ``autograder/`` (``nbgrader ... --config``); the course's own
command (``course-grader``) loads it too, so both see the same settings.
"""
import os

_here = os.path.dirname(os.path.abspath(__file__))
_root = os.path.dirname(_here)

c = get_config()  # noqa: F821  (injected by traitlets when the file is loaded)

c.CourseDirectory.root = _root
c.CourseDirectory.source_directory = "solutions"       # the instructor's notebooks (with solutions)
c.CourseDirectory.release_directory = "notebooks"      # the generated student notebooks
c.CourseDirectory.submitted_directory = "autograder/workspace/submitted"
c.CourseDirectory.autograded_directory = "autograder/workspace/autograded"
c.CourseDirectory.feedback_directory = "autograder/workspace/feedback"
# The gradebook formgrader and `nbgrader export` use, the one course-grader writes: SQLite in the
# workspace, or a shared server for several graders (COURSE_DB_URL=postgresql://user:pw@host/db).
c.CourseDirectory.db_url = os.environ.get("COURSE_DB_URL") or \
    "sqlite:///" + os.path.join(_root, "autograder", "workspace", "nbgrader.db")
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "*.py", "feedback"]
c.CourseDirectory.course_id = "neurons-to-transformers"

# The student notebooks carry no outputs and no hidden tests; solutions become the stub below.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
c.ClearSolutions.enforce_metadata = True
c.GenerateAssignment.create_assignment = True

# Grading: a cell may run this long; a notebook as a whole is capped by the grade command.
c.Execute.timeout = 120
c.Execute.allow_errors = True
c.Execute.interrupt_on_timeout = True
# Cells a student deleted or altered are put back from the source (nbgrader's OverwriteCells).
c.Autograde.create_student = True

# `nbgrader export`: the course's plugin leaves a submission the grader could not grade empty (never
# 0) and says why in a `status` column; totals are the ones `course-grader export` writes.
c.ExportApp.plugin_class = "autograder.nbgrader_export.CourseCsvExportPlugin"
