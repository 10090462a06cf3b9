"""The lite-hrnet engine as a format of the toolkit: ``.lhrn`` programs (lite_hrnet.export.engine_program) run by
liblhr_engine.so (native/src/engine.c) through lite_hrnet.runtimes.engine_backend.

The library is built here by `make engine` into build/native (the other native tests and `make native` share that
build, so engine.c is compiled once; skips, with the reason, where cmake or a C compiler is missing). Heatmaps are compared with PyTorch
on seeded random networks whose batch norms were calibrated on random input (momentum 1) and then given random
affine parameters: every layer carries signal of order 1, and the folded batch norms are far from identity.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest

from conftest import ROOT, cli

torch = pytest.importorskip("torch")

from lite_hrnet.formats import get_format  # noqa: E402
from lite_hrnet.metadata import MetadataError, read_metadata  # noqa: E402
from lite_hrnet.runtimes import ModelFileError, load  # noqa: E402
from lite_hrnet.runtimes import engine_backend  # noqa: E402
from lite_hrnet.runtimes.base import metadata_from_spec  # noqa: E402
from lite_hrnet.runtimes.engine_backend import LIBRARY_ENV, EngineLibraryError  # noqa: E402
from lite_hrnet.specs import get_model_spec  # noqa: E402

NATIVE = ROOT / "native"
LH18 = "litehrnet_18_coco_256x192"
CONFIGS = (LH18, "naive_litehrnet_18_coco_256x192", "litehrnet_30_coco_256x192", "litehrnet_18_coco_128x96")
SMALL = "litehrnet_18_coco_128x96"


@pytest.fixture(scope="module")
def library() -> Path:
    """liblhr_engine.so built from this checkout's native/ by `make engine` (build/native: Release, warnings as
    errors, LiteRT not required), named by LITE_HRNET_ENGINE_LIBRARY."""
    for tool in ("cmake", "make"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed (Debian: apt-get install {tool})")
    if not any(shutil.which(cc) for cc in ("cc", "gcc", "clang")):
        pytest.skip("no C compiler (Debian: apt-get install gcc)")
    build = ROOT / "build" / "native"
    made = subprocess.run(["make", "--no-print-directory", "engine"], cwd=ROOT, capture_output=True, text=True)
    assert made.returncode == 0, f"make engine failed:\n{(made.stdout + made.stderr)[-4000:]}"
    path = build / engine_backend.LIBRARY_NAME
    assert path.is_file()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(LIBRARY_ENV, str(path))
        yield path


def test_the_engine_needs_no_litert(library, tmp_path):
    """Without LiteRT, native/ configures to the engine and the pure-C core alone; the engine links no LiteRT."""
    configure = subprocess.run(
        ["cmake", "-S", str(NATIVE), "-B", str(tmp_path / "build"), "-DLHR_REQUIRE_LITERT=OFF",
         "-DLITERT_PYTHON=/nonexistent"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    assert "LiteRT not found: building liblhr_engine.so and the core only" in configure.stdout
    if shutil.which("readelf"):
        needed = subprocess.run(["readelf", "-d", str(library)], capture_output=True, text=True).stdout
        assert "NEEDED" in needed and "LiteRt" not in needed, needed


def json_round_trip(meta: dict) -> dict:
    """``meta`` as a JSON reader gives it back (tuples become lists)."""
    return json.loads(json.dumps(meta))


def signal_carrying_model(name: str, seed: int = 0):
    """A seeded random ``name`` whose every batch norm is calibrated on random input, then given random affine
    parameters: activations of order 1 everywhere (the official init gives outputs that barely depend on the input)."""
    from lite_hrnet.models import create_model

    spec = get_model_spec(name)
    torch.manual_seed(seed)
    model = create_model(name)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = 1.0  # the running statistics become those of the calibration batch
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.bias.shape, generator=g) * 0.2 - 0.1)
        model.train()
        model(torch.randn((2, 3, *spec.input_size), generator=g))
    return model.eval()


@pytest.fixture(scope="module")
def programs(library, tmp_path_factory) -> Dict[str, Tuple[Path, np.ndarray, np.ndarray, np.ndarray]]:
    """name -> (the .lhrn file, input 2 x 3 x H x W, PyTorch float32 heatmaps, PyTorch float64 heatmaps)."""
    from lite_hrnet.export.engine_program import write_program

    out = tmp_path_factory.mktemp("programs")
    made = {}
    for i, name in enumerate(CONFIGS):
        spec = get_model_spec(name)
        model = signal_carrying_model(name, seed=i)
        path = out / f"{name}.lhrn"
        write_program(model, spec.input_size, path, metadata_from_spec(spec, format="engine", precision="fp32", batch="dynamic"))
        x = np.random.default_rng(i).standard_normal((2, 3, *spec.input_size)).astype(np.float32)
        with torch.no_grad():
            ref32 = model(torch.from_numpy(x)).numpy()
            ref64 = copy.deepcopy(model).double()(torch.from_numpy(x).double()).numpy()
        made[name] = (path, x, ref32, ref64)
    return made


# ---------------------------------------------------------------- the numbers
@pytest.mark.parametrize("name", CONFIGS)
def test_engine_computes_the_pytorch_network(programs, name):
    """As close to the exact (float64) network as PyTorch's own float32 is, and within 1e-4 (L2) of PyTorch float32."""
    path, x, ref32, ref64 = programs[name]
    out = load(path)(x)
    spec = get_model_spec(name)
    assert out.shape == (2, spec.num_joints, *spec.heatmap_size) and out.dtype == np.float32
    scale = np.abs(ref64).max()
    engine_error = np.abs(out - ref64).max() / scale
    torch_error = np.abs(ref32 - ref64).max() / scale
    assert engine_error <= max(1.5 * torch_error, 1e-6), (engine_error, torch_error)
    assert np.linalg.norm(out - ref32) / np.linalg.norm(ref32) < 1e-4
    # the output depends on the input: a program that ignored it could not pass the checks above
    assert np.abs(ref64[0] - ref64[1]).max() > 0.1 * scale


