#!/usr/bin/env bash
# Install everything bertviz_graph needs, on a fresh machine or an already set-up one.
#
#   bash scripts/setup.sh          # system packages + .venv with the package (editable) + runtime deps
#   bash scripts/setup.sh --test   # ... plus the test extras (pytest, playwright, jupyterlab, ruff, ...)
#
# Idempotent: system packages are installed only when missing, and pip leaves pinned
# versions that are already installed alone, so a second run takes seconds.
# Python versions are pinned in constraints.txt at the repo root.
set -euo pipefail

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
}

WITH_TEST=0
for arg in "$@"; do
    case "$arg" in
        --test) WITH_TEST=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "setup.sh: unknown option '$arg' (try --help)" >&2; exit 2 ;;
    esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

say() { echo "[setup] $*"; }

# ---------------------------------------------------------------- system packages
# graphviz: the `dot` layout engine; chromium: browser tests (Playwright drives the
# system chromium, no browser download); fonts-dejavu-core: readable text in
# screenshots, SVG and PDF; fonts-liberation: the metric-compatible Arial/Helvetica
# stand-in browsers pick for "sans-serif" pages, so screenshots match across machines;
# libcairo2: needed by cairosvg at run time. Recommends are skipped (chromium's pull in
# upower, printing and desktop bits that headless use does not need).
missing=()
command -v dot >/dev/null 2>&1 || missing+=(graphviz)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# node + npm only for the test suite: it rebuilds the front-end bundle from js/ and compares it byte for byte
if ((WITH_TEST)); then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    # firefox-esr: the offline HTML file is checked in real Firefox too (headless screenshot mode)
    command -v firefox-esr >/dev/null 2>&1 || missing+=(firefox-esr)
fi
for pkg in fonts-dejavu-core fonts-liberation libcairo2; do
    # dpkg -s alone also succeeds for removed packages that left config files behind
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$pkg")
done

if ((${#missing[@]})); then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "setup.sh: no apt-get here; install these yourself: ${missing[*]}" >&2
        exit 1
    fi
    SUDO=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then
            SUDO=(sudo)
        else
            echo "setup.sh: need root or sudo to install: ${missing[*]}" >&2
            exit 1
        fi
    fi
    say "installing Debian packages: ${missing[*]}"
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "Debian packages present (graphviz, chromium, fonts-dejavu-core, fonts-liberation, libcairo2)"
fi

# ---------------------------------------------------------------- python packages
# Everything goes into a virtual environment (.venv, or $BERTVIZ_VENV): Debian's own python3 is
# "externally managed" (PEP 668) and Debian has no `python` command, so the README calls .venv/bin/...
VENV="${BERTVIZ_VENV:-$ROOT/.venv}"
BASE_PY="${PYTHON:-python3}"
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$BASE_PY" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian splits venv/ensurepip out of python3 into python3-venv
        if command -v apt-get >/dev/null 2>&1; then
            say "installing Debian package python3-venv"
            SUDO=(); [ "$(id -u)" -ne 0 ] && SUDO=(sudo)
            "${SUDO[@]}" apt-get update -qq
            "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
        else
            echo "setup.sh: $BASE_PY cannot make a virtual environment; install its venv module" >&2
            exit 1
        fi
    fi
    say "creating virtual environment $VENV ($("$BASE_PY" --version 2>&1))"
    "$BASE_PY" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --quiet --disable-pip-version-check)

# torch first and alone, pinned. The same pin from the public index (PyPI) is the CUDA build on Linux
# (several GB of nvidia-* wheels). So without an NVIDIA GPU (no working nvidia-smi) the CPU build is
# asked for by name, 2.13.0+cpu, from a wheel folder pip is configured with (find-links) or PyTorch's
# CPU index; only when neither offers it does pip fall back to PyPI's default build, and says so.
# Choose yourself with TORCH_INDEX_URL: https://download.pytorch.org/whl/cpu (CPU),
# https://download.pytorch.org/whl/cu128 (CUDA 12.8), ... or TORCH_INDEX_URL=pypi (PyPI's default).
# constraints.txt pins torch==2.13.0 too (2.13.0+cpu satisfies it), so nothing later can swap it.
if "$PY" -c 'import torch, sys; sys.exit(torch.__version__.split("+")[0] != "2.13.0")' >/dev/null 2>&1; then
    say "torch 2.13.0 present"
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
    say "pip: torch==2.13.0 from $TORCH_INDEX_URL"
    if [ "$TORCH_INDEX_URL" = "pypi" ]; then
        "${PIP[@]}" "torch==2.13.0"
    else
        "${PIP[@]}" "torch==2.13.0" --index-url "$TORCH_INDEX_URL"
    fi
elif command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    say "pip: torch==2.13.0 (NVIDIA GPU found: PyPI's CUDA build)"
    "${PIP[@]}" "torch==2.13.0"
else
    say "pip: torch==2.13.0+cpu (no NVIDIA GPU)"
    if ! "${PIP[@]}" --retries 1 "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu; then
        say "no CPU build of torch 2.13.0 reachable; installing PyPI's default build (CUDA on Linux, large)"
        say "  to get the CPU build: TORCH_INDEX_URL=<an index with torch 2.13.0+cpu> bash scripts/setup.sh"
        "${PIP[@]}" "torch==2.13.0"
    fi
fi

if ((WITH_TEST)); then
    target=".[test]"
else
    target="."
fi
say "pip: -c constraints.txt -e \"$target\""
"${PIP[@]}" -c constraints.txt -e "$target"

if ((WITH_TEST)); then
    # esbuild (pinned in js/package-lock.json) from the npm registry, so the bundle-rebuild test runs
    say "npm ci in js/ (esbuild, for the bundle-rebuild test)"
    (cd "$ROOT/js" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

say "done ($("$PY" --version 2>&1) in $VENV, torch $("$PY" -c 'import torch; print(torch.__version__)'))"
