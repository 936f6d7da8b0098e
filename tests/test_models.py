import pytest
import torch

from companion.models import MLP, SmallCNN, build_model


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_models_map_both_input_forms_to_the_same_logits(name):
    torch.manual_seed(0)
    model = build_model(name)
    x = torch.rand(7, 64)
    flat, image = model(x), model(x.reshape(7, 1, 8, 8))
    assert flat.shape == (7, 10)
    assert torch.allclose(flat, image)


def test_parameter_counts_match_the_chapter_text():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(MLP()) == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10 == 26_122
    assert count(SmallCNN()) == 160 + 2320 + 2570 == 5_050  # getting-started exercise
    assert count(MLP(hidden=(32,))) == 64 * 32 + 32 + 32 * 10 + 10


def test_models_reject_bad_inputs_and_arguments():
    with pytest.raises(ValueError, match=r"x must have shape \(N, 64\) or \(N, 1, 8, 8\), got \(2, 65\)"):
        MLP()(torch.rand(2, 65))
    with pytest.raises(TypeError, match="x must have a floating dtype, got torch.int64"):
        MLP()(torch.ones(2, 64, dtype=torch.int64))
    with pytest.raises(ValueError, match="must have 2 or 4 dimensions"):
        SmallCNN()(torch.rand(64))
    with pytest.raises(TypeError, match="hidden must be a sequence of ints, got int"):
        MLP(hidden=128)
    with pytest.raises(ValueError, match=r"hidden\[i\] must be >= 1, got 0"):
        MLP(hidden=(0,))
    with pytest.raises(ValueError, match=r"name must be one of \['cnn', 'mlp'\], got 'resnet'"):
        build_model("resnet")


def test_eval_mode_restores_every_submodule_not_only_the_outer_one():
    """A train-mode wrapper around an eval-mode model must leave the inner model in eval mode."""
    from companion.attacks import pgd
    from companion.boundary import labels_of
    from companion.models import eval_mode
    from companion.training import predict_logits

    inner = MLP()
    wrapper = torch.nn.Sequential(inner).train()
    inner.eval()  # .train() above is recursive: set the inner mode afterwards
    with eval_mode(wrapper):
        assert not wrapper.training and not inner.training
    assert wrapper.training and not inner.training
    x, y = torch.rand(4, 64), torch.arange(4)
    labels_of(wrapper)(x)
    predict_logits(wrapper, x)
    pgd(wrapper, x, y, eps=0.1, alpha=0.05, steps=1)
    assert wrapper.training and not inner.training


def test_eval_mode_leaves_a_model_already_in_eval_mode_alone():
    """No module's mode is set when nothing changes: an attack queries a model thousands of times."""
    from companion.models import eval_mode

    calls = []

    class Counting(MLP):
        def train(self, mode=True):
            calls.append(mode)
            return super().train(mode)

    model = Counting().eval()
    calls.clear()
    with eval_mode(model):
        assert not model.training
    assert calls == [] and not model.training
    model.train()
    with eval_mode(model):
        assert not any(m.training for m in model.modules())
    assert calls == [True, False] and all(m.training for m in model.modules())
