#!/usr/bin/env bash
# Wheels the lent GPU machine (Python 3.12, no network; see the device tool's README) lacks for
# `bench/bench_generation.py --device cuda`: lm-eval and what it imports beyond that machine's image, pinned to
# the versions of the environment that runs this script. Run here, in the repository root, with that
# environment's python (PYTHON=/path/to/python); they land in .whl/ (git-ignored through .git/info/exclude).
# The device call then names `.whl` in `carry` and starts with
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site \
#     .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit;
# followed by
#   PYTHONUNBUFFERED=1 python3 bench/bench_generation.py --device cuda --dtype bfloat16 --json $OUT/gpu.json
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
mkdir -p .whl
# the machine's image has torch, transformers, accelerate, pandas, scipy, statsmodels, seaborn, jinja2, pyyaml,
# safetensors, tqdm, sacrebleu, scikit-learn, pyarrow, xxhash, requests, absl-py, six: not carried
NAMES="lm_eval datasets evaluate gguf filelock pytablewriter DataProperty mbstrdecoder typepy tabledata pathvalidate
tcolorpy chardet sqlitedict word2number more_itertools dill multiprocess rouge_score nltk"
platforms=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
for name in $NAMES; do
    version=$("$PYTHON" -c "import importlib.metadata as m, sys; print(m.version(sys.argv[1]))" "$name")
    # a wheel built for CPython 3.12 where one is published, else the source built into a (pure Python) wheel
    "$PYTHON" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        "${platforms[@]}" -d .whl "$name==$version" 2>/dev/null \
        || "$PYTHON" -m pip wheel -q --no-deps -w .whl "$name==$version"
done
du -sh .whl && ls .whl
