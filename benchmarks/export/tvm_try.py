"""Apache TVM (Relax) against ONNX Runtime on LH-18 256x192, batch 1, one thread, fp32: tvm_try.json / .md (issue 14).

Apache TVM is not a dependency of the package: its pins are the ``tvm-try`` extra (pyproject.toml), not
part of ``all`` or ``dev``. Run this script from a virtual environment of its own:

    python3 -m venv /tmp/tvmvenv
    /tmp/tvmvenv/bin/pip install -e '.[tvm-try]'
    nice -n 10 /tmp/tvmvenv/bin/python benchmarks/export/tvm_try.py \\
        /tmp/h_ovspeed/exports/litehrnet_18_coco_256x192.onnx /tmp/h_ovspeed/plain/litehrnet_18_coco_256x192_plain.onnx \\
        --trials 2000 --trials-per-iter 8 --max-trials-per-task 64 --strategy replay-trace --cost-model random \\
        --work-dir /tmp/tvm_tuning3 --input /tmp/tvm_person.npy --rounds 30 --repeats 2 --out benchmarks/export/tvm_try

apache-tvm-ffi is pinned because pip resolves apache-tvm 0.27.0.post1's ``apache-tvm-ffi>=0.1.14.post0`` to
0.1.15.post2, with which ``tvm.ir.save_json`` of any IR node (even an IntImm) segfaults in
``tvm::ffi::ToJSONGraph``, so MetaSchedule dies as it initializes its first task. xgboost is MetaSchedule's
cost model (without it pass ``--cost-model random``); psutil and cloudpickle are its worker pools' needs.

What it does, in one process:

1. imports every ONNX file with ``tvm.relax.frontend.onnx.from_onnx``, the batch fixed to 1;
2. compiles it untuned (``tvm.compile``: the default CPU pipeline, i.e. LegalizeOps' plain loop nests
   fused by FuseOps and vectorised only by LLVM: no schedule);
3. with ``--trials N > 0``, tunes the first file's kernels with MetaSchedule (one build worker, one
   search thread, the target's ``num-cores`` 1, a local runner) into ``--work-dir``, then compiles every
   file again with the tuning database applied (``MetaScheduleApplyDatabase``). With ``--reuse`` and a
   database already in ``--work-dir`` the tuning is skipped and its recorded wall time is reported;
4. checks every TVM module's heatmaps against ONNX Runtime's on the same input (max abs, relative L2);
5. times, interleaved round after round, ONNX Runtime (1 intra-op thread, sequential) and every TVM
   module (``TVM_NUM_THREADS=1``, set here before TVM loads) on the same input, plus per round the
   compute floor the way ``lite-hrnet benchmark`` measures it (best one-thread numpy float32 1024^3
   matmul rate, ``lite_hrnet.benchmark.machine``); min and median per case and their ratio to the floor.

The input: ``--input`` a .npy made with the project's own environment, a synthetic person crop like the export
check's (its heatmaps stay in range: ONNX Runtime with and without graph optimizations agree to ~1e-5)::

    /work/main/.venv/bin/python -c "import numpy as np; from lite_hrnet.export.calibration import calibration_batch; \\
        np.save('/tmp/tvm_person.npy', calibration_batch(None, (256, 192), [123.675, 116.28, 103.53], \\
        [58.395, 57.12, 57.375], count=1, seed=1))"

Without it, a seeded random uint8 crop; with random weights its heatmaps reach ~1e3 and fp32 itself disagrees at
~1e-2 (ONNX Runtime against itself), so the error columns then say nothing about TVM.

The multiply-adds default to LH-18 256x192's 205,056,704 (``lite_hrnet.models.complexity.count_macs``, as
``lite-hrnet benchmark`` records it); this environment has no torch to count them.
"""

from __future__ import annotations

import os

# One thread everywhere, set before numpy and TVM load: TVM's runtime pool reads TVM_NUM_THREADS at start.
os.environ["TVM_NUM_THREADS"] = "1"
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Dict, List, Optional  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1]))  # the repository root: lite_hrnet.benchmark.machine is torch-free

