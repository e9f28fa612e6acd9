#!/usr/bin/env bash
# ansible-test sanity on a copy of this checkout under .../ansible_collections/voipops/voip (ansible-test needs that
# path), offline-ready: ansible-test's pip bootstrap script is replaced by tests/sanity/get_pip_offline.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
VENV=${VENV:-$ROOT/.venv}
# outside any git work tree: ansible-test would otherwise list files through the enclosing repo (where .state is ignored)
WORK=${VOIPOPS_SANITY_DIR:-${TMPDIR:-/tmp}/voipops-ansible-test-$(id -u)}
DEST=$WORK/ansible_collections/voipops/voip
PY=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

rm -rf "$DEST"
mkdir -p "$DEST"
cd "$ROOT"
# tracked files plus new ones not ignored, as they are in the working tree
git ls-files -co --exclude-standard -z | xargs -0 tar --ignore-failed-read -cf - 2>/dev/null | tar -xf - -C "$DEST"

run() {
  (cd "$DEST" && PATH="$VENV/bin:$PATH" "$VENV/bin/ansible-test" sanity --python "$PY" --color no "$@")
}

out=$(mktemp)
trap 'rm -f "$out"' EXIT
if run "$@" 2>&1 | tee "$out"; then
  exit 0
fi
# First run on a new machine: install the stand-in where ansible-test looks for its cached get-pip, then retry.
cache=$(grep -o 'saved to: [^ ]*get_pip_[0-9_]*\.py' "$out" | head -1 | sed 's/saved to: //') || true
if [ -n "$cache" ]; then
  mkdir -p "$(dirname "$cache")"
  cp "$ROOT/tests/sanity/get_pip_offline.py" "$cache"
  echo "sanity: installed offline pip bootstrap at $cache; running again"
  run "$@"
else
  exit 1
fi
