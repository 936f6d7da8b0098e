"""PGD: companion.attacks.pgd against torchattacks' PGD on the same model, inputs and settings.

torchattacks is not a dependency of the course: its metadata requires torchvision (which
cannot be installed beside the pinned CPU torch here) and an old requests. Its PGD itself
needs neither, so install it without dependencies to run this comparison:

    .venv/bin/pip install --no-deps torchattacks==3.5.1
    .venv/bin/python benchmarks/pgd_vs_torchattacks.py

Both attacks: L-infinity, 20 steps of 2.5 * eps / 20, random start, the standard digits MLP
and the 450 test digits, one CPU thread. Random starts differ (each library draws its own),
so the robust accuracies are compared, not the points. Prints a Markdown table.
"""

import torch
import torchattacks

import companion
from companion import attacks, data, training

companion.seed_everything(0)
digits = data.load_digits()
model, _ = training.train_classifier(digits, "mlp")
x, y = digits.x_test, digits.y_test
steps = 20
print("| eps | robust accuracy, ours | robust accuracy, torchattacks | difference (points) |")
print("|---:|---:|---:|---:|")
for eps in (0.05, 0.1, 0.2):
    alpha = 2.5 * eps / steps
    ours = attacks.pgd(model, x, y, eps, alpha, steps, seed=0)
    torch.manual_seed(0)
    theirs = torchattacks.PGD(model, eps=eps, alpha=alpha, steps=steps, random_start=True)(x, y)
    ours_acc = 1 - ours.success_rate
    theirs_acc = training.accuracy(model, theirs, y)
    print(f"| {eps} | {ours_acc:.3f} | {theirs_acc:.3f} | {100 * (ours_acc - theirs_acc):+.1f} |")
