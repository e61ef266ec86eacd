"""A fixture for tests that train or generate with torch: one intra-op thread.

On the shared 2-core machines, several pytest workers each running 2 torch threads oversubscribe the cores and
a tiny model's step gets many times slower (2.5 s against 0.13 s measured for one SFT step)."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
