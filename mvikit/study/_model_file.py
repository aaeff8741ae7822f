"""Model files that are safe to share: `save_model` and `load_model`.

A ``.mvikit`` file is a zip archive of

* ``format.json``: the format name and version, the mvikit and scikit-learn
  versions that wrote it;
* ``model.json``: the object tree.  Containers, numbers and strings are JSON;
  numpy arrays, dtypes and random states, pandas frames, series, indexes and
  categoricals are encoded as data; every other object is its class name and
  its pickle state (``__reduce_ex__(2)``: ``cls.__new__(cls)`` then the state);
  deep models' torch objects are recipes and weights
  (:mod:`mvikit.study._torch_state`): each network is its registered
  architecture and the builder's arguments, plus its state dict; each skorch
  trainer its class, parameters and history;
* ``arrays/<n>.npy``: numeric arrays (network weights included), written and
  read with ``allow_pickle=False``;
* ``card.md``: the model card, when one was given.

Nothing in the file is executed: `load_model` first lists every class (and
architecture) the tree names and refuses the file, naming them, when one is
outside the trust policy of :mod:`mvikit.study._trust`; it then builds the
objects, the networks by calling the register's builders.  This is
the idea of skops' format (``skops.io``), which cannot encode the pandas
frames and statsmodels results mvikit's models hold.
"""

from __future__ import annotations

import copyreg
import io
import json
import math
import os
import warnings
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pandas as pd

from .._version import __version__
from ..exceptions import MvikitWarning, OutputExistsError, UnsafeModelFileError
from ._torch_state import (
    TORCH_KINDS,
    decode_torch,
    encode_torch,
    is_torch_object,
    untrusted_torch_names,
)
from ._trust import is_trusted_class, is_trusted_type_reference, resolve_name, type_name

__all__ = ["load_model", "model_file_info", "read_model_card", "save_model", "untrusted_types"]

FORMAT = "mvikit-model"
VERSION = 1
_SCALARS = (bool, int, str, type(None))


