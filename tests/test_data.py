"""Tests for cnn_core/data.py, catalog.py and idx.py: the data-set table, the bundled digits,
the IDX reader and writer, local folders, and downloads against a real HTTP server on 127.0.0.1
that serves small IDX files written here."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import importlib.util
import socket
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cnn_core import data
from cnn_core.data import DataError

REPO = Path(__file__).resolve().parent.parent
NAMES = list(data.DATASETS["mnist"].files)  # the four file names, gzipped


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch, tmp_path):
    """Keep every test away from the user's cache, data folders, mirrors and proxies."""
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "default-cache"))
    monkeypatch.delenv("CONVSCOPE_DATA_DIR", raising=False)
    monkeypatch.delenv("CONVSCOPE_DATA_URL", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def write_small_set(folder: Path, gz: bool = True, n_train: int = 20, n_test: int = 10) -> dict:
    """Write the four IDX files of a tiny random MNIST-like set; return the arrays by stem."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for stem, array in arrays.items():
        data.write_idx(folder / (stem + (".gz" if gz else "")), array, gzip=gz)
    return arrays


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def files_in(folder: Path) -> list[str]:
    """Every file name in `folder` (hidden temporary files included); [] if it does not exist."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------
# Bundled digits
# ---------------------------------------------------------------------------------------------


def test_bundled_split_sizes_and_strata():
    """The bundled split has 4,000 train and 1,000 test digits, 400 and 100 of each class."""
    split = data.load_bundled()
    assert (len(split.train), len(split.test)) == (4000, 1000)
    assert np.bincount(split.train.labels, minlength=10).tolist() == [400] * 10
    assert np.bincount(split.test.labels, minlength=10).tolist() == [100] * 10


def test_bundled_types_shapes_and_names():
    """Bundled images are (N, 28, 28) uint8 using the full 0..255 range; labels are int64 0..9."""
    split = data.load_bundled()
    for ds in (split.train, split.test):
        assert ds.name == "digits" and ds.class_names == tuple("0123456789")
        assert ds.images.dtype == np.uint8 and ds.images.shape[1:] == (28, 28)
        assert ds.labels.dtype == np.int64 and set(ds.labels.tolist()) == set(range(10))
        assert ds.images.min() == 0 and ds.images.max() == 255


def test_bundled_train_and_test_are_disjoint():
    """No index and no image appears in both train and test; together they are all 5,000."""
    with np.load(data.BUNDLED_PATH) as npz:
        train_idx, test_idx = npz["train_idx"], npz["test_idx"]
    assert np.intersect1d(train_idx, test_idx).size == 0
    assert np.union1d(train_idx, test_idx).tolist() == list(range(5000))
    split = data.load_bundled()
    train_images = {img.tobytes() for img in split.train.images}
    assert not any(img.tobytes() in train_images for img in split.test.images)


def test_bundled_split_follows_the_documented_rule():
    """The stored split equals the build script's seeded stratified rule applied to the labels,
    and the train set holds exactly images[train_idx]."""
    spec = importlib.util.spec_from_file_location("build", REPO / "scripts/build_sample_data.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    with np.load(data.BUNDLED_PATH) as npz:
        images, labels = npz["images"], npz["labels"]
        train_idx, test_idx = npz["train_idx"], npz["test_idx"]
    assert images.shape == (5000, 28, 28) and images.dtype == labels.dtype == np.uint8
    again_train, again_test = build.stratified_split(labels, build.SPLIT_SEED)
    np.testing.assert_array_equal(again_train, train_idx)
    np.testing.assert_array_equal(again_test, test_idx)
    np.testing.assert_array_equal(data.load_bundled().train.images, images[train_idx])


def test_bundled_sha256_is_recorded_in_readme():
    """assets/README.md records the SHA-256 of the digits_5k.npz that is in the tree."""
    digest = sha256(data.BUNDLED_PATH.read_bytes())
    assert digest in (REPO / "assets" / "README.md").read_text()


def test_bundled_is_cached_and_read_only():
    """load_bundled returns the same cached Split, and its arrays cannot be modified."""
    split = data.load_bundled()
    assert data.load_bundled() is split
    with pytest.raises(ValueError):
        split.train.images[0, 0, 0] = 1
    with pytest.raises(ValueError):
        split.test.labels[0] = 3


def test_bundled_missing_file_says_how_to_rebuild(tmp_path):
    """A missing or damaged bundle raises DataError naming the build script."""
    with pytest.raises(DataError, match="build_sample_data.py"):
        data.load_bundled(tmp_path / "nope.npz")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="damaged"):
        data.load_bundled(tmp_path / "bad.npz")


def test_as_float_scales_to_unit_interval():
    """as_float gives float32 (N, 28, 28) equal to images / 255."""
    ds = data.load_bundled().test
    x = ds.as_float()
    assert x.dtype == np.float32 and x.shape == ds.images.shape
    assert x.min() == 0.0 and x.max() == 1.0
    np.testing.assert_allclose(x, ds.images / 255.0, rtol=0, atol=1e-7)


def test_subset_is_seeded():
    """subset(n, seed) takes n samples, the same for the same seed and different for another;
    n larger than the set gives all samples, negative n raises DataError."""
    ds = data.load_bundled().test
    a, b, c = ds.subset(50, seed=1), ds.subset(50, seed=1), ds.subset(50, seed=2)
    assert len(a) == 50 and a.name == "digits" and a.class_names == ds.class_names
    np.testing.assert_array_equal(a.images, b.images)
    assert not np.array_equal(a.labels, c.labels) or not np.array_equal(a.images, c.images)
    assert len(ds.subset(10**6, seed=0)) == len(ds)
    with pytest.raises(DataError):
        ds.subset(-1, seed=0)


# ---------------------------------------------------------------------------------------------
# IDX reader and writer
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
def test_idx_round_trip(tmp_path, gz, dtype):
    """write_idx then read_idx returns the same values, shape and dtype, gzipped or not."""
    array = (np.arange(2 * 3 * 4) * 7 - 20).astype(dtype).reshape(2, 3, 4)
    if dtype == np.uint8:
        array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4) * 10
    path = data.write_idx(tmp_path / "x.idx", array, gzip=gz)
    back = data.read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.shape == (2, 3, 4) and back.flags.writeable
    np.testing.assert_array_equal(back, array)


