"""Deep models in model files: every network as a recipe plus float arrays, never pickle.

The model-file encoder (:mod:`mvikit.study._model_file`) hands the torch objects
of a fitted deep estimator to this module; everything else of the estimator
(its parameters, the fitted `CohortTensorizer` and clinical preprocessing,
``settings_``, ``classes_``, the Breslow baseline...) stays on the encoder's
ordinary path.  Three node kinds are written:

* ``"tensor"``: a `torch.Tensor` as an ``.npy`` array (``allow_pickle=False``)
  and its dtype;
* ``"torch_module"``: a network as its **recipe** -- the registered architecture
  and the keyword arguments `Architecture.build` was called with (recorded at
  fit, `mvikit.deep.nets.build_record`), or, for the few mvikit modules built
  outside the register (losses, DeepCoxSurvival's linear clinical skip), the
  mvikit class and its ``__init__`` arguments read back from the attributes of
  the same name -- and its **state dict**, one array per key;
* ``"skorch_net"``: a trainer (`CohortTrainer` and its subclasses) as its class,
  its skorch parameters as data (the optimiser, data loader and learning-rate
  policy as type references, the LR-scheduler callback as its parameters), its
  networks as ``"torch_module"`` nodes and its training history.

Loading builds each network by calling the register's builder of that name (or
the trusted mvikit class), checks that the file's state-dict keys, shapes and
dtypes are exactly those of the rebuilt network, and copies the arrays in; the
trainer is constructed from its parameters and initialised by skorch, and its
networks and history are put back.  The optimiser's moments and the scheduler's
position are not stored: a loaded model predicts exactly as the saved one;
training it further restarts Adam.
"""

from __future__ import annotations

import inspect
import sys
from contextlib import contextmanager

import numpy as np

from ..exceptions import UnsafeModelFileError
from ._trust import (
    is_trusted_callback,
    is_trusted_module_class,
    is_trusted_trainer,
    resolve_name,
    type_name,
)

__all__ = ["decode_torch", "encode_torch", "is_torch_object", "network_summary",
           "untrusted_torch_names", "TORCH_KINDS"]

#: Node kinds written by this module.
TORCH_KINDS = ("tensor", "torch_module", "skorch_net", "skorch_callback")

#: Tensor dtypes a model file may hold, by name; bfloat16 has no numpy dtype and is
#: stored as float32 (exact: every bfloat16 is a float32).
_DTYPES = ("float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8",
           "uint8", "bool")


