"""Hypothesis settings profiles for the whole test suite.

``dev`` (the default) is quick; ``ci`` runs more examples, derandomized (the
same examples every run, so CI is reproducible) and without deadlines. Pick one
with the environment variable ``HYPOTHESIS_PROFILE`` (``.ci/run`` sets ``ci``).
A test that needs more examples than the profile gives (e.g. the graph
properties of tests/test_strategies.py) sets ``max_examples`` itself and keeps
the rest of the profile.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "dev",
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "ci",
    max_examples=50,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
