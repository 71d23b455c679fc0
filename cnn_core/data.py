"""Data sets: the bundled 5,000 MNIST digits, an IDX reader/writer, and optional downloads.

Three sources, tried in this order by `load_dataset`:
1. "digits": the bundled sample in assets/digits_5k.npz (always there, works offline).
2. "mnist" / "fashion-mnist" from a local folder holding the four IDX files (gzipped or not):
   $CONVSCOPE_DATA_DIR/<name>, the cache folder, or (Fashion-MNIST) Debian's package folder.
3. A download into the cache folder, only when allowed; every file is checked against its
   published SHA-256 before it is moved into place, so the cache never holds a partial file.

Every problem with data raises `DataError` with a sentence that says what to do.
Only NumPy and the standard library are used here (no torch, streamlit or plotly).
"""

from __future__ import annotations

import functools
import gzip as gzip_module
import hashlib
import http.client
import io
import math
import os
import struct
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_PATH = REPO_ROOT / "assets" / "digits_5k.npz"

_DIGITS = tuple(str(d) for d in range(10))
CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "digits": _DIGITS,
    "mnist": _DIGITS,
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                      "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
}  # fmt: skip

DATASET_LABELS = {  # every data set the app can train on, in words
    "digits": "Bundled MNIST digits (5,000)",
    "mnist": "MNIST (70,000)",
    "fashion-mnist": "Fashion-MNIST (70,000)",
}
TRAIN_SIZES = {"digits": 4000, "mnist": 60000, "fashion-mnist": 60000}  # training images