def is_torch_object(obj) -> bool:
    """Whether ``obj`` is a tensor, a network or a skorch net (without importing torch)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return False
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return True
    skorch = sys.modules.get("skorch")
    return skorch is not None and isinstance(obj, skorch.NeuralNet)


# ------------------------------------------------------------------ encoding
def encode_torch(encoder, obj, path: str) -> dict:
    """The node of a tensor, network or skorch net (see the module docstring)."""
    import torch
    from skorch import NeuralNet

    if isinstance(obj, torch.Tensor):
        return _encode_tensor(encoder, obj, path)
    if isinstance(obj, torch.nn.Module):
        return _encode_module(encoder, obj, path)
    if isinstance(obj, NeuralNet):
        return _encode_net(encoder, obj, path)
    raise AssertionError(type(obj))


def _encode_tensor(encoder, tensor, path: str) -> dict:
    import torch

    dtype = str(tensor.dtype).removeprefix("torch.")
    if dtype not in _DTYPES:
        raise UnsafeModelFileError(f"The tensor at {path} has dtype {dtype}; a model file "
                                   f"holds {', '.join(_DTYPES)}.")
    tensor = tensor.detach().cpu()
    if tensor.dtype == torch.bfloat16:
        tensor = tensor.float()
    return {"k": "tensor", "dtype": dtype, "file": encoder.array_file(tensor.numpy())}


def _recipe(encoder, module, path: str) -> dict:
    """How to rebuild ``module``: its registered architecture, or its mvikit class."""
    import torch

    from ..deep.nets import build_record

    record = build_record(module)
    if record is not None:
        return {"architecture": record["architecture"],
                "kwargs": encoder.encode(record["kwargs"], f"{path}.kwargs")}
    cls = type(module)
    name = type_name(cls)
    if not is_trusted_module_class(name):
        raise UnsafeModelFileError(
            f"The model holds a {name} network (at {path}) that was not built through the "
            "architecture register, so a model file cannot rebuild it. Register it with "
            "mvikit.deep.nets.register_architecture and fit with architecture=<its name>.")
    kwargs = {}
    for parameter in list(inspect.signature(cls.__init__).parameters.values())[1:]:
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if hasattr(module, parameter.name):
            value = getattr(module, parameter.name)
            where = f"{path}.{parameter.name}"
            # a network argument (the wrapped network) is rebuilt from its own recipe; its
            # weights are part of this module's state dict
            kwargs[parameter.name] = (_encode_module(encoder, value, where, with_state=False)
                                      if isinstance(value, torch.nn.Module)
                                      else encoder.encode(value, where))
        elif parameter.default is parameter.empty:
            raise UnsafeModelFileError(
                f"{name} (at {path}) keeps no attribute {parameter.name!r} for its __init__ "
                "argument of that name, so a model file cannot rebuild it.")
    return {"class": name, "kwargs": {"k": "dict", "keys": list(kwargs),
                                      "values": list(kwargs.values())}}


def _encode_module(encoder, module, path: str, *, with_state: bool = True) -> dict:
    node = {"k": "torch_module", **_recipe(encoder, module, path),
            "training": bool(module.training)}
    if with_state:
        node["state"] = _encode_state(encoder, module, path)
        node["frozen"] = [n for n, p in module.named_parameters() if not p.requires_grad]
    return node


def _encode_state(encoder, module, path: str) -> dict:
    state = module.state_dict()
    return {"keys": list(state),
            "tensors": [_encode_tensor(encoder, value, f"{path}[{key!r}]")
                        for key, value in state.items()]}


def _encode_net(encoder, net, path: str) -> dict:
    import torch

    name = type_name(type(net))
    if not is_trusted_trainer(name):
        raise UnsafeModelFileError(
            f"The model holds a {name} (at {path}); a model file carries mvikit's trainers "
            "(subclasses of mvikit.deep._trainers.CohortTrainer) only.")
    if not getattr(net, "initialized_", False):
        raise UnsafeModelFileError(f"The {name} at {path} is not initialised (not fitted).")
    params = {k: v for k, v in net.get_params(deep=False).items() if not k.startswith("_")}
    components = {}
    for component in [*net._modules, *net._criteria]:
        fitted = getattr(net, f"{component}_")
        given = params.get(component)
        if isinstance(given, torch.nn.Module) and given is not fitted:
            raise UnsafeModelFileError(
                f"{name}.{component} (at {path}) differs from the fitted {component}_; a model "
                f"file stores the fitted one only.")
        if given is fitted:
            del params[component]
        components[component] = _encode_module(encoder, fitted, f"{path}.{component}_")
    params = {k: _encode_callbacks(encoder, v, f"{path}.callbacks") if k == "callbacks"
              else encoder.encode(v, f"{path}.{k}") for k, v in params.items()}
    return {"k": "skorch_net", "type": name,
            "params": {"k": "dict", "keys": list(params), "values": list(params.values())},
            "components": {"k": "dict", "keys": list(components),
                           "values": list(components.values())},
            "history": encoder.encode(list(net.history), f"{path}.history")}


def _encode_callbacks(encoder, callbacks, path: str):
    from skorch.callbacks import Callback

    if not isinstance(callbacks, list):
        return encoder.encode(callbacks, path)
    items = []
    for i, item in enumerate(callbacks):
        label, callback = item if isinstance(item, tuple) else (None, item)
        if not isinstance(callback, Callback):
            raise UnsafeModelFileError(f"{path}[{i}] is not a skorch callback.")
        cls_name = type_name(type(callback))
        if not is_trusted_callback(cls_name):
            raise UnsafeModelFileError(
                f"The trainer at {path}[{i}] has a {cls_name} callback; a model file carries "
                "skorch's LRScheduler only.")
        node = {"k": "skorch_callback", "type": cls_name,
                "params": encoder.encode(callback.get_params(), f"{path}[{i}]")}
        items.append(node if label is None else {"k": "tuple", "v": [label, node]})
    return {"k": "list", "v": items}


# ------------------------------------------------------------------ trust
def untrusted_torch_names(node: dict) -> list[str]:
    """The names a torch node gives that the trust policy refuses (classes, architectures)."""
    kind = node["k"]
    if kind == "skorch_net" and not is_trusted_trainer(node["type"]):
        return [node["type"]]
    if kind == "skorch_callback" and not is_trusted_callback(node["type"]):
        return [node["type"]]
    if kind == "torch_module":
        if "class" in node:
            return [] if is_trusted_module_class(node["class"]) else [node["class"]]
        from ..deep.nets import list_architectures

        if node["architecture"] not in list_architectures():
            return [f"architecture {node['architecture']!r} (not registered)"]
    return []


# ------------------------------------------------------------------ decoding
@contextmanager
def _caller_rng_kept():
    """Building networks draws initial weights; leave the caller's torch RNG as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        yield


