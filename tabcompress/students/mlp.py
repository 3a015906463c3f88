"""A small multilayer perceptron, trained with torch, served with numpy.

Training uses torch (CPU or CUDA). The fitted student keeps only numpy weight arrays, so loading and
predicting with it needs neither torch nor a GPU — and small batches run faster without torch's
per-call overhead.

With ``adversarial=True`` a classification student is also trained against a small discriminator, as in
KDGAN (Wang, Zhang, Zhang & Qi, "KDGAN: Knowledge Distillation with Generative Adversarial Networks",
NeurIPS 2018) with the teacher frozen: only the student and the discriminator learn. The discriminator
is training-time only; the fitted student holds the same numpy weights as without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from tabcompress.config import Flag, Number, OneOf, Whole, Widths, parameter
from tabcompress.errors import SettingError
from tabcompress.students.base import Student
from tabcompress.students.encoding import TabularEncoder

if TYPE_CHECKING:
    import pandas as pd


def resolve_device(device: str) -> str:
    """``auto`` → ``cuda`` when a GPU is usable, else ``cpu``; ``cuda`` without one is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise SettingError("device", "cuda: no CUDA GPU is available to torch on this machine (use cpu or auto)")
    if device not in ("cpu", "cuda"):
        raise SettingError("device", f"must be one of auto, cpu, cuda, got {device!r}")
    return device


