"""The option names of deeplinear, listed once: the façade (:mod:`deeplinear.train`,
:mod:`deeplinear.metrics`, :mod:`deeplinear.init`) and the NumPy reference both read them from
here, and the Rust core parses the same names."""

from __future__ import annotations

__all__ = [
    "ACTIVATIONS",
    "LINEAR_ONLY_RECORDABLE",
    "LOSSES",
    "LR_GROUPS",
    "LR_SCHEDULES",
    "MANIFOLDS",
    "OPTIMIZERS",
    "PARAMETERIZATIONS",
    "PROBE_RECORDABLE",
    "RECORDABLE",
]

#: The quantities ``train(record=...)`` can record, with the shape of each array in
#: ``TrainResult.records`` (R = steps // every + 1 recorded columns, ``every`` the quantity's
#: interval, ``record_every`` unless given).
RECORDABLE = {
    "loss": "(batch, R): the loss on the full training set, as TrainResult.loss",
    "accuracy": "(batch, R): accuracy on the full training set",
    "batch_loss": "(batch, R): the loss of the step's (mini-)batch",
    "batch_accuracy": "(batch, R): accuracy on the step's (mini-)batch",
    "test_loss": "(batch, R): the loss on eval_data",
    "test_accuracy": "(batch, R): accuracy on eval_data",
    "grad_norms": "(batch, R, L): ‖∂ℓ/∂W_j‖_F of the step's loss (Euclidean gradient)",
    "weight_change": "(batch, R, L): ‖W_j(t) − W_j(0)‖_F/‖W_j(0)‖_F, W(0) as passed to the call",
    "balancedness": "(batch, R): max_j ‖W_{j+1}ᵀW_{j+1} − W_jW_jᵀ‖_F (0 for one layer); "
    "linear chains only",
    "balancedness_per_layer": "(batch, R, L−1): the per-layer gaps; linear chains only",
    "singular_values": "(batch, R, min(d_0, d_L)): singular values of α·W_{L:1}, "
    "non-increasing; linear chains only",
    "fisher_max_eigenvalue": "(batch, R): λ_max of the true Fisher of the call's loss (the GGN "
    "for cross-entropy) over every trained parameter, on record_data's inputs "
    "(metrics.fisher_max_eigenvalue with params='all')",
    "fisher_max_eigenvalue_weights": "(batch, R): the same over the weights only "
    "(params='weights')",
    "empirical_fisher_max_eigenvalue": "(batch, R): λ_max of the empirical Fisher on record_data's "
    "(X_probe, Y_probe) (fisher='empirical')",
    "ntk_relative_change": "(batch, R): ‖Θ(t) − Θ(0)‖_F/‖Θ(0)‖_F, Θ the empirical NTK on "
    "record_data's inputs, Θ(0) at the parameters passed to the call",
    "jacobian_max_singular_value": "(batch, R): max over record_data's inputs of σ_max(∂f(x)/∂x) "
    "(metrics.jacobian_max_singular_value, defaults)",
}

#: The recordable quantities measured on the probe set ``record_data``.
PROBE_RECORDABLE = (
    "fisher_max_eigenvalue",
    "fisher_max_eigenvalue_weights",
    "empirical_fisher_max_eigenvalue",
    "ntk_relative_change",
    "jacobian_max_singular_value",
)

#: The losses, with their default reduction over the examples of a step.
LOSSES = {"mse": "sum", "cross_entropy": "mean"}

#: The optimisers and the options each takes (every other optimiser refuses them).
OPTIMIZERS = {
    "gd": (),
    "sgd": ("momentum", "nesterov"),
    "adam": ("betas", "eps"),
    "adamw": ("betas", "eps"),
    "rmsprop": ("momentum", "eps", "decay", "centered"),
}

#: The parameter groups of ``train(lr=optim.Rates(...))`` and ``weight_decay``, each with the
#: tensors it holds ("base" is the rate every group left as None takes).
LR_GROUPS = {
    "base": "every Euclidean weight not in another group (hidden layers)",
    "manifold": "the weights of Stiefel and Oblique layers (their orthonormal factor)",
    "output": "the last layer's weights, when that layer is Euclidean",
    "biases": "the biases",
    "scales": "the learned scales of Stiefel and Oblique layers (learn_scale=True)",
}

#: The learning-rate schedules of ``train(lr_schedule=...)`` (made by ``deeplinear.optim``),
#: each with its parameters in order.
LR_SCHEDULES = {
    "constant": (),
    "step_decay": ("every", "factor"),
    "exponential_decay": ("rate", "every"),
    "warmup_cosine": ("decay_steps", "warmup_steps", "final"),
}

#: The hidden-layer nonlinearities φ (the output layer has none).
ACTIVATIONS = ("linear", "tanh", "relu", "erf")
#: Per-layer scales: s_j = 1 ("standard") or σ_w/√d_{j−1} ("ntk").
PARAMETERIZATIONS = ("standard", "ntk")
#: The geometry each layer is trained in.
MANIFOLDS = ("euclidean", "stiefel", "oblique")

#: The recordables only a linear chain (no biases, standard parameterisation) can give.
LINEAR_ONLY_RECORDABLE = ("balancedness", "balancedness_per_layer", "singular_values")
