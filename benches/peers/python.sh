#!/usr/bin/env bash
# The Python package's benchmark (benches/peers/python_bench.py) against
# scikit-learn and River; rewrites its section of benches/peers/RESULTS.md:
#   bash benches/peers/python.sh
# Installs the pinned peer environment (setup.sh) and the package
# (`pip install ./python`, a release build) into it first.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=$(bash benches/peers/setup.sh | tail -1)
CARGO_TARGET_DIR="$PWD/target/python-build" "$python" -m pip install --quiet --disable-pip-version-check ./python
"$python" benches/peers/python_bench.py