def test_idx_header_is_big_endian_as_in_mnist(tmp_path):
    """The written header is 00 00 08 <ndim> then big-endian sizes, as in the MNIST files."""
    raw = data.write_idx(tmp_path / "x", np.zeros((3, 28, 28), np.uint8)).read_bytes()
    assert raw[:16] == bytes.fromhex("00000803 00000003 0000001c 0000001c")
    assert len(raw) == 16 + 3 * 28 * 28


def test_read_idx_from_bytes_and_gzip_by_magic(tmp_path):
    """read_idx accepts bytes, and detects gzip by its magic bytes, not by the file name."""
    array = np.arange(10, dtype=np.uint8)
    plain = data.write_idx(tmp_path / "a", array).read_bytes()
    np.testing.assert_array_equal(data.read_idx(plain), array)
    np.testing.assert_array_equal(data.read_idx(gzip.compress(plain)), array)
    (tmp_path / "no-suffix").write_bytes(gzip.compress(plain))
    np.testing.assert_array_equal(data.read_idx(tmp_path / "no-suffix"), array)


HEADER_1D_10 = bytes.fromhex("00000801 0000000a")  # uint8, 1 dimension of size 10


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (bytes.fromhex("01000801 0000000a") + bytes(10), "must start with two zero bytes"),
        (bytes.fromhex("0000"), "not an IDX file"),
        (bytes.fromhex("00000701 0000000a") + bytes(10), "data type code 0x07"),
        (HEADER_1D_10 + bytes(7), "file is truncated: expected 10 bytes of data, found 7"),
        (HEADER_1D_10 + bytes(13), "3 bytes of trailing data"),
        (bytes.fromhex("00000800"), "declares 0 dimensions"),
        (bytes.fromhex("00000803 0000000a 0000000a"), "truncated in its header"),
        (bytes.fromhex("00000c01 00000002") + bytes(7), "expected 8 bytes of data, found 7"),
        (gzip.compress(HEADER_1D_10 + bytes(10))[:-12], "damaged gzip"),
    ],
    ids=["magic", "short", "dtype", "truncated", "trailing", "zero-dims", "header", "int32", "gz"],
)
def test_malformed_idx_raises_helpful_error(tmp_path, raw, message):
    """Malformed IDX data raises DataError saying what is wrong, and names the file."""
    with pytest.raises(DataError, match=message):
        data.read_idx(raw)
    path = tmp_path / "broken-idx1-ubyte"
    path.write_bytes(raw)
    with pytest.raises(DataError, match=str(path)):
        data.read_idx(path)


