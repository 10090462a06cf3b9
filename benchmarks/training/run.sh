#!/usr/bin/env bash
# Reproduce the current synthetic-data demo model (see benchmarks/training/README.md):
# fine-tune the previous (v1) demo checkpoint on people drawn by the v2 generator.
# CPU only; about 75 minutes on one shared core. Override DATA and RUN to put the files elsewhere.
# V1 is the checkpoint to start from (the v1 demo model: git show d3cd464:lite_hrnet/assets/litehrnet_18_coco_128x96_synthetic.pth).
set -euo pipefail
DATA=${DATA:-/tmp/lhr2}
RUN=${RUN:-/tmp/lhr2_run}
V1=${V1:?set V1 to the v1 demo checkpoint}
# One thread: on a shared 2-core machine two OpenMP threads spin against other jobs and run 5-10x slower.
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

lite-hrnet synth "$DATA/val" --images 100 --seed 1000
lite-hrnet synth "$DATA/train" --images 1600 --seed 0
lite-hrnet synth "$DATA/test" --images 100 --seed 2000
lite-hrnet synth "$DATA/heldout" --images 200 --seed 3000

nice -n 10 lite-hrnet train litehrnet_18_coco_128x96 \
    --data "$DATA/train" --val "$DATA/val" --weights "$V1" \
    --epochs 4 --batch 8 --lr 1e-3 --warmup-iters 50 --workers 0 --threads 1 \
    --out "$RUN"

for set in test heldout; do
    lite-hrnet eval "$RUN/final.pth" --data "$DATA/$set" --threads 1 --save-results "$RUN/results_$set.json"
    lite-hrnet eval "$V1" --data "$DATA/$set" --threads 1
done
python benchmarks/training/plot_curves.py benchmarks/training/curves.png "$RUN"
python benchmarks/training/draw_predictions.py benchmarks/training/predictions.jpg "$DATA/test" "$RUN/results_test.json" 8
