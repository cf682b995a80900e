import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic_threads():
    # the machine has 2 cores; fixed threads keep float summation order repeatable
    torch.set_num_threads(2)
    yield