# Official SHA-256 of each gzipped IDX file, from tensorflow/datasets
# (tensorflow_datasets/url_checksums/mnist.txt and fashion_mnist.txt), and the same in several
# independent downloaders (including one that uses the ossci-datasets MNIST mirror below).
# Not re-verified by a download here: the build machines have no network.
FILES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",  # noqa: E501
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",  # noqa: E501
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",  # noqa: E501
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",  # noqa: E501
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",  # noqa: E501
    },
}
BASE_URLS = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # no https
}
# Folders that OS packages install. Debian's `dataset-fashion-mnist` ships the four .gz files
# here, re-gzipped: their .gz SHA-256 differ from FILES (the gzip header no longer holds the
# file name) but they decompress to the same bytes as the official files. So local folders are
# checked by structure (read_idx and load_idx_folder), and only downloads by SHA-256.
SYSTEM_DIRS = {"fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),)}
ENV_DATA_DIR = "CONVSCOPE_DATA_DIR"  # folder with one subfolder per data set
ENV_CACHE_DIR = "CONVSCOPE_CACHE_DIR"  # where downloads go (default ~/.cache/convscope)
ENV_DATA_URL = "CONVSCOPE_DATA_URL"  # base URL of a mirror; "{name}" is replaced by the data set

# IDX data type codes (third byte of the magic number) -> big-endian numpy dtype.
IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
MAX_IDX_BYTES = 256 * 2**20  # refuse larger IDX payloads (MNIST's biggest is 47 MB)
MAX_DOWNLOAD_BYTES = 64 * 2**20  # refuse larger downloads (Fashion-MNIST's biggest is 26 MB)
_CHUNK = 1 << 16
_SPLIT_FILES = {  # split -> (images stem, labels stem), without the .gz
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


class DataError(ValueError):
    """A data set is missing, malformed or could not be downloaded; the message says what to do."""


# ---------------------------------------------------------------------------------------------
# Data set containers
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no truth value; compare by identity
class Dataset:
    """Images and labels of one split of one data set. Arrays are read-only."""

    name: str  # "digits", "mnist" or "fashion-mnist"
    images: np.ndarray  # (N, 28, 28) uint8, 0 = background, 255 = ink
    labels: np.ndarray  # (N,) int64 class indices into class_names
    class_names: tuple[str, ...]  # label index -> human-readable name

    def __post_init__(self) -> None:
        shape, dtype = self.images.shape, self.images.dtype
        if len(shape) != 3 or dtype != np.uint8:
            raise DataError(f"images must be (N, H, W) uint8, got {shape} {dtype}")
        if self.labels.shape != shape[:1]:
            raise DataError(f"{shape[0]} images but labels of shape {self.labels.shape}")

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def as_float(self) -> np.ndarray:
        """Images as float32 in [0, 1], the model's input scale: (N, 28, 28)."""
        return self.images.astype(np.float32) / np.float32(255.0)

    def subset(self, n: int, seed: int) -> Dataset:
        """The first n samples of a permutation drawn from `seed` (all samples if n >= len)."""
        if n < 0:
            raise DataError(f"a subset needs n >= 0 samples, got {n}")
        order = np.random.default_rng(seed).permutation(len(self))[:n]  # (n,)
        return _make_dataset(self.name, self.images[order], self.labels[order])


@dataclass(frozen=True, eq=False)
class Split:
    """A training set and a held-out test set of the same data set."""

    train: Dataset
    test: Dataset


def _read_only(array: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of `array` that cannot be written to (safe to share between sessions)."""
    out = np.array(array, copy=True, order="C")
    out.flags.writeable = False
    return out


def _make_dataset(name: str, images: np.ndarray, labels: np.ndarray) -> Dataset:
    """Dataset with read-only uint8 images and int64 labels, names from CLASS_NAMES."""
    images = _read_only(np.asarray(images, dtype=np.uint8))  # (N, 28, 28)
    labels = _read_only(np.asarray(labels).astype(np.int64))  # (N,)
    return Dataset(name, images, labels, CLASS_NAMES[name])


def _check_name(name: str) -> None:
    """Raise DataError unless `name` is a known data set."""
    if name not in CLASS_NAMES:
        known = ", ".join(repr(k) for k in CLASS_NAMES)
        raise DataError(f"unknown data set {name!r}; choose one of {known}")


# ---------------------------------------------------------------------------------------------
# Bundled sample
# ---------------------------------------------------------------------------------------------


def load_bundled(path: str | os.PathLike | None = None) -> Split:
    """The bundled 5,000 MNIST digits as a 4,000 / 1,000 split named "digits" (cached)."""
    return _load_bundled_cached(str(Path(path or BUNDLED_PATH).resolve()))


@functools.lru_cache(maxsize=4)
def _load_bundled_cached(path: str) -> Split:
    arrays = _read_npz(Path(path), ("images", "labels", "train_idx", "test_idx"))
    images, labels = arrays["images"], arrays["labels"]  # (5000, 28, 28), (5000,)
    train_idx, test_idx = arrays["train_idx"], arrays["test_idx"]  # (4000,), (1000,)
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise DataError(f"{path} holds images {images.shape} and labels {labels.shape}; rebuild it")
    for idx in (train_idx, test_idx):
        if idx.ndim != 1 or idx.size == 0 or idx.min() < 0 or idx.max() >= len(labels):
            raise DataError(f"{path} has split indices outside 0..{len(labels) - 1}; rebuild it")
    if np.intersect1d(train_idx, test_idx).size:
        raise DataError(f"{path}: train and test indices overlap; rebuild it")
    return Split(
        train=_make_dataset("digits", images[train_idx], labels[train_idx]),
        test=_make_dataset("digits", images[test_idx], labels[test_idx]),
    )


def _read_npz(path: Path, keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Read `keys` from an .npz without pickles; DataError if missing or damaged."""
    rebuild = "rebuild it with `python scripts/build_sample_data.py`"
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in keys}
    except FileNotFoundError as e:
        raise DataError(f"the bundled digits file {path} is missing; {rebuild}") from e
    except KeyError as e:
        raise DataError(f"{path} lacks the array {e}; {rebuild}") from e
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path} is damaged ({e}); {rebuild}") from e


# ---------------------------------------------------------------------------------------------
# IDX format (http://yann.lecun.com/exdb/mnist/): 0x00 0x00 <dtype code> <ndim>,
# then ndim big-endian uint32 sizes, then the values in C order, big-endian.
# ---------------------------------------------------------------------------------------------


def read_idx(path_or_bytes: str | os.PathLike | bytes | bytearray | memoryview) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a writable native-endian array shaped by its header.

    Raises DataError for a bad magic number, an unknown data type code, zero dimensions, or a
    payload whose length is not exactly the product of the dimensions times the item size."""
    return np.array(_read_idx_view(path_or_bytes), copy=True)


def _read_idx_view(path_or_bytes) -> np.ndarray:
    """Like read_idx, but the result may be a read-only view on the file's bytes (no copy)."""
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        raw, what = bytes(path_or_bytes), "IDX data"
    else:
        path = Path(path_or_bytes)
        raw, what = _read_file(path), str(path)
    if raw[:2] == b"\x1f\x8b":  # gzip magic number
        raw = _gunzip(raw, what)
    return _parse_idx(raw, what)


def _read_file(path: Path) -> bytes:
    """Bytes of a file, refusing anything larger than MAX_IDX_BYTES."""
    try:
        if path.stat().st_size > MAX_IDX_BYTES:
            raise DataError(f"{path} is larger than {MAX_IDX_BYTES} bytes: not an MNIST-size file")
        return path.read_bytes()
    except OSError as e:
        raise DataError(f"could not read {path}: {e.strerror or e}") from e


def _gunzip(raw: bytes, what: str) -> bytes:
    """Decompress gzip bytes, at most MAX_IDX_BYTES of output."""
    try:
        with gzip_module.GzipFile(fileobj=io.BytesIO(raw)) as f:
            data = f.read(MAX_IDX_BYTES + 1)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError
        raise DataError(f"{what} is a damaged gzip file ({e}); get a fresh copy") from e
    if len(data) > MAX_IDX_BYTES:
        raise DataError(f"{what} decompresses to more than {MAX_IDX_BYTES} bytes; refusing it")
    return data


def _parse_idx(raw: bytes, what: str) -> np.ndarray:
    """Validate the IDX header against the payload; return the array in native byte order
    (for single-byte types a read-only view on `raw`, otherwise a copy)."""
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        found = raw[:4].hex(" ") or "nothing"
        raise DataError(
            f"{what} is not an IDX file: it must start with two zero bytes, not {found}"
        )
    code, ndim = raw[2], raw[3]
    if code not in IDX_DTYPES:
        codes = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise DataError(f"{what} has IDX data type code 0x{code:02X}; valid codes are {codes}")
    if ndim == 0:
        raise DataError(f"{what} declares 0 dimensions; an IDX file needs at least one")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{what}: file is truncated in its header ({len(raw)} of {header} bytes)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])  # ndim sizes, big-endian uint32
    dtype = np.dtype(IDX_DTYPES[code])
    expected, found = math.prod(shape) * dtype.itemsize, len(raw) - header
    if found < expected:
        msg = f"file is truncated: expected {expected} bytes of data, found {found}"
        raise DataError(f"{what}: {msg}")
    if found > expected:
        msg = f"{found - expected} bytes of trailing data after the {expected} declared by {shape}"
        raise DataError(f"{what}: the file is damaged: {msg}")
    array = np.frombuffer(raw, dtype=dtype, count=math.prod(shape), offset=header)
    return array.reshape(shape).astype(dtype.newbyteorder("="), copy=False)  # native order


