"""Checkpoint layouts, strict loading with readable errors, safe unpickling and the verified downloader."""

from __future__ import annotations

import functools
import hashlib
import http.server
import threading
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

import lite_hrnet  # noqa: E402
from lite_hrnet import specs  # noqa: E402
from lite_hrnet.models.checkpoint import CheckpointError, download_checkpoint, read_state_dict  # noqa: E402

NAME = "naive_litehrnet_18_coco_256x192"


@pytest.fixture(scope="module")
def trained_like():
    """A model with seeded non-trivial weights, and its output on a fixed input."""
    torch.manual_seed(0)
    model = lite_hrnet.create_model(NAME)
    for p in model.parameters():
        p.data.normal_(0, 0.1)
    x = torch.randn(1, 3, 256, 192)
    with torch.no_grad():
        return model.state_dict(), x, model(x)


def _output(weights, x):
    with torch.no_grad():
        return lite_hrnet.create_model(NAME, weights=weights)(x)


@pytest.mark.parametrize("layout", ["mmpose0", "bare", "mmpose1", "module_prefix", "model_key"])
def test_released_layouts_load_and_give_the_same_heatmaps(tmp_path, trained_like, layout):
    sd, x, expected = trained_like
    if layout == "mmpose0":
        obj = {"state_dict": sd, "meta": {"epoch": 210}}
    elif layout == "bare":
        obj = dict(sd)
    elif layout == "mmpose1":
        obj = {"state_dict": {k.replace("keypoint_head.", "head."): v for k, v in sd.items()}, "meta": {}}
    elif layout == "module_prefix":
        obj = {"state_dict": {"module." + k: v for k, v in sd.items()}}
    else:
        obj = {"model": sd}
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    torch.testing.assert_close(_output(path, x), expected, rtol=0, atol=0)


def test_other_architecture_is_refused_with_named_keys(tmp_path):
    path = tmp_path / "lh18.pth"
    torch.save({"state_dict": lite_hrnet.create_model("litehrnet_18_coco_256x192").state_dict()}, path)
    with pytest.raises(CheckpointError) as info:
        lite_hrnet.create_model(NAME, weights=path)
    message = str(info.value)
    assert str(path) in message and "missing" in message and "unexpected" in message
    assert "backbone.stage0.0.layers.0.0.branch2.0.conv.weight" in message  # first missing key


def test_wrong_joint_count_reports_shapes(tmp_path, trained_like):
    sd, _, _ = trained_like
    path = tmp_path / "k17.pth"
    torch.save(sd, path)
    with pytest.raises(CheckpointError, match=r"wrong shape.*keypoint_head.final_layer.weight \(17, 30, 1, 1\) vs \(16, 30, 1, 1\)"):
        lite_hrnet.create_model("naive_litehrnet_18_mpii_256x256", weights=path)


class Evil:
    def __reduce__(self):
        return (print, ("this pickle runs code",))


def test_pickle_that_runs_code_is_refused(tmp_path, trained_like):
    sd, _, _ = trained_like
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": sd, "hook": Evil()}, path)
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        read_state_dict(path)


def test_truncated_and_missing_files(tmp_path, trained_like):
    sd, _, _ = trained_like
    good = tmp_path / "good.pth"
    torch.save(sd, good)
    bad = tmp_path / "truncated.pth"
    bad.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated.pth"):
        read_state_dict(bad)
    with pytest.raises(CheckpointError, match="not found"):
        lite_hrnet.create_model(NAME, weights=tmp_path / "nope.pth")
    text = tmp_path / "notes.pth"
    text.write_text("hello")
    with pytest.raises(CheckpointError, match="notes.pth"):
        read_state_dict(text)


