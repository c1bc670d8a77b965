"""The ``effect`` tool's program: ``python3 effect.py NODE INPUT_JSON`` leaves one line in the side-effect log."""

import json
import sys

from effects import leave

leave(f"tool:{sys.argv[1]}", json.loads(sys.argv[2]))
print("effect left")
