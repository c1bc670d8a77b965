#!/usr/bin/env bash
# Set Agent Engine up on one machine from a checkout: a venv, the core and chosen distributions, a validated
# project, and the deployment fingerprint to compare with other machines. Needs only Python 3.11+ and pip.
#
#   deploy/bootstrap.sh PROJECT_DIR [VENV_DIR]
#
# VENV_DIR defaults to ./.venv-agent-engine. Environment:
#   DISTRIBUTIONS  space-separated folders of the checkout to install besides the core
#                  (default: "agent_engine_plugins/memory-postgres agent_engine_plugins/dask adapters/openai"; "" for the core alone)
#   PYTHON         the interpreter that creates the venv (default: python3)
# pip reads its usual PIP_* variables and config (an index mirror, --find-links for offline installs).
set -euo pipefail

usage() {
    echo "usage: $0 PROJECT_DIR [VENV_DIR]" >&2
    exit 2
}

[[ $# -ge 1 && $# -le 2 ]] || usage
project=$1
venv=${2:-.venv-agent-engine}
python=${PYTHON:-python3}
distributions=${DISTRIBUTIONS-agent_engine_plugins/memory-postgres agent_engine_plugins/dask adapters/openai}
checkout=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[[ -d $project ]] || { echo "error: $project is not a folder (the project's config dir)" >&2; exit 2; }
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "error: $python is Python $("$python" -c 'import platform; print(platform.python_version())'), Agent Engine needs 3.11 or later (set PYTHON)" >&2; exit 2; }

packages=("$checkout")
for distribution in $distributions; do
    [[ -f $checkout/$distribution/pyproject.toml ]] \
        || { echo "error: $distribution is not a distribution folder of $checkout" >&2; exit 2; }
    packages+=("$checkout/$distribution")
done

echo "creating $venv with $python"
"$python" -m venv "$venv"
echo "installing ${packages[*]}"
"$venv/bin/python" -m pip install --quiet "${packages[@]}"
"$venv/bin/agent-engine" validate "$project"
"$venv/bin/agent-engine" deploy fingerprint "$project"