def decode_torch(decoder, node: dict):
    """The object of a node written by :func:`encode_torch`."""
    kind = node["k"]
    if kind == "tensor":
        return _decode_tensor(decoder, node)
    with _caller_rng_kept():
        if kind == "torch_module":
            return _decode_module(decoder, node)
        if kind == "skorch_net":
            return _decode_net(decoder, node)
        cls = resolve_name(node["type"])  # skorch_callback
        return cls(**decoder.decode(node["params"]))


def _decode_tensor(decoder, node: dict):
    import torch

    dtype = node["dtype"]
    if dtype not in _DTYPES:
        raise UnsafeModelFileError(f"A tensor of the model file has dtype {dtype!r}; a model "
                                   f"file holds {', '.join(_DTYPES)}.")
    array = decoder.array(node["file"])
    stored = "float32" if dtype == "bfloat16" else dtype
    if array.dtype != np.dtype(stored):
        raise UnsafeModelFileError(f"{node['file']} holds {array.dtype} values where the model "
                                   f"file declares {dtype}; the file was altered.")
    tensor = torch.from_numpy(np.array(array))  # a writable copy torch may own
    return tensor.to(torch.bfloat16) if dtype == "bfloat16" else tensor


def _build(decoder, node: dict):
    kwargs = decoder.decode(node["kwargs"])
    if "architecture" in node:
        from ..deep.nets import get_architecture

        name = node["architecture"]
        try:
            return get_architecture(name).build(**kwargs), f"architecture {name!r}"
        except (TypeError, ValueError) as exc:
            raise UnsafeModelFileError(f"The model file's architecture {name!r} cannot be built "
                                       f"with its recorded arguments {kwargs}: {exc}") from exc
    cls = resolve_name(node["class"])
    try:
        return cls(**kwargs), node["class"]
    except TypeError as exc:
        raise UnsafeModelFileError(f"The model file's {node['class']} cannot be built with its "
                                   f"recorded arguments: {exc}") from exc


def _decode_module(decoder, node: dict):
    module, what = _build(decoder, node)
    if "state" in node:
        load_state(decoder, module, node, what)
    return module