# ------------------------------------------------------------------ encoding
class _Encoder:
    def __init__(self):
        self.arrays: dict[str, bytes] = {}

    def array_file(self, array: np.ndarray) -> str:
        name = f"arrays/{len(self.arrays)}.npy"
        buffer = io.BytesIO()
        np.save(buffer, array, allow_pickle=False)  # any layout; keeps 0-d arrays 0-d
        self.arrays[name] = buffer.getvalue()
        return name

    def encode(self, obj, path: str):
        if isinstance(obj, np.generic):  # before float/str: np.float64 subclasses float
            return {"k": "npscalar", "dtype": np.lib.format.dtype_to_descr(obj.dtype),
                    "v": self.encode(obj.item(), path)}
        if isinstance(obj, _SCALARS):
            return obj
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"k": "float", "v": repr(obj)}
        if isinstance(obj, (list, tuple, set, frozenset)):
            kind = type(obj).__name__ if type(obj) in (list, tuple, set, frozenset) else None
            if kind is None:
                return self.encode_object(obj, path)
            items = sorted(obj, key=repr) if kind in ("set", "frozenset") else obj
            return {"k": kind, "v": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(items)]}
        if type(obj) in (dict, OrderedDict):
            return {"k": type(obj).__name__.lower(), "keys": [self.encode(k, path) for k in obj],
                    "values": [self.encode(v, f"{path}.{k}") for k, v in obj.items()]}
        if isinstance(obj, type):
            return {"k": "type", "name": type_name(obj)}
        if isinstance(obj, np.dtype):
            return {"k": "dtype", "v": np.lib.format.dtype_to_descr(obj)}
        if isinstance(obj, np.ndarray):
            return self.encode_array(obj, path)
        if isinstance(obj, np.random.RandomState):
            return {"k": "randomstate", "state": self.encode(obj.get_state(legacy=True), path)}
        if isinstance(obj, (pd.DataFrame, pd.Series, pd.Index, pd.Categorical)):
            return self.encode_pandas(obj, path)
        if isinstance(obj, slice):
            return {"k": "slice", "v": [self.encode(x, path) for x in
                                        (obj.start, obj.stop, obj.step)]}
        return self.encode_object(obj, path)

    def encode_array(self, array: np.ndarray, path: str):
        if array.dtype.hasobject:
            return {"k": "objarray", "shape": list(array.shape),
                    "v": [self.encode(x, path) for x in array.ravel().tolist()]}
        return {"k": "ndarray", "file": self.array_file(array)}

    def encode_pandas(self, obj, path: str):
        if isinstance(obj, pd.DataFrame):
            return {"k": "frame", "index": self.encode(obj.index, path),
                    "columns": self.encode(obj.columns, path),
                    "data": [self.encode(obj.iloc[:, i], f"{path}[{c!r}]")
                             for i, c in enumerate(obj.columns)]}
        if isinstance(obj, pd.Series):
            return {"k": "series", "name": self.encode(obj.name, path),
                    "index": self.encode(obj.index, path), "values": self.encode(obj.array, path)}
        if isinstance(obj, pd.Categorical):
            return {"k": "categorical", "codes": self.encode(obj.codes, path),
                    "categories": self.encode(obj.categories, path), "ordered": obj.ordered}
        if isinstance(obj, pd.RangeIndex):
            return {"k": "range", "v": [obj.start, obj.stop, obj.step],
                    "name": self.encode(obj.name, path)}
        if isinstance(obj, pd.MultiIndex):
            return {"k": "multiindex", "v": self.encode(list(obj), path),
                    "names": self.encode(list(obj.names), path)}
        return {"k": "index", "values": self.encode(obj.array, path),
                "name": self.encode(obj.name, path)}

    def encode_extension(self, array, path):
        if isinstance(array, pd.Categorical):
            return self.encode_pandas(array, path)
        if isinstance(array, pd.arrays.NumpyExtensionArray):
            return self.encode(array.to_numpy(), path)
        values = np.asarray(array.astype(object)).copy()
        values[pd.isna(values)] = None
        return {"k": "extarray", "dtype": str(array.dtype), "v": self.encode(values, path)}

    def encode_object(self, obj, path: str):
        if isinstance(obj, pd.api.extensions.ExtensionArray):
            return self.encode_extension(obj, path)
        if is_torch_object(obj):
            return encode_torch(self, obj, path)
        cls = type(obj)
        name = type_name(cls)
        if not is_trusted_class(name):
            raise UnsafeModelFileError(
                f"The model holds a {name} object (at {path}) that a model file cannot carry "
                "safely: only mvikit, scikit-learn and statsmodels objects, mvikit's deep "
                "networks and trainers, numpy and pandas data are saved."
            )
        try:
            reduced = obj.__reduce_ex__(2)
        except TypeError as exc:
            raise UnsafeModelFileError(f"{name} (at {path}) cannot be saved: {exc}") from exc
        if reduced[0] is not copyreg.__newobj__ or reduced[1] != (cls,) or any(
                len(reduced) > i and reduced[i] is not None for i in (3, 4, 5)):
            raise UnsafeModelFileError(
                f"{name} (at {path}) rebuilds itself by calling a function on load; a model "
                "file cannot carry it safely.")
        state = reduced[2] if len(reduced) > 2 else None
        return {"k": "object", "type": name, "state": self.encode(state, f"{path}")}


# ------------------------------------------------------------------ decoding
def _walk(node):
    """Every encoded node of the tree, depth first."""
    stack = [node]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            yield node
            stack.extend(v for k, v in node.items() if k != "k")


def untrusted_types(tree) -> list:
    """The type names of an encoded tree that the trust policy refuses, sorted."""
    bad = set()
    for node in _walk(tree):
        kind = node.get("k")
        if kind == "object" and not is_trusted_class(node["type"]):
            bad.add(node["type"])
        elif kind == "type" and not is_trusted_type_reference(node["name"]):
            bad.add(node["name"])
        elif kind in TORCH_KINDS:
            bad.update(untrusted_torch_names(node))
    return sorted(bad)