@dataclass(eq=False, repr=False)  # the estimator's repr (students/estimator.py) and equality by identity
class MLPStudent(Student):
    """Multilayer perceptron student.

    Classification: softmax outputs trained with cross-entropy against the teacher's probabilities.
    Regression: one linear output trained with mean squared error on the standardised target.
    Early stopping watches the loss on ``validation_fraction`` of the training rows.

    Adversarial training (``adversarial=True``, classification only): a discriminator with one hidden
    layer of ``discriminator_hidden`` units learns to tell (encoded row, teacher label) pairs from
    (encoded row, student label) pairs, where a label is a Gumbel-softmax sample at temperature τ from
    the teacher's probabilities or from the student's logits; τ falls geometrically, epoch by epoch,
    from ``temperature_start`` to ``temperature_end`` over ``max_epochs``. The student minimises the
    distillation loss plus ``adversarial_weight`` × −log D(row, student label); discriminator and
    student take turns, one step each per batch. Early stopping still watches the distillation loss
    alone. After fitting, ``adversarial_`` holds the run's facts (None when off). The default weight, 0.5,
    was the better of 0.1 and 0.5 in a small trial (bench/adversarial_trial.py), within noise of plain.
    """

    name = "mlp"
    sizes = ({"hidden": (16,)}, {"hidden": (32, 32)}, {"hidden": (64, 64)}, {"hidden": (128, 128)})
    uses_torch = True
    takes_time_limit = True
    hidden: Sequence[int] = parameter((64, 64), Widths())
    max_epochs: int = parameter(200, Whole(1))
    patience: int = parameter(10, Whole(1))
    batch_size: int = parameter(512, Whole(1))
    learning_rate: float = parameter(1e-3, Number(0.0, open_low=True))
    weight_decay: float = parameter(0.0, Number(0.0))
    validation_fraction: float = parameter(0.1, Number(0.0, 1.0, open_high=True))
    device: str = parameter("auto", OneOf(("auto", "cpu", "cuda")))
    random_state: int | None = parameter(None, Whole(0, 2**32 - 1, none=True))
    time_limit: float | None = parameter(None, Number(0.0, open_low=True, none=True))
    threads: int | None = parameter(1, Whole(1, none=True))
    adversarial: bool = parameter(False, Flag())
    adversarial_weight: float = parameter(0.5, Number(0.0))
    temperature_start: float = parameter(1.0, Number(0.0, open_low=True))
    temperature_end: float = parameter(0.1, Number(0.0, open_low=True))
    discriminator_hidden: int = parameter(64, Whole(1))
    discriminator_learning_rate: float | None = parameter(None, Number(0.0, open_low=True, none=True))

    @classmethod
    def from_settings(cls, settings, *, device=None, time_limit=None) -> "MLPStudent":
        s = settings.student
        return cls(hidden=tuple(s.hidden), device=device or settings.device, random_state=settings.seed,
                   time_limit=time_limit, adversarial=s.adversarial, adversarial_weight=s.adversarial_weight,
                   temperature_start=s.temperature_start, temperature_end=s.temperature_end)

    @classmethod
    def size_of(cls, settings) -> dict[str, tuple[int, ...]]:
        return {"hidden": tuple(settings.student.hidden)}

    # -- fitting -------------------------------------------------------------------------------
    def _fit(self, X: pd.DataFrame, targets: np.ndarray, sample_weight: np.ndarray | None) -> None:
        import torch

        self._check_adversarial()
        self.encoder_ = TabularEncoder(self.categorical_, numeric="standardize", categories="onehot")
        Z = self.encoder_.fit(X).transform(X, dtype=np.float32)
        if self.task_ == "regression":
            self.target_mean_ = float(np.mean(targets))
            self.target_scale_ = float(np.std(targets)) or 1.0
            T = ((targets - self.target_mean_) / self.target_scale_).astype(np.float32)[:, None]
        else:
            T = targets.astype(np.float32)
        self.device_ = resolve_device(self.device)

        device = torch.device(self.device_)
        # One intra-op thread by default: a network this small gains nothing from more, and on a busy
        # machine torch's threads wait on each other at every operation (docs/measurements.md, "Threads and memory").
        threads_before = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(int(self.threads))
        try:
            W = None if sample_weight is None else (sample_weight / sample_weight.mean()).astype(np.float32)
            history, net = self._train_network(torch, Z, T, W, device)
        finally:
            torch.set_num_threads(threads_before)
        self.stop_reason_ = history.pop("stop_reason")
        self.adversarial_ = history.pop("adversarial", None)
        self.history_ = history
        self.n_epochs_ = len(history["train_loss"])
        self.weights_ = [(layer.weight.detach().cpu().numpy().T.copy(), layer.bias.detach().cpu().numpy().copy())
                         for layer in net if isinstance(layer, torch.nn.Linear)]

    def _train_network(self, torch, Z: np.ndarray, T: np.ndarray, W: np.ndarray | None,
                       device) -> tuple[dict[str, Any], Any]:
        seed = 0 if self.random_state is None else int(self.random_state)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(Z))
        n_val = int(round(self.validation_fraction * len(Z))) if len(Z) >= 20 else 0
        val_idx, train_idx = order[:n_val], order[n_val:]
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            net = _build_network(Z.shape[1], list(self.hidden), T.shape[1]).to(device)
            adversary = None
            if self.adversarial:
                # Built after the student, from the same seeded stream, so the run is reproducible.
                adversary = _Adversary(Z.shape[1], T.shape[1], hidden=int(self.discriminator_hidden),
                                       lr=self.discriminator_learning_rate or self.learning_rate,
                                       weight=float(self.adversarial_weight),
                                       temperature_start=float(self.temperature_start),
                                       temperature_end=float(self.temperature_end),
                                       max_epochs=self.max_epochs, device=device)
            history = _train(net, Z, T, W, train_idx, val_idx, task=self.task_, device=device,
                             max_epochs=self.max_epochs, patience=self.patience,
                             batch_size=self.batch_size, lr=self.learning_rate,
                             weight_decay=self.weight_decay, seed=seed, time_limit=self.time_limit,
                             adversary=adversary)
        return history, net

    def check_parameters(self) -> None:
        super().check_parameters()
        if self.temperature_end > self.temperature_start:
            raise SettingError("temperature_end", f"must be at most the start temperature "
                                                  f"({self.temperature_start:g}), got {self.temperature_end:g}")

    def _check_adversarial(self) -> None:
        """Adversarial training relaxes class labels (Gumbel-softmax): it needs a classification teacher."""
        if self.adversarial and self.task_ == "regression":
            raise SettingError("adversarial", "needs a classification teacher (Gumbel-softmax relaxes class "
                                              "labels); this teacher is a regressor")

    # -- prediction (numpy only) ---------------------------------------------------------------
    def _predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        # In double precision, from the float32 weights torch trained: the exported student (ONNX, C,
        # Python) computes the same, so their classes agree even on near ties.
        h = self.encoder_.transform(X)
        for i, (W, b) in enumerate(self.weights_):
            h = h @ W.astype(np.float64) + b.astype(np.float64)
            if i < len(self.weights_) - 1:
                np.maximum(h, 0.0, out=h)
        if self.task_ == "regression":
            return h[:, 0] * self.target_scale_ + self.target_mean_
        h = h - h.max(axis=1, keepdims=True)
        e = np.exp(h)
        return e / e.sum(axis=1, keepdims=True)

    def _portable_model(self) -> tuple[dict, dict]:
        from tabcompress.students.portable import floats, output

        model = {"kind": "dense", "layers": [{"weight": floats(W), "bias": floats(b)} for W, b in self.weights_]}
        if self.task_ == "regression":
            return model, output(self.task_, "identity", scale=self.target_scale_, shift=self.target_mean_)
        return model, output(self.task_, "softmax")

    def _complexity(self) -> dict[str, int]:
        params = sum(W.size + b.size for W, b in self.weights_)
        return {"n_parameters": int(params), "n_inputs": int(self.weights_[0][0].shape[0]),
                "n_layers": len(self.weights_)}


