"""Non-learned baselines that learned models must beat."""