def test_batches_and_threads_give_the_single_image_results(programs):
    path, x, _, _ = programs[SMALL]
    batch = np.concatenate([x, x[:1] * 0.5], axis=0)  # 3 persons
    one = load(path)
    singles = np.concatenate([one(batch[i:i + 1]) for i in range(3)], axis=0)
    np.testing.assert_array_equal(one(batch), singles)
    two = load(path, threads=2)
    assert two.info.threads == 2 and two.engine_count == 2 and one.info.threads == 1
    np.testing.assert_array_equal(two(batch), singles)
    np.testing.assert_array_equal(two(batch[:1]), singles[:1])  # fewer persons than engines
    assert two(batch[:0]).shape == (0,) + singles.shape[1:]
    capped = load(path, threads=2, max_batch=2)  # calls split into runs of 2 persons
    np.testing.assert_array_equal(capped(batch), singles)
    info = one.info
    assert (info.runtime, info.device, info.precision, info.batch, info.path) == ("lhr_engine", "cpu", "fp32", None, str(path))
    two.close()
    with pytest.raises(ValueError, match="closed"):
        two(batch)


def test_backend_metadata_and_argument_checks(programs):
    path, x, _, _ = programs[SMALL]
    backend = load(path)
    spec = get_model_spec(SMALL)
    assert backend.metadata == read_metadata(path)
    assert backend.metadata["model_name"] == SMALL and backend.input_size == spec.input_size
    assert backend.metadata["format"] == "engine" and backend.layout == "NCHW"
    with pytest.raises(ValueError, match="precision 'fp16' cannot be applied"):
        load(path, precision="fp16")
    with pytest.raises(ValueError, match="device 'cuda' is not supported by the lite-hrnet engine"):
        load(path, device="cuda")
    with pytest.raises(ValueError, match="64x48 \\(H x W\\) but the model takes 128x96"):
        backend(np.zeros((1, 3, 64, 48), np.float32))


def test_importing_the_backend_does_not_import_torch():
    code = ("import sys, lite_hrnet.runtimes.engine_backend, lite_hrnet.runtimes; "
            "sys.exit(1 if 'torch' in sys.modules else 0)")
    assert subprocess.run([os.sys.executable, "-c", code], cwd=ROOT).returncode == 0