def _build_network(n_in: int, hidden: list[int], n_out: int):
    import torch

    layers: list[torch.nn.Module] = []
    width = n_in
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, n_out))
    return torch.nn.Sequential(*layers)


def _train(net, Z, T, W, train_idx, val_idx, *, task, device, max_epochs, patience, batch_size, lr,
           weight_decay, seed, time_limit=None, adversary: "_Adversary | None" = None) -> dict[str, Any]:
    """Adam with early stopping on the validation loss; the best weights are kept. With
    ``time_limit``, training also stops after the epoch that would overrun it (judged by the mean epoch
    time so far), so a run planned under ``--time-budget`` keeps to it; which epoch that is depends on
    the machine's speed, so such a fit is not reproducible to the bit — the report records it.

    With ``adversary``, each batch also takes a discriminator step and adds the adversary's term to the
    student's loss; ``train_loss`` and ``val_loss`` stay the distillation loss alone."""
    import time

    import torch

    def loss_fn(out, target, weight):
        if task == "regression":
            per_row = ((out - target) ** 2).sum(dim=1)
        else:  # cross-entropy against soft targets: -sum p_teacher * log p_student
            per_row = -(target * torch.log_softmax(out, dim=1)).sum(dim=1)
        if weight is None:
            return per_row.mean()
        return (per_row * weight).sum() / weight.sum().clamp_min(1e-12)

    Zt = torch.from_numpy(Z).to(device)
    Tt = torch.from_numpy(T).to(device)
    Wt = None if W is None else torch.from_numpy(W).to(device)

    def weight_of(batch):
        return None if Wt is None else Wt[batch]
    tr = torch.from_numpy(train_idx).to(device)
    va = torch.from_numpy(val_idx).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    shuffler = torch.Generator(device="cpu").manual_seed(seed)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": []}
    best, best_state, stale = float("inf"), None, 0
    stop_reason = "max_epochs"
    started = time.perf_counter()
    for epoch in range(max_epochs):
        if time_limit is not None and epoch > 0:
            elapsed = time.perf_counter() - started
            if elapsed + elapsed / epoch > time_limit:
                stop_reason = "time_limit"
                break
        net.train()
        if adversary is not None:
            adversary.start_epoch(epoch)
        perm = tr[torch.randperm(len(tr), generator=shuffler).to(device)]
        total = 0.0
        for start in range(0, len(perm), batch_size):
            batch = perm[start:start + batch_size]
            optimizer.zero_grad(set_to_none=True)
            out = net(Zt[batch])
            loss = loss_fn(out, Tt[batch], weight_of(batch))
            if adversary is None:
                loss.backward()
            else:
                (loss + adversary.student_term(Zt[batch], out, Tt[batch], weight_of(batch))).backward()
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        history["train_loss"].append(total / max(len(perm), 1))
        if adversary is not None:
            adversary.end_epoch()
        if len(va) == 0:
            continue
        net.eval()
        with torch.no_grad():
            val, mass = 0.0, 0.0
            for start in range(0, len(va), 65536):
                batch = va[start:start + 65536]
                weight = weight_of(batch)
                share = float(len(batch)) if weight is None else float(weight.sum())
                val += float(loss_fn(net(Zt[batch]), Tt[batch], weight)) * share
                mass += share
            val /= max(mass, 1e-12)
        history["val_loss"].append(val)
        if val < best - 1e-6:
            best, stale = val, 0
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            stale += 1
            if stale >= patience:
                stop_reason = "early_stop"
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    if adversary is not None:
        return {**history, "stop_reason": stop_reason, "adversarial": adversary.facts(history)}
    return {**history, "stop_reason": stop_reason}


