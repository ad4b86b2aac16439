"""Run the example plugin's tests with exactly the plugins they need: gansuite's reference plugins
(the conformance kit trains on their datasets) and this package. Nothing else installed counts."""

from __future__ import annotations

import pytest

from gansuite import reset_catalog


@pytest.fixture(autouse=True)
def _only_the_plugins_we_need(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("GANSUITE_LOAD_PLUGINS", "gansuite,gansuite-example")
    reset_catalog()
    yield
    reset_catalog()