# ---------------------------------------------------------------- the export
def test_export_writes_a_checked_program_with_its_metadata(library, tmp_path):
    from lite_hrnet.export import export_model

    model = signal_carrying_model(SMALL, seed=7)
    # fp16 unchecked: an ONNX fp16 file of this network, scaled for order-1 activations, is off by more than 5e-3
    report = export_model(SMALL, formats="engine,onnx", precisions="fp32,fp16", out_dir=tmp_path, model=model,
                          verify=["fp32"])
    by_key = {(a.format, a.precision): a for a in report.artifacts}
    assert set(by_key) == {("engine", "fp32"), ("onnx", "fp32"), ("onnx", "fp16")}  # no engine fp16
    artifact = by_key[("engine", "fp32")]
    path = get_format("engine").artifact_path(tmp_path, SMALL, "fp32")
    assert artifact.status == "ok" and artifact.path == str(path) and path == tmp_path / f"{SMALL}.lhrn"
    # checked like every fp32 file, and as close to PyTorch as ONNX Runtime's file is
    assert artifact.runtime_precision == "fp32" and artifact.check == "relative error <= 0.0001"
    assert artifact.rel_error <= 3 * by_key[("onnx", "fp32")].rel_error + 1e-6 and artifact.agreement == 1.0
    meta = read_metadata(path)
    assert meta == load(path).metadata  # what the engine returns is what the exporter stored
    assert meta["format"] == "engine" and meta["precision"] == "fp32" and meta["batch"] == "dynamic"
    assert meta["checkpoint_sha256"] == report.checkpoint_sha256
    assert all(meta[k] == v for k, v in json_round_trip(get_model_spec(SMALL).metadata()).items())
    # the same file as the exporter's ONNX one, heatmap for heatmap
    x = np.random.default_rng(3).standard_normal((2, 3, *get_model_spec(SMALL).input_size)).astype(np.float32)
    onnx_out = load(tmp_path / f"{SMALL}.onnx")(x)
    assert np.linalg.norm(load(path)(x) - onnx_out) / np.linalg.norm(onnx_out) < 1e-4
    again = export_model(SMALL, formats="engine", out_dir=tmp_path, model=model, reuse=True)
    assert again.artifacts[0].status == "cached"
    with pytest.raises(ValueError, match="--precision: lite-hrnet engine files are written at fp32 only"):
        export_model(SMALL, formats="engine", precisions="fp16", out_dir=tmp_path, model=model)


