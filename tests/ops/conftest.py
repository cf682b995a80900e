"""Preflight reads HF_HUB_OFFLINE (its hf-offline check): its tests start online and set it
themselves, whatever a session-wide fixture elsewhere (the fault suite's offline environment,
which stays set to the session's end) left in this process."""

import pytest


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
