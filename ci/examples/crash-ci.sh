#!/usr/bin/env bash
# Crash-recovery testing of a ring implementation in any CI: conformance and a seeded chaos
# campaign, sharded over the CI's parallel runners, merged into one verdict and one JUnit file.
# Copy this file (and github-actions.yml, for GitHub) into your repository.
#
#   ci/examples/crash-ci.sh build          # install ringproof (unless $RINGPROOF is set), build the testee
#   ci/examples/crash-ci.sh shard K        # on runner K of $SHARDS: conform and chaos shard K/$SHARDS
#   ci/examples/crash-ci.sh merge          # once every runner is done: merge their results
#   ci/examples/crash-ci.sh all            # every shard one after the other, then merge (one machine)
#
# Settings (environment):
#   RINGPROOF    the ringproof binary (default: installed by `build` into $OUT/tool)
#   TESTEE       your testee executable (conformance/PROTOCOL.md); default: ringproof's reference
#   BUILD_TESTEE command that builds it, run by `build` (e.g. "cargo build --release -p my-testee")
#   SEED         master seed, the same on every runner (e.g. the pipeline id); default 1
#   SHARDS       number of runners (default 8)
#   DURATION     length of each chaos campaign (default 60s); CAMPAIGNS per shard (default 1)
#   BACKEND      shm or mmap (default shm); CONFORM_CASES: a case glob (default: every case)
#   OUT          where results, JUnit files and report folders go (default crash-out)
#   RINGPROOF_SOURCE  what `build` installs: a path or a git URL (default: this checkout)
#
# Exit status (each step): 0 pass, 1 a contract violation was found (your ring is broken),
# 2 a harness or usage error (the job is misconfigured), 128+N interrupted by signal N.
set -uo pipefail

OUT=${OUT:-crash-out}
SEED=${SEED:-1}
SHARDS=${SHARDS:-8}
DURATION=${DURATION:-60s}
CAMPAIGNS=${CAMPAIGNS:-1}
BACKEND=${BACKEND:-shm}
TESTEE=${TESTEE:-ringproof}
RINGPROOF=${RINGPROOF:-$OUT/tool/bin/ringproof}

# The worse of two exit statuses: a violation (1) outranks a harness error (2) and a pass.
worst() { if [ "$1" = 1 ] || [ "$2" = 1 ]; then echo 1; elif [ "$1" != 0 ]; then echo "$1"; else echo "$2"; fi; }

build() {
    mkdir -p "$OUT"
    if [ ! -x "$RINGPROOF" ]; then
        src=${RINGPROOF_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
        case "$src" in
            http*|git@*) cargo install --locked --root "$OUT/tool" --git "$src" ringproof-cli || exit 2 ;;
            *) cargo install --locked --root "$OUT/tool" --path "$src/cli" || exit 2 ;;
        esac
    fi
    if [ -n "${BUILD_TESTEE:-}" ]; then
        bash -c "$BUILD_TESTEE" || exit 2
    fi
    "$RINGPROOF" --version || exit 2
}

shard() {
    k=$1
    mkdir -p "$OUT/reports"
    conform_args=(conform --impl "$TESTEE" --backend "$BACKEND" --shard "$k/$SHARDS"
                  --json "$OUT/conform-$k.json" --junit "$OUT/conform-$k.xml")
    [ -n "${CONFORM_CASES:-}" ] && conform_args+=(--case "$CONFORM_CASES")
    "$RINGPROOF" "${conform_args[@]}"
    c=$?
    "$RINGPROOF" chaos --impl "$TESTEE" --backend "$BACKEND" --seed "$SEED" --shard "$k/$SHARDS" \
        --duration "$DURATION" --campaigns "$CAMPAIGNS" --report "$OUT/reports/shard-$k" \
        --json "$OUT/chaos-$k.json" --junit "$OUT/chaos-$k.xml"
    x=$?
    return "$(worst "$c" "$x")"
}

merge() {
    shopt -s nullglob
    files=("$OUT"/conform-*.json "$OUT"/chaos-*.json)
    shopt -u nullglob
    [ ${#files[@]} -gt 0 ] || { echo "no shard results in $OUT: did the shard jobs run (and upload)?" >&2; exit 2; }
    "$RINGPROOF" merge "${files[@]}" --json "$OUT/merged.json" --junit "$OUT/merged.xml"
}

case "${1:-}" in
    build) build ;;
    shard) [ -n "${2:-}" ] || { echo "usage: $0 shard K" >&2; exit 2; }; shard "$2" ;;
    merge) merge ;;
    all)
        [ -x "$RINGPROOF" ] || build || exit $?
        status=0
        for k in $(seq 1 "$SHARDS"); do shard "$k"; status=$(worst "$status" $?); done
        merge
        status=$(worst "$status" $?)
        exit "$status" ;;
    *) echo "usage: $0 build | shard K | merge | all (see the comment at the top)" >&2; exit 2 ;;
esac
