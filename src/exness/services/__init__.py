"""Composition roots: each wires adapters around the core, handles signals, shuts down cleanly."""
