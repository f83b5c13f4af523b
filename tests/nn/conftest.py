"""Fixtures for the nn tests."""
import pytest

import test_loss_oracle


@pytest.fixture(autouse=True)
def _loss_data_seeded_per_test(request):
    test_loss_oracle.reseed(request.node.nodeid)