def test_write_idx_refuses_what_idx_cannot_hold(tmp_path):
    """write_idx raises DataError for dtypes IDX has no code for, and for 0-d arrays."""
    with pytest.raises(DataError):
        data.write_idx(tmp_path / "a", np.zeros(3, np.int64))
    with pytest.raises(DataError):
        data.write_idx(tmp_path / "b", np.uint8(3))


# ---------------------------------------------------------------------------------------------
# Local folders
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_folder(tmp_path, gz):
    """load_idx_folder reads the four files (gzipped or plain) into a Split with class names."""
    arrays = write_small_set(tmp_path / "fm", gz=gz)
    split = data.load_idx_folder("fashion-mnist", tmp_path / "fm")
    assert (len(split.train), len(split.test)) == (20, 10)
    assert split.train.class_names[9] == "Ankle boot" and split.test.name == "fashion-mnist"
    np.testing.assert_array_equal(split.train.images, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(split.test.labels, arrays["t10k-labels-idx1-ubyte"])
    assert split.test.labels.dtype == np.int64 and not split.train.images.flags.writeable


def test_load_idx_folder_accepts_dotted_names(tmp_path):
    """Files named like 'train-images.idx3-ubyte' (a common unpacked form) are found too."""
    write_small_set(tmp_path, gz=False)
    for path in tmp_path.iterdir():
        path.rename(tmp_path / path.name.replace("-idx", ".idx"))
    assert len(data.load_idx_folder("mnist", tmp_path).train) == 20


def test_load_idx_folder_missing_file(tmp_path):
    """A missing file raises DataError that names it."""
    write_small_set(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte.gz"):
        data.load_idx_folder("mnist", tmp_path)


@pytest.mark.parametrize(
    ("stem", "array", "message"),
    [
        ("train-labels-idx1-ubyte", np.zeros(19, np.uint8), "20 images but .* 19 labels"),
        ("train-images-idx3-ubyte", np.zeros((20, 14, 14), np.uint8), r"expected \(N, 28, 28\)"),
        ("train-labels-idx1-ubyte", np.full(20, 12, np.uint8), "label 12"),
        ("train-images-idx3-ubyte", np.zeros((20, 28, 28), np.int32), "unsigned bytes"),
    ],
    ids=["count-mismatch", "not-28x28", "label-range", "not-bytes"],
)
def test_load_idx_folder_inconsistent_files(tmp_path, stem, array, message):
    """Mismatched counts, wrong image size or type and out-of-range labels raise DataError."""
    write_small_set(tmp_path)
    data.write_idx(tmp_path / f"{stem}.gz", array, gzip=True)
    with pytest.raises(DataError, match=message):
        data.load_idx_folder("mnist", tmp_path)


def test_load_idx_folder_empty_and_unknown_name(tmp_path):
    """An empty set and an unknown data set name raise DataError."""
    write_small_set(tmp_path, n_train=0)
    with pytest.raises(DataError, match="no images"):
        data.load_idx_folder("mnist", tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        data.load_idx_folder("cifar", tmp_path)


def test_find_local_search_order(tmp_path, monkeypatch):
    """find_local looks in $CONVSCOPE_DATA_DIR/<name>, then the cache, then the system folder."""
    env_dir, cache, system = tmp_path / "env", tmp_path / "cache", tmp_path / "system"
    monkeypatch.setitem(
        data.DATASETS, "mnist", replace(data.DATASETS["mnist"], system_dirs=(system,))
    )
    assert data.find_local("mnist", cache) is None and not data.available("mnist", cache)
    write_small_set(system)
    assert data.find_local("mnist", cache) == system
    write_small_set(cache / "mnist")
    assert data.find_local("mnist", cache) == cache / "mnist"
    write_small_set(env_dir / "mnist", gz=False)
    monkeypatch.setenv("CONVSCOPE_DATA_DIR", str(env_dir))
    assert data.find_local("mnist", cache) == env_dir / "mnist"
    assert data.available("mnist", cache)


def test_find_local_uses_default_cache(tmp_path, monkeypatch):
    """Without a cache_dir argument the cache is $CONVSCOPE_CACHE_DIR; digits are always local."""
    monkeypatch.setenv("CONVSCOPE_CACHE_DIR", str(tmp_path / "c"))
    assert data.default_cache_dir() == tmp_path / "c"
    write_small_set(tmp_path / "c" / "mnist")
    assert data.find_local("mnist") == tmp_path / "c" / "mnist"
    assert data.find_local("digits") == data.BUNDLED_PATH and data.available("digits")


def test_load_dataset_without_download_explains(tmp_path):
    """load_dataset of an absent data set, download not allowed, says where to put the files."""
    with pytest.raises(DataError) as info:
        data.load_dataset("mnist", cache_dir=tmp_path)
    text = str(info.value)
    for hint in ("not on this computer", str(tmp_path / "mnist"), "CONVSCOPE_DATA_DIR", "download"):
        assert hint in text
    assert data.load_dataset("digits") is data.load_bundled()


# ---------------------------------------------------------------------------------------------
# Downloads from a local HTTP server
# ---------------------------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves server.files by base name; server.status, .truncate and .release inject faults."""

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        server.release.wait(5)  # set unless a test simulates a server that does not answer
        body = server.files.get(self.path.rsplit("/", 1)[-1])
        if server.status != 200 or body is None:
            self.send_error(404 if body is None else server.status)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (1000 if server.truncate else 0)))
        self.end_headers()
        self.wfile.write(body)  # then the handler returns and the connection closes

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    """An HTTP server on 127.0.0.1 (free port) in a thread; yields it with .url set."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    httpd.files, httpd.status, httpd.truncate, httpd.requests = {}, 200, False, []
    httpd.release = threading.Event()
    httpd.release.set()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}/mnist/"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield httpd
    httpd.release.set()
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def served(server, tmp_path) -> dict[str, str]:
    """Serve a tiny gzipped set; return its checksums (file name -> SHA-256)."""
    write_small_set(tmp_path / "src", gz=True)
    server.files = {name: (tmp_path / "src" / name).read_bytes() for name in NAMES}
    return {name: sha256(raw) for name, raw in server.files.items()}


def test_download_success(server, served, tmp_path):
    """Verified files land in <cache>/<name>, load, leave no temporary file, and are not
    downloaded again on a second call."""
    cache = tmp_path / "cache"
    folder = data.download("mnist", cache_dir=cache, base_url=server.url, checksums=served)
    assert folder == cache / "mnist" and files_in(folder) == sorted(NAMES)
    assert len(data.load_idx_folder("mnist", folder).train) == 20
    assert len(server.requests) == 4
    data.download("mnist", cache_dir=cache, base_url=server.url, checksums=served)
    assert len(server.requests) == 4


def test_load_dataset_downloads_when_allowed(server, served, tmp_path, monkeypatch):
    """load_dataset(allow_download=True) downloads from the mirror in $CONVSCOPE_DATA_URL
    ("{name}" filled in) and loads the result."""
    monkeypatch.setitem(data.DATASETS, "mnist", replace(data.DATASETS["mnist"], files=served))
    monkeypatch.setenv("CONVSCOPE_DATA_URL", server.url.replace("/mnist/", "/{name}"))
    split = data.load_dataset("mnist", allow_download=True, cache_dir=tmp_path / "c")
    assert (len(split.train), len(split.test)) == (20, 10)
    assert server.requests[0] == "/mnist/" + NAMES[0]


def test_download_bad_checksum_leaves_nothing(server, served, tmp_path):
    """A file whose SHA-256 differs raises DataError, and no file or temporary file remains."""
    wrong = dict(served, **{NAMES[2]: "0" * 64})
    with pytest.raises(DataError, match="SHA-256"):
        data.download("mnist", cache_dir=tmp_path, base_url=server.url, checksums=wrong)
    assert files_in(tmp_path / "mnist") == []


@pytest.mark.parametrize("status", [404, 500])
def test_download_http_error(server, served, tmp_path, status):
    """An HTTP error status raises DataError naming the status; nothing is left in the cache."""
    server.status = status
    with pytest.raises(DataError, match=f"answered {status}"):
        data.download("mnist", cache_dir=tmp_path, base_url=server.url, checksums=served)
    assert files_in(tmp_path / "mnist") == []


def test_download_one_missing_file_keeps_cache_clean(server, served, tmp_path):
    """If the last file is missing (404), the three downloaded ones are not kept either."""
    del server.files[NAMES[-1]]
    with pytest.raises(DataError, match="answered 404"):
        data.download("mnist", cache_dir=tmp_path, base_url=server.url, checksums=served)
    assert files_in(tmp_path / "mnist") == []


def test_download_truncated_body(server, served, tmp_path):
    """A body shorter than its Content-Length raises DataError "truncated"; nothing is left."""
    server.truncate = True
    with pytest.raises(DataError, match="truncated: the server announced"):
        data.download("mnist", cache_dir=tmp_path, base_url=server.url, checksums=served)
    assert files_in(tmp_path / "mnist") == []


def test_download_timeout(server, served, tmp_path):
    """A server that accepts but does not answer within `timeout` gives DataError; nothing left."""
    server.release.clear()
    with pytest.raises(DataError, match="did not answer within 0.2 s"):
        data.download(
            "mnist", cache_dir=tmp_path, base_url=server.url, checksums=served, timeout=0.2
        )
    assert files_in(tmp_path / "mnist") == []


def test_download_offline(served, tmp_path):
    """A closed port (as when offline) raises DataError with the offline hint and what to do."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # free, and nothing listens after the socket closes
    url = f"http://127.0.0.1:{port}/"
    with pytest.raises(DataError, match="offline") as info:
        data.download("mnist", cache_dir=tmp_path, base_url=url, checksums=served, timeout=5)
    assert "CONVSCOPE_DATA_DIR" in str(info.value) and str(tmp_path / "mnist") in str(info.value)
    assert files_in(tmp_path / "mnist") == []


def test_download_refuses_bundled_and_unknown(tmp_path):
    """download of "digits" (bundled) or an unknown name raises DataError without network use."""
    with pytest.raises(DataError, match="bundled"):
        data.download("digits", cache_dir=tmp_path)
    with pytest.raises(DataError, match="unknown data set"):
        data.download("cifar", cache_dir=tmp_path)


# ---------------------------------------------------------------------------------------------
# Debian's Fashion-MNIST package (only when installed)
# ---------------------------------------------------------------------------------------------

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(
    not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").is_file(),
    reason="Debian package dataset-fashion-mnist is not installed",
)
def test_debian_fashion_mnist_loads():
    """Debian's dataset-fashion-mnist files are found and load as 60,000 + 10,000 images."""
    assert data.find_local("fashion-mnist") == DEBIAN_FASHION
    split = data.load_dataset("fashion-mnist")
    assert (len(split.train), len(split.test)) == (60000, 10000)
    assert split.train.images.shape[1:] == (28, 28)
    assert np.bincount(split.test.labels).tolist() == [1000] * 10
    assert split.test.class_names[0] == "T-shirt/top"


def test_every_data_set_row_is_complete():
    """Every row of the data-set table can be used by every reader: ten or more class names, a
    training size the sidebar's slider can reach, a first run the sidebar's widgets accept, and
    for a data set that is not bundled four IDX files with SHA-256 digests and a download URL."""
    from ui.sidebar import LEARNING_RATES, RUN_KEYS

    for name, row in data.DATASETS.items():
        assert row.name == name and data.CLASS_NAMES[name] == row.class_names
        assert len(row.class_names) >= 2 and row.train_size >= 200
        assert set(row.first_run) == set(RUN_KEYS) and row.first_run["lr"] in LEARNING_RATES
        if row.bundled:
            assert data.load_bundled().train.class_names == row.class_names
            continue
        assert sorted(row.files) == sorted(NAMES) and row.base_url.startswith("http")
        assert all(len(sha) == 64 and int(sha, 16) >= 0 for sha in row.files.values())