def _weighted_mean(per_row, weight):
    if weight is None:
        return per_row.mean()
    return (per_row * weight).sum() / weight.sum().clamp_min(1e-12)


class _Adversary:
    """The discriminator of adversarial training and its optimiser, schedule and running figures.

    A pair is (encoded row, label distribution). Real labels are Gumbel-softmax samples from the
    teacher's probabilities, fake ones from the student's logits, both at the same temperature: were
    the teacher's probabilities shown as they are, the discriminator could tell them from the
    student's near one-hot samples by their sharpness alone, whatever the student predicts.
    """

    def __init__(self, n_in: int, n_classes: int, *, hidden: int, lr: float, weight: float,
                 temperature_start: float, temperature_end: float, max_epochs: int, device):
        import torch

        self.net = torch.nn.Sequential(torch.nn.Linear(n_in + n_classes, hidden), torch.nn.LeakyReLU(0.2),
                                       torch.nn.Linear(hidden, 1)).to(device)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=lr, betas=(0.5, 0.999))
        self.weight = weight
        self.temperature_start, self.temperature_end = temperature_start, temperature_end
        self.max_epochs = max_epochs
        self.temperature = temperature_start
        self.history: dict[str, list[float]] = {"temperature": [], "discriminator_loss": [],
                                                "discriminator_accuracy": [], "adversarial_loss": []}

    def start_epoch(self, epoch: int) -> None:
        # Geometric steps from start to end over the planned epochs; an early stop ends it warmer.
        share = epoch / max(self.max_epochs - 1, 1)
        self.temperature = self.temperature_start * (self.temperature_end / self.temperature_start) ** share
        self._sums = {"discriminator_loss": 0.0, "discriminator_accuracy": 0.0, "adversarial_loss": 0.0}
        self._rows = 0

    def student_term(self, x, logits, teacher, weight):
        """Take one discriminator step on this batch, then return λ × −log D(x, student sample)."""
        import torch
        import torch.nn.functional as F

        fake = F.gumbel_softmax(logits, tau=self.temperature)
        real = F.gumbel_softmax(torch.log(teacher.clamp_min(1e-12)), tau=self.temperature)
        real_logit = self.net(torch.cat([x, real], dim=1)).squeeze(1)
        fake_logit = self.net(torch.cat([x, fake.detach()], dim=1)).squeeze(1)
        d_loss = (_weighted_mean(F.softplus(-real_logit), weight)      # −log D(real)
                  + _weighted_mean(F.softplus(fake_logit), weight))    # −log (1 − D(fake))
        self.optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        self.optimizer.step()

        # Non-saturating generator loss against the updated discriminator; its weights are frozen
        # meanwhile so the student's backward pass leaves them alone.
        self.net.requires_grad_(False)
        g_loss = _weighted_mean(F.softplus(-self.net(torch.cat([x, fake], dim=1)).squeeze(1)), weight)
        self.net.requires_grad_(True)

        n = len(x)
        accuracy = 0.5 * (float((real_logit > 0).float().mean()) + float((fake_logit < 0).float().mean()))
        self._sums["discriminator_loss"] += float(d_loss.detach()) * n
        self._sums["discriminator_accuracy"] += accuracy * n
        self._sums["adversarial_loss"] += float(g_loss.detach()) * n
        self._rows += n
        return self.weight * g_loss

    def end_epoch(self) -> None:
        self.history["temperature"].append(self.temperature)
        for key, total in self._sums.items():
            self.history[key].append(total / max(self._rows, 1))

    def facts(self, history: dict[str, list[float]]) -> dict[str, Any]:
        """What a report shows: the settings, how far the schedule went, the last epoch's figures."""
        val = history.get("val_loss") or []
        last = {key: (values[-1] if values else None) for key, values in self.history.items()}
        return {"weight": self.weight, "temperature_start": self.temperature_start,
                "temperature_end": self.temperature_end, "temperature_final": last["temperature"],
                "epochs": len(self.history["temperature"]),
                "best_epoch": int(np.argmin(val)) + 1 if val else len(self.history["temperature"]),
                "discriminator_accuracy": last["discriminator_accuracy"],
                "discriminator_loss": last["discriminator_loss"], "adversarial_loss": last["adversarial_loss"],
                "history": {key: [float(v) for v in values] for key, values in self.history.items()}}
