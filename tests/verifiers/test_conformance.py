"""The shared conformance suite (idp/verifiers/conformance.py), run for every registered kind.

Each module's driver lives in tests/verifiers/drivers/<kind>.py and exposes `DRIVER`.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

from idp.verifiers.conformance import CHECKS
from idp.verifiers.conformance import Harness
from idp.verifiers.registry import available_kinds
from tests.verifiers import drivers as drivers_package

DRIVERS = {
    module.name: importlib.import_module(f"{drivers_package.__name__}.{module.name}").DRIVER
    for module in pkgutil.iter_modules(drivers_package.__path__)
}


def test_every_registered_kind_has_a_driver():
    """Every kind in the idp.verifiers entry-point group runs the suite."""
    missing = set(available_kinds()) - set(DRIVERS)
    assert not missing, f"no conformance driver for {sorted(missing)}"


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
@pytest.mark.parametrize("kind", sorted(DRIVERS))
def test_conformance(app, kind, check):
    with app.app_context():
        check(DRIVERS[kind], Harness())
