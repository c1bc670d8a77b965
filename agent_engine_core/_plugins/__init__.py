"""Plugins: the per-engine manager, the built-in components, and plugins.yaml applied to a built engine."""
