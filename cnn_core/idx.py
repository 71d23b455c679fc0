"""IDX files: the format's reader and writer, the local folders that hold a data set's four files,
and a checked download into the cache folder.

A data set that is not bundled (cnn_core.catalog) is looked for, in this order, in
$CONVSCOPE_DATA_DIR/<name>, the cache folder ($CONVSCOPE_CACHE_DIR, default ~/.cache/convscope)
and the folders OS packages install it in (its row's ``system_dirs``). A download writes each file
to a temporary file, checks it against its published SHA-256 (its row's ``files``) and moves the
four into place only when all of them are verified, so the cache never holds a partial file.
Every problem raises DataError with a sentence that says what to do. Only NumPy and the standard
library are used here.
"""

from __future__ import annotations

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
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .catalog import BUNDLED_PATH, DATASETS, DataError, Dataset, Split, dataset_info, make_dataset

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
    dataset_info(name)
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
    n_classes = len(DATASETS[name].class_names)
    if labels.max() >= n_classes:
        bad = int(labels.max())
        raise DataError(f"{labels_path} has label {bad}; {name} labels are 0..{n_classes - 1}")
    return make_dataset(name, images, labels)


def default_cache_dir() -> Path:
    """$CONVSCOPE_CACHE_DIR, or ~/.cache/convscope."""
    return Path(os.environ.get(ENV_CACHE_DIR) or Path.home() / ".cache" / "convscope")


def _local_candidates(name: str, cache_dir: str | os.PathLike | None) -> list[Path]:
    """Folders searched for `name`, in order: $CONVSCOPE_DATA_DIR/<name>, cache, system."""
    folders = []
    if os.environ.get(ENV_DATA_DIR):
        folders.append(Path(os.environ[ENV_DATA_DIR]) / name)
    folders.append(Path(cache_dir or default_cache_dir()) / name)
    return folders + list(DATASETS[name].system_dirs)


def find_local(name: str, cache_dir: str | os.PathLike | None = None) -> Path | None:
    """The first folder holding all four IDX files of `name`, or None. For "digits", the
    bundled .npz file if present."""
    if dataset_info(name).bundled:
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
    url = base_url or os.environ.get(ENV_DATA_URL) or DATASETS[name].base_url
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
        f"Put the four {name} files ({', '.join(DATASETS[name].files)}) in {folder} "
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
    (`checksums` maps file name -> SHA-256, default the table's ``files``). Files are moved into
    place only when all of them are verified; on any failure the temporary files are removed."""
    info = dataset_info(name)
    if info.bundled:
        raise DataError(f"{name!r} is bundled with ConvScope; there is nothing to download")
    expected = dict(checksums or info.files)
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