class _Decoder:
    def __init__(self, archive: zipfile.ZipFile, device=None):
        self.archive = archive
        self.device = device
        self.moved = set()  # saved devices that were not available here (warned once)

    def place(self, saved):
        """The device a deep network saved on ``saved`` is put on: ``device`` when given,
        else ``saved`` -- or the CPU when ``saved`` is a CUDA device this machine lacks
        (skorch's rule for its own files)."""
        if not isinstance(saved, str):
            return saved
        if self.device is not None:
            return str(self.device)
        if saved.startswith("cuda"):
            import torch

            if not torch.cuda.is_available():
                self.moved.add(saved)
                return "cpu"
        return saved

    def array(self, name: str) -> np.ndarray:
        with self.archive.open(name) as handle:
            return np.load(io.BytesIO(handle.read()), allow_pickle=False)

    def decode(self, node):
        if not isinstance(node, dict):
            return node
        kind = node["k"]
        if kind in ("list", "tuple", "set", "frozenset"):
            items = [self.decode(v) for v in node["v"]]
            return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[kind](items)
        if kind in ("dict", "ordereddict"):
            items = ((self.decode(k), self.decode(v)) for k, v in zip(node["keys"],
                                                                       node["values"]))
            return dict(items) if kind == "dict" else OrderedDict(items)
        if kind == "float":
            return float(node["v"])
        if kind == "type":
            return resolve_name(node["name"]) if "." in node["name"] else None
        if kind == "dtype":
            return np.lib.format.descr_to_dtype(self.decode(node["v"]) if isinstance(
                node["v"], dict) else node["v"])
        if kind == "npscalar":
            return np.array(self.decode(node["v"]),
                            dtype=np.lib.format.descr_to_dtype(node["dtype"]))[()]
        if kind == "ndarray":
            return self.array(node["file"])
        if kind == "objarray":
            values = np.empty(len(node["v"]), dtype=object)
            values[:] = [self.decode(v) for v in node["v"]]
            return values.reshape(node["shape"])
        if kind == "randomstate":
            state = np.random.RandomState()
            state.set_state(self.decode(node["state"]))
            return state
        if kind == "slice":
            return slice(*[self.decode(v) for v in node["v"]])
        if kind == "object":
            return self.decode_object(node)
        if kind in TORCH_KINDS:
            return decode_torch(self, node)
        return self.decode_pandas(node)

    def decode_pandas(self, node):
        kind = node["k"]
        if kind == "frame":
            # by position: column names and patient ids may repeat
            columns = [self.decode(s).array for s in node["data"]]
            frame = pd.DataFrame(dict(enumerate(columns)), index=self.decode(node["index"]))
            frame.columns = self.decode(node["columns"])
            return frame
        if kind == "series":
            return pd.Series(self.decode(node["values"]), index=self.decode(node["index"]),
                             name=self.decode(node["name"]), copy=False)
        if kind == "categorical":
            return pd.Categorical.from_codes(self.decode(node["codes"]),
                                             categories=self.decode(node["categories"]),
                                             ordered=node["ordered"])
        if kind == "extarray":
            return pd.array(list(self.decode(node["v"])), dtype=node["dtype"])
        if kind == "range":
            return pd.RangeIndex(*node["v"], name=self.decode(node["name"]))
        if kind == "multiindex":
            return pd.MultiIndex.from_tuples(self.decode(node["v"]),
                                             names=self.decode(node["names"]))
        if kind == "index":
            return pd.Index(self.decode(node["values"]), name=self.decode(node["name"]))
        raise UnsafeModelFileError(f"Unknown node kind {kind!r} in the model file; it was not "
                                   "written by this version of mvikit, or was altered.")

    def decode_object(self, node):
        cls = resolve_name(node["type"])
        obj = cls.__new__(cls)
        state = self.decode(node["state"])
        if isinstance(state, dict) and "device" in state and _has_device_param(cls):
            state["device"] = self.place(state["device"])
        if (hasattr(obj, "__setstate__")
                and type(obj).__setstate__ is not getattr(object, "__setstate__", None)):
            obj.__setstate__(state)
            return obj
        slots = None
        if isinstance(state, tuple) and len(state) == 2:
            state, slots = state
        if state:
            obj.__dict__.update(state)
        for key, value in (slots or {}).items():
            setattr(obj, key, value)
        return obj