def write_idx(path: str | os.PathLike, array: np.ndarray, gzip: bool = False) -> Path:
    """Write `array` as an IDX file (gzipped if `gzip`, with a fixed gzip timestamp)."""
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_DTYPES.items()}
    native = array.dtype.newbyteorder("=")
    if native not in codes or not 1 <= array.ndim <= 255:
        raise DataError(f"cannot write {array.dtype} arrays of {array.ndim} dimensions as IDX")
    big = native.newbyteorder(">")
    header = bytes([0, 0, codes[native], array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + np.ascontiguousarray(array, dtype=big).tobytes()
    if gzip:
        data = gzip_module.compress(data, mtime=0)
    path = Path(path)
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------------
# Local folders
# ---------------------------------------------------------------------------------------------


def _file_candidates(folder: Path, stem: str) -> list[Path]:
    """Names a file may have: 'train-images-idx3-ubyte[.gz]' or 'train-images.idx3-ubyte[.gz]'."""
    dotted = stem.replace("-idx", ".idx")
    return [folder / f"{s}{ext}" for s in (stem, dotted) for ext in (".gz", "")]


def _find_file(folder: Path, stem: str) -> Path | None:
    """The first existing file for `stem` in `folder`, or None."""
    return next((p for p in _file_candidates(folder, stem) if p.is_file()), None)


def _has_all_files(folder: Path) -> bool:
    """True if `folder` holds all four IDX files (any accepted name)."""
    stems = [s for pair in _SPLIT_FILES.values() for s in pair]
    return folder.is_dir() and all(_find_file(folder, s) is not None for s in stems)


def load_idx_folder(name: str, folder: str | os.PathLike) -> Split:
    """Load the four IDX files of `name` from `folder` as a train/test Split."""
    _check_name(name)
    folder = Path(folder)
    stems = [stem for pair in _SPLIT_FILES.values() for stem in pair]
    missing = [f"{stem}.gz" for stem in stems if _find_file(folder, stem) is None]
    if missing:
        raise DataError(
            f"{folder} lacks {', '.join(missing)} (gzipped or not); "
            f"put the four {name} IDX files there"
        )
    parts = {
        split: _load_pair(name, _find_file(folder, img), _find_file(folder, lab))
        for split, (img, lab) in _SPLIT_FILES.items()
    }
    return Split(train=parts["train"], test=parts["test"])


def _load_pair(name: str, images_path: Path, labels_path: Path) -> Dataset:
    """Read and cross-check one images file (N, 28, 28) and its labels file (N,)."""
    images, labels = _read_idx_view(images_path), _read_idx_view(labels_path)
    if images.dtype != np.uint8 or images.ndim != 3 or images.shape[1:] != (28, 28):
        got = f"{images.dtype} {images.shape}"
        raise DataError(f"{images_path} holds {got}, expected (N, 28, 28) unsigned bytes")
    if labels.dtype != np.uint8 or labels.ndim != 1:
        raise DataError(f"{labels_path} holds {labels.dtype} {labels.shape}, expected (N,) bytes")
    if len(images) != len(labels):
        raise DataError(
            f"{images_path.name} has {len(images)} images but "
            f"{labels_path.name} has {len(labels)} labels; they must match"
        )
    if len(images) == 0:
        raise DataError(f"{images_path} holds no images")
    n_classes = len(CLASS_NAMES[name])
    if labels.max() >= n_classes:
        bad = int(labels.max())
        raise DataError(f"{labels_path} has label {bad}; {name} labels are 0..{n_classes - 1}")
    return _make_dataset(name, images, labels)


def default_cache_dir() -> Path:
    """$CONVSCOPE_CACHE_DIR, or ~/.cache/convscope."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "convscope")


def _local_candidates(name: str, cache_dir: str | os.PathLike | None) -> list[Path]:
    """Folders searched for `name`, in order: $CONVSCOPE_DATA_DIR/<name>, cache, system."""
    folders = []
    if os.environ.get(ENV_DATA_DIR):
        folders.append(Path(os.environ[ENV_DATA_DIR]) / name)
    folders.append(Path(cache_dir or default_cache_dir()) / name)
    return folders + list(SYSTEM_DIRS.get(name, ()))


def find_local(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding all four IDX files of `name`, or None. For "digits", the
    bundled .npz file if present."""
    _check_name(name)
    if name == "digits":
        return BUNDLED_PATH if BUNDLED_PATH.is_file() else None
    return next((f for f in _local_candidates(name, cache_dir) if _has_all_files(f)), None)


def available(name: str, cache_dir: str | os.PathLike | None = None) -> bool:
    """True if `name` can be loaded without the network."""
    return find_local(name, cache_dir) is not None


# ---------------------------------------------------------------------------------------------
# Download
# ---------------------------------------------------------------------------------------------


def _base_url(name: str, base_url: str | None) -> str:
    """The base URL: argument, else $CONVSCOPE_DATA_URL ("{name}" filled in), else official."""
    url = base_url or os.environ.get(ENV_DATA_URL) or BASE_URLS[name]
    url = url.replace("{name}", name)
    return url if url.endswith("/") else url + "/"


def _is_verified(path: Path, sha256: str) -> bool:
    """True if `path` is a file whose SHA-256 is `sha256`."""
    return path.is_file() and _sha256_file(path) == sha256


def _sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _what_to_do(name: str, folder: Path) -> str:
    """The advice appended to every "not here" or download error."""
    return (
        f"Put the four {name} files ({', '.join(FILES[name])}) in {folder} "
        f"or set {ENV_DATA_DIR} to a folder with a '{name}' subfolder holding them."
    )


def download(
    name: str,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
    timeout: float = 30,
    checksums: dict[str, str] | None = None,
) -> Path:
    """Download the four IDX files of `name` into <cache_dir>/<name> and return that folder.

    Each file goes to a temporary file in the same folder and is checked against its SHA-256
    (`checksums` maps file name -> SHA-256, default FILES[name]). Files are moved into place only
    when all of them are verified; on any failure the temporary files are removed."""
    _check_name(name)
    if name not in FILES:
        raise DataError(f"{name!r} is bundled with ConvScope; there is nothing to download")
    expected = dict(checksums or FILES[name])
    url, folder = _base_url(name, base_url), Path(cache_dir or default_cache_dir()) / name
    done: dict[str, Path] = {}  # file name -> verified temporary file in `folder`
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for file_name, sha in expected.items():
            if not _is_verified(folder / file_name, sha):  # skip files already in place
                done[file_name] = _fetch_verified(url + file_name, folder, sha, timeout, name)
        for file_name, tmp in done.items():  # all verified: move them into place
            os.replace(tmp, folder / file_name)  # atomic on one file system
    except OSError as e:  # creating the folder, or creating or moving a temporary file
        raise DataError(f"could not save {name} files in {folder}: {e.strerror or e}") from e
    finally:
        for tmp in done.values():
            tmp.unlink(missing_ok=True)  # no-op for files already moved into place
    return folder


def _fetch_verified(url: str, folder: Path, sha256: str, timeout: float, name: str) -> Path:
    """Download `url` into a temporary file in `folder`, check size and SHA-256, return the file."""
    fd, tmp_name = tempfile.mkstemp(prefix=".download-", suffix=".part", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, timeout, name, folder)
        if digest != sha256:
            raise DataError(
                f"{url} arrived but its SHA-256 is {digest}, not the published {sha256}: "
                f"the file is damaged or not the original. Try again later or use another "
                f"mirror ({ENV_DATA_URL}). {_what_to_do(name, folder)}"
            )
        return tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _stream(url: str, out: BinaryIO, timeout: float, name: str, folder: Path) -> str:
    """Copy the body of `url` to `out`; return its SHA-256. Network problems -> DataError."""
    advice = _what_to_do(name, folder)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return _copy_body(response, out, url, advice)
    except DataError:
        raise  # already explained (DataError is a ValueError: keep it out of the clause below)
    except urllib.error.HTTPError as e:
        msg = f"the server answered {e.code} {e.reason} for {url}"
        raise DataError(f"{msg}. Check the address ({ENV_DATA_URL}) or try later. {advice}") from e
    except urllib.error.URLError as e:
        host = urllib.parse.urlsplit(url).netloc
        msg = f"could not reach {host} ({e.reason}): you seem to be offline or the server is down"
        raise DataError(f"{msg}. {advice}") from e
    except TimeoutError as e:
        msg = f"{url} did not answer within {timeout} s"
        raise DataError(f"{msg}; try again later or on a faster network. {advice}") from e
    except (ConnectionError, http.client.HTTPException) as e:
        raise DataError(f"the download of {url} broke off ({e!r}); try again. {advice}") from e
    except ValueError as e:  # urlopen: unknown URL type
        raise DataError(f"{url} is not a valid download address ({e}). {advice}") from e
    except OSError as e:  # writing the temporary file: disk full, permissions
        raise DataError(f"could not save {url} in {folder}: {e.strerror or e}") from e


def _copy_body(response: http.client.HTTPResponse, out: BinaryIO, url: str, advice: str) -> str:
    """Copy the response body in chunks, checking it against Content-Length and the size cap."""
    length = response.headers.get("Content-Length")
    declared = int(length) if length and length.isdigit() else None
    if declared is not None and declared > MAX_DOWNLOAD_BYTES:
        raise DataError(f"{url} is {declared} bytes, more than the {MAX_DOWNLOAD_BYTES} allowed")
    digest, received = hashlib.sha256(), 0
    while chunk := response.read(_CHUNK):
        received += len(chunk)
        if received > MAX_DOWNLOAD_BYTES:
            raise DataError(f"{url} is larger than the {MAX_DOWNLOAD_BYTES} bytes allowed")
        digest.update(chunk)
        out.write(chunk)
    if declared is not None and received < declared:
        msg = f"the server announced {declared} bytes but sent {received}"
        raise DataError(f"the download of {url} is truncated: {msg}; try again. {advice}")
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# One entry point
# ---------------------------------------------------------------------------------------------


def load_dataset(
    name: str,
    allow_download: bool = False,
    cache_dir: str | os.PathLike | None = None,
    base_url: str | None = None,
) -> Split:
    """Load a data set: "digits" from the bundle; others from a local folder, else by download
    (only if `allow_download`), else DataError explaining where to put the files."""
    _check_name(name)
    if name == "digits":
        return load_bundled()
    folder = find_local(name, cache_dir)
    if folder is None:
        target = Path(cache_dir or default_cache_dir()) / name
        if not allow_download:
            advice = _what_to_do(name, target)
            raise DataError(f"{name} is not on this computer. {advice} Or allow the download.")
        folder = download(name, cache_dir=cache_dir, base_url=base_url)
    return load_idx_folder(name, folder)
