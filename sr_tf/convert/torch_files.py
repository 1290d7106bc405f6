"""Reading a PyTorch `state_dict` file without torch and without running code from the file.

`.pt` files are pickles. A plain unpickler would import and call whatever globals the file names
(e.g. `os.system`), so this one accepts only what a state_dict holds: `collections.OrderedDict`,
torch's tensor rebuild functions and its storage types, each turned into numpy here. Any other
global is refused with an error that names it, before anything runs.

Both layouts torch writes are read:
- zip (torch >= 1.6): `<archive>/data.pkl` plus one raw little-endian file per storage in
  `<archive>/data/<key>`;
- legacy (torch < 1.6, how the 2018 EDSR files were saved): five pickles in a row (magic number,
  protocol version, system info, the state_dict, the storage keys), then each storage as an
  int64 element count followed by its raw bytes.
"""

import collections
import io
import pickle
import struct
import zipfile

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "HalfStorage": np.float16,
    "DoubleStorage": np.float64,
    "BFloat16Storage": None,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class TorchFileError(ValueError):
    """A .pt file that is not a readable state_dict; the message names the file."""


class _StorageType:
    def __init__(self, name):
        if STORAGE_DTYPES.get(name) is None:
            raise pickle.UnpicklingError(f"storage type torch.{name} is not supported")
        self.name, self.dtype = name, np.dtype(STORAGE_DTYPES[name])


class _Storage:
    """A flat numpy array standing in for a torch storage (filled in later for legacy files)."""

    def __init__(self, dtype, numel):
        self.dtype, self.numel, self.array = dtype, numel, None


def _rebuild_tensor(storage, offset, size, stride, *unused):
    """torch._utils._rebuild_tensor_v2: a strided view of the storage, as a numpy array."""
    return _Tensor(storage, int(offset), tuple(size), tuple(stride))


def _rebuild_parameter(tensor, requires_grad=False, backward_hooks=None, *unused):
    return tensor


class _Tensor:
    """A tensor whose storage bytes may arrive after the pickle (legacy files)."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def numpy(self):
        flat = self.storage.array
        if not self.size:
            return np.array(flat[self.offset])
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset :], shape=self.size, strides=[s * itemsize for s in self.stride], writeable=False
        )
        return np.array(view)


ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): name for name in STORAGE_DTYPES},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, load_storage):
        super().__init__(file)
        self._load_storage = load_storage

    def find_class(self, module, name):
        found = ALLOWED_GLOBALS.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(
                f"refusing the global {module}.{name}: a state_dict holds only tensors "
                "(nothing in the file was executed)"
            )
        return _StorageType(found) if isinstance(found, str) else found

    def persistent_load(self, saved_id):
        if not isinstance(saved_id, tuple) or not saved_id or saved_id[0] != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {saved_id!r}")
        return self._load_storage(*saved_id[1:])


def read_state_dict(path):
    """{name: numpy array} of a PyTorch state_dict file (zip or legacy); a `module.` prefix
    (DataParallel) is removed. TorchFileError naming the file for anything else."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as error:
        raise TorchFileError(f"cannot read {path}: {error}") from error
    try:
        state = _read_zip(data) if zipfile.is_zipfile(io.BytesIO(data)) else _read_legacy(data)
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        KeyError,
        struct.error,
        zipfile.BadZipFile,
    ) as error:
        raise TorchFileError(f"{path} is not a readable PyTorch state_dict: {error}") from error
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]  # a training checkpoint that wraps the state_dict
    if not isinstance(state, dict):
        raise TorchFileError(f"{path} holds a {type(state).__name__}, not a state_dict")
    arrays = collections.OrderedDict()
    for name, value in state.items():
        if not isinstance(value, _Tensor):
            raise TorchFileError(f"{path}: entry {name!r} is a {type(value).__name__}, not a tensor")
        if value.storage.array is None:
            raise TorchFileError(f"{path} is truncated: the data of {name!r} is missing")
        key = name[len("module.") :] if name.startswith("module.") else name
        arrays[key] = value.numpy()
    return arrays


def _read_zip(data):
    archive = zipfile.ZipFile(io.BytesIO(data))
    pickles = [n for n in archive.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pickles:
        raise ValueError("no data.pkl in the zip archive")
    prefix = pickles[0][: -len("data.pkl")]

    def load_storage(storage_type, key, location, numel, *view):
        storage = _Storage(storage_type.dtype, int(numel))
        raw = archive.read(f"{prefix}data/{key}")
        storage.array = np.frombuffer(raw, dtype=storage_type.dtype.newbyteorder("<"))
        if storage.array.size < storage.numel:
            raise ValueError(f"storage {key} holds {storage.array.size} values, not {storage.numel}")
        return storage

    return _RestrictedUnpickler(io.BytesIO(archive.read(pickles[0])), load_storage).load()


def _no_storage(*saved_id):
    raise pickle.UnpicklingError("a storage outside the state_dict pickle")


def _read_legacy(data):
    stream = io.BytesIO(data)
    plain = _RestrictedUnpickler(stream, _no_storage)
    if plain.load() != LEGACY_MAGIC:
        raise ValueError("not a PyTorch file (no zip archive, no legacy magic number)")
    if plain.load() != LEGACY_PROTOCOL:
        raise ValueError("unsupported legacy protocol version")
    plain.load()  # system info: endianness and type sizes
    storages = {}

    def load_storage(storage_type, key, location, numel, view_metadata=None):
        if key not in storages:
            storages[key] = _Storage(storage_type.dtype, int(numel))
        return storages[key]

    state = _RestrictedUnpickler(stream, load_storage).load()
    keys = _RestrictedUnpickler(stream, _no_storage).load()
    for key in keys:
        storage = storages[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        raw = stream.read(numel * storage.dtype.itemsize)
        if len(raw) < numel * storage.dtype.itemsize:
            raise ValueError(f"the file ends inside storage {key}")
        storage.array = np.frombuffer(raw, dtype=storage.dtype.newbyteorder("<"))
    return state
