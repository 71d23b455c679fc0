"""Save and load a CNN as a .safetensors file, with its ModelConfig in the file's metadata.

safetensors holds only raw tensors and string metadata, so loading a file can never run code --
unlike ``torch.save`` files, which are pickles. ``torch.load`` is not used here at all.

Metadata (all strings): "format" = "convscope/1", "model_config" = JSON of ModelConfig.to_dict(),
plus any extras the caller passes (e.g. "trained_on", "test_accuracy").

Every way a file can be wrong -- too big, not safetensors (a pickle, a torch.save zip), truncated,
a missing or invalid configuration, missing or extra tensors, wrong shapes or dtypes, NaN or
infinite weights -- raises one error type, CheckpointError, with a sentence saying what is wrong.
"""

from __future__ import annotations

import functools
import json
import os
import struct
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from .model import CNN, ModelConfig

FORMAT = "convscope/1"
MAX_BYTES = 5_000_000  # default size limit: about 1.2 million float32 weights (the default
# model has 9,098; a ModelConfig can ask for far more, up to 67 million: raise max_bytes for those)
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent.parent / "assets" / "default_model.safetensors"
UNSAFE_ENV = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
_FALSY = {"", "0", "false", "no", "off"}
_HEADER_LIMIT = 100_000_000  # safetensors' own limit on the JSON header size


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded; the message says why."""


# ----------------------------------------------------------------------------------------------
# Saving


def save_checkpoint(model: CNN, path=None, extra_metadata: dict | None = None) -> bytes:
    """The model's weights and config as safetensors bytes; also written to ``path`` if given.

    extra_metadata: more string metadata; non-string values are stored as JSON. The file is
    written atomically (a temporary file in the same folder, then os.replace), so a reader never
    sees half a file. The same weights and metadata always give the same bytes.
    """
    metadata = {"format": FORMAT, "model_config": json.dumps(model.config.to_dict())}
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"the metadata key {key!r} is reserved")
        metadata[str(key)] = value if isinstance(value, str) else json.dumps(value)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    data = _sorted_metadata(safetensors_save(tensors, metadata=metadata))
    if path is not None:
        _write_atomically(Path(path), data)
    return data


def _sorted_metadata(data: bytes) -> bytes:
    """Rewrite the header with the metadata keys in sorted order.

    safetensors 0.8 keeps the metadata in a Rust HashMap, whose order changes from one process to
    the next, so the same model gave different bytes on each run. The tensor data is untouched:
    its offsets are relative to the end of the header.
    """
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    raw = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    raw += b" " * (-len(raw) % 8)  # pad to 8 bytes, as safetensors does
    return struct.pack("<Q", len(raw)) + raw + data[8 + length :]


def _write_atomically(path: Path, data: bytes) -> None:
    """Write data to a temporary file next to path, flush it to disk, then rename it over path.
    The file gets the mode of the file it replaces, or rw-r--r-- (mkstemp alone gives rw-------)."""
    mode = path.stat().st_mode & 0o777 if path.is_file() else 0o644
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ----------------------------------------------------------------------------------------------
# Loading


def load_checkpoint(path_or_bytes, max_bytes: int = MAX_BYTES) -> tuple[CNN, dict]:
    """Read a checkpoint written by save_checkpoint: (model in eval mode, metadata dict).

    path_or_bytes: a path (str or os.PathLike) or the file's bytes (bytes, bytearray,
    memoryview, e.g. from an upload). Raises CheckpointError for every malformed file.
    """
    data = _read_limited(path_or_bytes, max_bytes)
    _check_not_pickle(data)
    metadata = _read_metadata(data)
    config = _read_config(metadata)
    tensors = _read_tensors(data)
    with torch.device("meta"):  # shapes only: no memory, no initialisation, no global RNG
        model = CNN(config, seed=None)
    _check_tensors(tensors, model.state_dict())
    model.load_state_dict(tensors, strict=True, assign=True)  # the parameters become these
    return model.eval(), metadata


def _read_limited(path_or_bytes, max_bytes: int) -> bytes:
    """The file's bytes, refusing more than max_bytes (checked before reading a file)."""
    limit = f"{max_bytes / 1e6:g} MB"
    if isinstance(path_or_bytes, (bytes, bytearray, memoryview)):
        if len(path_or_bytes) > max_bytes:
            raise CheckpointError(f"the checkpoint is larger than {limit}; it cannot be a model")
        data = bytes(path_or_bytes)
    elif isinstance(path_or_bytes, (str, os.PathLike)):
        path = Path(path_or_bytes)
        if not path.is_file():
            raise CheckpointError(f"there is no checkpoint file at {path}")
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)  # never more than the limit, whatever the file's size
        if len(data) > max_bytes:
            raise CheckpointError(f"{path.name} is larger than {limit}; it cannot be a model")
    else:
        raise CheckpointError("a checkpoint must be given as a file path or as bytes")
    if not data:
        raise CheckpointError("the checkpoint is empty (0 bytes)")
    return data


