"""The course's grading command line: a hardened wrapper around nbgrader.

Pipeline, one job per module: ``release`` (build sources, generate student notebooks),
``intake`` (find and read submissions), ``sandbox`` (run one notebook, isolated), ``scoring``
(points from the executed notebook, against the trusted source), ``gradebook`` (results store),
``feedback`` and ``export`` (what students and the registrar see). ``cli`` ties them together.
"""
