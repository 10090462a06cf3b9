"""``lite-hrnet benchmark``: functional checks (schema, threads reported, failure rows, files written), never timings.

One CLI run (torch + onnx fp32, one thread, a few calls) fills an export cache that
the in-process tests reuse, so that the ONNX file is exported once.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT, cli

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from lite_hrnet.benchmark import ROW_FIELDS, BenchmarkReport, BenchmarkRow, benchmark, parse_positive_ints  # noqa: E402
from lite_hrnet.benchmark.timing import summarize, time_calls  # noqa: E402

NAIVE = "naive_litehrnet_18_coco_256x192"
FAST = ("--warmup", "1", "--runs", "2", "--predict-runs", "1")

# Field -> allowed JSON types for an ok row (None is allowed only where a measurement may be absent).
NUMERIC = ("size_mb", "load_ms", "first_ms", "median_ms", "p90_ms", "p99_ms", "min_ms", "throughput_pps",
           "peak_rss_mb", "rel_error", "kp_agreement", "predict_1p_ms", "predict_8p_ms")
STRINGS = ("runtime", "runtime_version", "format", "precision", "precision_run", "status", "reason")


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """The benchmark command, as a user runs it: torch + onnx, fp32, one thread, JSON/CSV/PNG written."""
    out = tmp_path_factory.mktemp("bench")
    exports = out / "exports"
    files = {"json": out / "bench.json", "csv": out / "bench.csv", "plot": out / "bench.png"}
    proc = cli("benchmark", NAIVE, "--formats", "torch,onnx", "--precision", "fp32", "--threads", "1", "--batch", "1",
               *FAST, "--exports", str(exports), "--json", str(files["json"]), "--csv", str(files["csv"]),
               "--plot", str(files["plot"]))
    return proc, files, exports


def test_cli_rows_schema_and_table(cli_run):
    proc, files, _ = cli_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(files["json"].read_text())
    assert set(data) >= {"machine", "model", "settings", "rows", "summary"}
    machine = data["machine"]
    for key in ("cpu_model", "logical_cores", "usable_cores", "simd", "os", "python", "libraries"):
        assert key in machine
    assert isinstance(machine["simd"], list) and "torch" in machine["libraries"]
    rows = data["rows"]
    assert [(r["format"], r["precision"]) for r in rows] == [("torch", "fp32"), ("onnx", "fp32")]
    for row in rows:
        missing = [f for f in ROW_FIELDS if f not in row]
        assert not missing, missing
        assert row["status"] == "ok", row["reason"]
        for f in STRINGS:
            assert isinstance(row[f], str), (f, row[f])
        for f in NUMERIC:
            assert isinstance(row[f], float) and row[f] >= 0, (f, row[f])
        assert isinstance(row["threads"], int) and isinstance(row["batch"], int)
        assert row["min_ms"] <= row["median_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert row["precision_run"] == "fp32"
        assert row["runs"] == 2
        # the thread count is read back from the runtime, not echoed
        assert row["threads_applied"] == 1, row["threads_source"]
        assert row["threads_source"] in ("torch.get_num_threads()", "SessionOptions.intra_op_num_threads")
        assert row["rel_error"] < 1e-3 and row["kp_agreement"] > 0.9
    assert {r["runtime"] for r in rows} == {"torch", "onnxruntime"}
    # the table: a header, one line per row, the machine and the goal summary
    out = proc.stdout
    for word in ("format", "runtime", "median", "p99", "pers/s", "RSS MB", "kp agr", "machine:", "threads=1:"):
        assert word in out, word
    assert "onnxruntime" in out and "torch" in out


def test_cli_writes_csv_and_png(cli_run):
    proc, files, _ = cli_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    with files["csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 and all(f in rows[0] for f in ROW_FIELDS)
    assert files["plot"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_failed_rows_do_not_stop_the_others(cli_run, monkeypatch):
    """An exporter that is not installed and a runtime that cannot load: two failed rows with reasons, torch still ok."""
    _, _, exports = cli_run
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx2tf" else real_find_spec(name, *a))
    from lite_hrnet import pipeline, runtimes

    real_load = runtimes.load

    def load(model, *args, **kwargs):
        if str(model).endswith(".onnx"):
            raise ImportError("onnxruntime (for .onnx models) is not installed: pip install 'lite-hrnet[ort]'")
        return real_load(model, *args, **kwargs)

    monkeypatch.setattr(runtimes, "load", load)
    # pipeline binds load at its import: patched there too, so that a pipeline first imported during this
    # test does not keep the failing loader for the rest of the session
    monkeypatch.setattr(pipeline, "load", load)
    report = benchmark(NAIVE, formats="torch,onnx,tflite", precisions="fp32", threads=[1], warmup=0, runs=2,
                       predict_runs=1, exports=exports, isolate=False)
    by_format = {r.format: r for r in report.rows}
    assert by_format["torch"].status == "ok" and by_format["torch"].median_ms > 0
    assert by_format["onnx"].status == "failed" and "lite-hrnet[ort]" in by_format["onnx"].reason
    assert by_format["tflite"].status == "failed" and "onnx2tf" in by_format["tflite"].reason
    assert not report.ok
    table = report.table()
    assert "failed: onnxruntime (for .onnx models) is not installed" in table
    assert "failed: export needs onnx2tf" in table
    data = report.to_dict()
    assert all(f in row for row in data["rows"] for f in ROW_FIELDS)
    assert data["rows"][1]["median_ms"] is None and data["rows"][1]["runtime"] == "onnxruntime"
    assert "reset before the row" in by_format["torch"].rss_source or by_format["torch"].rss_source == "ru_maxrss"


def test_torch_rows_other_than_fp32_are_skipped(cli_run):
    _, _, exports = cli_run
    report = benchmark(NAIVE, formats="torch", precisions="fp32,int8", threads=1, warmup=0, runs=1, predict_runs=1,
                       exports=exports, isolate=False)
    assert [r.status for r in report.rows] == ["ok", "skipped"]
    assert report.ok  # skipped is not a failure


@pytest.mark.parametrize("args, message", [
    (("--threads", "0"), "--threads: must be at least 1"),
    (("--threads", "two"), "--threads: expected positive integers"),
    (("--formats", "onnx,caffe"), "--formats: unknown value caffe"),
    (("--precision", "int4"), "--precision: unknown value int4"),
    (("--openvino-precision", "int8"), "--openvino-precision: unknown value int8"),
    (("--runs", "5", "--seconds", "2"), "--runs and --seconds"),
    (("--runs", "0"), "--runs: must be a positive integer"),
])
def test_bad_arguments_are_one_line_exit_2(args, message):
    proc = cli("benchmark", NAIVE, *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr


def test_missing_checkpoint_and_unknown_model_exit_2(tmp_path):
    proc = cli("benchmark", str(tmp_path / "nope.pth"))
    assert proc.returncode == 2 and "checkpoint not found" in proc.stderr
    proc = cli("benchmark", "litehrnet_99")
    assert proc.returncode == 2 and "unknown model name" in proc.stderr


def test_importing_the_verb_does_not_import_torch():
    code = "import sys, lite_hrnet.benchmark.cli, lite_hrnet.benchmark; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


def test_latency_statistics():
    stats = summarize([1_000_000 * v for v in range(1, 101)])  # 1..100 ms
    assert stats.runs == 100 and stats.min_ms == 1.0 and stats.max_ms == 100.0
    assert stats.median_ms == pytest.approx(50.5) and stats.p90_ms == pytest.approx(90.1) and stats.p99_ms == pytest.approx(99.01)
    assert len(time_calls(lambda: None, runs=5)) == 5
    assert len(time_calls(lambda: None, seconds=0.01, min_runs=3)) >= 3
    with pytest.raises(ValueError):
        time_calls(lambda: None, runs=1, seconds=1.0)
    assert parse_positive_ints("1,2,2,4", "--threads") == [1, 2, 4]


def test_summary_reports_the_goals():
    def row(fmt, precision, ms, ran=None, hint=None):
        return BenchmarkRow(runtime=fmt, runtime_version="", format=fmt, precision=precision, precision_run=ran or precision,
                            threads=1, batch=1, median_ms=ms, precision_hint=hint, threads_applied=1)

    report = BenchmarkReport(
        model={"name": NAIVE, "floor_ms_per_image_1thread": 2.0}, machine={}, settings={},
        rows=[row("torch", "fp32", 40.0), row("onnx", "fp32", 8.0), row("onnx", "int8", 10.0),
              row("openvino", "fp32", 7.0, "bf16", "default"), row("openvino", "int8", 6.0, "bf16", "default"),
              row("openvino", "fp32", 9.0, "fp32", "f32"), row("openvino", "int8", 8.5, "fp32", "f32")],
    )
    s = report.summary()["threads=1"]
    assert s["best_fp32"]["format"] == "openvino" and s["best_fp32_over_torch"] == pytest.approx(7 / 40, abs=1e-3)
    assert s["goal_fp32_0.2x_torch"] is True
    assert s["best_strict_fp32"] == {"format": "onnx", "median_ms": 8.0}
    assert s["int8_faster_formats"] == ["openvino"] and s["goal_int8_faster_on_2"] is False
    assert s["fastest"]["x_floor"] == pytest.approx(3.0)
    assert any("NOT reached" in line for line in report.summary_lines())


def test_cli_report_has_the_measured_floor_and_per_person_ratios(cli_run):
    proc, files, _ = cli_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(files["json"].read_text())
    model, rows = data["model"], data["rows"]
    # the floor is measured in the run: a matmul sample before the first row and after each, the best kept
    samples = model["floor_samples_gflops"]
    assert len(samples) == len(rows) + 1 and all(s > 0 for s in samples)
    assert model["floor_gflops_per_core"] == max(samples) and "measured in this run" in model["floor_note"]
    floor = 2.0 * model["macs"] / 1e9 / max(samples) * 1e3
    assert model["floor_ms_per_image_1thread"] == pytest.approx(floor, rel=1e-3)
    for row in rows:
        per_person = row["median_ms"] / row["batch"]
        assert row["median_ms_per_person"] == pytest.approx(per_person, abs=1e-3)
        assert row["x_floor"] == pytest.approx(per_person / floor, rel=0.01)
        assert row["min_x_floor"] == pytest.approx(row["min_ms"] / row["batch"] / floor, rel=0.01)
    by_format = {r["format"]: r for r in rows}
    assert by_format["torch"]["graph"] == ""
    # the default ONNX export: dynamic batch, with the rewrites its metadata records; they only free the batch
    assert by_format["onnx"]["graph"] == "plain dyn" and "computed_reshapes_as_constants" in by_format["onnx"]["graph_rewrites"]
    header = proc.stdout.splitlines()[0]
    for column in ("graph", "ms/pers", "x floor", "min x fl", "8p/1p"):
        assert column in header, column


def _row(fmt, graph, threads, batch, min_ms, median_ms, path="f", hint=None, p1=None, p8=None):
    return BenchmarkRow(runtime=fmt, format=fmt, precision="fp32", precision_run="fp32", threads=threads,
                        threads_applied=threads, batch=batch, min_ms=min_ms, median_ms=median_ms, graph=graph,
                        path=path, precision_hint=hint, predict_1p_ms=p1, predict_8p_ms=p8)


def test_floor_ratios_before_after_and_thread_scaling_are_computed_from_the_rows():
    rows = [_row("onnx", "plain b1", 1, 1, 30.0, 40.0, path="plain.onnx", p1=32.0, p8=240.0),
            _row("onnx", "deploy dyn", 1, 1, 20.0, 25.0, path="deploy.onnx", p1=22.0, p8=110.0),
            _row("onnx", "deploy dyn", 1, 8, 128.0, 160.0, path="deploy.onnx"),
            _row("onnx", "deploy dyn", 2, 8, 80.0, 96.0, path="deploy.onnx"),
            _row("openvino", "deploy dyn", 1, 1, 18.0, 30.0, path="m.xml", hint="f32")]
    report = BenchmarkReport(model={"name": NAIVE}, machine={}, settings={}, rows=rows)
    report.apply_floor(4.0)
    plain, deploy, b8, b8t2, ov = rows
    assert (plain.x_floor, plain.min_x_floor) == (10.0, 7.5)  # 40 / 4, 30 / 4
    assert (b8.median_ms_per_person, b8.min_ms_per_person, b8.min_x_floor) == (20.0, 16.0, 4.0)  # 128 / 8 = 16 = 4 x 4
    assert (b8t2.min_ms_per_person, b8t2.min_x_floor) == (10.0, 5.0)  # two threads: the floor is 2 ms per person
    [pair] = report.before_after()  # the OpenVINO row has no plain row to pair with
    assert (pair["format"], pair["batch"], pair["deploy_over_plain_by_min"], pair["deploy_over_plain_by_median"]) == \
        ("onnx", 1, round(20 / 30, 3), round(25 / 40, 3))
    [scaling] = report.thread_scaling()
    assert (scaling["batch"], scaling["threads"], scaling["speedup_by_min"]) == (8, 2, 1.6)  # 16 / 10 ms per person
    s = report.summary()["threads=1"]
    assert s["best_strict_fp32_x_floor"]["batch 1"]["x_floor_by_min"] == 4.5  # OpenVINO f32: 18 / 4
    assert s["best_strict_fp32_x_floor"]["batch 8"]["min_ms_per_person"] == 16.0
    assert s["best_8p_over_1p"]["ratio"] == 5.0 and s["best_8p_over_1p"]["graph"] == "deploy dyn"  # 110 / 22
    lines = "\n".join(report.summary_lines())
    assert "deploy graph / plain graph, min per person: onnx fp32 t1 b1 x0.67" in lines
    assert "1 thread / more threads, min per person: onnx fp32 deploy dyn b8 t2 x1.60" in lines
    assert "plain b1" in report.table() and "min x floor" in report.markdown()


def test_given_files_are_measured_beside_the_exports_with_their_graph(cli_run, tmp_path):
    """--files: a rewritten ONNX file (its shuffles as convs) gets rows of its own, and the summary pairs it with
    the export, whose only rewrite frees the batch (a plain graph)."""
    import onnx

    from lite_hrnet import get_model_spec
    from lite_hrnet import metadata as md
    from lite_hrnet.export import formats as writers
    from lite_hrnet.export.rewrite import channel_shuffle_as_conv
    from lite_hrnet.models import create_model

    _, _, exports = cli_run
    spec = get_model_spec(NAIVE)
    path = writers.export_onnx(create_model(NAIVE).eval(), spec.input_size, tmp_path / "rewritten.onnx", dynamic_batch=False,
                               meta={})
    proto = onnx.load(str(path))
    assert channel_shuffle_as_conv(proto) > 10
    md.write_onnx_metadata(proto, dict(spec.metadata(), format="onnx", precision="fp32", layout="NCHW", batch=1,
                                       graph_rewrites=["channel_shuffle_as_conv"]))
    onnx.save(proto, str(path))
    report = benchmark(NAIVE, formats="onnx", precisions="fp32", threads=[1], warmup=0, runs=2, predict_runs=1,
                       exports=exports, isolate=False, files=[path])
    assert [(r.source, r.graph, r.status) for r in report.rows] == [("export", "plain dyn", "ok"), ("file", "deploy b1", "ok")]
    assert report.rows[1].path == str(path) and report.rows[1].graph_rewrites == ["channel_shuffle_as_conv"]
    [pair] = report.before_after()
    assert pair["deploy_over_plain_by_min"] == round(report.rows[1].min_ms / report.rows[0].min_ms, 3)
    assert report.settings["files"] == [str(path)]


@pytest.mark.parametrize("make, message", [
    (lambda d: d / "missing.onnx", "--files: not found: "),
    (lambda d: d / "model.bin", "is not an .onnx, .xml or .tflite model file"),
    (lambda d: (d / "foreign.onnx").write_bytes(b"not onnx") and d / "foreign.onnx", "--files: "),
])
def test_bad_given_files_are_one_line_exit_2(tmp_path, make, message):
    path = make(tmp_path)
    proc = cli("benchmark", NAIVE, "--formats", "onnx", "--files", str(path), "--exports", str(tmp_path / "e"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path.name) in lines[0], proc.stderr


def test_matmul_probe_measures_a_positive_rate():
    from lite_hrnet.benchmark.machine import measure_matmul_gflops

    rate = measure_matmul_gflops(size=256, repeats=2)
    assert rate is not None and 0.1 < rate < 1e5