def _check_not_pickle(data: bytes) -> None:
    """Recognise the two formats people most often upload by mistake, and say so."""
    hint = "ConvScope loads only .safetensors files (saved from this app), which cannot run code"
    if data.startswith(b"PK\x03\x04"):
        raise CheckpointError(
            f"this is a zip file, e.g. a PyTorch torch.save() .pt/.pth file, which contains "
            f"pickled code and is never opened here; {hint}"
        )
    if data[:1] == b"\x80" and data[1:2] in {bytes([n]) for n in range(2, 6)}:
        raise CheckpointError(
            f"this is a Python pickle file, which can run code when opened; {hint}"
        )


def _read_header(data: bytes) -> dict:
    """The JSON header of a safetensors file: 8-byte little-endian length, then the JSON."""
    not_st = "this is not a safetensors file"
    if len(data) < 8:
        raise CheckpointError(f"{not_st}: it is only {len(data)} bytes long")
    (length,) = struct.unpack("<Q", data[:8])
    if length > _HEADER_LIMIT:
        raise CheckpointError(f"{not_st}: its first 8 bytes do not give a plausible header size")
    if 8 + length > len(data):
        raise CheckpointError("the checkpoint is truncated: it ends inside its header")
    try:
        header = json.loads(data[8 : 8 + length].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise CheckpointError(f"{not_st}: its header is not valid JSON") from None
    if not isinstance(header, dict):
        raise CheckpointError(f"{not_st}: its header is not a JSON object")
    return header


def _read_metadata(data: bytes) -> dict[str, str]:
    """The metadata strings, checking this is a ConvScope checkpoint."""
    metadata = _read_header(data).get("__metadata__")
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(
            f"this safetensors file is not a ConvScope checkpoint: its metadata has no "
            f'"format": "{FORMAT}" entry'
        )
    if not all(isinstance(v, str) for v in metadata.values()):
        raise CheckpointError("the checkpoint's metadata values must all be strings")
    return dict(metadata)


def _read_config(metadata: dict[str, str]) -> ModelConfig:
    """The ModelConfig stored under "model_config"."""
    if "model_config" not in metadata:
        raise CheckpointError('the checkpoint has no "model_config" in its metadata')
    try:
        fields = json.loads(metadata["model_config"])
    except json.JSONDecodeError as err:
        raise CheckpointError(f"the checkpoint's model_config is not valid JSON ({err})") from None
    try:
        return ModelConfig.from_dict(fields)
    except (ValueError, TypeError) as err:
        raise CheckpointError(f"the checkpoint's model configuration is invalid: {err}") from None


def _data_end(header: dict) -> int | None:
    """Where the header says the tensor data ends (bytes after the header), if it says clearly."""
    ends = [
        entry["data_offsets"][1]
        for name, entry in header.items()
        if name != "__metadata__" and isinstance(entry, dict)
        if isinstance(entry.get("data_offsets"), list) and len(entry["data_offsets"]) == 2
    ]
    return max(ends) if ends and all(isinstance(e, int) for e in ends) else None


def _read_tensors(data: bytes) -> dict[str, torch.Tensor]:
    """Decode the tensors with safetensors (which checks offsets, sizes and dtypes)."""
    (length,) = struct.unpack("<Q", data[:8])
    end, available = _data_end(_read_header(data)), len(data) - 8 - length
    if end is not None and end > available:
        raise CheckpointError("the checkpoint is truncated: its tensor data is cut off")
    if end is not None and end < available:
        raise CheckpointError(f"the checkpoint has {available - end} unexpected bytes at its end")
    try:
        tensors = safetensors_load(data)
    except (SafetensorError, ValueError, TypeError, RuntimeError) as err:
        raise CheckpointError(f"the checkpoint's tensors cannot be read ({err})") from None
    return {name: t.clone() for name, t in tensors.items()}  # own, writable memory


def _check_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Same names, shapes and dtype (float32) as the configured model, and finite values."""
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing:
        raise CheckpointError(f"the checkpoint lacks weights its configuration needs: {missing}")
    if extra:
        raise CheckpointError(f"the checkpoint has weights its configuration does not use: {extra}")
    for name, want in expected.items():
        got = tensors[name]
        if tuple(got.shape) != tuple(want.shape):
            raise CheckpointError(
                f"the weight {name} has shape {tuple(got.shape)}, but the configuration needs "
                f"{tuple(want.shape)}"
            )
        if got.dtype != want.dtype:
            raise CheckpointError(f"the weight {name} is {got.dtype}, expected {want.dtype}")
        if not bool(torch.isfinite(got).all()):
            raise CheckpointError(f"the weight {name} contains NaN or infinite values")


# ----------------------------------------------------------------------------------------------
# Files from outside (uploads)


def check_compatible(
    config: ModelConfig, input_size: int = 28, in_channels: int = 1, num_classes: int = 10
) -> None:
    """CheckpointError unless a model of ``config`` takes the app's images and gives its classes."""
    if (config.input_size, config.in_channels) != (input_size, in_channels):
        raise CheckpointError(
            f"this model expects {config.in_channels}-channel {config.input_size}x"
            f"{config.input_size} images; ConvScope's inputs are {in_channels}-channel "
            f"{input_size}x{input_size}"
        )
    if config.num_classes != num_classes:
        raise CheckpointError(
            f"this model has {config.num_classes} classes; ConvScope's data sets have {num_classes}"
        )


def load_compatible(data, max_bytes: int = MAX_BYTES, **expected) -> tuple[CNN, dict]:
    """load_checkpoint(data), then check_compatible(config, **expected): for untrusted files."""
    model, metadata = load_checkpoint(data, max_bytes)
    check_compatible(model.config, **expected)
    return model, metadata


def metadata_accuracy(metadata: dict[str, str]) -> float | None:
    """The "test_accuracy" a checkpoint claims, if it is a number in [0, 1]; else None."""
    try:
        value = json.loads(metadata.get("test_accuracy", "null"))
    except ValueError:  # not JSON
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if 0.0 <= value <= 1.0 else None  # NaN fails both comparisons


# ----------------------------------------------------------------------------------------------
# The default model


def check_safe_environment() -> None:
    """RuntimeError if TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD is set: it makes a plain torch.load run a
    pickled payload, so a server with it set must not start."""
    value = os.environ.get(UNSAFE_ENV)
    if value is not None and value.strip().lower() not in _FALSY:
        raise RuntimeError(
            f"the environment variable {UNSAFE_ENV}={value!r} makes torch.load unpickle "
            f"arbitrary code; unset it before starting ConvScope"
        )


def load_default_model() -> CNN:
    """The bundled pretrained model, in eval mode, loaded once per process.

    The same object is returned to every caller (and every session): never change it. To train
    or edit weights, work on ``copy.deepcopy(load_default_model())``.
    """
    check_safe_environment()
    return _load_default_cached(str(DEFAULT_MODEL_PATH))


@functools.lru_cache(maxsize=1)
def _load_default_cached(path: str) -> CNN:
    if not Path(path).is_file():
        raise FileNotFoundError(
            f"the default model {path} is missing; build it with "
            f"`python scripts/train_default_model.py`"
        )
    model, _ = load_checkpoint(path)
    return model
