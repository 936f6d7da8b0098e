"""Boundary attack: companion.boundary vs Foolbox 3.3.4's BoundaryAttack at equal query budgets.

Same model (the standard digits MLP), the same 100 correctly classified test digits, one CPU
thread. For each of our step counts, Foolbox gets as many steps as makes its number of model
calls (batch forward passes = queries per sample) match our mean queries per sample.
Wall time: best of 3 runs. A last row runs Foolbox once with its default 25,000 steps (our
attack's distance stalls from about 3,000 steps on; Foolbox's adapts more slowly and keeps going).
Usage: python benchmarks/boundary_vs_foolbox.py
"""

import functools
import time

import foolbox
import torch
from torch import nn

from companion import boundary, data, training

torch.set_num_threads(1)


class Counting(nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model, self.calls = model, 0

    def forward(self, x):
        self.calls += 1
        return self.model(x)


def best_of(n, run):
    times, out = [], None
    for _ in range(n):
        start = time.perf_counter()
        out = run()
        times.append(time.perf_counter() - start)
    return min(times), out


digits = data.load_digits()
model, _ = training.train_classifier(digits, "mlp")
x, y = boundary.attack_set({"standard": model}, digits.x_test, digits.y_test, 100)
print(
    "| our steps | queries/sample (ours) | queries/sample (Foolbox) | median L2 ours | median L2 Foolbox "
    "| success ours / Foolbox | time ours (s) | time Foolbox (s) |"
)
print("|---:|---:|---:|---:|---:|---:|---:|---:|")


def run_ours(steps):
    return boundary.boundary_attack(boundary.labels_of(model), x, y, steps, seed=0)


def run_foolbox(counter, steps):
    counter.calls = 0
    torch.manual_seed(0)
    fmodel = foolbox.PyTorchModel(counter, bounds=(0, 1))
    return foolbox.attacks.BoundaryAttack(steps=steps)(fmodel, x, y, epsilons=None)


for steps in (300, 1000, 1500, 3000, 6000):
    t_ours, ours = best_of(3, functools.partial(run_ours, steps))
    budget = ours.queries.float().mean().item()
    counter = Counting(model).eval()
    f_steps = max(1, int((budget - 60) / 1.1))  # about 60 calls to start, then 1.1 per step
    t_fb, (_, theirs, success) = best_of(3, functools.partial(run_foolbox, counter, f_steps))
    print(
        f"| {steps} | {budget:.0f} | {counter.calls} | {ours.l2.median():.3f} | "
        f"{(theirs - x).norm(dim=1).median():.3f} | {ours.success_rate:.2f} / {success.float().mean():.2f} "
        f"| {t_ours:.2f} | {t_fb:.2f} |"
    )

counter = Counting(model).eval()
start = time.perf_counter()
_, theirs, success = run_foolbox(counter, 25_000)  # Foolbox's default number of steps
print(
    f"| Foolbox default | - | {counter.calls} | - | {(theirs - x).norm(dim=1).median():.3f} "
    f"| - / {success.float().mean():.2f} | - | {time.perf_counter() - start:.2f} |"
)
