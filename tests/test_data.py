import pytest
import torch

from companion.data import Digits, batches, load_digits, to_images


def test_digits_shapes_ranges_and_split(digits):
    assert isinstance(digits, Digits)
    assert digits.x_train.shape == (1347, 64) and digits.x_test.shape == (450, 64)
    assert digits.x_train.dtype == torch.float32 and digits.y_train.dtype == torch.int64
    for x in (digits.x_train, digits.x_test):
        assert x.min() == 0.0 and x.max() == 1.0
    assert set(digits.y_test.tolist()) == set(range(10))
    assert digits.images_train.shape == (1347, 1, 8, 8)
    assert torch.equal(digits.images_test.reshape(450, 64), digits.x_test)


def test_split_is_fixed_by_the_seed_and_disjoint():
    a, b, c = load_digits(), load_digits(), load_digits(seed=1)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert len(a.x_train) + len(a.x_test) == 1797
    # Stratified: every class keeps its share (about 10%) in the test set.
    shares = torch.bincount(a.y_test, minlength=10).float() / len(a.y_test)
    assert shares.min() > 0.08 and shares.max() < 0.12


def test_tensors_are_copies_not_views_of_the_cache():
    a = load_digits()
    a.x_train[0, 0] = -7.0
    assert load_digits().x_train[0, 0] != -7.0


def test_to_images_accepts_both_forms_and_rejects_others():
    x = torch.rand(5, 64)
    assert to_images(x).shape == (5, 1, 8, 8)
    assert to_images(to_images(x)).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match=r"\(N, 64\) or \(N, 1, 8, 8\), got \(5, 63\)"):
        to_images(torch.rand(5, 63))
    with pytest.raises(ValueError, match="must have 2 or 4 dimensions"):
        to_images(torch.rand(64))
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got ndarray"):
        to_images(torch.rand(5, 64).numpy())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"test_fraction": 0.0}, ValueError, "strictly between 0 and 1"),
        ({"test_fraction": 1.5}, ValueError, "test_fraction must lie in"),
        ({"seed": -3}, ValueError, "seed must be an int >= 0, got -3"),
        ({"seed": 1.0}, TypeError, "seed must be an int >= 0, got float"),
    ],
)
def test_load_digits_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_digits(**kwargs)


def test_batches_cover_every_sample_once_in_a_seeded_order():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    plain = list(batches(x, y, 4))
    assert [len(b[1]) for b in plain] == [4, 4, 2]
    assert torch.equal(torch.cat([b[1] for b in plain]), y)

    def order(seed):
        shuffled = batches(x, y, 3, shuffle=True, seed=seed)
        return torch.cat([b[1] for b in shuffled])

    order_a, order_b = order(1), order(1)
    assert torch.equal(order_a, order_b) and sorted(order_a.tolist()) == list(range(10))
    assert not torch.equal(order_a, y)
    for xb, yb in batches(x, y, 3, shuffle=True, seed=torch.Generator().manual_seed(2)):
        assert torch.equal(xb.squeeze(1).long(), yb)  # inputs stay paired with their targets
    torch.manual_seed(4)  # seed=None: torch's global generator, as seed_everything seeds it
    global_order = torch.cat([b[1] for b in batches(x, y, 3, shuffle=True)])
    torch.manual_seed(4)
    assert torch.equal(global_order, torch.randperm(10))


def test_batches_rejects_bad_arguments():
    x, y = torch.rand(4, 2), torch.arange(4)
    with pytest.raises(ValueError, match="same number of samples, got 4 and 3"):
        next(batches(x, y[:3], 2))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        next(batches(x, y, 0))
    with pytest.raises(TypeError, match="seed must be an int >= 0, a torch.Generator or None, got str"):
        next(batches(x, y, 2, shuffle=True, seed="1"))
