#!/usr/bin/env bash
# Reproduce the synthetic-data demo model (see benchmarks/training/README.md).
# CPU only; about 30-40 minutes on one shared core. Override DATA and RUN to put the files elsewhere.
set -euo pipefail
DATA=${DATA:-/tmp/lhr_synth}
RUN=${RUN:-/tmp/lhr_run/stage1_128x96}
# One thread: on a shared 2-core machine two OpenMP threads spin against other jobs and run 5-10x slower.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

lite-hrnet synth "$DATA/train" --images 800 --seed 0
lite-hrnet synth "$DATA/val" --images 100 --seed 1000

nice -n 5 lite-hrnet train litehrnet_18_coco_256x192 \
    --data "$DATA/train" --val "$DATA/val" --input-size 128x96 \
    --epochs 7 --batch 8 --lr 1e-3 --warmup-iters 50 --workers 0 --threads 1 \
    --out "$RUN"

lite-hrnet synth "$DATA/test" --images 100 --seed 2000
lite-hrnet eval "$RUN/final.pth" --data "$DATA/val" --threads 1
lite-hrnet eval "$RUN/final.pth" --data "$DATA/test" --threads 1
lite-hrnet eval "$RUN/final.pth" --data "$DATA/test" --threads 1 --flip
python benchmarks/training/plot_curves.py benchmarks/training/curves.png "$RUN"
