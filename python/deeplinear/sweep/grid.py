"""Sweep specifications: parsing and validation, grid expansion, stable run keys, grouping, tasks.

A sweep is a Cartesian grid over *run fields* (see :data:`FIELDS`): every field is either fixed
(one value shared by all runs) or an axis (a non-empty list of values). A spec is a dict, or a TOML
file with the same shape::

    name = "depth-vs-width"          # optional label
    [axes]                           # each a non-empty list; the grid is their product
    depth = [2, 8, 32]
    width = [16, 64]
    init = ["gaussian", "orthogonal"]
    seed = [0, 1, 2]
    lr.manifold = [1e-5, 1e-4]       # a group's rate: the field lr_manifold (see GROUPED)
    [fixed]                          # scalars shared by every run
    d_x = 32
    n = 8
    d_y = 4
    steps = 1000
    lr = 0.5
    lr_rule = "hu2020"               # η = lr · d_y / (L ‖X‖₂²)
    alpha_rule = "fanout"            # α = (∏_{j≥1} d_j)^{-1/2}
    lr_schedule = {kind = "step_decay", every = 100, factor = 0.5}   # dl.optim's schedules
    [execution]                      # optional; how to cut the work, never part of a run key
    max_networks = 512               # and task_flops: see ExecutionOptions, make_tasks

The run fields are the attributes of :class:`RunConfig` (one attribute each, with its type,
default and meaning); ``init`` and ``data`` name entries of :mod:`deeplinear.sweep.registry`.
Every run is identified by a key: a hash of the canonical JSON of its fully resolved config
(defaults filled in, sorted keys; see :func:`run_key` for fields added later). Runs whose
networks have the same shape and data are grouped into one batched :func:`deeplinear.train` call,
and groups are cut into :class:`Task` s sized by threads and cost (see :func:`make_tasks`).
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import numbers
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import optim, vocabulary
from ..errors import ArgumentTypeError, InvalidValueError
from . import registry

__all__ = [
    "FIELDS",
    "KEY_VERSION",
    "ExecutionOptions",
    "FieldSpec",
    "RunConfig",
    "SweepSpec",
    "Task",
    "group_runs",
    "load_spec",
    "make_tasks",
    "record_intervals",
    "run_key",
    "schedule_of",
    "schedule_text",
]

#: Bumped whenever the meaning of a run config changes, so old keys are never reused wrongly.
#: Adding a field does not bump it: see :func:`run_key`.
KEY_VERSION = 1

LR_RULES = ("constant", "hu2020", "inverse_depth")
BIASES = ("none", "all")
REDUCTIONS = ("default", "sum", "mean")
#: "stiefel"/"oblique": every layer on the manifold; "stiefel_hidden"/"oblique_hidden": every
#: layer but the output layer (Sokol & Park 2020: the classifier stays Euclidean).
MANIFOLDS = tuple(
    name
    for m in vocabulary.MANIFOLDS
    for name in ((m,) if m == "euclidean" else (m, f"{m}_hidden"))
)
#: How a run's inputs are scaled after its data recipe: "none", or "q_star" (the mean squared
#: training input becomes the run's q_star, as Sokol & Park 2020 feed their critical nets).
INPUT_SCALES = ("none", "q_star")
ALPHA_RULES = ("constant", "fanout")
TOL_RULES = ("absolute", "above_optimum")
DTYPES = ("float64", "float32")
#: Diagnostics a sweep can record along training (the ``record`` field); each is stored as a
#: list column ``<name>_curve`` beside ``loss_curve``.
RECORDABLE = (
    "balancedness",
    "accuracy",
    "batch_loss",
    "batch_accuracy",
    "test_loss",
    "test_accuracy",
    *vocabulary.PROBE_RECORDABLE,
)

_REQUIRED = object()


@dataclass(frozen=True)
class FieldSpec:
    """One run field: its type, default, allowed values and meaning (used for validation/docs).

    Kinds: "int", "optional_int", "float", "optional_float", "bool", "choice" (one name of
    ``choices`` or a registry), "names" (comma-separated names of ``choices``, each optionally
    with its own interval as ``name:k``; "" for none), "string" (free text) and "schedule" (a
    learning-rate schedule: a table ``{kind = ..., <parameter> = ...}`` of
    :func:`deeplinear.optim.schedule_from_mapping`, stored as the text of
    :func:`schedule_text`). ``minimum`` and
    ``maximum`` bound numbers (exclusively when ``exclusive_minimum``/``exclusive_maximum``).
    """

    name: str
    kind: str
    default: Any
    doc: str
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    exclusive_minimum: bool = False
    maximum: float | None = None
    exclusive_maximum: bool = False
    group: bool = False
    added: int = 1

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


def _field(kind: str, doc: str, default: Any = _REQUIRED, **spec: Any) -> Any:
    """A :class:`RunConfig` attribute carrying its :class:`FieldSpec` (the name is filled in
    from the attribute). ``group=True``: runs must agree on it to share a batched call.
    ``added=N``: the field appeared in key version N (see :func:`run_key`)."""
    meta = {"spec": FieldSpec("", kind, default, doc, **spec)}
    if default is _REQUIRED:
        return dataclasses.field(metadata=meta)
    return dataclasses.field(default=default, metadata=meta)


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """One fully resolved run. Each attribute is a run field (see :data:`FIELDS`); adding a
    field is adding one attribute here, with its default reproducing the old behaviour."""

    depth: int = _field("int", "number of weight matrices L", minimum=1, group=True)
    width: int = _field("int", "hidden width m (all hidden layers)", minimum=1, group=True)
    init: str = _field("choice", "initialisation scheme (see registry.INITIALISERS)")
    init_scale: float = _field(
        "float",
        "std (gaussian, balanced), gain (orthogonal) or sigma (near_identity)",
        1.0,
        minimum=0.0,
    )
    seed: int = _field("int", "weight seed of the network", 0, minimum=0)
    steps: int = _field("int", "gradient-descent steps", minimum=0, group=True)
    lr: float = _field(
        "float",
        "learning rate, or the constant c of lr_rule",
        minimum=0.0,
        exclusive_minimum=True,
    )
    lr_rule: str = _field(
        "choice",
        "constant: η = lr; hu2020: η = lr·d_y/(L‖X‖₂²); inverse_depth: η = lr/L",
        "constant",
        choices=LR_RULES,
    )
    alpha_rule: str = _field(
        "choice",
        "constant: α = alpha; fanout: α = (∏ d_j)^-1/2",
        "constant",
        choices=ALPHA_RULES,
        group=True,
    )
    alpha: float = _field("float", "output scale α when alpha_rule = constant", 1.0, group=True)
    tol: float | None = _field(
        "optional_float",
        "stop a network once its loss ≤ tol (see tol_rule; records steps_to_tol)",
        None,
        minimum=0.0,
        group=True,
    )
    record_every: int = _field(
        "int", "record the loss every k steps (0: about 100 points)", 0, minimum=0, group=True
    )
    dtype: str = _field("choice", "float64 or float32", "float64", choices=DTYPES, group=True)
    data: str = _field("choice", "data recipe (see registry.DATA_RECIPES)", "teacher", group=True)
    d_x: int = _field("int", "input dimension d_0", minimum=1, group=True)
    n: int = _field("int", "number of examples", minimum=1, group=True)
    d_y: int = _field("int", "output dimension d_L", minimum=1, group=True)
    data_seed: int = _field("int", "seed of the data recipe", 0, minimum=0, group=True)
    tol_rule: str = _field(
        "choice",
        "absolute: stop at loss ≤ tol; above_optimum: at loss ≤ ℓ* + tol, ℓ* the least-squares "
        "optimum of the run's data",
        "absolute",
        choices=TOL_RULES,
        group=True,
        added=2,
    )
    record: str = _field(
        "names",
        "diagnostics recorded every record_every steps, comma-separated (stored as <name>_curve)",
        "",
        choices=RECORDABLE,
        group=True,
        added=2,
    )
    data_file: str = _field(
        "string", "a data file for recipes that read one (npz_whitened)", "", group=True, added=2
    )
    data_sha256: str = _field(
        "string", "the data file's SHA-256 (checked when it is read)", "", group=True, added=2
    )
    # --- the network form and the training options of dl.train (key version 3) ---
    activation: str = _field(
        "choice",
        "φ of the hidden layers",
        "linear",
        choices=vocabulary.ACTIVATIONS,
        group=True,
        added=3,
    )
    biases: str = _field(
        "choice",
        "none, or all: every layer has a bias (drawn by the mean_field and critical inits, "
        "N(0, sigma_b²) for the others)",
        "none",
        choices=BIASES,
        group=True,
        added=3,
    )
    parameterization: str = _field(
        "choice",
        "standard, or ntk (each layer scaled by σ_w/√fan_in, unit-variance weights)",
        "standard",
        choices=vocabulary.PARAMETERIZATIONS,
        group=True,
        added=3,
    )
    sigma_w: float = _field(
        "float",
        "σ_w of the mean_field inits and of the ntk parameterisation",
        1.0,
        minimum=0.0,
        added=3,
    )
    sigma_b: float = _field(
        "float",
        "σ_b: the bias std of the mean_field inits, and of the biases of the other inits",
        0.0,
        minimum=0.0,
        added=3,
    )
    q_star: float = _field(
        "float",
        "q* of the critical inits (σ_w, σ_b = critical_sigmas(q*)) and of input_scale = q_star",
        1 / 64,
        minimum=0.0,
        exclusive_minimum=True,
        added=3,
    )
    input_scale: str = _field(
        "choice",
        "none, or q_star: scale the inputs so that the mean squared training input is q_star",
        "none",
        choices=INPUT_SCALES,
        group=True,
        added=3,
    )
    loss: str = _field(
        "choice",
        "mse, or cross_entropy (integer labels: the argmax of the recipe's one-hot targets)",
        "mse",
        choices=tuple(vocabulary.LOSSES),
        group=True,
        added=3,
    )
    reduction: str = _field(
        "choice",
        "how a step's per-example losses combine: default (mse: sum, cross_entropy: mean), "
        "sum or mean",
        "default",
        choices=REDUCTIONS,
        group=True,
        added=3,
    )
    optimizer: str = _field(
        "choice",
        "gd, sgd (momentum), adam, adamw (Adam with decoupled weight decay) or rmsprop",
        "gd",
        choices=tuple(vocabulary.OPTIMIZERS),
        group=True,
        added=3,
    )
    momentum: float = _field(
        "float",
        "momentum μ of optimizer = sgd or rmsprop, in [0, 1)",
        0.0,
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
        group=True,
        added=3,
    )
    nesterov: bool = _field(
        "bool", "Nesterov momentum (optimizer = sgd, momentum > 0)", False, group=True, added=3
    )
    beta1: float = _field(
        "float",
        "β₁ of optimizer = adam or adamw, in [0, 1)",
        0.9,
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
        group=True,
        added=3,
    )
    beta2: float = _field(
        "float",
        "β₂ of optimizer = adam or adamw, in [0, 1)",
        0.999,
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
        group=True,
        added=3,
    )
    eps: float = _field(
        "float",
        "ε of optimizer = adam, adamw or rmsprop",
        1e-8,
        minimum=0.0,
        exclusive_minimum=True,
        group=True,
        added=3,
    )
    batch_size: int = _field(
        "int",
        "mini-batch size b in [1, n] (a fresh permutation each epoch), or 0 for full batches",
        0,
        minimum=0,
        group=True,
        added=3,
    )
    shuffle_seed: int | None = _field(
        "optional_int",
        "seed of the network's mini-batch order (default: the run's seed)",
        None,
        minimum=0,
        added=3,
    )
    manifold: str = _field(
        "choice",
        "euclidean; stiefel (every layer scaled-orthogonal, Riemannian optimiser); oblique "
        "(every row of a layer of one norm s); or stiefel_hidden, oblique_hidden (every layer "
        "but the output layer)",
        "euclidean",
        choices=MANIFOLDS,
        group=True,
        added=3,
    )
    learn_scale: bool = _field(
        "bool",
        "train the scale of each Stiefel or Oblique layer too (none with manifold = euclidean, "
        "so a grid over manifolds can learn the scales of those that have them)",
        False,
        group=True,
        added=3,
    )
    n_test: int = _field(
        "int",
        "held-out examples (the recipe's own test set, else a split seeded by data_seed), "
        "for the test_loss and test_accuracy records",
        0,
        minimum=0,
        group=True,
        added=3,
    )
    record_probe: int = _field(
        "int",
        "the first k held-out examples are the probe set (record_data) of the recorded "
        "fisher_*, ntk_relative_change and jacobian_max_singular_value; 0: none",
        0,
        minimum=0,
        group=True,
        added=3,
    )
    target_accuracy: float | None = _field(
        "optional_float",
        "stop a network once its step's (mini-)batch accuracy is ≥ this, in (0, 1] (records "
        "steps_to_accuracy)",
        None,
        minimum=0.0,
        exclusive_minimum=True,
        maximum=1.0,
        group=True,
        added=3,
    )
    # --- parameter groups, schedules, weight decay, RMSProp and Oblique (key version 4) ---
    lr_manifold: float | None = _field(
        "optional_float",
        "learning rate of the Stiefel/Oblique weights (default: the run's η); ignored by runs "
        "without such a layer, so a grid over manifolds can set it",
        None,
        minimum=0.0,
        added=4,
    )
    lr_output: float | None = _field(
        "optional_float",
        "learning rate of the output layer's weights when Euclidean (default: η); ignored when "
        "the output layer is on a manifold",
        None,
        minimum=0.0,
        added=4,
    )
    lr_biases: float | None = _field(
        "optional_float",
        "learning rate of the biases (default: η); ignored by runs without biases",
        None,
        minimum=0.0,
        added=4,
    )
    lr_scales: float | None = _field(
        "optional_float",
        "learning rate of the learned Stiefel/Oblique scales (default: η); ignored by runs "
        "that do not learn them",
        None,
        minimum=0.0,
        added=4,
    )
    lr_schedule: str = _field(
        "schedule",
        "the learning-rate schedule multiplying every group's rate: a table such as "
        '{kind = "step_decay", every = 100, factor = 0.5}, or "constant" (see deeplinear.optim)',
        "constant",
        group=True,
        added=4,
    )
    weight_decay: float = _field(
        "float",
        "weight decay λ of the Euclidean weights (coupled L2; decoupled for adamw)",
        0.0,
        minimum=0.0,
        added=4,
    )
    weight_decay_output: float | None = _field(
        "optional_float",
        "weight decay of the output layer's weights when Euclidean (default: weight_decay)",
        None,
        minimum=0.0,
        added=4,
    )
    weight_decay_biases: float | None = _field(
        "optional_float", "weight decay of the biases (default: none)", None, minimum=0.0, added=4
    )
    weight_decay_scales: float | None = _field(
        "optional_float",
        "weight decay of the learned Stiefel/Oblique scales (default: none; the orthonormal "
        "factor is never decayed)",
        None,
        minimum=0.0,
        added=4,
    )
    decay: float = _field(
        "float",
        "the squared-gradient average's decay d of optimizer = rmsprop, in [0, 1)",
        0.99,
        minimum=0.0,
        maximum=1.0,
        exclusive_maximum=True,
        group=True,
        added=4,
    )
    centered: bool = _field(
        "bool", "centred RMSProp (optimizer = rmsprop)", False, group=True, added=4
    )
    oblique_penalty: float = _field(
        "float",
        "ω of the penalty ω·‖QQᵀ − I‖²_F of every Oblique layer (ignored by runs without one)",
        0.0,
        minimum=0.0,
        group=True,
        added=4,
    )

    @property
    def dims(self) -> list[int]:
        """Layer widths [d_x, m, ..., m, d_y] (depth + 1 entries)."""
        return [self.d_x] + [self.width] * (self.depth - 1) + [self.d_y]

    @property
    def key(self) -> str:
        """Stable identifier: see :func:`run_key`."""
        return run_key(self)

    @property
    def layer_manifolds(self) -> list[str]:
        """The manifold of each layer (``vocabulary.MANIFOLDS``): "<m>_hidden" puts every layer
        but the output layer on manifold m (Sokol & Park 2020's Euclidean classifier)."""
        if self.manifold.endswith("_hidden"):
            return [self.manifold.removesuffix("_hidden")] * (self.depth - 1) + ["euclidean"]
        return [self.manifold] * self.depth

    @property
    def parameter_groups(self) -> set[str]:
        """The parameter groups (``vocabulary.LR_GROUPS``) this run's networks have."""
        curved = self.manifold != "euclidean"
        return optim.network_groups(
            self.layer_manifolds, self.biases == "all", self.learn_scale and curved
        )

    @property
    def recorded(self) -> list[str]:
        """The names in :attr:`record`, in order."""
        return [name for name, _ in self.record_intervals]

    @property
    def record_intervals(self) -> list[tuple[str, int]]:
        """(name, interval) of each recorded quantity: its own ``name:k`` interval, else
        ``record_every``."""
        return record_intervals(self.record, self.record_every)

    @property
    def is_linear_chain(self) -> bool:
        """A deep linear chain (no activation, biases or NTK scales): the form Hu, Arora and
        Wu study, for which full-batch squared-loss training reduces n > d_x examples."""
        return (
            self.activation == "linear"
            and self.biases == "none"
            and self.parameterization == "standard"
        )

    def sigmas(self) -> tuple[float, float]:
        """(σ_w, σ_b) of the run: :func:`deeplinear.init.critical_sigmas` of ``q_star`` for a
        critical init, else the ``sigma_w`` and ``sigma_b`` fields."""
        if registry.is_critical(self.init):
            return registry.critical_sigmas(self.q_star)
        return self.sigma_w, self.sigma_b

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def group(self) -> tuple[Any, ...]:
        """What runs must share to be trained by one batched call: the values of
        :data:`GROUP_FIELDS`, the q* the inputs are scaled to (``input_scale = "q_star"``) and
        the σ_w of the NTK scales (``parameterization = "ntk"``)."""
        scaled_to = self.q_star if self.input_scale == "q_star" else None
        ntk_sigma_w = self.sigmas()[0] if self.parameterization == "ntk" else None
        return (*(getattr(self, name) for name in GROUP_FIELDS), scaled_to, ntk_sigma_w)

    def flops(self) -> float:
        """Approximate floating-point operations to train this network: about 6·d_j·d_{j+1}
        per example per layer per step (forward, gradient and backward products) over the
        step's examples, plus a forward pass (2·d_j·d_{j+1} per example) over the training or
        test set for each recorded full-set quantity, and about 2·d_y passes per probe example
        for each recorded probe quantity (Fisher, NTK, Jacobian). Full-batch squared-loss linear
        chains count n ≤ d_x examples: the engine reduces n > d_x examples exactly to d_x
        columns (thin QR of Xᵀ)."""
        dims = self.dims
        per_example = sum(a * b for a, b in itertools.pairwise(dims))
        full_batch = self.batch_size == 0
        if full_batch and self.is_linear_chain and self.loss == "mse":
            columns = min(self.n, self.d_x)
        else:
            columns = self.n if full_batch else self.batch_size
        total = 6.0 * per_example * columns * max(self.steps, 1)
        probe = 2 * self.record_probe * self.d_y  # a backward pass per probe output, and back
        passes = {"accuracy": self.n, "test_loss": self.n_test, "test_accuracy": self.n_test}
        for name, every in self.record_intervals:
            examples = probe if name in vocabulary.PROBE_RECORDABLE else passes.get(name, 0)
            total += 2.0 * per_example * examples * (self.steps // every + 1)
        return total


#: Every field a run config has, in canonical column order.
FIELDS: tuple[FieldSpec, ...] = tuple(
    dataclasses.replace(f.metadata["spec"], name=f.name) for f in dataclasses.fields(RunConfig)
)
_FIELD_BY_NAME = {f.name: f for f in FIELDS}

#: Fields that must be equal for runs to share one batched engine call (same shapes, data,
#: schedule and output scale); the others (init, seed, lr, ...) may vary inside a batch.
GROUP_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELDS if f.group)


def record_intervals(record: str, record_every: int) -> list[tuple[str, int]]:
    """(name, interval) of each quantity of a canonical ``record`` value ("name" or
    "name:k", comma-separated): its own interval k, else ``record_every``."""
    out = []
    for item in record.split(","):
        if item:
            name, _, every = item.partition(":")
            out.append((name, int(every) if every else int(record_every)))
    return out


def run_key(config: RunConfig) -> str:
    """SHA-256 (first 20 hex digits) of the canonical JSON of ``config`` and :data:`KEY_VERSION`.

    Canonical: sorted keys, no whitespace, ints as ints and floats as floats (``lr = 1`` and
    ``lr = 1.0`` give the same key because validation stores floats as floats). A field added
    after key version 1 is left out while it has its default value, so adding a field never
    changes the keys of existing runs, and stores made before it resume.
    """
    payload = {"key_version": KEY_VERSION, **config.as_dict()}
    for f in FIELDS:
        if f.added > 1 and payload[f.name] == f.default:
            del payload[f.name]
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def schedule_text(schedule: optim.LrSchedule) -> str:
    """The stored form of a schedule: "constant", or its kind with its parameters in order,
    e.g. "step_decay(every=100, factor=0.5)" (counts as integers)."""
    table = schedule.as_mapping()
    kind = table.pop("kind")
    if not table:
        return str(kind)
    return f"{kind}({', '.join(f'{name}={value!r}' for name, value in table.items())})"


def schedule_of(text: str, name: str = "lr_schedule") -> optim.LrSchedule:
    """The schedule of a stored :func:`schedule_text` (errors name ``name``)."""
    kind, paren, rest = text.partition("(")
    table: dict[str, Any] = {"kind": kind.strip()}
    if paren:
        if not rest.endswith(")"):
            raise InvalidValueError(f"{name}: expected kind(name=value, ...), got {text!r}")
        for item in filter(None, (part.strip() for part in rest[:-1].split(","))):
            key, equals, value = (p.strip() for p in item.partition("="))
            try:
                table[key] = float(value) if equals else None
            except ValueError:
                raise InvalidValueError(f"{name}.{key}: expected a number, got {value!r}") from None
            if table[key] is None:
                raise InvalidValueError(f"{name}: expected name=value, got {item!r}")
            if table[key].is_integer() and key in ("every", "decay_steps", "warmup_steps"):
                table[key] = int(table[key])
    return optim.schedule_from_mapping(table, name)


#: Automatic task sizing (``task_flops`` unset): a task gets at least this many networks per
#: engine thread, when its group has them. The engine trains each network on one thread and a
#: free thread takes the next network, so threads run out of work only once fewer networks than
#: threads are left: with k networks per thread, about the last 1/k of a task whose networks
#: cost alike, and a network that stops early only brings the next one forward.
NETWORKS_PER_THREAD = 4
#: Automatic task sizing: beyond that floor a task grows, with cheap networks, up to about this
#: many flops per engine thread (about 1–2 s at the engine's rate), so that a task stays a
#: short resume unit and Dask has many tasks to balance, while per-call costs stay small.
TASK_FLOPS_PER_THREAD = 1e10


@dataclass(frozen=True)
class ExecutionOptions:
    """How a sweep's work is cut into tasks (see :func:`make_tasks`). Never part of a run key.

    Attributes:
        task_flops: None (the default): size tasks by threads and cost, at least
            :data:`NETWORKS_PER_THREAD` networks per engine thread and, with cheap networks, up
            to :data:`TASK_FLOPS_PER_THREAD` flops per thread. A number overrides that with a
            fixed threshold: tasks of at most this much work (one Parquet part file each), but
            at least one network per thread. Dask advises tasks of ≥ 100 ms.
        max_networks: at most this many networks per task (a hard cap, e.g. on memory).
        store_weights: also keep every run's final weights, one ``.npy`` file per part
            (see :func:`deeplinear.sweep.load_weights`).
    """

    task_flops: float | None = None
    max_networks: int = 512
    store_weights: bool = False


@dataclass(frozen=True)
class SweepSpec:
    """A validated sweep: fixed values, axes (in order) and execution options.

    Build it with :meth:`from_dict` or :func:`load_spec`; :meth:`runs` expands the grid.
    """

    fixed: Mapping[str, Any]
    axes: Mapping[str, tuple[Any, ...]]
    name: str = "sweep"
    execution: ExecutionOptions = dataclasses.field(default_factory=ExecutionOptions)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], *, source: str | None = None) -> SweepSpec:
        """Validate a spec dict (the TOML layout). Raises ValueError/TypeError naming the key.

        ``source`` (a TOML text) lets messages give the line of the offending key.
        """
        where = _Locator(source)
        if not isinstance(spec, Mapping):
            raise ArgumentTypeError(f"spec: expected a mapping, got {type(spec).__name__}")
        unknown = set(spec) - {"name", "axes", "fixed", "execution"}
        for key in sorted(unknown):
            raise InvalidValueError(where.message(key, key, "unknown top-level key", _TOP_LEVEL))
        name = spec.get("name", "sweep")
        if not isinstance(name, str) or not name:
            raise ArgumentTypeError(
                where.message("name", "name", f"expected a non-empty string, got {name!r}")
            )
        axes_in = _grouped_fields(_table(spec, "axes", where), "axes", where)
        fixed_in = _grouped_fields(_table(spec, "fixed", where), "fixed", where)
        names = tuple(f.name for f in FIELDS)
        axes: dict[str, tuple[Any, ...]] = {}
        fixed: dict[str, Any] = {}
        for key, values in axes_in.items():
            shown = _shown(key)
            if key not in _FIELD_BY_NAME:
                raise InvalidValueError(where.message(f"axes.{key}", key, "unknown key", names))
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ArgumentTypeError(
                    where.message(
                        f"axes.{shown}", shown, f"expected a list of values, got {values!r}"
                    )
                )
            if len(values) == 0:
                raise InvalidValueError(
                    where.message(f"axes.{shown}", shown, "empty axis (no values)")
                )
            checked = tuple(
                _check_value(_FIELD_BY_NAME[key], v, f"axes.{shown}[{i}]", where, shown)
                for i, v in enumerate(values)
            )
            if len(set(checked)) != len(checked):
                raise InvalidValueError(
                    where.message(f"axes.{shown}", shown, f"repeated values {values!r}")
                )
            axes[key] = checked
        for key, value in fixed_in.items():
            shown = _shown(key)
            if key not in _FIELD_BY_NAME:
                raise InvalidValueError(where.message(f"fixed.{key}", key, "unknown key", names))
            if key in axes:
                raise InvalidValueError(
                    where.message(f"fixed.{shown}", shown, "is both fixed and an axis; choose one")
                )
            fixed[key] = _check_value(_FIELD_BY_NAME[key], value, f"fixed.{shown}", where, shown)
        missing = [
            f.name for f in FIELDS if f.required and f.name not in fixed and f.name not in axes
        ]
        if missing:
            raise InvalidValueError(
                f"spec: missing required field(s) {', '.join(missing)} "
                "(give each in [fixed] or as a list in [axes])"
            )
        execution = _execution(spec.get("execution", {}), where)
        result = cls(fixed=fixed, axes=axes, name=name, execution=execution)
        _check_combinations(result, where)
        return result

    @property
    def size(self) -> int:
        """Number of runs in the grid."""
        return math.prod(len(v) for v in self.axes.values())

    def runs(self) -> list[RunConfig]:
        """Expand the grid (row-major over the axes in their given order) into resolved runs."""
        names = list(self.axes)
        out = []
        for combo in itertools.product(*(self.axes[n] for n in names)):
            values = {f.name: f.default for f in FIELDS if not f.required}
            values.update(self.fixed)
            values.update(zip(names, combo, strict=True))
            if values["record_every"] == 0:
                values["record_every"] = max(1, values["steps"] // 100)
            out.append(RunConfig(**values))
        return out

    def to_dict(self) -> dict[str, Any]:
        """The spec as a JSON/TOML-compatible dict (``from_dict(to_dict())`` round-trips)."""
        return {
            "name": self.name,
            "axes": {k: list(v) for k, v in self.axes.items()},
            "fixed": dict(self.fixed),
            "execution": dataclasses.asdict(self.execution),
        }


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a TOML sweep file. Syntax errors name the line (from tomllib); other
    errors name the key and, when it can be found, its line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise InvalidValueError(f"config: cannot read {path}: {err.strerror}") from err
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InvalidValueError(f"{path}: malformed TOML: {err}") from err
    try:
        return SweepSpec.from_dict(data, source=text)
    except (ValueError, TypeError) as err:
        raise type(err)(f"{path}: {err}") from err


def group_runs(runs: Iterable[RunConfig]) -> dict[tuple[Any, ...], list[RunConfig]]:
    """Group runs that can share one batched engine call (equal :meth:`RunConfig.group`),
    keeping the first-seen order of groups and of runs inside each group."""
    groups: dict[tuple[Any, ...], list[RunConfig]] = {}
    for run in runs:
        groups.setdefault(run.group(), []).append(run)
    return groups


@dataclass(frozen=True)
class Task:
    """A unit of work: runs of one group, trained by one batched call, stored in one part file."""

    runs: tuple[RunConfig, ...]

    @property
    def task_id(self) -> str:
        """Hash of the task's sorted run keys: names its part file."""
        keys = ",".join(sorted(r.key for r in self.runs))
        return hashlib.sha256(keys.encode()).hexdigest()[:16]

    def flops(self) -> float:
        return sum(r.flops() for r in self.runs)

    def network_steps(self) -> int:
        return sum(r.steps for r in self.runs)


def make_tasks(
    runs: Iterable[RunConfig],
    options: ExecutionOptions | None = None,
    *,
    threads: int = 1,
) -> list[Task]:
    """Group ``runs`` and cut every group into tasks for ``threads`` engine threads each.

    The engine trains each network of a call on one thread, and a thread that finishes a network
    takes the next, so a task keeps its threads busy while it has networks left. Networks that
    stop early (a tolerance or accuracy reached, divergence) leave a thread idle only once
    fewer networks than threads remain. The rule, per group of n runs:

    * floor: every task gets at least f networks, f = :data:`NETWORKS_PER_THREAD` × ``threads``
      (``options.task_flops`` unset) or f = ``threads`` (``task_flops`` given), or the whole
      group when n < f;
    * budget: beyond the floor, as few tasks as keep each under B flops (by
      :meth:`RunConfig.flops`), B = ``task_flops``, else :data:`TASK_FLOPS_PER_THREAD` ×
      ``threads``; small tasks are the resume unit (a killed sweep loses the tasks in flight)
      and what Dask balances across workers;
    * cap: never more than ``options.max_networks`` networks (this wins over the floor);
    * the cut: that many tasks of near-equal size, each a multiple of ``threads`` but the last
      (unless that would break the cap), in the group's order.

    Tasks are no part of a run's key and each network's result does not depend on its task, so
    any cut stores the same results.
    """
    options = options or ExecutionOptions()
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise InvalidValueError(f"threads: must be an integer ≥ 1, got {threads!r}")
    threads = int(threads)
    if options.task_flops is None:
        floor, budget = NETWORKS_PER_THREAD * threads, TASK_FLOPS_PER_THREAD * threads
    else:
        floor, budget = threads, options.task_flops
    tasks: list[Task] = []
    for members in group_runs(runs).values():
        sizes = _task_sizes(
            len(members),
            members[0].flops(),
            floor=floor,
            budget=budget,
            cap=options.max_networks,
            unit=threads,
        )
        start = 0
        for size in sizes:
            tasks.append(Task(tuple(members[start : start + size])))
            start += size
    return tasks


def _task_sizes(
    count: int, flops: float, *, floor: int, budget: float, cap: int, unit: int
) -> list[int]:
    """The sizes of the tasks a group of ``count`` networks of ``flops`` each is cut into (see
    :func:`make_tasks`): as few tasks as keep each under ``budget`` flops, but each of at least
    ``floor`` networks (or the whole group), at most ``cap``, sizes multiples of ``unit`` but the
    last where the cap allows."""
    by_budget = math.ceil(count * flops / budget)
    most = max(1, count // floor)  # more tasks would leave one under the floor
    tasks = max(1, min(by_budget, most), math.ceil(count / cap))
    bounds = [(i * count // tasks) // unit * unit for i in range(tasks)] + [count]
    sizes = [b - a for a, b in itertools.pairwise(bounds)]
    if max(sizes) > cap or min(sizes) == 0:  # the alignment broke the cap: equal sizes instead
        bounds = [i * count // tasks for i in range(tasks)] + [count]
        sizes = [b - a for a, b in itertools.pairwise(bounds)]
    return sizes


# --- validation helpers ---------------------------------------------------------------------

_TOP_LEVEL = ("name", "axes", "fixed", "execution")


class _Locator:
    """Finds the line of a key in the TOML source (best effort) to prefix error messages."""

    def __init__(self, source: str | None) -> None:
        self.lines = source.splitlines() if source else []

    def line_of(self, key: str) -> int | None:
        pattern = re.compile(rf"^\s*(\[\s*)?[\"']?{re.escape(key)}[\"']?\s*(=|\])")
        for number, line in enumerate(self.lines, start=1):
            if pattern.match(line):
                return number
        return None

    def message(self, path: str, key: str, problem: str, known: Sequence[str] | None = None) -> str:
        line = self.line_of(key)
        text = f"line {line}: {path}: {problem}" if line is not None else f"{path}: {problem}"
        if known is not None:
            close = difflib.get_close_matches(key, known, n=1)
            text += f" (did you mean {close[0]!r}?)" if close else ""
            text += f"; known keys: {', '.join(known)}"
        return text


#: Run fields given per parameter group (``vocabulary.LR_GROUPS``): the field ``lr_manifold``
#: is written ``lr.manifold`` in a spec (a dotted TOML key, or a table ``lr = {manifold = ...}``),
#: and ``lr.base`` is ``lr`` itself; the flat names are accepted too.
GROUPED = ("lr", "weight_decay")


def _shown(key: str) -> str:
    """A field's name as a spec writes it: ``lr.manifold`` for ``lr_manifold``."""
    for prefix in GROUPED:
        group = key.removeprefix(f"{prefix}_")
        if group != key and group in vocabulary.LR_GROUPS:
            return f"{prefix}.{group}"
    return key


def _grouped_fields(table: Mapping[str, Any], name: str, where: _Locator) -> dict[str, Any]:
    """``table`` with its per-group entries (``lr.manifold``, or ``lr = {manifold = ...}``)
    under their field names (``lr_manifold``); an unknown group or a field given twice is an
    error naming it."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        prefix, dot, group = key.partition(".")
        if prefix in GROUPED and (dot or isinstance(value, Mapping)):
            entries = [(group, value)] if dot else list(value.items())
        else:
            entries = [("", value)]
            prefix = key
        for group, entry in entries:
            field = prefix if group in ("", "base") else f"{prefix}_{group}"
            shown = f"{prefix}.{group}" if group else prefix
            if group and (group not in vocabulary.LR_GROUPS or field not in _FIELD_BY_NAME):
                known = ["base"] + [
                    g for g in vocabulary.LR_GROUPS if f"{prefix}_{g}" in _FIELD_BY_NAME
                ]
                raise InvalidValueError(
                    where.message(
                        f"{name}.{shown}",
                        shown,
                        f"unknown group {group!r} of {prefix}; expected one of {known}",
                    )
                )
            if field in out:
                raise InvalidValueError(
                    where.message(f"{name}.{shown}", shown, "given twice (dotted and flat)")
                )
            out[field] = entry
    return out


def _table(spec: Mapping[str, Any], name: str, where: _Locator) -> Mapping[str, Any]:
    value = spec.get(name, {})
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(where.message(name, name, f"expected a table, got {value!r}"))
    return value


def _check_value(field: FieldSpec, value: Any, path: str, where: _Locator, key: str) -> Any:
    """Validate and normalise one value (ints stay ints, reals become floats)."""

    def fail(problem: str, error: type[Exception] = ValueError) -> Exception:
        return error(where.message(path, key, problem))

    if field.kind in ("int", "optional_int"):
        if value is None and field.kind == "optional_int":
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise fail(f"expected an integer, got {type(value).__name__} {value!r}", TypeError)
        value = int(value)
    elif field.kind == "bool":
        if not isinstance(value, bool):
            raise fail(f"expected true or false, got {type(value).__name__} {value!r}", TypeError)
        return value
    elif field.kind in ("float", "optional_float"):
        if value is None and field.kind == "optional_float":
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise fail(f"expected a number, got {type(value).__name__} {value!r}", TypeError)
        value = float(value)
        if not math.isfinite(value):
            raise fail(f"must be finite, got {value}")
    elif field.kind == "string":
        if not isinstance(value, str):
            raise fail(f"expected a string, got {type(value).__name__} {value!r}", TypeError)
        return value
    elif field.kind == "schedule":
        try:
            if isinstance(value, str):
                return schedule_text(schedule_of(value))
            return schedule_text(optim.schedule_from_mapping(value))
        except (ValueError, TypeError) as err:
            raise type(err)(where.message(path, key, str(err))) from err
    else:
        choices = _choices(field)
        if not isinstance(value, str):
            raise fail(
                f"expected one of {choices}, got {type(value).__name__} {value!r}", TypeError
            )
        if field.kind == "names":
            items = []
            names = []
            for item in (part.strip() for part in value.split(",")):
                if not item:
                    continue
                name, colon, every = (p.strip() for p in item.partition(":"))
                if name not in choices:
                    raise fail(f"expected names among {choices}, got {name!r}")
                if colon and not (every.isdigit() and int(every) >= 1):
                    raise fail(
                        f"{name}: the interval after ':' must be an integer ≥ 1, got {every!r}"
                    )
                names.append(name)
                items.append(f"{name}:{int(every)}" if colon else name)
            if len(set(names)) != len(names):
                raise fail(f"repeated names in {value!r}")
            return ",".join(items)
        if value not in choices:
            raise fail(f"expected one of {choices}, got {value!r}")
        return value
    if field.minimum is not None:
        too_small = value <= field.minimum if field.exclusive_minimum else value < field.minimum
        if too_small:
            bound = "greater than" if field.exclusive_minimum else "at least"
            raise fail(f"must be {bound} {field.minimum:g}, got {value}")
    if field.maximum is not None:
        too_large = value >= field.maximum if field.exclusive_maximum else value > field.maximum
        if too_large:
            bound = "less than" if field.exclusive_maximum else "at most"
            raise fail(f"must be {bound} {field.maximum:g}, got {value}")
    return value


#: The fields :func:`_combination_problem` reads (a run's other fields never conflict).
_COMBINED = (
    "depth",
    "activation",
    "biases",
    "parameterization",
    "loss",
    "optimizer",
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
    "decay",
    "centered",
    "batch_size",
    "n",
    "d_x",
    "width",
    "d_y",
    "manifold",
    "n_test",
    "record_probe",
    "record",
)
#: The run fields of optimiser options, each with its name in ``vocabulary.OPTIMIZERS``.
_OPTIMIZER_OPTIONS = {
    "momentum": "momentum",
    "nesterov": "nesterov",
    "beta1": "betas",
    "beta2": "betas",
    "eps": "eps",
    "decay": "decay",
    "centered": "centered",
}


def _combination_problem(run: RunConfig) -> tuple[str, str] | None:
    """The first option of ``run`` that does not fit its other options: (key, problem)."""
    taken = vocabulary.OPTIMIZERS[run.optimizer]
    for key, option in _OPTIMIZER_OPTIONS.items():
        if option not in taken and getattr(run, key) != _FIELD_BY_NAME[key].default:
            takers = " or ".join(
                repr(o) for o, opts in vocabulary.OPTIMIZERS.items() if option in opts
            )
            return key, f"only with optimizer = {takers}, got optimizer = {run.optimizer!r}"
    if run.nesterov and run.momentum == 0.0:
        return "nesterov", "needs momentum > 0"
    if run.batch_size > run.n:
        return "batch_size", f"must be at most n = {run.n} (0: full batches), got {run.batch_size}"
    if run.manifold.endswith("_hidden") and run.depth < 2:
        return "manifold", f"{run.manifold!r} needs a hidden layer (depth ≥ 2)"
    if run.manifold.startswith("oblique"):
        fan_ins = run.dims[: -2 if run.manifold.endswith("_hidden") else -1]
        if min(fan_ins) < 2:
            return "manifold", (
                f"{run.manifold!r} needs at least 2 inputs per unit of every Oblique layer, "
                f"got layer widths {run.dims}"
            )
    if run.loss == "cross_entropy" and run.d_y < 2:
        return "loss", f"'cross_entropy' needs d_y ≥ 2 classes, got d_y = {run.d_y}"
    if run.record_probe > run.n_test:
        return "record_probe", f"must be at most n_test = {run.n_test}, got {run.record_probe}"
    for name in run.recorded:
        if name.startswith("test_") and run.n_test == 0:
            return "record", f"{name!r} needs held-out examples (n_test > 0)"
        if name in vocabulary.PROBE_RECORDABLE and run.record_probe == 0:
            return "record", f"{name!r} needs a probe set (record_probe > 0 held-out examples)"
        if name in vocabulary.LINEAR_ONLY_RECORDABLE and not run.is_linear_chain:
            return "record", f"{name!r} is defined for linear chains only"
    return None


def _check_combinations(spec: SweepSpec, where: _Locator) -> None:
    """Raise ValueError, naming the key, for the first run whose options conflict (each
    distinct combination of the :data:`_COMBINED` fields is checked once)."""
    seen: set[tuple[Any, ...]] = set()
    runs = spec.runs()
    for run in runs:
        combination = tuple(getattr(run, name) for name in _COMBINED)
        if combination in seen:
            continue
        seen.add(combination)
        problem = _combination_problem(run)
        if problem is not None:
            key, text = problem
            path = f"axes.{key}" if key in spec.axes else f"fixed.{key}"
            raise InvalidValueError(where.message(path, key, text))
    # A group rate is ignored by a run whose networks lack the group (so a grid over manifolds
    # can set lr.manifold), but a rate no run can use is a mistake.
    given = [key for key in (*spec.axes, *spec.fixed) if _shown(key) != key]
    present = set().union(*(run.parameter_groups for run in runs)) if runs else set()
    for key in given:
        group = _shown(key).partition(".")[2]
        if group not in present and any(getattr(run, key) is not None for run in runs):
            shown = _shown(key)
            path = f"axes.{shown}" if key in spec.axes else f"fixed.{shown}"
            raise InvalidValueError(
                where.message(
                    path,
                    shown,
                    f"no run of this sweep has parameter group {group!r} "
                    f"({vocabulary.LR_GROUPS[group]})",
                )
            )


def _choices(field: FieldSpec) -> list[str]:
    """Allowed values of a choice field; ``init`` and ``data`` come from the live registries in
    :mod:`deeplinear.sweep.registry`, so presets can register new schemes and data sets."""
    if field.name == "init":
        return sorted(registry.INITIALISERS)
    if field.name == "data":
        return sorted(registry.DATA_RECIPES)
    return list(field.choices)


def _execution(value: Any, where: _Locator) -> ExecutionOptions:
    if not isinstance(value, Mapping):
        raise ArgumentTypeError(
            where.message("execution", "execution", f"expected a table, got {value!r}")
        )
    known = [f.name for f in dataclasses.fields(ExecutionOptions)]
    for key in value:
        if key not in known:
            raise InvalidValueError(where.message(f"execution.{key}", key, "unknown key", known))
    task_flops = value.get("task_flops", ExecutionOptions.task_flops)
    max_networks = value.get("max_networks", ExecutionOptions.max_networks)
    if task_flops is not None:  # None (a dict spec, or sweep.json): sized automatically
        if isinstance(task_flops, bool) or not isinstance(task_flops, numbers.Real):
            raise ArgumentTypeError(
                where.message("execution.task_flops", "task_flops", "expected a number")
            )
        task_flops = float(task_flops)
        if not (math.isfinite(task_flops) and task_flops > 0):
            raise InvalidValueError(
                where.message(
                    "execution.task_flops", "task_flops", f"must be > 0, got {task_flops}"
                )
            )
    if isinstance(max_networks, bool) or not isinstance(max_networks, numbers.Integral):
        raise ArgumentTypeError(
            where.message("execution.max_networks", "max_networks", "expected an integer")
        )
    if int(max_networks) < 1:
        raise InvalidValueError(
            where.message(
                "execution.max_networks", "max_networks", f"must be at least 1, got {max_networks}"
            )
        )
    store_weights = value.get("store_weights", ExecutionOptions.store_weights)
    if not isinstance(store_weights, bool):
        raise ArgumentTypeError(
            where.message("execution.store_weights", "store_weights", "expected true or false")
        )
    return ExecutionOptions(
        task_flops=task_flops, max_networks=int(max_networks), store_weights=store_weights
    )
