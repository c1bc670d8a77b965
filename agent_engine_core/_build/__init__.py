"""Build passes: a loaded project becomes a ``Plan`` per node. Pure: nothing here runs a node or imports ``_run``."""