def _has_device_param(cls) -> bool:
    # deep estimators take ``device``; only their own parameter is remapped
    get_names = getattr(cls, "_get_param_names", None)
    try:
        return callable(get_names) and "device" in get_names()
    except (TypeError, RuntimeError):
        return False


# ------------------------------------------------------------------ public API
def save_model(model, path, *, card=None, metadata=None, overwrite=False) -> Path:
    """Save a fitted model or pipeline to a file that loads without running code.

    Parameters
    ----------
    model : estimator
        A fitted mvikit/scikit-learn model or pipeline, deep models included
        (their networks are stored as the registered architecture, the
        builder's arguments and the weights as ``.npy`` arrays; see the module
        docstring).
    path : str or path-like
        The file to write (conventionally ``*.mvikit``).
    card : ModelCard or str, default=None
        A model card (see :func:`model_card`) stored in the file as ``card.md``.
    metadata : dict, default=None
        JSON-serialisable facts kept with the model (e.g. the decision
        threshold fixed on the development cohort, the outcome column); read
        back with :func:`model_file_info`.
    overwrite : bool, default=False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    UnsafeModelFileError
        The model holds an object the format cannot carry without pickle
        (named, with where it sits in the model).
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.

    See Also
    --------
    load_model, model_card

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import load_model, save_model
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0]]); y = [0, 0, 1, 1]
    >>> path = save_model(LogisticRegression().fit(X, y),
    ...                   os.path.join(tempfile.mkdtemp(), "model.mvikit"))
    >>> load_model(path).predict_proba(X).round(3)[:, 1].tolist()
    [0.192, 0.382, 0.618, 0.808]

    A deep model: its network is stored as the registered architecture, the
    builder's arguments and the weights, and predicts bit-identically after loading.

    >>> import pandas as pd
    >>> from mvikit import Volume
    >>> from mvikit.deep import VolumeNetClassifier
    >>> rng = np.random.default_rng(0)
    >>> mask = np.zeros((8, 16, 16), np.uint8); mask[3:5, 6:10, 6:10] = 1
    >>> cohort = pd.DataFrame({
    ...     "PRE": [Volume(rng.normal(size=(8, 16, 16))) for _ in range(8)],
    ...     "tumor_mask": [Volume(mask)] * 8}, index=[f"p{i}" for i in range(8)])
    >>> net = VolumeNetClassifier("cnn3d", cube=(8, 16, 16), downsample=1,
    ...                           crop_size=(8, 16, 16), width=0.0625, max_epochs=1,
    ...                           batch_size=4, random_state=0).fit(cohort, [0, 1] * 4)
    >>> path = save_model(net, os.path.join(tempfile.mkdtemp(), "net.mvikit"))
    >>> loaded = load_model(path)
    >>> loaded.net_.module_._mvikit_build["architecture"]
    'cnn3d'
    >>> bool(np.array_equal(loaded.predict_proba(cohort), net.predict_proba(cohort)))
    True
    """
    path = Path(os.fspath(path))
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} exists; pass overwrite=True to replace it.")
    encoder = _Encoder()
    tree = encoder.encode(model, type(model).__name__)
    import sklearn

    header = {"format": FORMAT, "version": VERSION, "mvikit": __version__,
              "sklearn": sklearn.__version__, "model": type_name(type(model)),
              "metadata": metadata or {}}
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("format.json", json.dumps(header, indent=1))
        archive.writestr("model.json", json.dumps(tree))
        for name, data in encoder.arrays.items():
            archive.writestr(name, data)
        if card is not None:
            archive.writestr("card.md", card if isinstance(card, str) else card.markdown)
    os.replace(tmp, path)
    return path