def test_export_of_a_network_the_engine_cannot_compile_fails_that_file(library, tmp_path):
    from lite_hrnet.export import ExportError, export_model

    class NotLiteHRNet(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.avg_pool2d(x, 4)[:, :1].repeat(1, 17, 1, 1)

    with pytest.raises(ExportError, match="compiles LiteHRNetPose models only, not a NotLiteHRNet") as err:
        export_model(SMALL, formats="engine", out_dir=tmp_path, model=NotLiteHRNet())
    assert err.value.report.artifacts[0].status == "failed"
    assert not (tmp_path / f"{SMALL}.lhrn").exists()


def test_export_without_the_library_says_how_to_build_it(tmp_path):
    proc = cli("export", SMALL, "--formats", "engine", "--out", str(tmp_path),
               env={LIBRARY_ENV: str(tmp_path / "missing" / "liblhr_engine.so")})
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert LIBRARY_ENV in lines[0] and "--no-verify" in lines[0]
    assert not list(tmp_path.glob("*.lhrn"))


# ---------------------------------------------------------------- bad files and a missing library
def _bad_files(good: Path, folder: Path) -> Dict[str, Path]:
    data = good.read_bytes()
    files = {
        "truncated": data[: len(data) // 2],
        "header only": data[:20],
        "wrong magic": b"NOTENGIN" + data[8:],
        "random bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "empty": b"",
    }
    out = {}
    for what, content in files.items():
        path = folder / f"{what.replace(' ', '_')}.lhrn"
        path.write_bytes(content)
        out[what] = path
    return out


def test_bad_files_are_errors_naming_the_file(programs, tmp_path):
    for what, path in _bad_files(programs[SMALL][0], tmp_path).items():
        with pytest.raises(ModelFileError) as err:
            load(path)
        assert str(path) in str(err.value) and "\n" not in str(err.value), (what, err.value)
        with pytest.raises(MetadataError, match=str(path)):
            read_metadata(path)
    missing = tmp_path / "nowhere.lhrn"
    with pytest.raises(FileNotFoundError, match=str(missing)):
        load(missing)


def test_a_program_without_metadata_needs_a_spec(library, programs, tmp_path):
    from lite_hrnet.export.engine_program import write_program

    path = tmp_path / "bare.lhrn"
    write_program(signal_carrying_model(SMALL), get_model_spec(SMALL).input_size, path, None)
    with pytest.raises(MetadataError, match=f"{path}: no lite-hrnet metadata"):
        load(path)
    backend = load(path, spec=SMALL)
    assert backend.metadata["model_name"] == SMALL and backend(programs[SMALL][1]).shape == (2, 17, 32, 24)
    wrong = tmp_path / "wrong_size.lhrn"
    write_program(signal_carrying_model(SMALL), (256, 192), wrong, metadata_from_spec(SMALL, format="engine"))
    with pytest.raises(ModelFileError, match=f"{wrong}: the program takes 256x192 but the metadata says \\(128, 96\\)"):
        load(wrong)


def test_a_missing_or_broken_library_is_a_clear_import_error(programs, tmp_path, monkeypatch):
    path = programs[SMALL][0]
    monkeypatch.setenv(LIBRARY_ENV, str(tmp_path / "absent.so"))
    with pytest.raises(EngineLibraryError, match=f"{LIBRARY_ENV}=.*absent.so: no such file"):
        load(path)
    monkeypatch.delenv(LIBRARY_ENV)
    monkeypatch.setattr(engine_backend, "default_library_path", lambda: tmp_path / "build" / "liblhr_engine.so")
    with pytest.raises(ImportError, match="engine library is not built .* run `make native`"):
        load(path)
    assert not engine_backend.engine_library_available()
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not a shared library")
    monkeypatch.setenv(LIBRARY_ENV, str(junk))
    with pytest.raises(EngineLibraryError, match=f"{junk}: cannot load the lite-hrnet engine library"):
        load(path)


# ---------------------------------------------------------------- the benchmark
def test_benchmark_has_engine_rows(library, tmp_path):
    from lite_hrnet.benchmark import benchmark

    report = benchmark(SMALL, formats="engine", precisions="fp32,fp16", threads=[1, 2], batches=[1, 8], warmup=0,
                       runs=2, predict_runs=1, exports=tmp_path, isolate=False)
    rows = [(r.precision, r.threads, r.batch, r.status) for r in report.rows]
    assert rows == [("fp32", 1, 1, "ok"), ("fp32", 1, 8, "ok"), ("fp32", 2, 1, "ok"), ("fp32", 2, 8, "ok"),
                    ("fp16", 1, 1, "skipped"), ("fp16", 1, 8, "skipped"), ("fp16", 2, 1, "skipped"),
                    ("fp16", 2, 8, "skipped")], [r.reason for r in report.rows]
    import lite_hrnet

    for row in report.rows[:4]:
        assert row.graph == "engine" and row.runtime == "lhr_engine" and row.runtime_version == lite_hrnet.__version__
        assert row.precision_run == "fp32" and row.threads_applied == row.threads
        assert row.rel_error < 1e-4 and row.kp_agreement == 1.0
    assert "fp32 only" in report.rows[4].reason
    assert report.ok


def test_format_table_row(monkeypatch):
    """The engine's row: its file name, fp32 only, exported with torch alone, its runtime's name and version."""
    import importlib.util

    import lite_hrnet
    from lite_hrnet import formats
    from lite_hrnet.benchmark._plan import runtime_version

    assert formats.artifact_path("OUT", "m", "engine", "fp32").as_posix() == "OUT/m.lhrn"
    with pytest.raises(ValueError, match="lite-hrnet engine files are written at fp32 only, not fp16"):
        formats.artifact_path("OUT", "m", "engine", "fp16")
    assert formats.format_of_path("a.LHRN").name == "engine" and "engine" in formats.EXPORT_FORMATS
    assert not formats.get_format("torch").exported and formats.get_format("engine").exported
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    assert formats.missing_export_modules(["engine"]) == ["torch"]
    assert runtime_version("engine") == ("lhr_engine", lite_hrnet.__version__)


def test_pose_estimator_runs_engine_files(programs):
    """PoseEstimator on a .lhrn file: the keypoints of the PyTorch network it was compiled from, flip test included."""
    from lite_hrnet.pipeline import PoseEstimator

    path = programs[SMALL][0]
    model = signal_carrying_model(SMALL, seed=CONFIGS.index(SMALL))  # the network programs[SMALL] was compiled from
    frame = np.random.default_rng(5).integers(0, 256, (240, 320, 3), dtype=np.uint8)
    boxes = [[10, 20, 110, 220], [150, 30, 300, 230], [40, 40, 200, 200]]
    for flip in (False, True):
        engine = PoseEstimator(path, flip_test=flip, threads=2).predict(frame, boxes)
        reference = PoseEstimator(model, flip_test=flip).predict(frame, boxes)
        assert engine.keypoints.shape == (3, 17, 2)
        np.testing.assert_allclose(engine.keypoints, reference.keypoints, atol=1e-3)
        np.testing.assert_allclose(engine.scores, reference.scores, rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------- each depthwise path
# (channels, height, width, stride, scale shift or None, act, what goes through which path of engine.c's depthwise())
DEPTHWISE_CASES = [
    (3, 128, 96, 2, None, 0, "bands: stride 2, a plane too large for the flat path"),
    (2, 100, 101, 2, None, 1, "rows: a large plane of odd width"),
    (2, 128, 96, 2, 1, 0, "rows: a large plane with a scale map"),
    (2, 15, 13, 2, None, 2, "rows: a small plane of odd width"),
    (3, 64, 48, 2, None, 1, "flat, rows of 16 or more outputs, stride 2"),
    (2, 65, 48, 2, None, 0, "flat, wide rows, stride 2, odd height"),
    (3, 32, 24, 2, None, 0, "flat, row-parity layout (stride 2, rows under 16 outputs)"),
    (2, 33, 24, 2, None, 2, "flat, row-parity layout, odd height"),
    (3, 32, 24, 2, 1, 1, "flat, row-parity layout from a scaled padded plane"),
    (3, 64, 48, 1, 3, 0, "flat, wide rows, stride 1, scale map 8x smaller"),
    (2, 32, 24, 1, 2, 2, "flat, wide rows (24: the last vector overlaps), stride 1"),
    (3, 24, 12, 1, 1, 1, "flat, one run across row ends, stride 1"),
    (5, 16, 12, 1, 2, 0, "lanes: stride 1, up to 16x12"),
    (17, 8, 6, 1, 1, 0, "lanes: 16 channels a vector, a partial second group"),
    (17, 16, 12, 2, None, 1, "lanes, stride 2"),
]
_ACT_NAMES = {0: "none", 1: "relu", 2: "sigmoid"}


def _depthwise_reference(x, scale, shift, weight, bias, stride, act):
    """float64 torch: act(depthwise 3x3 conv, padding 1, of x times the nearest-upsampled scale map)."""
    xt = torch.from_numpy(x).double()[None]
    if scale is not None:
        xt = xt * torch.from_numpy(scale).double()[None].repeat_interleave(2 ** shift, 2).repeat_interleave(2 ** shift, 3)
    y = torch.nn.functional.conv2d(xt, torch.from_numpy(weight).double()[:, None], torch.from_numpy(bias).double(),
                                   stride=stride, padding=1, groups=x.shape[0])
    return {0: y, 1: torch.relu(y), 2: torch.sigmoid(y)}[act][0].numpy()


def _run_program(program, path: Path, x: np.ndarray) -> np.ndarray:
    """One run of a Program (its input: the planes of x) through liblhr_engine.so, by its C API."""
    import ctypes

    path.write_bytes(program.to_bytes({}))
    library = engine_backend.EngineLibrary()
    engine = library.open(path)
    try:
        c, h, w = library.shape(engine, output=True)
        out = np.full((c, h, w), np.nan, np.float32)
        x = np.ascontiguousarray(x, np.float32)
        fp = ctypes.POINTER(ctypes.c_float)
        assert library.lib.lhr_engine_run(engine, x.ctypes.data_as(fp), out.ctypes.data_as(fp)) == 0
    finally:
        library.lib.lhr_engine_close(engine)
    return out


@pytest.fixture(scope="module")
def sanitized_runner(tmp_path_factory) -> Path:
    """native/tests/engine_run.c with engine.c, built with AddressSanitizer and UBSan (skips where the compiler has
    no sanitizers): runs a program whose scratch is sized by its one op, so an op writing past its share fails."""
    cc = next((c for c in ("cc", "gcc", "clang") if shutil.which(c)), None)
    if cc is None:
        pytest.skip("no C compiler (Debian: apt-get install gcc)")
    out = tmp_path_factory.mktemp("asan") / "engine_run"
    made = subprocess.run(
        [cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-Wno-psabi", "-O1", "-g", "-fsanitize=address,undefined",
         "-fno-sanitize-recover=all", "-ffp-contract=fast", f"-I{NATIVE / 'include'}", str(NATIVE / "tests" / "engine_run.c"),
         str(NATIVE / "src" / "engine.c"), "-o", str(out), "-lm"], capture_output=True, text=True)
    if made.returncode != 0 and "sanitize" in made.stderr:
        pytest.skip(f"{cc} cannot build with -fsanitize=address,undefined: {made.stderr.strip().splitlines()[-1]}")
    assert made.returncode == 0, made.stderr
    return out


def _run_sanitized(runner: Path, program, path: Path, x: np.ndarray, shape) -> np.ndarray:
    path.write_bytes(program.to_bytes({}))
    np.ascontiguousarray(x, np.float32).tofile(path.with_suffix(".in"))
    env = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0", UBSAN_OPTIONS="print_stacktrace=1")
    run = subprocess.run([str(runner), str(path), str(path.with_suffix(".in")), str(path.with_suffix(".out"))],
                         capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stderr[-4000:]
    return np.fromfile(path.with_suffix(".out"), np.float32).reshape(shape)


@pytest.mark.parametrize("channels,height,width,stride,shift,act,path", DEPTHWISE_CASES,
                         ids=[f"{c[6].split(':')[0]}-{c[1]}x{c[2]}-s{c[3]}-{_ACT_NAMES[c[5]]}" for c in DEPTHWISE_CASES])
def test_each_depthwise_path_computes_the_convolution(library, sanitized_runner, tmp_path, channels, height, width,
                                                      stride, shift, act, path):
    """Single depthwise ops of every shape class the engine treats differently, with and without scale maps (made
    by a pool of the input's second half), against float64 torch; also through a spatial-weighting mean (a global
    pool right after the conv, which the engine fuses into it) and as a group of two convs of one input. Each
    program also runs in an ASan/UBSan build, which must give the same floats."""
    from lite_hrnet.export.engine_program import Program

    rng = np.random.default_rng(height * 1000 + width * 10 + stride)
    x = rng.standard_normal((2 * channels, height, width)).astype(np.float32)
    weight, bias = rng.standard_normal((channels, 3, 3)), rng.standard_normal(channels)
    weight2 = rng.standard_normal((channels, 3, 3))
    scale = None
    if shift is not None:
        f = 2 ** shift
        scale = x[channels:].reshape(channels, height // f, f, width // f, f).astype(np.float64).mean(axis=(2, 4))
    expected = _depthwise_reference(x[:channels], scale, shift, weight, bias, stride, act)

    def program(kind: str) -> "Program":
        p = Program()
        p.input = p.new_buffer(2 * channels, height, width)
        xs, rest = p.input.split([channels, channels])
        maps = p.pool(rest, 2 ** shift, 2 ** shift) if shift is not None else None
        y = p.depthwise(xs, weight, bias, stride, act, scale=maps, shift=shift if shift is not None else -1)
        if kind == "mean":
            p.output = p.pool(y, y.height, y.width)
        elif kind == "group":
            y2 = p.depthwise(xs, weight2, bias, stride, act, scale=maps, shift=shift if shift is not None else -1)
            p.output = p.sum([(1, 0, y), (1, 0, y2)], 0)
        else:
            p.output = y
        return p

    scale_of = np.abs(expected).max()
    expected2 = _depthwise_reference(x[:channels], scale, shift, weight2, bias, stride, act)
    for kind, reference in (("plain", expected), ("mean", expected.mean(axis=(1, 2), keepdims=True)),
                            ("group", expected + expected2)):
        out = _run_program(program(kind), tmp_path / f"{kind}.lhrn", x)
        assert out.shape == reference.shape, kind
        assert np.abs(out - reference).max() <= (2e-5 if kind == "group" else 1e-5) * scale_of, (kind, path)
        checked = _run_sanitized(sanitized_runner, program(kind), tmp_path / f"{kind}_asan.lhrn", x, out.shape)
        assert np.abs(checked - reference).max() <= (2e-5 if kind == "group" else 1e-5) * scale_of, (kind, path)


def _hand_made_sum(program, terms, out) -> None:
    """A sum op (no activation) of ``terms`` (coef, shift, view) written into ``out``, which the exporter never
    chooses: the engine's file format, by Program's own op writer."""
    from lite_hrnet.export import engine_program

    fields = [len(terms)] + [v for coef, shift, view in terms for v in (shift, coef, view)] + [out]
    program._emit(engine_program._SUM, engine_program._NONE, out.channels, out.channels, out, out, fields,
                  [view for _, _, view in terms])


def test_a_sum_may_overwrite_its_first_term_only(library, sanitized_runner, tmp_path):
    """Fuse sums are written over their first term (row 0 of a fuse layer); rows that are not whole vectors store
    exactly there (a row's last vector must not overwrite the next row's first-term floats before they are read).
    An output overlapping any other term is a bad file."""
    from lite_hrnet.export.engine_program import Program, View

    def program(height: int, width: int, into: int):
        p = Program()
        p.input = p.new_buffer(6, height, width)
        a, b, c = p.input.split([2, 2, 2])
        low = p.pool(c, 2, 2)
        terms = [(2, 0, a), (1, 0, b), (-1, 1, low)]
        if into == 0:
            out = p.sum(terms, 0, in_place=True)
        else:  # a hand-made file: the output is term 1's planes
            _hand_made_sum(p, terms, b)
            out = b
        p.output = p.sum([(1, 0, out)], 1)  # a ReLU copy, as after row 0 (fused into the sum by the engine)
        return p

    for height, width in ((4, 32), (6, 24), (2, 10)):
        x = np.random.default_rng(width).standard_normal((6, height, width)).astype(np.float32)
        low = x[4:].reshape(2, height // 2, 2, width // 2, 2).mean(axis=(2, 4))
        expected = np.maximum(2 * x[:2] + x[2:4] - low.repeat(2, 1).repeat(2, 2), 0)
        out = _run_program(program(height, width, 0), tmp_path / f"in_place_{width}.lhrn", x)
        np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-6)
        checked = _run_sanitized(sanitized_runner, program(height, width, 0), tmp_path / f"asan_{width}.lhrn", x, out.shape)
        np.testing.assert_allclose(checked, expected, rtol=1e-6, atol=1e-6)
    bad = tmp_path / "over_term_1.lhrn"
    bad.write_bytes(program(4, 32, 1).to_bytes({}))
    with pytest.raises(ModelFileError, match=r"over_term_1\.lhrn.*sum output overlaps its term 1"):
        engine_backend.EngineLibrary().open(bad)
    with pytest.raises(ValueError, match="unshifted first term"):
        Program().sum([(1, 1, View(((0, 0),), 2, 2))], 0, in_place=True)


def test_sum_overlap_checks_hold_for_many_channels(library, tmp_path):
    """With many planes the engine compares sorted plane lists (a hand-made file may list 65,536): an output over
    term 1 is still refused, over a shifted view of term 0 too, and a sum in place over term 0 still runs."""
    from lite_hrnet.export.engine_program import Program, View

    channels = 96  # 96 x 96 plane pairs: past the pairwise comparison
    x = np.random.default_rng(3).standard_normal((2 * channels, 2, 16)).astype(np.float32)

    def program(output: str):
        p = Program()
        p.input = p.new_buffer(2 * channels, 2, 16)
        a, b = p.input.split([channels, channels])
        terms = [(1, 0, a), (1, 0, b)]
        if output == "in place":
            out = p.sum(terms, 0, in_place=True)
        else:
            # term 1's planes, or term 0's planes one channel on (each output plane is another term-0 plane)
            out = b if output == "term 1" else View(a.planes[1:] + a.planes[:1], 2, 16)
            _hand_made_sum(p, terms, out)
        p.output = p.sum([(1, 0, out)], 1)
        return p

    path = tmp_path / "in_place.lhrn"
    np.testing.assert_allclose(_run_program(program("in place"), path, x), np.maximum(x[:channels] + x[channels:], 0),
                               rtol=1e-6, atol=1e-6)
    for output, term in (("term 1", 1), ("rotated term 0", 0)):
        bad = tmp_path / f"{output.replace(' ', '_')}.lhrn"
        bad.write_bytes(program(output).to_bytes({}))
        with pytest.raises(ModelFileError, match=f"sum output overlaps its term {term}"):
            engine_backend.EngineLibrary().open(bad)