@pytest.fixture
def http_root(tmp_path):
    """A local http.server on 127.0.0.1 serving tmp_path/www."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _publish(root: Path, sd, stem: str) -> str:
    """Write a checkpoint under its hash-prefixed release name, as mmpose names them."""
    tmp = root / "tmp.pth"
    torch.save({"state_dict": sd, "meta": {}}, tmp)
    prefix = hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]
    name = f"{stem}-{prefix}_20211230.pth"
    tmp.rename(root / name)
    return name


def test_download_verifies_and_caches(http_root, tmp_path, trained_like, monkeypatch):
    root, base = http_root
    sd, x, expected = trained_like
    name = _publish(root, sd, "naive18_coco_256x192")
    cache = tmp_path / "cache"
    path = download_checkpoint(f"{base}/{name}", directory=cache, progress=False)
    assert path == cache / name and path.is_file()
    assert list(cache.iterdir()) == [path]  # no temporary files left behind

    # Through the registry: weights=<model name> downloads the release into $LITE_HRNET_HOME.
    monkeypatch.setenv("LITE_HRNET_HOME", str(tmp_path / "home"))
    release = specs.PretrainedWeights(f"{base}/{name}", name, name.split("-")[1][:8], "test server")
    monkeypatch.setitem(specs.MODEL_SPECS, NAME, specs.MODEL_SPECS[NAME].__class__(
        **{**specs.MODEL_SPECS[NAME].__dict__, "pretrained": release}))
    torch.testing.assert_close(_output(NAME, x), expected, rtol=0, atol=0)
    assert (tmp_path / "home" / "checkpoints" / name).is_file()


def test_corrupted_download_is_rejected_and_not_cached(http_root, tmp_path, trained_like):
    root, base = http_root
    sd, _, _ = trained_like
    name = _publish(root, sd, "naive18_coco_256x192")
    data = bytearray((root / name).read_bytes())
    data[len(data) // 2] ^= 0xFF  # flip one byte: same size, wrong hash
    (root / name).write_bytes(bytes(data))
    cache = tmp_path / "cache"
    with pytest.raises(CheckpointError, match="corrupted"):
        download_checkpoint(f"{base}/{name}", directory=cache, progress=False)
    assert not any(cache.iterdir())


def test_model_without_release_needs_a_path():
    with pytest.raises(CheckpointError, match="no downloadable checkpoint"):
        lite_hrnet.create_model(NAME, weights="official")


# ---------------------------------------------------------------- the downloader without a network (urlopen replaced)
class _FakeResponse:
    """What ``urllib.request.urlopen`` returns: ``read(n)`` blocks, then ``b""``; fails after ``fail_after`` bytes."""

    def __init__(self, data: bytes, fail_after=None) -> None:
        self.data, self.pos, self.fail_after = data, 0, fail_after
        self.headers = {"Content-Length": str(len(data))}

    def read(self, n: int) -> bytes:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        block = self.data[self.pos:self.pos + n]
        self.pos += len(block)
        return block

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass


def _serve(monkeypatch, data: bytes = b"", error=None, fail_after=None):
    """Replace urlopen: every call is recorded, and answers ``data`` or raises ``error``."""
    calls = []

    def urlopen(url, timeout=None):
        calls.append(url)
        if error is not None:
            raise error
        return _FakeResponse(data, fail_after)

    monkeypatch.setattr("urllib.request.urlopen", urlopen)
    return calls


def _named(data: bytes, stem: str = "lh18") -> str:
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}_20211230.pth"


@pytest.mark.parametrize("code,reason", [(404, "Not Found"), (503, "Service Unavailable")])
def test_http_error_names_the_file_and_url_and_caches_nothing(monkeypatch, tmp_path, code, reason):
    import urllib.error

    name = _named(b"weights")
    url = f"https://example.invalid/{name}"
    _serve(monkeypatch, error=urllib.error.HTTPError(url, code, reason, {}, None))
    with pytest.raises(CheckpointError) as info:
        download_checkpoint(url, directory=tmp_path, progress=False)
    message = str(info.value)
    assert name in message and url in message and reason in message and "--weights" in message
    assert list(tmp_path.iterdir()) == []


def test_connection_cut_half_way_leaves_nothing(monkeypatch, tmp_path):
    data = bytes(range(256)) * 1024  # 4 blocks of 64 KiB
    name = _named(data)
    _serve(monkeypatch, data, fail_after=1 << 16)
    with pytest.raises(CheckpointError, match="connection reset"):
        download_checkpoint(f"https://example.invalid/{name}", directory=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_name_without_a_hash_is_cached_unverified(monkeypatch, tmp_path):
    from lite_hrnet.models.checkpoint import sha256_prefix_from_name

    assert sha256_prefix_from_name("my_model.pth") is None and sha256_prefix_from_name("lh18_final.pth") is None
    assert sha256_prefix_from_name("lh18-6bace359_20211230.pth") == "6bace359"
    calls = _serve(monkeypatch, b"any bytes")
    path = download_checkpoint("https://example.invalid/my_model.pth", directory=tmp_path, progress=False)
    assert path == tmp_path / "my_model.pth" and path.read_bytes() == b"any bytes"
    # Cached: the second call does not download.
    assert download_checkpoint("https://example.invalid/my_model.pth", directory=tmp_path, progress=False) == path
    assert len(calls) == 1
    # An explicit prefix verifies even a name without one.
    with pytest.raises(CheckpointError, match="corrupted"):
        download_checkpoint("https://example.invalid/other.pth", sha256_prefix="00000000", directory=tmp_path,
                            progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["my_model.pth"]


def test_corrupted_cached_file_is_downloaded_again(monkeypatch, tmp_path):
    data = b"the released checkpoint" * 100
    name = _named(data)
    cached = tmp_path / name
    cached.write_bytes(data[:-10])  # cut short (a copy interrupted, a full disk)
    calls = _serve(monkeypatch, data)
    url = f"https://example.invalid/{name}"
    assert download_checkpoint(url, directory=tmp_path, progress=False) == cached
    assert cached.read_bytes() == data and len(calls) == 1
    # A sound cached copy is used as it is.
    assert download_checkpoint(url, directory=tmp_path, progress=False) == cached and len(calls) == 1
    # Damaged, and the server is down: the error says where to put a good copy.
    import urllib.error

    cached.write_bytes(b"garbage")
    _serve(monkeypatch, error=urllib.error.URLError("offline"))
    with pytest.raises(CheckpointError, match=str(cached)):
        download_checkpoint(url, directory=tmp_path, progress=False)