def _open(path) -> zipfile.ZipFile:
    path = Path(os.fspath(path))
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {str(path)!r}.")
    try:
        archive = zipfile.ZipFile(path)
        header = json.loads(archive.read("format.json"))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnsafeModelFileError(
            f"{str(path)!r} is not an mvikit model file (written by mvikit.study.save_model "
            "or `mvikit compare`); pickle/joblib files are refused because loading them "
            "runs arbitrary code.") from exc
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise UnsafeModelFileError(f"{str(path)!r} is not an mvikit model file of version "
                                   f"{VERSION} (header: {header}).")
    return archive


def load_model(path, *, device=None):
    """Load a model written by :func:`save_model`, refusing untrusted types.

    Parameters
    ----------
    path : str or path-like
        The model file.
    device : str, default=None
        Where the networks of deep models go (``"cpu"``, ``"cuda"``,
        ``"cuda:1"``...); it becomes the estimators' ``device`` parameter too.
        ``None`` keeps the device each model was trained on, except that a model
        trained on a GPU is loaded onto the CPU, with a warning, where no GPU is
        available (as skorch does with its own files).  Predictions on the CPU
        equal the GPU's up to floating-point rounding.

    Returns
    -------
    estimator
        The fitted model, predicting as when it was saved.

    Raises
    ------
    UnsafeModelFileError
        Not an mvikit model file (a pickle, another format), or the file names
        classes outside the trust policy (all named; nothing was built).

    See Also
    --------
    save_model

    Examples
    --------
    >>> import os, tempfile
    >>> from mvikit.study import load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pkl")
    >>> with open(path, "wb") as handle:
    ...     _ = handle.write(b"\\x80\\x04not a model file")
    >>> load_model(path)
    Traceback (most recent call last):
    ...
    mvikit.exceptions.UnsafeModelFileError: '...model.pkl' is not an mvikit model file ...
    """
    with _open(path) as archive:
        try:
            tree = json.loads(archive.read("model.json"))
        except (KeyError, ValueError) as exc:
            raise UnsafeModelFileError(f"{str(path)!r} has no readable model.json.") from exc
        untrusted = untrusted_types(tree)
        if untrusted:
            raise UnsafeModelFileError(
                f"{str(path)!r} names {len(untrusted)} type(s) that mvikit does not trust: "
                f"{untrusted}. Nothing was loaded. Only mvikit, scikit-learn and statsmodels "
                "classes and registered architectures may appear in a model file; this one was "
                "altered or not written by mvikit (an architecture of your own must be "
                "registered, by importing the code that registers it, before loading).")
        decoder = _Decoder(archive, device)
        try:
            model = decoder.decode(tree)
        except UnsafeModelFileError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as exc:
            raise UnsafeModelFileError(
                f"{str(path)!r} is malformed ({type(exc).__name__}: {exc}); it was altered or "
                "written by another version of mvikit.") from exc
    if decoder.moved:
        warnings.warn(f"{str(path)!r} holds networks trained on {sorted(decoder.moved)}, which "
                      "this machine does not have (torch.cuda.is_available() is False); they "
                      "were loaded onto the CPU and their `device` parameter set to 'cpu'. "
                      "Pass load_model(..., device=...) to choose.", MvikitWarning, stacklevel=2)
    return model


def model_file_info(path) -> dict:
    """The header of a model file: format, versions, model class and ``metadata``.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import model_file_info, save_model
    >>> model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    >>> path = save_model(model, os.path.join(tempfile.mkdtemp(), "m.mvikit"),
    ...                   metadata={"threshold": 0.3})
    >>> model_file_info(path)["metadata"]
    {'threshold': 0.3}
    """
    with _open(path) as archive:
        return json.loads(archive.read("format.json"))


def read_model_card(path) -> str | None:
    """The Markdown model card stored in a model file (None when it has none).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from sklearn.linear_model import LogisticRegression
    >>> from mvikit.study import read_model_card, save_model
    >>> model = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    >>> path = save_model(model, os.path.join(tempfile.mkdtemp(), "m.mvikit"), card="# Card")
    >>> read_model_card(path)
    '# Card'
    """
    with _open(path) as archive:
        if "card.md" not in archive.namelist():
            return None
        return archive.read("card.md").decode("utf-8")
