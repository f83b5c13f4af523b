"""ember.random: the default generator's seeding and state, as torch.random."""
from .frontend.ops.random import (  # noqa: F401
    fork_rng, get_rng_state, initial_seed, manual_seed, seed, set_rng_state,
)
