import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """Tests are tiny; one thread keeps them fast and deterministic on the 2-core machines."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