def load_state(decoder, module, node: dict, what: str) -> None:
    """Copy the node's state dict into ``module``, refusing any key, shape or dtype that is
    not exactly the network's (a file altered, or written for another network)."""
    state = node["state"]
    keys = list(state["keys"])
    expected = module.state_dict()
    unexpected = [k for k in keys if k not in expected]
    missing = [k for k in expected if k not in set(keys)]
    if unexpected or missing or len(keys) != len(set(keys)):
        detail = (f"key {unexpected[0]!r} is not one of the network's" if unexpected else
                  f"the network's key {missing[0]!r} is missing" if missing else
                  "a key repeats")
        raise UnsafeModelFileError(
            f"The weights of {what} in the model file do not fit the network it builds: "
            f"{detail} ({len(unexpected)} unknown, {len(missing)} missing). The file was altered "
            "or written by another version of the architecture.")
    tensors = [_decode_tensor(decoder, t) for t in state["tensors"]]
    for key, tensor in zip(keys, tensors):
        if tuple(tensor.shape) != tuple(expected[key].shape) or (
                tensor.dtype != expected[key].dtype):
            raise UnsafeModelFileError(
                f"The weights of {what} in the model file do not fit the network it builds: "
                f"{key!r} is {tuple(tensor.shape)} {tensor.dtype}, the network's "
                f"{tuple(expected[key].shape)} {expected[key].dtype}. The file was altered or "
                "written by another version of the architecture.")
    module.load_state_dict(dict(zip(keys, tensors)), strict=True)
    module.train(bool(node.get("training", False)))
    frozen = set(node.get("frozen", ()))
    for name, parameter in module.named_parameters():
        parameter.requires_grad_(name not in frozen)


def _decode_net(decoder, node: dict):
    from skorch.history import History

    cls = resolve_name(node["type"])
    params = decoder.decode(node["params"])
    if "device" in params:  # a GPU-trained net goes where load_model puts it
        params["device"] = decoder.place(params["device"])
    components = dict(zip(node["components"]["keys"], node["components"]["values"]))
    # the networks given to the trainer as instances are built (and loaded) first, so that
    # skorch's initialize() takes them as they are and builds the optimiser over them
    given = {name: _decode_module(decoder, component) for name, component in components.items()
             if name not in params}
    net = cls(**given, **params)
    net.initialize()
    for name, component in components.items():
        if name not in given:  # built by initialize() from a builder (MD-Net's teacher)
            load_state(decoder, getattr(net, f"{name}_"), component, f"the trainer's {name}")
    net.history_ = History(decoder.decode(node["history"]))
    return net


# ------------------------------------------------------------------ model card
def network_summary(model) -> list[str]:
    """One line per trained network of a deep estimator: architecture, parameters, input.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> network_summary(LogisticRegression())
    []
    """
    nets = [("network", getattr(model, "net_", None))]
    nets += [(f"cross-fitted teacher {k + 1}", t)
             for k, t in enumerate(getattr(model, "teachers_", None) or [])]
    lines = []
    for role, net in nets:
        if net is None or not getattr(net, "initialized_", False):
            continue
        for component in net._modules:
            label = role if component == "module" else f"{role} ({component})"
            lines.append(f"{label}: {_describe(getattr(net, f'{component}_'), model)}")
    return lines


def _describe(module, model) -> str:
    from ..deep.nets import build_record, get_architecture

    n_parameters = sum(p.numel() for p in module.parameters())
    wrapper = ""
    record = build_record(module)
    if record is None:  # a wrapper built outside the register: describe the network inside
        inner = [m for m in module.children() if build_record(m) is not None]
        wrapper = f"{type(module).__name__} around "
        record = build_record(inner[0]) if inner else None
    if record is None:
        return f"{type(module).__name__}, {n_parameters} parameters"
    spec = get_architecture(record["architecture"])
    sequences = ", ".join(map(str, getattr(model, "volume_columns_", []) or [])) or "none"
    return (f"{wrapper}architecture {spec.name!r} (registered), {n_parameters} parameters, "
            f"input kind {spec.input_kind!r}, sequences {sequences}, "
            f"{record['kwargs'].get('n_clinical', 0)} clinical inputs")
