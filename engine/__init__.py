"""Session state, framing, per-speaker features, turn tracking and the output schema."""
