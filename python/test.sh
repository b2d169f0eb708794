#!/usr/bin/env bash
# Builds and installs the Python package into a fresh virtual environment
# (`pip install ./python`, as the README says) and runs its tests:
#   bash python/test.sh
# Run by `cargo test --workspace` (tests/python.rs). The environment lives in
# target/python-venv; the Rust build in target/python-build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/python-venv
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r python/requirements-test.txt
CARGO_TARGET_DIR="$PWD/target/python-build" "$venv/bin/pip" install --quiet --disable-pip-version-check ./python
# Run from outside the source tree, so the installed package is the one tested.
cd python/tests
exec "../../$venv/bin/python" -m pytest -q -p no:cacheprovider .
