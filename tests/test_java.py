"""The Java library (java/): `make java` builds it, these tests run its JUnit 5 tests on the desktop JVM.

- Pure Java (geometry, decoding, the tracker and the One-Euro filter against golden values from the Python
  implementation, images, JSON, the launcher's arguments): need a JDK and Debian's junit5 jars only.
- Through JNI (PoseEstimator on the demo model's TFLite file, and litehrnet-predict against `lite-hrnet predict`
  on ../shared/data/coco_val2017_sample): also need build/native/liblitehrnet.so (`make native`).

Each part skips with the reason when what it needs is missing; a build that fails is a test failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Dict, List, Optional

import numpy as np
import pytest

from conftest import cli

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "java"
JUNIT_JAR = Path(os.environ.get("JUNIT_JAR", "/usr/share/java/junit-platform-console-standalone.jar"))
PURE_JAVA_TESTS = ["GeometryTest", "HeatmapDecoderTest", "OneEuroFilterTest", "PoseTrackerTest", "ImageTest",
                   "JsonTest", "cli.PredictMainTest", "cli.ExifOrientationTest"]


def _missing_tools() -> Optional[str]:
    for tool in ("javac", "jar", "java", "make"):
        if shutil.which(tool) is None:
            return f"{tool} not found: install a JDK 11+ (Debian: openjdk-17-jdk-headless) and make"
    if not JUNIT_JAR.is_file():
        return f"JUnit 5 console launcher not found at {JUNIT_JAR} (Debian: apt-get install junit5, or set JUNIT_JAR)"
    return None


def _within_2px(want: List[dict], got: List[dict]):
    """Per keypoint of the results (same persons, same order): within 2 image pixels; and both K x 3 arrays."""
    py = np.concatenate([np.reshape(w["keypoints"], (-1, 3)) for w in want])
    jv = np.concatenate([np.reshape(g["keypoints"], (-1, 3)) for g in got])
    return np.hypot(*(jv[:, :2] - py[:, :2]).T) <= 2.0, py, jv


def _make(*targets: str) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "--no-print-directory", *targets], cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def java_build() -> SimpleNamespace:
    """The jar and test classes (built or the test fails), and the JNI library when liblitehrnet builds."""
    reason = _missing_tools()
    if reason:
        pytest.skip(reason)
    built = _make("java-jar", "java-test-classes")
    assert built.returncode == 0, f"make java-jar java-test-classes failed:\n{built.stdout}\n{built.stderr}"
    full = _make("java")
    jni = BUILD / "liblitehrnet_jni.so"
    problem = None
    if full.returncode != 0 or not jni.is_file():
        tail = (full.stderr or full.stdout).strip().splitlines()[-3:]
        problem = "make java could not build the JNI library (liblitehrnet: make native): " + " | ".join(tail)
    return SimpleNamespace(jni=None if problem else jni, problem=problem)


def junit(classes: List[str], properties: Dict[str, str], jni: Optional[Path]) -> SimpleNamespace:
    """Run the named test classes (relative to io.github.litehrnet) on the JUnit console launcher."""
    props = {**properties, **({"litehrnet.jni.library": str(jni)} if jni else {})}
    command = ["java", *(f"-D{k}={v}" for k, v in props.items()), "-jar", str(JUNIT_JAR), "--disable-banner",
               "--details=tree", "--disable-ansi-colors", "--fail-if-no-tests",
               "-cp", f"{BUILD / 'lite-hrnet.jar'}{os.pathsep}{BUILD / 'test-classes'}",
               *(f"--select-class=io.github.litehrnet.{c}" for c in classes)]
    run = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    counts = {key: int(value) for value, key in re.findall(r"\[\s*(\d+) tests (\w+)\s*\]", run.stdout)}
    return SimpleNamespace(returncode=run.returncode, output=run.stdout + run.stderr, counts=counts)


def check(result: SimpleNamespace, expected_tests: int) -> None:
    assert result.returncode == 0, result.output[-6000:]
    assert result.counts.get("found", 0) >= expected_tests, result.output[-3000:]
    assert result.counts.get("skipped", 0) == 0 and result.counts.get("aborted", 0) == 0, result.output[-3000:]
    assert result.counts.get("failed", 0) == 0, result.output[-6000:]


def test_pure_java_against_python_golden_values(java_build):
    check(junit(PURE_JAVA_TESTS, {}, None), expected_tests=30)


def test_golden_files_are_what_the_python_code_makes(tmp_path):
    """The committed golden files are current: regenerating them from the Python code gives the same values."""
    golden = ROOT / "java" / "src" / "test" / "resources" / "golden"
    run = subprocess.run([sys.executable, str(ROOT / "java" / "tools" / "make_golden.py"), "--out", str(tmp_path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    for name in ("geometry.json", "decode.json", "one_euro.json", "tracker.json"):
        assert json.loads((tmp_path / name).read_text()) == json.loads((golden / name).read_text()), (
            f"{name}: the Python code now gives other values; port the change to java/ and regenerate the golden "
            "files with java/tools/make_golden.py")


def test_estimator_through_jni(java_build, demo_tflite):
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    check(junit(["PoseEstimatorTest"], {"litehrnet.test.model": str(demo_tflite)}, java_build.jni), expected_tests=8)


def test_predict_matches_lite_hrnet_predict_on_coco(java_build, demo_tflite, coco_sample, tmp_path):
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    python_out = tmp_path / "python"
    run = cli("predict", "--model", str(demo_tflite), str(coco_sample), "--boxes",
              str(coco_sample / "test_coco_det_AP_H_56.json"), "--out", str(python_out), "--threads", "2",
              "--no-progress")
    assert run.returncode == 0, run.stderr
    result = junit(["cli.EndToEndTest"], {
        "litehrnet.test.model": str(demo_tflite), "litehrnet.test.coco": str(coco_sample),
        "litehrnet.test.python_results": str(python_out / "results.json")}, java_build.jni)
    check(result, expected_tests=1)
    share = re.search(r"END_TO_END: .*", result.output)
    assert share, result.output[-3000:]
    print(share.group(0))  # the measured agreement, shown with pytest -s


def test_launcher_script(java_build, demo_tflite, tmp_path):
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    import cv2

    image = tmp_path / "person.png"
    rng = np.random.default_rng(0)
    cv2.imwrite(str(image), cv2.GaussianBlur(rng.integers(0, 255, (160, 120, 3), dtype=np.uint8), (5, 5), 1))
    launcher = BUILD / "litehrnet-predict"
    run = subprocess.run([str(launcher), "--model", str(demo_tflite), str(image), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""  # LiteRT's loading logs go to /dev/null (LITEHRNET_VERBOSE=1 shows them)
    assert re.search(r"1 frames, 1 persons: [\d.]+ FPS pose estimation", run.stdout), run.stdout
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert len(results) == 1 and results[0]["image_id"] == "person.png" and len(results[0]["keypoints"]) == 51
    assert (tmp_path / "out" / "person.png").is_file()
    bad = subprocess.run([str(launcher), "--model", str(demo_tflite), str(image), "--dark"], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "Exception" not in bad.stderr, bad.stderr
    assert bad.stderr.strip().splitlines() == ["litehrnet-predict: error: --dark is not supported by "
                                               "litehrnet-predict (use lite-hrnet predict) (see litehrnet-predict "
                                               "--help)"]
    foreign = tmp_path / "notes.tflite"
    foreign.write_text("not a model")
    bad = subprocess.run([str(launcher), "--model", str(foreign), str(image)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert bad.stderr.startswith("litehrnet-predict: error: ") and "notes.tflite" in bad.stderr, bad.stderr


def test_android_cmake_file_builds_with_the_desktop_compiler(tmp_path):
    """android/'s CMake file (native/ + the JNI glue, unversioned liblitehrnet.so) configures and links; the NDK
    itself is not available here, so a desktop ABI folder stands in for it (see android/README.md)."""
    if shutil.which("cmake") is None or shutil.which("cc") is None:
        pytest.skip("cmake or a C compiler not found (Debian: cmake gcc)")
    java_home = Path(os.path.realpath(shutil.which("javac") or "/nonexistent")).parents[1]
    if not (java_home / "include" / "jni.h").is_file():
        pytest.skip("jni.h not found: install a JDK (openjdk-17-jdk-headless)")
    try:
        import ai_edge_litert
    except ImportError:
        pytest.skip("ai-edge-litert (libLiteRt.so) is not installed")
    litert = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    (tmp_path / "litert" / "desktop").mkdir(parents=True)
    (tmp_path / "litert" / "desktop" / "libLiteRt.so").symlink_to(litert)
    include = f"-I{java_home / 'include'} -I{java_home / 'include' / 'linux'}"
    configure = subprocess.run(["cmake", "-S", str(ROOT / "android" / "litehrnet" / "src" / "main" / "cpp"), "-B",
                                str(tmp_path / "build"), f"-DLITERT_ANDROID_DIR={tmp_path / 'litert'}",
                                "-DANDROID_ABI=desktop", f"-DCMAKE_C_FLAGS={include}"], capture_output=True, text=True)
    assert configure.returncode == 0, configure.stdout + configure.stderr
    # the JNI library and what it links (not the engine, which the Java library does not use)
    build = subprocess.run(["cmake", "--build", str(tmp_path / "build"), "--target", "litehrnet_jni", "-j2"],
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    needed = subprocess.run(["readelf", "-d", str(tmp_path / "build" / "liblitehrnet_jni.so")], capture_output=True,
                            text=True).stdout
    assert "[liblitehrnet.so]" in needed, needed  # Android loads libraries by plain names


def test_launcher_turns_photos_upright_as_lite_hrnet_predict(java_build, demo_tflite, tmp_path):
    """EXIF orientation (PNG eXIf here: lossless, so both decoders see the same pixels): the same keypoints as
    `lite-hrnet predict`, on the upright picture."""
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    PIL_Image = pytest.importorskip("PIL.Image", reason="Pillow writes the tagged images")
    import cv2

    rng = np.random.default_rng(5)
    stored = cv2.GaussianBlur(rng.integers(0, 255, (120, 200, 3), dtype=np.uint8), (5, 5), 2)
    folder = tmp_path / "photos"
    folder.mkdir()
    for orientation in (1, 6, 8):
        exif = PIL_Image.Exif()
        exif[0x0112] = orientation
        PIL_Image.fromarray(np.ascontiguousarray(stored[..., ::-1])).save(folder / f"o{orientation}.png",
                                                                          exif=exif.tobytes())
    python = cli("predict", "--model", str(demo_tflite), str(folder), "--out", str(tmp_path / "py"), "--no-progress")
    assert python.returncode == 0, python.stderr
    java = subprocess.run([str(BUILD / "litehrnet-predict"), "--model", str(demo_tflite), str(folder), "--out",
                           str(tmp_path / "java")], capture_output=True, text=True, timeout=120)
    assert java.returncode == 0, java.stderr
    want = json.loads((tmp_path / "py" / "results.json").read_text())
    got = json.loads((tmp_path / "java" / "results.json").read_text())
    assert [r["file_name"] for r in got] == [r["file_name"] for r in want] == ["o1.png", "o6.png", "o8.png"]
    # Same pixels, but the JDK's and OpenCV's bilinear crops round differently: on this noise picture a near-tie
    # arg-max can flip by a heatmap pixel (seen with the v3 demo model: 1 of 51 keypoints, 5.2 px). A wrong
    # orientation moves nearly every keypoint, so the end-to-end rule still tells: >= 95% within 2 image pixels.
    within, _, _ = _within_2px(want, got)
    assert within.mean() >= 0.95, f"{within.mean():.1%} of {len(within)} keypoints within 2 px"
    assert cv2.imread(str(tmp_path / "java" / "o6.png")).shape[:2] == (200, 120)  # the annotated picture is upright


def test_launcher_skips_unreadable_images_among_several_as_lite_hrnet_predict(java_build, demo_tflite, coco_sample,
                                                                              tmp_path):
    """A truncated JPEG and an empty file among good images: skipped and named, exit status 3, the others written;
    a single unreadable input: exit status 2. The same lines and statuses as `lite-hrnet predict`."""
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    folder = tmp_path / "in"
    folder.mkdir()
    shutil.copy(coco_sample / "000000040083.jpg", folder / "a.jpg")
    (folder / "b.jpg").write_bytes((coco_sample / "000000000785.jpg").read_bytes()[:20000])
    (folder / "c.jpg").write_bytes(b"")
    python = cli("predict", "--model", str(demo_tflite), str(folder), "--out", str(tmp_path / "py"), "--no-progress")
    java = subprocess.run([str(BUILD / "litehrnet-predict"), "--model", str(demo_tflite), str(folder), "--out",
                           str(tmp_path / "java")], capture_output=True, text=True, timeout=120)
    assert python.returncode == java.returncode == 3, (python.stderr, java.stderr)

    def said(stderr: str, program: str) -> list:
        return [line.replace(program, "PROGRAM") for line in stderr.splitlines() if line.startswith(program)]

    expected = said(python.stderr, "lite-hrnet predict:")
    assert len(expected) == 3 and said(java.stderr, "litehrnet-predict:") == expected, java.stderr
    assert len(json.loads((tmp_path / "java" / "results.json").read_text())) == len(
        json.loads((tmp_path / "py" / "results.json").read_text())) == 1
    single = subprocess.run([str(BUILD / "litehrnet-predict"), "--model", str(demo_tflite), str(folder / "b.jpg")],
                            capture_output=True, text=True, timeout=60)
    assert single.returncode == 2 and single.stderr.strip().endswith("truncated JPEG (no end-of-image marker after "
                                                                      "the image data)"), single.stderr


def test_launcher_tracks_and_smooths_as_lite_hrnet_predict(java_build, demo_tflite, coco_sample, tmp_path):
    """--track --smooth over an image sequence (the COCO sample as PNG: lossless, so both decoders see the same
    pixels): the same track ids and smoothed keypoints as `lite-hrnet predict`, with the real model."""
    if java_build.jni is None:
        pytest.skip(java_build.problem)
    import cv2

    folder = tmp_path / "frames"
    folder.mkdir()
    for jpeg in sorted(coco_sample.glob("*.jpg")):
        cv2.imwrite(str(folder / f"{jpeg.stem}.png"), cv2.imread(str(jpeg)))
    python = cli("predict", "--model", str(demo_tflite), str(folder), "--track", "--smooth", "--out",
                 str(tmp_path / "py"), "--no-progress")
    assert python.returncode == 0, python.stderr
    java = subprocess.run([str(BUILD / "litehrnet-predict"), "--model", str(demo_tflite), str(folder), "--track",
                           "--smooth", "--out", str(tmp_path / "java")], capture_output=True, text=True, timeout=120)
    assert java.returncode == 0, java.stderr
    want = json.loads((tmp_path / "py" / "results.json").read_text())
    got = json.loads((tmp_path / "java" / "results.json").read_text())
    assert [(r["file_name"], r["track_id"]) for r in got] == [(r["file_name"], r["track_id"]) for r in want]
    # The JDK's and OpenCV's bilinear crops differ in float rounding (scores in the 4th decimal), which can
    # flip a near-tie arg-max by one heatmap pixel (seen: 1 of 561 keypoints); the rule of the other
    # end-to-end comparisons applies: >= 95% of keypoints within 2 image pixels.
    within, py, jv = _within_2px(want, got)
    print(f"--track --smooth: {within.mean():.2%} of {len(within)} keypoints within 2 px")
    assert within.mean() >= 0.95
    np.testing.assert_allclose(jv[:, 2], py[:, 2], atol=5e-3)