import numpy as np  # noqa: E402

from _timing import cpu_model, floor_gflops, floor_record, write_results  # noqa: E402

LH18_256x192_MACS = 205_056_704
INPUT_SHAPE = (1, 3, 256, 192)
VERSIONED = ("apache-tvm", "apache-tvm-ffi", "onnx", "onnxruntime", "numpy", "xgboost")


def _versions() -> Dict[str, str]:
    out = {}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _load() -> List[float]:
    return [round(v, 2) for v in os.getloadavg()]


def _target(mcpu: str):
    """The LLVM target for this CPU, one core (the JSON form: TVM 0.2x no longer parses "llvm -mcpu=...")."""
    import tvm

    if mcpu == "native":
        mcpu = tvm.get_global_func("target.llvm_get_system_cpu")()
    return tvm.target.Target({"kind": "llvm", "mcpu": mcpu, "num-cores": 1}), mcpu


def _input_name(path: Path) -> str:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    initializers = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    if len(names) != 1:
        raise SystemExit(f"{path}: expected one graph input, found {names}")
    return names[0]


def person_crop(path: Path) -> np.ndarray:
    """A 1 x 3 x 256 x 192 input as the pipeline feeds it: a seeded random uint8 RGB crop, normalized by the file's
    recorded mean and std (ImageNet's where none is recorded), as ``lite-hrnet benchmark`` times it.

    Its range matters for the error check: with random weights, an N(0, 1) input drives the heatmaps to ~1e3, where
    ONNX Runtime with and without its graph optimizations already differ by 3e-3 (relative L2).
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    meta = json.loads({p.key: p.value for p in model.metadata_props}.get("lite_hrnet", "{}"))
    mean = np.asarray(meta.get("mean", [123.675, 116.28, 103.53]), np.float32)
    std = np.asarray(meta.get("std", [58.395, 57.12, 57.375]), np.float32)
    image = np.random.default_rng(0).integers(0, 256, (INPUT_SHAPE[2], INPUT_SHAPE[3], 3), dtype=np.uint8)
    return np.ascontiguousarray(((image.astype(np.float32) - mean) / std).transpose(2, 0, 1)[None])


def import_relax(path: Path):
    """The ONNX file as a Relax module with the batch fixed to 1, and its input name."""
    import onnx
    from tvm.relax.frontend.onnx import from_onnx

    name = _input_name(path)
    return from_onnx(onnx.load(str(path)), shape_dict={name: list(INPUT_SHAPE)}), name


def lowered_for_tuning(mod, target):
    """Legalized and fused (MetaSchedule's "zero" pipeline without a database): the kernels tasks are cut from."""
    import tvm
    from tvm import relax

    with target:
        return tvm.transform.Sequential([relax.transform.DecomposeOpsForInference(), relax.transform.CanonicalizeBindings(),
                                         relax.pipeline.zero_pipeline()])(mod)


def _space(unroll_max_steps: List[int]):
    """The default llvm design space with the unroll choices limited to ``unroll_max_steps``.

    The default (0, 16, 64, 512) lets 512-step explicit unrolls through, whose LLVM builds of a fused
    conv ran past the builder's 30 s on this loaded core (every candidate of several tasks lost).
    """
    from tvm.s_tir import meta_schedule as ms

    rules = [ms.schedule_rule.ParallelizeVectorizeUnroll(max_jobs_per_core=16, max_vectorize_extent=64,
                                                         unroll_max_steps=unroll_max_steps, unroll_explicit=True)
             if type(rule).__name__ == "ParallelizeVectorizeUnroll" else rule
             for rule in ms.ScheduleRule.create("llvm")]
    return ms.space_generator.PostOrderApply(sch_rules=rules, postprocs="llvm", mutator_probs="llvm")


def _in_process_builder():
    """A MetaSchedule builder that compiles candidates in this process, one after the other.

    LocalBuilder starts a fresh worker process for every batch, and that worker's imports of
    tvm.s_tir.meta_schedule and its tensor intrinsics cost ~30 s of CPU on this core, against
    ~1.5 s to compile and export one candidate: one-candidate rounds over 113 tasks would spend
    an hour importing. No timeout here: a candidate that hangs LLVM hangs the run.
    """
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export

    @derived_object
    class InProcessBuilder(PyBuilder):
        def build(self, build_inputs):
            results = []
            for item in build_inputs:
                try:
                    results.append(BuilderResult(default_export(default_build(item.mod, item.target, None)), None))
                except Exception as error:  # noqa: BLE001 - a failed candidate is a result, not the end of tuning
                    results.append(BuilderResult(None, f"in-process build: {type(error).__name__}: {error}"))
            return results

    return InProcessBuilder()


def tune(mod, target, work_dir: Path, trials: int, trials_per_iter: int, per_task: Optional[int], cost_model: str,
         strategy: str, unroll_max_steps: List[int], build_timeout: float, seed: int) -> dict:
    """MetaSchedule over ``mod``'s kernels into ``work_dir`` (JSON database); what was tuned and how long it took."""
    from tvm.s_tir import meta_schedule as ms

    tasks = ms.relax_integration.extract_tasks(lowered_for_tuning(mod, target), target)
    # The gradient scheduler gives every task one round before it weighs them: small rounds reach them all.
    per_task = per_task or max(trials_per_iter, trials // max(len(tasks), 1))
    contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
        tasks, str(work_dir), space=_space(unroll_max_steps), strategy=strategy, num_threads=1, seed=seed)
    start = time.perf_counter()
    ms.tune_tasks(tasks=contexts, task_weights=weights, work_dir=str(work_dir), max_trials_global=trials,
                  max_trials_per_task=per_task, num_trials_per_iter=trials_per_iter,
                  builder=(_in_process_builder() if build_timeout <= 0
                           else ms.builder.LocalBuilder(max_workers=1, timeout_sec=build_timeout)),
                  runner=ms.runner.LocalRunner(), cost_model=cost_model)
    seconds = time.perf_counter() - start
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    info = dict(tasks=len(tasks), trials=trials, trials_per_iter=trials_per_iter, max_trials_per_task=per_task,
                cost_model=cost_model, strategy=strategy, unroll_max_steps=unroll_max_steps,
                build_timeout_s=build_timeout, seed=seed, tuning_seconds=round(seconds, 1), records=len(database),
                load_after=_load())
    (work_dir / "tuning_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def coverage(mod, target, work_dir: Path) -> dict:
    """How many of ``mod``'s kernels (and of their call weight) the database in ``work_dir`` has a schedule for."""
    from tvm.s_tir import meta_schedule as ms

    tasks = ms.relax_integration.extract_tasks(lowered_for_tuning(mod, target), target)
    database = ms.database.JSONDatabase(work_dir=str(work_dir))
    # A workload is registered for every task at the start; only a built and measured record makes a schedule.
    found = [t for t in tasks if database.query_tuning_record(t.dispatched[0], target, "main") is not None]
    return dict(tasks=len(tasks), tuned=len(found), calls=int(sum(t.weight for t in tasks)),
                tuned_calls=int(sum(t.weight for t in found)))


def compile_module(mod, target, work_dir: Optional[Path]):
    """A Relax VM over ``mod`` compiled for ``target``: untuned, or with the tuning database of ``work_dir`` applied."""
    import tvm
    from tvm import relax

    if work_dir is not None:
        with target:
            mod = relax.transform.MetaScheduleApplyDatabase(str(work_dir))(lowered_for_tuning(mod, target))
    executable = tvm.compile(mod, target=target)
    return relax.VirtualMachine(executable, tvm.cpu())


def tvm_call(vm, image: np.ndarray) -> Callable[[], np.ndarray]:
    import tvm

    tensor = tvm.runtime.tensor(image)
    main = vm["main"]

    def call() -> np.ndarray:
        out = main(tensor)
        return out.numpy() if hasattr(out, "numpy") else out[0].numpy()

    return call


def ort_call(path: Path, input_name: str, image: np.ndarray, optimize: bool = True) -> Callable[[], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    if not optimize:
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda: session.run(None, {input_name: image})[0]


def errors(got: np.ndarray, ref: np.ndarray) -> dict:
    return dict(max_abs=float(np.abs(got - ref).max()), rel_l2=float(np.linalg.norm(got - ref) / np.linalg.norm(ref)),
                ref_max_abs=float(np.abs(ref).max()))


def time_interleaved(calls: Dict[str, Callable[[], object]], rounds: int, repeats: int, warmup: int):
    """Per round: the floor probe, then every case ``repeats`` times; milliseconds per case and GFLOP/s per round."""
    for call in calls.values():
        for _ in range(warmup):
            call()
    samples: Dict[str, List[float]] = {key: [] for key in calls}
    rates = []
    for _ in range(rounds):
        rates.append(floor_gflops())
        for key, call in calls.items():
            for _ in range(repeats):
                start = time.perf_counter()
                call()
                samples[key].append((time.perf_counter() - start) * 1e3)
    return samples, rates


def render(result: dict) -> str:
    floor = result["floor"]
    lines = [
        "# Apache TVM (Relax) vs ONNX Runtime, LH-18 256x192, batch 1, one thread, fp32",
        "",
        f"Made by `tvm_try.py` ({result['date']}); {result['machine']['cpu']}, target `{result['target']}`; "
        f"load average {result['load_start']} at the start, {result['load_end']} at the end.",
        f"Versions: {', '.join(f'{k} {v}' for k, v in result['versions'].items())}.",
        f"Floor: {floor['ms_per_image_1thread']} ms ({result['gflop_per_image']} GFLOP at {floor['gflops_per_core']} "
        f"GFLOP/s, {floor['how']}).",
        "",
        "| case | min ms | median ms | min x floor | median x floor | min / ONNX Runtime min (same file) | "
        "heatmaps vs ONNX Runtime (max abs / rel L2) |",
        "|---|---|---|---|---|---|---|",
    ]
    for case in result["cases"]:
        err = case.get("vs_onnxruntime")
        err_text = "-" if err is None else f"{err['max_abs']:.2e} / {err['rel_l2']:.2e}"
        ratio = case.get("min_over_onnxruntime")
        lines.append(f"| {case['name']} | {case['min_ms']:.2f} | {case['median_ms']:.2f} | {case['min_x_floor']:.2f} | "
                     f"{case['median_x_floor']:.2f} | {'-' if ratio is None else f'{ratio:.2f}'} | {err_text} |")
    for name, noise in result["onnxruntime_unoptimized_vs_optimized"].items():
        lines.append(f"\nfp32 yardstick, {name}: ONNX Runtime without graph optimizations vs with: "
                     f"{noise['max_abs']:.2e} max abs / {noise['rel_l2']:.2e} rel L2 (heatmap max {noise['ref_max_abs']:.1f}).")
    lines += ["", f"{result['rounds']} rounds x {result['repeats']} calls per case ({result['samples_per_case']} "
              f"samples), interleaved, after {result['warmup']} warm-up calls.", ""]
    tuning = result.get("tuning")
    if tuning:
        lines.append(f"Tuning: {tuning['tasks']} tasks, {tuning['trials']} trials asked, {tuning['records']} records, "
                     f"{tuning['tuning_seconds']:.0f} s wall ({tuning.get('strategy', 'evolutionary')} search, "
                     f"{tuning['cost_model']} cost model, "
                     f"{tuning['trials_per_iter']} trials per round, at most {tuning['max_trials_per_task']} per task).")
        for name, cov in result.get("coverage", {}).items():
            lines.append(f"- {name}: {cov['tuned']} of {cov['tasks']} kernels tuned ({cov['tuned_calls']} of "
                         f"{cov['calls']} calls).")
    lines.append("")
    lines.append("Compile times (s): " + ", ".join(f"{k} {v}" for k, v in result["compile_seconds"].items()) + ".")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", nargs="+", type=Path, help="ONNX files of LH-18 256x192 (input N x 3 x 256 x 192)")
    parser.add_argument("--trials", type=int, default=0, help="MetaSchedule trials over all kernels (0: no tuning)")
    parser.add_argument("--trials-per-iter", type=int, default=8, help="trials per task per scheduler round")
    parser.add_argument("--max-trials-per-task", type=int, default=None,
                        help="default: max(--trials-per-iter, trials / tasks)")
    parser.add_argument("--cost-model", default="xgb", choices=("xgb", "mlp", "random"))
    parser.add_argument("--strategy", default="evolutionary", choices=("evolutionary", "replay-trace"),
                        help="evolutionary: cost-model-guided (its search costs ~1 min per task round on one core); "
                             "replay-trace: random samples of the design space")
    parser.add_argument("--unroll-max-steps", default="0,16,64", help="explicit unroll choices (default drops 512)")
    parser.add_argument("--build-timeout", type=float, default=0.0,
                        help="seconds per candidate build in LocalBuilder's worker processes; 0 (default): build in "
                             "this process, no timeout (the workers cost ~30 s of imports per batch)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/tvm_tuning"), help="MetaSchedule database folder")
    parser.add_argument("--reuse", action="store_true", help="use the database in --work-dir instead of tuning again")
    parser.add_argument("--mcpu", default="native", help="LLVM CPU name (native: the host's)")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2, help="calls per case per round")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--macs", type=int, default=LH18_256x192_MACS, help="multiply-adds per image (for the floor)")
    parser.add_argument("--input", type=Path, default=None,
                        help="a 1 x 3 x 256 x 192 float32 .npy to run (default: a seeded random crop; see the docstring)")
    parser.add_argument("--out", default=str(HERE / "tvm_try"), help="output stem: OUT.json and OUT.md")
    args = parser.parse_args(argv)
    for path in args.onnx:
        if not path.is_file():
            print(f"tvm_try: no such ONNX file: {path}", file=sys.stderr)
            return 2
    if args.trials < 0 or args.rounds < 1 or args.repeats < 1:
        print("tvm_try: --trials must be >= 0, --rounds and --repeats >= 1", file=sys.stderr)
        return 2
    if args.input is not None and not args.input.is_file():
        print(f"tvm_try: --input: no such file: {args.input}", file=sys.stderr)
        return 2
    if args.reuse and not (args.work_dir / "database_tuning_record.json").is_file():
        print(f"tvm_try: --reuse: no tuning database in {args.work_dir}", file=sys.stderr)
        return 2
    try:
        import tvm  # noqa: F401
    except ImportError:
        print("tvm_try: Apache TVM is not installed here: pip install -e '.[tvm-try]' in a venv of its own "
              "(see the docstring)", file=sys.stderr)
        return 2

    load_start = _load()
    target, mcpu = _target(args.mcpu)
    print(f"load {load_start}; target {target}", flush=True)
    if args.input is None:
        image, input_note = person_crop(args.onnx[0]), "seeded random uint8 256x192 RGB crop, normalized by the file's mean/std"
    else:
        image, input_note = np.ascontiguousarray(np.load(args.input), dtype=np.float32), str(args.input)
    calls: Dict[str, Callable[[], np.ndarray]] = {}
    fp32_noise: Dict[str, dict] = {}  # ONNX Runtime against itself without graph optimizations: the fp32 yardstick
    refs: Dict[str, str] = {}
    compile_seconds: Dict[str, float] = {}
    modules = {}
    for path in args.onnx:
        start = time.perf_counter()
        mod, input_name = import_relax(path)
        compile_seconds[f"{path.stem} import"] = round(time.perf_counter() - start, 1)
        modules[path.stem] = mod
        calls[f"ONNX Runtime {path.stem}"] = ort_call(path, input_name, image)
        fp32_noise[path.stem] = errors(ort_call(path, input_name, image, optimize=False)(),
                                       calls[f"ONNX Runtime {path.stem}"]())
        start = time.perf_counter()
        vm = compile_module(mod, target, None)
        compile_seconds[f"{path.stem} untuned"] = round(time.perf_counter() - start, 1)
        calls[f"TVM untuned {path.stem}"] = tvm_call(vm, image)
        refs[f"TVM untuned {path.stem}"] = f"ONNX Runtime {path.stem}"
        print(f"{path.stem}: imported and compiled untuned", flush=True)

    tuning, cover = None, {}
    if args.trials > 0 or args.reuse:
        args.work_dir.mkdir(parents=True, exist_ok=True)
        first = args.onnx[0].stem
        if args.reuse:
            info_path = args.work_dir / "tuning_info.json"
            tuning = json.loads(info_path.read_text()) if info_path.is_file() else {}
            tuning["reused"] = True
        else:
            print(f"tuning {first}: {args.trials} trials into {args.work_dir}", flush=True)
            tuning = tune(modules[first], target, args.work_dir, args.trials, args.trials_per_iter,
                          args.max_trials_per_task, args.cost_model, args.strategy,
                          [int(v) for v in args.unroll_max_steps.split(",")], args.build_timeout, args.seed)
        for path in args.onnx:
            cover[path.stem] = coverage(modules[path.stem], target, args.work_dir)
            start = time.perf_counter()
            vm = compile_module(modules[path.stem], target, args.work_dir)
            compile_seconds[f"{path.stem} tuned"] = round(time.perf_counter() - start, 1)
            calls[f"TVM tuned {path.stem}"] = tvm_call(vm, image)
            refs[f"TVM tuned {path.stem}"] = f"ONNX Runtime {path.stem}"

    outputs = {key: call() for key, call in calls.items()}
    samples, rates = time_interleaved(calls, args.rounds, args.repeats, args.warmup)
    floor, floor_ms = floor_record(rates, args.macs)
    cases = []
    for key, values in samples.items():
        case = dict(name=key, min_ms=round(min(values), 3), median_ms=round(statistics.median(values), 3),
                    min_x_floor=round(min(values) / floor_ms, 2), median_x_floor=round(statistics.median(values) / floor_ms, 2),
                    samples_ms=[round(v, 3) for v in values])
        if key in refs:
            case["vs_onnxruntime"] = errors(outputs[key], outputs[refs[key]])
            case["min_over_onnxruntime"] = round(min(values) / min(samples[refs[key]]), 2)
        cases.append(case)
    result = dict(
        date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), model="litehrnet_18_coco_256x192",
        onnx=[str(p) for p in args.onnx], input_shape=list(INPUT_SHAPE), macs=args.macs,
        gflop_per_image=round(2 * args.macs / 1e9, 3), target=str(target), mcpu=mcpu,
        machine=dict(cpu=cpu_model(), cores=os.cpu_count(), python=sys.version.split()[0]),
        versions=_versions(), threads=dict(tvm="TVM_NUM_THREADS=1, target num-cores 1",
                                           onnxruntime="intra_op 1, inter_op 1, sequential"),
        command=" ".join([Path(sys.executable).name, *sys.argv]), load_start=load_start, load_end=_load(),
        rounds=args.rounds, repeats=args.repeats, warmup=args.warmup, samples_per_case=args.rounds * args.repeats,
        input=input_note,
        onnxruntime_unoptimized_vs_optimized=fp32_noise,
        floor=floor, compile_seconds=compile_seconds, tuning=tuning, coverage=cover, cases=cases)
    write_results(args.out, result, render)
    return 0


if __name__ == "__main__":
    sys.exit(main())
