#!/bin/sh
# run.sh SECONDS FUZZER... - runs each libFuzzer binary for SECONDS seconds on a scratch corpus
# seeded from fuzz/seeds/<name>/ (when present); fails on the first finding.
set -eu
secs=$1
shift
for f in "$@"; do
    name=$(basename "$f")
    corpus="build/fuzz/corpus/$name"
    mkdir -p "$corpus"
    seeds=""
    [ -d "fuzz/seeds/$name" ] && seeds="fuzz/seeds/$name"
    echo "fuzz: $name for ${secs}s"
    "$f" -max_total_time="$secs" -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
        -print_final_stats=0 "$corpus" $seeds 2>"build/fuzz/$name.log" ||
        { tail -n 40 "build/fuzz/$name.log"; echo "fuzz: $name FOUND A CRASH"; exit 1; }
    grep -E '^#[0-9]+.*DONE' "build/fuzz/$name.log" | tail -n 1 || true
done
echo "fuzz: all clean"
