"""Specification of ``course_utils``, the helpers the notebooks import.

One behaviour per test, named for it. Plots use the Agg backend and are closed after each test;
nothing here needs a kernel, a display, a GPU or a network.
"""
from __future__ import annotations

import os
import random
import re

os.environ.setdefault("MPLBACKEND", "Agg")  # before matplotlib is imported anywhere below

import matplotlib

matplotlib.use("Agg")

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.collections import PathCollection

from course_utils import data, device, plotting
from course_utils import widgets as course_widgets
from course_utils.checks import check_array, check_close, check_equal, check_shape, check_true, compare
from course_utils.gradcheck import grad_check, numeric_gradient, rel_error, torch_grad_check


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def restore_torch_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def failure_message(check, *args, **kwargs) -> str:
    """Run a check that must fail and return its message."""
    with pytest.raises(AssertionError) as excinfo:
        check(*args, **kwargs)
    return str(excinfo.value)


# checks.check_close


def test_check_close_passes_within_tolerance():
    expected = np.array([1.0, -2.0, 3.0])
    check_close("x", expected + 0.5 * (1e-3 + 1e-2 * np.abs(expected)), expected, rtol=1e-2, atol=1e-3)


def test_check_close_fails_just_outside_tolerance():
    expected = np.array([1.0, -2.0, 3.0])
    got = expected + 2.0 * (1e-3 + 1e-2 * np.abs(expected))
    with pytest.raises(AssertionError):
        check_close("x", got, expected, rtol=1e-2, atol=1e-3)


def test_check_close_default_tolerance_accepts_float64_rounding():
    expected = np.array([0.1, 0.2, 0.3])
    check_close("x", np.array([0.1, 0.2, 0.1 + 0.2]), expected)


def test_check_close_message_names_argument_first_index_values_and_max_diff():
    expected = np.zeros((2, 3))
    got = expected.copy()
    got[0, 1] = 0.25
    got[1, 2] = -0.75
    message = failure_message(check_close, "dW", got, expected)
    assert message.startswith("dW: ")
    assert "2 of 6 entries differ" in message
    assert "first at index (0, 1): got 0.25, expected 0." in message
    assert "max abs diff 0.75" in message


def test_check_close_message_includes_hint():
    message = failure_message(check_close, "z", [1.0], [2.0], hint="sigmoid(z) = 1 / (1 + exp(-z))")
    assert message.endswith("Hint: sigmoid(z) = 1 / (1 + exp(-z))")


def test_check_close_message_has_no_hint_line_without_hint():
    assert "Hint" not in failure_message(check_close, "z", [1.0], [2.0])


def test_check_close_reports_shape_mismatch():
    message = failure_message(check_close, "out", np.zeros((2, 3)), np.zeros((4, 5)))
    assert "out: shape (2, 3), expected (4, 5)." in message
    assert "transpose or reshape" not in message


def test_check_close_shape_mismatch_with_same_size_suggests_transpose_or_reshape():
    message = failure_message(check_close, "out", np.zeros((2, 3)), np.zeros((3, 2)))
    assert "shape (2, 3), expected (3, 2)." in message
    assert "transpose or reshape" in message


def test_check_close_none_asks_whether_return_was_forgotten():
    message = failure_message(check_close, "probs", None, [0.5, 0.5])
    assert message.startswith("probs: got None")
    assert "forget to `return`" in message


def test_check_close_reports_nan_as_nan():
    message = failure_message(check_close, "loss", [1.0, np.nan, 2.0], [1.0, 1.5, 2.0])
    assert "nan or inf" in message
    assert "first at index (1,): got nan, expected 1.5." in message


def test_check_close_reports_inf_as_inf():
    message = failure_message(check_close, "softmax", [np.inf, 0.0], [1.0, 0.0])
    assert "nan or inf" in message
    assert "got inf" in message


def test_check_close_accepts_nan_where_nan_is_expected():
    check_close("x", [np.nan, 1.0], [np.nan, 1.0])


def test_check_close_remarks_on_flipped_sign():
    expected = np.array([[0.4, -0.1], [2.0, 0.3]])
    assert "opposite sign" in failure_message(check_close, "dx", -expected, expected)


def test_check_close_remarks_on_transposed_square_result():
    expected = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert "transposed" in failure_message(check_close, "W", expected.T, expected)


def test_check_close_accepts_torch_tensors():
    check_close("t", torch.tensor([1.0, 2.0], dtype=torch.float64), np.array([1.0, 2.0]))
    check_close("t", np.array([1.0, 2.0]), torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_check_close_accepts_tensor_that_requires_grad():
    got = torch.tensor([0.5, 1.5], dtype=torch.float64, requires_grad=True) * 2
    check_close("y", got, [1.0, 3.0])


def test_check_close_accepts_lists_and_scalars():
    check_close("list", [1.0, 2.0], np.array([1.0, 2.0]))
    check_close("scalar", 0.5, 0.5)
    check_close("numpy scalar", np.float64(0.5), 0.5)


def test_check_close_scalar_failure_has_no_index():
    message = failure_message(check_close, "loss", 2.5, 2.0)
    assert "got 2.5, expected 2." in message
    assert "index" not in message


def test_check_close_reports_non_numbers_as_such():
    assert "could not read the result as numbers" in failure_message(check_close, "y", ["a", "b"], [1.0, 2.0])


def test_check_close_reports_ragged_lists_as_non_numbers():
    assert "could not read the result as numbers" in failure_message(check_close, "y", [[1.0, 2.0], [3.0]], [1.0, 2.0])


# checks.check_equal


def test_check_equal_passes_for_equal_ints():
    check_equal("n", 3, 3)


def test_check_equal_fails_for_different_ints_with_both_values():
    assert failure_message(check_equal, "n", 3, 4) == "n: got 3, expected 4."


def test_check_equal_passes_for_equal_tuples():
    check_equal("shape", (2, 3), (2, 3))


def test_check_equal_tuple_failure_names_first_differing_index():
    message = failure_message(check_equal, "shape", (2, 4, 5), (2, 3, 6))
    assert "2 of 3 entries differ; first at index (1,): got 4, expected 3." in message


def test_check_equal_array_failure_names_first_differing_index():
    expected = np.arange(6).reshape(2, 3)
    got = expected.copy()
    got[1, 0] = 9
    message = failure_message(check_equal, "labels", got, expected)
    assert "1 of 6 entries differ; first at index (1, 0): got 9, expected 3." in message


def test_check_equal_reports_array_shape_mismatch():
    assert "shape (3,), expected (4,)." in failure_message(check_equal, "y", np.zeros(3, int), np.zeros(4, int))


def test_check_equal_passes_for_equal_arrays():
    check_equal("labels", np.array([0, 1, 2]), np.array([0, 1, 2]))


def test_check_equal_includes_hint():
    assert failure_message(check_equal, "k", 1, 2, hint="count from zero").endswith("Hint: count from zero")


# checks.check_shape, check_true, check_array


def test_check_shape_passes_for_matching_shape():
    check_shape("x", np.zeros((2, 3)), (2, 3))
    check_shape("t", torch.zeros(4, 1), (4, 1))
    check_shape("list", [[1, 2, 3]], (1, 3))


def test_check_shape_fails_with_both_shapes():
    assert failure_message(check_shape, "x", np.zeros((2, 3)), (3, 2)) == "x: shape (2, 3), expected (3, 2)."


def test_check_shape_none_asks_whether_return_was_forgotten():
    assert "forget to `return`" in failure_message(check_shape, "x", None, (2,))


def test_check_true_passes_when_condition_holds():
    check_true(True, "never shown")


def test_check_true_fails_with_message_and_hint():
    assert failure_message(check_true, False, "probabilities must sum to 1", hint="normalise") == (
        "probabilities must sum to 1\n  Hint: normalise"
    )


def test_check_array_returns_the_array():
    x = np.ones(3)
    assert check_array("x", x) is x


def test_check_array_rejects_a_list_naming_its_type():
    assert "expected a NumPy array, got list." in failure_message(check_array, "x", [1, 2])


def test_check_array_none_asks_whether_return_was_forgotten():
    assert "forget to `return`" in failure_message(check_array, "x", None)


# checks.compare


def test_compare_prints_one_line_in_documented_format(capsys):
    close = compare("dW1", [1.0, 2.0], [1.0, 2.0 + 3.1e-9])
    out = capsys.readouterr().out
    assert out == "dW1".ljust(12) + " | exact: False | close: True  | max abs diff: 3.1e-09\n"
    assert close is True


def test_compare_reports_exact_match(capsys):
    assert compare("b", np.ones(3), np.ones(3)) is True
    assert "exact: True  | close: True " in capsys.readouterr().out


def test_compare_returns_false_when_not_close(capsys):
    assert compare("W", [1.0, 2.0], [1.0, 2.5]) is False
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "close: False | max abs diff: 5.0e-01" in out


def test_compare_reports_shape_mismatch_and_returns_false(capsys):
    assert compare("W", np.zeros((2, 3)), np.zeros((3, 2))) is False
    assert "shape (2, 3) vs expected (3, 2)" in capsys.readouterr().out


# gradcheck.numeric_gradient


def test_numeric_gradient_of_sum_of_squares_is_twice_x():
    x = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(numeric_gradient(lambda v: np.sum(v**2), x), 2 * x, rtol=1e-8, atol=1e-8)


def test_numeric_gradient_weights_array_output_by_dout():
    rng = np.random.default_rng(1)
    x, dout = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    np.testing.assert_allclose(numeric_gradient(lambda v: v**2, x, dout), 2 * x * dout, rtol=1e-7, atol=1e-8)


def test_numeric_gradient_without_dout_sums_array_output():
    x = np.random.default_rng(2).standard_normal((2, 3))
    np.testing.assert_allclose(numeric_gradient(np.sin, x), np.cos(x), rtol=1e-7, atol=1e-9)


def test_numeric_gradient_of_matrix_product_is_dout_times_w_transposed():
    rng = np.random.default_rng(3)
    x, W, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(numeric_gradient(lambda v: v @ W, x, dout), dout @ W.T, rtol=1e-7, atol=1e-9)


def test_numeric_gradient_restores_x_exactly():
    x = np.random.default_rng(4).standard_normal((3, 3))
    before = x.copy()
    numeric_gradient(lambda v: np.sum(v**3), x)
    assert np.array_equal(x, before)


def test_numeric_gradient_restores_x_when_f_raises():
    x = np.array([1.0, 2.0])

    def broken(v):
        raise RuntimeError("bug in the student's forward pass")

    with pytest.raises(RuntimeError):
        numeric_gradient(broken, x)
    assert np.array_equal(x, [1.0, 2.0])


# gradcheck.grad_check and rel_error


def test_grad_check_passes_on_correct_gradient_and_returns_small_error(capsys):
    x = np.random.default_rng(5).standard_normal((2, 3))
    error = grad_check("dx", 2 * x, lambda v: np.sum(v**2), x)
    assert error < 1e-7
    assert capsys.readouterr().out.startswith("dx      | rel error: ")


def test_grad_check_is_silent_when_not_verbose(capsys):
    x = np.random.default_rng(5).standard_normal((2, 3))
    grad_check("dx", 2 * x, lambda v: np.sum(v**2), x, verbose=False)
    assert capsys.readouterr().out == ""


def test_grad_check_failure_names_worst_entry():
    x = np.random.default_rng(6).standard_normal((2, 3)) + 3.0
    analytic = 2 * x
    analytic[1, 2] += 10.0
    message = failure_message(grad_check, "dx", analytic, lambda v: np.sum(v**2), x, verbose=False)
    assert message.startswith("gradient check failed: dx")
    assert "worst dx[1, 2]" in message
    assert f"analytic {analytic[1, 2]:.6g}" in message


def test_grad_check_hints_at_flipped_sign():
    x = np.random.default_rng(7).standard_normal((2, 3))
    message = failure_message(grad_check, "dx", -2 * x, lambda v: np.sum(v**2), x, verbose=False)
    assert "sign is flipped" in message


def test_grad_check_hints_at_all_zero_gradient():
    x = np.random.default_rng(8).standard_normal((2, 3))
    message = failure_message(grad_check, "dx", np.zeros_like(x), lambda v: np.sum(v**2), x, verbose=False)
    assert "all zeros" in message


def test_grad_check_reports_shape_mismatch():
    x = np.zeros((2, 3))
    message = failure_message(grad_check, "dx", np.zeros((3, 2)), lambda v: np.sum(v**2), x, verbose=False)
    assert message == "dx: shape (3, 2), expected (2, 3) (the shape of the input)."


def test_grad_check_none_asks_whether_return_was_forgotten():
    message = failure_message(grad_check, "dx", None, lambda v: np.sum(v**2), np.ones(2), verbose=False)
    assert "forget to return" in message


def test_rel_error_of_identical_arrays_is_zero():
    assert rel_error([1.0, -2.0], [1.0, -2.0]) == 0.0


def test_rel_error_is_largest_entrywise_relative_error():
    # |1 - 3| / (1 + 3) = 0.5 beats |10 - 11| / 21
    assert rel_error([1.0, 10.0], [3.0, 11.0]) == pytest.approx(0.5)


def test_rel_error_of_zeros_is_zero():
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0


def test_rel_error_of_empty_arrays_is_zero():
    assert rel_error([], []) == 0.0


# gradcheck.torch_grad_check


def test_torch_grad_check_passes_for_linear_layer():
    torch.manual_seed(0)
    assert torch_grad_check(torch.nn.Linear(3, 2), torch.randn(4, 3)) is True


def test_torch_grad_check_leaves_the_module_dtype_alone():
    layer = torch.nn.Linear(3, 2)
    torch_grad_check(layer, torch.randn(4, 3))
    assert layer.weight.dtype == torch.float32
    layer(torch.randn(1, 3))  # still usable with float32 inputs


def test_torch_grad_check_flags_a_wrong_backward():
    class WrongSquare(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**2

        @staticmethod
        def backward(ctx, dout):
            (x,) = ctx.saved_tensors
            return dout * x  # should be 2 * x

    class Square(torch.nn.Module):
        def forward(self, x):
            return WrongSquare.apply(x)

    try:
        ok = torch_grad_check(Square(), torch.randn(3))
    except RuntimeError:  # torch's GradcheckError
        ok = False
    assert ok is False


# device


@pytest.mark.usefixtures("restore_torch_threads")
def test_configure_threads_reads_course_num_threads(monkeypatch):
    monkeypatch.setenv("COURSE_NUM_THREADS", "3")
    assert device.configure_threads() == 3
    assert torch.get_num_threads() == 3


@pytest.mark.usefixtures("restore_torch_threads")
def test_configure_threads_defaults_to_two(monkeypatch):
    monkeypatch.delenv("COURSE_NUM_THREADS", raising=False)
    assert device.configure_threads() == 2
    assert torch.get_num_threads() == 2


@pytest.mark.usefixtures("restore_torch_threads")
@pytest.mark.parametrize("raw", ["0", "-1", "two", "2.5", ""])
def test_configure_threads_rejects_invalid_value_naming_the_variable(monkeypatch, raw):
    monkeypatch.setenv("COURSE_NUM_THREADS", raw)
    with pytest.raises(ValueError, match=re.escape(f"COURSE_NUM_THREADS must be a positive integer, got {raw!r}")):
        device.configure_threads()


def test_seed_everything_makes_python_random_reproducible():
    device.seed_everything(123)
    first = [random.random() for _ in range(3)]
    device.seed_everything(123)
    assert [random.random() for _ in range(3)] == first


def test_seed_everything_makes_numpy_reproducible():
    device.seed_everything(123)
    first = np.random.rand(3)
    device.seed_everything(123)
    assert np.array_equal(np.random.rand(3), first)


def test_seed_everything_makes_torch_reproducible():
    device.seed_everything(123)
    first = torch.rand(3)
    device.seed_everything(123)
    assert torch.equal(torch.rand(3), first)


def test_seed_everything_with_another_seed_gives_other_numbers():
    device.seed_everything(1)
    a = (random.random(), np.random.rand(), torch.rand(1).item())
    device.seed_everything(2)
    b = (random.random(), np.random.rand(), torch.rand(1).item())
    assert all(x != y for x, y in zip(a, b))


def test_get_device_honours_course_device(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert device.get_device() == "cpu"


def test_get_device_prefers_argument_over_environment(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    assert device.get_device(prefer="cpu") == "cpu"


def test_get_device_picks_cuda_only_when_available(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    assert device.get_device() == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.usefixtures("restore_torch_threads")
def test_setup_returns_device_and_prints_summary(monkeypatch, capsys):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv("COURSE_NUM_THREADS", "1")
    assert device.setup(seed=7) == "cpu"
    assert capsys.readouterr().out == "device: cpu | torch threads: 1 | seed: 7\n"


@pytest.mark.usefixtures("restore_torch_threads")
def test_setup_seeds_like_seed_everything(monkeypatch):
    monkeypatch.delenv("COURSE_NUM_THREADS", raising=False)
    device.setup(seed=7, verbose=False)
    after_setup = np.random.rand(2)
    device.seed_everything(7)
    assert np.array_equal(np.random.rand(2), after_setup)


# data.load_digits_split


@pytest.fixture(scope="module")
def digits():
    return data.load_digits_split()


def test_digits_split_has_1347_train_and_450_test_rows(digits):
    assert digits.X_train.shape == (1347, 64)
    assert digits.y_train.shape == (1347,)
    assert digits.X_test.shape == (450, 64)
    assert digits.y_test.shape == (450,)


def test_digits_are_float64_in_unit_interval_with_int64_labels(digits):
    for X in (digits.X_train, digits.X_test):
        assert X.dtype == np.float64
        assert X.min() >= 0.0 and X.max() <= 1.0
    assert digits.X_train.max() == 1.0  # scaled by 16, not left at 0-16 or squashed further
    assert digits.y_train.dtype == np.int64
    assert set(np.unique(digits.y_test)) == set(range(10))


def test_digits_split_is_stratified(digits):
    train_counts = np.bincount(digits.y_train, minlength=10)
    test_counts = np.bincount(digits.y_test, minlength=10)
    assert (train_counts > 0).all() and (test_counts > 0).all()
    # each class gives a quarter of its images to the test set, up to rounding
    np.testing.assert_allclose(test_counts / (train_counts + test_counts), 0.25, atol=0.01)


def test_digits_train_and_test_partition_the_data_set(digits):
    from sklearn.datasets import load_digits

    source = load_digits()
    full = np.column_stack([source.data / 16.0, source.target])
    split = np.vstack(
        [np.column_stack([digits.X_train, digits.y_train]), np.column_stack([digits.X_test, digits.y_test])]
    )
    # every image lands in exactly one of the two sets: the stacked rows are the source rows reordered
    assert np.array_equal(split[np.lexsort(split.T)], full[np.lexsort(full.T)])


def test_digits_split_is_deterministic_for_a_seed(digits):
    again = data.load_digits_split(seed=0)
    assert np.array_equal(again.X_test, digits.X_test)
    assert np.array_equal(again.y_test, digits.y_test)


def test_digits_split_differs_for_another_seed(digits):
    other = data.load_digits_split(seed=1)
    assert other.X_test.shape == digits.X_test.shape
    assert not np.array_equal(other.X_test, digits.X_test)


def test_digits_split_honours_test_fraction():
    split = data.load_digits_split(test_fraction=0.5)
    assert abs(len(split.y_test) - 1797 / 2) <= 10
    assert len(split.y_train) + len(split.y_test) == 1797


def test_digits_images_reshapes_rows_to_batch_channel_height_width(digits):
    images = digits.images(digits.X_train)
    assert images.shape == (1347, 1, 8, 8)
    assert np.array_equal(images[5, 0], digits.X_train[5].reshape(8, 8))


# data: toy 2-D problems and photos


def test_make_xor_labels_are_xor_of_the_corner():
    X, y = data.make_xor(n=100, noise=0.0)
    corners = X.astype(np.int64)
    assert np.array_equal(X, corners)  # no noise: the points are the corners themselves
    assert np.array_equal(y, corners[:, 0] ^ corners[:, 1])
    assert set(np.unique(y)) == {0, 1}


def test_make_xor_noisy_points_stay_nearest_their_corner():
    X, y = data.make_xor(n=200)
    corners = np.rint(X).astype(np.int64)
    assert np.array_equal(y, corners[:, 0] ^ corners[:, 1])


@pytest.mark.parametrize("make", [data.make_xor, data.make_moons, data.make_circles, data.make_blobs])
def test_toy_problems_return_float_points_and_int_labels(make):
    X, y = make(n=60)
    assert X.shape == (60, 2) and X.dtype == np.float64
    assert y.shape == (60,) and y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1}


@pytest.mark.parametrize("make", [data.make_xor, data.make_moons, data.make_circles, data.make_blobs])
def test_toy_problems_are_deterministic_for_a_seed(make):
    X1, y1 = make(n=30, seed=3)
    X2, y2 = make(n=30, seed=3)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)


def test_make_blobs_labels_one_class_per_centre():
    _, y = data.make_blobs(n=90, centers=3)
    assert set(np.unique(y)) == {0, 1, 2}


@pytest.mark.parametrize("name", ["china", "flower"])
def test_sample_photo_is_colour_in_unit_interval(name):
    img = data.load_sample_photo(name)
    assert img.shape == (427, 640, 3) and img.dtype == np.float64
    assert img.min() >= 0.0 and img.max() <= 1.0


@pytest.mark.parametrize("name", ["china", "flower"])
def test_sample_photo_grey_is_two_dimensional_in_unit_interval(name):
    img = data.load_sample_photo(name, grey=True)
    assert img.shape == (427, 640) and img.dtype == np.float64
    assert img.min() >= 0.0 and img.max() <= 1.0


def test_unknown_sample_photo_raises_naming_the_choices():
    with pytest.raises(ValueError, match=re.escape("unknown photo 'cat'; choose one of ['china', 'flower']")):
        data.load_sample_photo("cat")


# plotting


def _scatter_point_count(ax) -> int:
    return sum(len(c.get_offsets()) for c in ax.collections if isinstance(c, PathCollection))


def test_plot_decision_boundary_titles_labels_and_scatters_every_point():
    X, y = data.make_blobs(n=40)
    ax = plotting.plot_decision_boundary(lambda P: (P[:, 0] > X[:, 0].mean()).astype(int), X, y, resolution=30)
    assert ax.get_title() == "Decision boundary"
    assert ax.get_xlabel() and ax.get_ylabel()
    assert _scatter_point_count(ax) == 40
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1"]


def test_plot_decision_boundary_accepts_scores_and_an_existing_axes():
    X, y = data.make_moons(n=30)
    _, ax = plt.subplots()
    returned = plotting.plot_decision_boundary(lambda P: P[:, 0] - P[:, 1], X, y, ax=ax, title="scores", resolution=30)
    assert returned is ax
    assert ax.get_title() == "scores"
    assert _scatter_point_count(ax) == 30


def test_plot_curves_draws_one_line_per_series_with_legend_labels():
    history = {"train loss": [1.0, 0.5, 0.25], "val loss": [1.2, 0.8, 0.7]}
    ax = plotting.plot_curves(history, ylabel="loss", title="MLP")
    assert len(ax.get_lines()) == 2
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train loss", "val loss"]
    assert list(ax.get_lines()[0].get_xdata()) == [1, 2, 3]  # steps count from 1
    assert list(ax.get_lines()[1].get_ydata()) == [1.2, 0.8, 0.7]
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("MLP", "epoch", "loss")


def test_plot_curves_log_scale():
    ax = plotting.plot_curves({"loss": [1.0, 0.1]}, logy=True)
    assert ax.get_yscale() == "log"


def _shown_images(fig):
    return [im.get_array() for ax in fig.axes for im in ax.images]


def test_image_grid_shows_grey_images():
    fig = plotting.image_grid(np.random.default_rng(0).random((12, 8, 8)), ncols=5)
    shown = _shown_images(fig)
    assert len(shown) == 12
    assert shown[0].shape == (8, 8)
    assert len(fig.axes) == 15  # three rows of five; the spare axes stay blank


def test_image_grid_shows_channels_first_single_channel_images_as_grey():
    shown = _shown_images(plotting.image_grid(np.zeros((4, 1, 8, 8))))
    assert len(shown) == 4 and shown[0].shape == (8, 8)


def test_image_grid_shows_colour_images():
    shown = _shown_images(plotting.image_grid(np.random.default_rng(0).random((3, 6, 5, 3))))
    assert len(shown) == 3 and shown[0].shape == (6, 5, 3)


def test_image_grid_moves_channels_first_colour_images_last():
    shown = _shown_images(plotting.image_grid(np.random.default_rng(0).random((2, 3, 6, 5))))
    assert shown[0].shape == (6, 5, 3)


def test_image_grid_titles_each_image_with_its_label_and_the_figure_with_title():
    fig = plotting.image_grid(np.zeros((3, 8, 8)), labels=[7, 1, 4], ncols=3, title="digits")
    assert [ax.get_title() for ax in fig.axes] == ["7", "1", "4"]
    assert fig.get_suptitle() == "digits"


def test_live_curves_update_records_history_outside_a_kernel():
    live = plotting.LiveCurves(title="MLP")
    open_before = len(plt.get_fignums())
    live.update({"train loss": 0.5, "val loss": np.float32(0.75)})
    live.update({"train loss": 0.25, "val loss": 0.5})
    live.close()
    assert live.history == {"train loss": [0.5, 0.25], "val loss": [0.75, 0.5]}
    assert all(type(v) is float for values in live.history.values() for v in values)
    assert len(plt.get_fignums()) == open_before  # each redraw closes its figure


def test_live_curves_redraws_in_place_every_n_updates(monkeypatch):
    import IPython.display

    calls = []

    class Handle:
        def update(self, fig):
            calls.append("update")

    def fake_display(fig, display_id=False):
        calls.append("display")
        assert display_id is True
        return Handle()

    monkeypatch.setattr(IPython.display, "display", fake_display)
    live = plotting.LiveCurves(every=2)
    for step in range(4):
        live.update({"loss": 1.0 / (step + 1)})
    live.close()
    assert calls == ["display", "update", "update"]  # one output, replaced; not one per epoch


def test_style_sets_colour_blind_safe_cycle():
    with plt.rc_context():
        plotting.style()
        assert plt.rcParams["axes.prop_cycle"].by_key()["color"] == plotting.OKABE_ITO


# widgets


def _slider_plot_with_recorder():
    calls = []

    def draw(a, n):
        calls.append({"a": a, "n": n})
        plt.subplots()

    a = course_widgets.float_slider("a", 1.0, 0.0, 2.0)
    n = course_widgets.int_slider("n", 3, 1, 5)
    box = course_widgets.slider_plot(draw, a=a, n=n)
    return box, calls, a, n


def test_slider_plot_returns_a_box_holding_the_sliders():
    box, _, a, n = _slider_plot_with_recorder()
    assert isinstance(box, widgets.Box)
    controls, output = box.children
    assert list(controls.children) == [a, n]
    assert isinstance(output, widgets.Output)


def test_slider_plot_draws_once_with_defaults_at_creation():
    _, calls, _, _ = _slider_plot_with_recorder()
    assert calls == [{"a": 1.0, "n": 3}]


def test_slider_plot_redraws_with_new_value_when_a_slider_moves():
    _, calls, a, n = _slider_plot_with_recorder()
    a.value = 1.5
    n.value = 5
    assert calls == [{"a": 1.0, "n": 3}, {"a": 1.5, "n": 3}, {"a": 1.5, "n": 5}]


def _unfinished_tanh(z):
    raise NotImplementedError()


def test_slider_plot_names_an_unfinished_exercise_instead_of_a_traceback(capsys):
    def draw(a):
        _unfinished_tanh(a)

    box = course_widgets.slider_plot(draw, a=course_widgets.float_slider("a", 1.0, 0.0, 2.0))
    output = box.children[1]
    texts = [o.get("text", "") for o in output.outputs] if output.outputs else [capsys.readouterr().out]
    assert any("Implement `_unfinished_tanh` above to see this." in t for t in texts), texts
    assert not any("Traceback" in t or o.get("output_type") == "error" for o in output.outputs for t in [o.get("text", "")])


def test_draw_once_names_a_function_not_defined_yet(capsys):
    def draw():
        return tanh_not_run_yet(1.0)  # noqa: F821 - the student has not run that cell

    course_widgets.draw_once(draw)
    assert capsys.readouterr().out.strip() == "Implement `tanh_not_run_yet` above to see this."


def test_draw_once_draws_a_plain_figure_and_lets_other_errors_through():
    drawn = []

    def draw(a):
        drawn.append(a)
        plt.subplots()

    course_widgets.draw_once(draw, a=2)
    assert drawn == [2]

    def broken():
        raise ValueError("a real bug")

    with pytest.raises(ValueError):
        course_widgets.draw_once(broken)


def test_sliders_hold_their_value_and_range():
    s = course_widgets.float_slider("lr", 0.1, 0.0, 1.0, step=0.05)
    assert (s.value, s.min, s.max, s.step, s.description) == (0.1, 0.0, 1.0, 0.05, "lr")
    assert s.continuous_update is False  # redraw on release, not on every pixel


def test_dropdown_defaults_to_first_option():
    assert course_widgets.dropdown("act", ["relu", "tanh"]).value == "relu"
    assert course_widgets.dropdown("act", ["relu", "tanh"], value="tanh").value == "tanh"


# ---------------------------------------------------------------------------
# checks.from_scratch


def test_from_scratch_lets_numpy_answers_through():
    from course_utils.checks import from_scratch

    with from_scratch("relu"):
        out = np.maximum(np.array([-1.0, 2.0]), 0)
    assert out.tolist() == [0.0, 2.0]


def test_from_scratch_refuses_torch_even_when_prebound():
    import torch
    from torch.nn.functional import conv2d

    from course_utils.checks import DelegationError, from_scratch

    x = torch.zeros(1, 1, 3, 3)
    with pytest.raises(DelegationError, match=r"conv2d_naive called .*conv2d"):
        with from_scratch("conv2d_naive"):
            conv2d(x, x)
    assert conv2d(x, x).shape == (1, 1, 1, 1)  # restored after the block


def test_from_scratch_refuses_course_reference_helpers_and_restores_them():
    from course_utils import numeric_gradient as imported_early
    from course_utils.checks import DelegationError, from_scratch

    with pytest.raises(DelegationError, match="numeric_gradient"):
        with from_scratch("numerical_gradient"):
            imported_early(lambda z: float(np.sum(z**2)), np.ones(2))
    np.testing.assert_allclose(imported_early(lambda z: float(np.sum(z**2)), np.ones(2)), [2.0, 2.0])


def test_from_scratch_fails_when_the_refusal_is_swallowed():
    import torch

    from course_utils.checks import DelegationError, from_scratch

    def sneaky(a):
        try:
            return torch.relu(torch.from_numpy(a)).numpy()
        except Exception:
            return np.maximum(a, 0)

    with pytest.raises(DelegationError, match="caught the error"):
        with from_scratch("relu"):
            sneaky(np.ones(2))


# ---------------------------------------------------------------------------
# data: validation split and text corpus


def test_validation_split_leaves_the_test_set_unchanged_and_is_disjoint():
    plain = data.load_digits_split()
    with_val = data.load_digits_split(val_fraction=0.2)
    np.testing.assert_array_equal(plain.X_test, with_val.X_test)
    assert len(plain.X_val) == 0
    assert len(with_val.X_train) + len(with_val.X_val) == len(plain.X_train)
    together = np.concatenate([with_val.X_train, with_val.X_val])
    assert sorted(r.tobytes() for r in together) == sorted(r.tobytes() for r in plain.X_train)
    counts = np.bincount(with_val.y_val, minlength=10)
    assert counts.min() >= 20  # stratified: every digit is in the validation set


def test_stratified_split_covers_every_index_once():
    y = np.repeat(np.arange(3), 10)
    rest, held = data.stratified_split(y, 0.3, seed=4)
    assert sorted(np.concatenate([rest, held]).tolist()) == list(range(30))
    assert np.bincount(y[held]).tolist() == [3, 3, 3]
    with pytest.raises(ValueError):
        data.stratified_split(y, 1.0)


def test_text_corpus_is_printable_ascii_and_splits_contiguously():
    text = data.load_text_corpus()
    assert len(text) > 300_000
    assert all(ch == "\n" or 32 <= ord(ch) < 127 for ch in set(text))
    train, val, test = data.split_text(text, 0.1, 0.1)
    assert train + val + test == text
    assert abs(len(val) - len(text) // 10) <= 1
    assert data.load_text_corpus(max_chars=100) == text[:100]
    with pytest.raises(ValueError):
        data.split_text(text, 0.6, 0.5)


# ---------------------------------------------------------------------------------------------
# Module 6: shuffled_pixels (course_utils.data) and data-parallel training (course_utils.distributed)
# ---------------------------------------------------------------------------------------------


def test_shuffled_pixels_permutes_each_row_and_is_seeded():
    x = np.arange(24, dtype=np.float64).reshape(3, 8)
    out = data.shuffled_pixels(x, seed=1)
    assert out.shape == x.shape
    assert all(sorted(out[i].tolist()) == x[i].tolist() for i in range(3))
    assert not np.array_equal(out, x)
    assert np.array_equal(out, data.shuffled_pixels(x, seed=1))
    assert not np.array_equal(out, data.shuffled_pixels(x, seed=2))


def test_shuffled_pixels_accepts_torch_tensors():
    import torch

    x = torch.arange(20, dtype=torch.float32).reshape(2, 10)
    out = data.shuffled_pixels(x, seed=0)
    assert isinstance(out, torch.Tensor) and out.dtype == x.dtype
    assert np.array_equal(out.numpy(), data.shuffled_pixels(x.numpy(), seed=0))


_AVERAGE = '''
def average_gradients(grads_per_worker):
    return [torch.stack(g).mean(dim=0) for g in zip(*grads_per_worker)]
'''


def _dp_problem():
    import torch

    from course_utils import distributed

    torch.manual_seed(0)
    sizes = [6, 5, 3]
    state = distributed.make_mlp(sizes).state_dict()
    X = torch.rand(40, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (40,))
    return distributed, sizes, state, X, y


def test_free_port_can_be_bound_on_loopback():
    import socket

    from course_utils.distributed import free_port

    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


def test_data_parallel_on_two_processes_matches_one_process():
    distributed, sizes, state, X, y = _dp_problem()
    workers = distributed.train_data_parallel(_AVERAGE, sizes, state, X, y, steps=5, lr=0.5, batch_size=8, timeout=60)
    single = distributed.sgd_reference(sizes, state, X, y, steps=5, lr=0.5, batch_size=8)
    assert len(workers) == 2
    for k in single:
        assert np.allclose(workers[0][k].numpy(), single[k].numpy(), rtol=1e-10, atol=1e-12)
        assert np.array_equal(workers[0][k].numpy(), workers[1][k].numpy())
    assert any(not np.allclose(state[k].numpy(), single[k].numpy()) for k in single)


def test_data_parallel_summing_gradients_diverges_from_one_process():
    distributed, sizes, state, X, y = _dp_problem()
    summed = _AVERAGE.replace(".mean(dim=0)", ".sum(dim=0)")
    workers = distributed.train_data_parallel(summed, sizes, state, X, y, steps=5, lr=0.5, batch_size=8, timeout=60)
    single = distributed.sgd_reference(sizes, state, X, y, steps=5, lr=0.5, batch_size=8)
    assert any(not np.allclose(workers[0][k].numpy(), single[k].numpy()) for k in single)


def test_data_parallel_reports_a_failing_worker_quickly():
    import time

    distributed, sizes, state, X, y = _dp_problem()
    broken = "def average_gradients(grads_per_worker):\n    raise NotImplementedError()\n"
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="NotImplementedError"):
        distributed.train_data_parallel(broken, sizes, state, X, y, steps=2, lr=0.5, batch_size=8, timeout=60)
    assert time.monotonic() - start < 60


def test_data_parallel_needs_equal_shares():
    distributed, sizes, state, X, y = _dp_problem()
    with pytest.raises(ValueError, match="multiple of world_size"):
        distributed.train_data_parallel(_AVERAGE, sizes, state, X, y, steps=1, lr=0.5, batch_size=7)

# ---------------------------------------------------------------------------
# checks.forbidding (Module 5: torch allowed, the compared-against functions refused)


def test_forbidding_refuses_the_named_function_and_allows_the_rest_of_torch():
    from course_utils.checks import DelegationError, forbidding

    q = torch.randn(2, 3, 4)
    with forbidding("attention", torch.nn.functional.scaled_dot_product_attention):
        w = torch.softmax(q @ q.transpose(-2, -1), dim=-1)  # ordinary torch still works
    assert w.shape == (2, 3, 3)
    with pytest.raises(DelegationError, match="attention called scaled_dot_product_attention"):
        with forbidding("attention", torch.nn.functional.scaled_dot_product_attention):
            torch.nn.functional.scaled_dot_product_attention(q, q, q)


def test_forbidding_catches_a_refusal_that_was_swallowed():
    from course_utils.checks import DelegationError, forbidding

    def sneaky(x):
        try:
            return torch.nn.functional.unfold(x, 2)
        except Exception:
            return x

    with pytest.raises(DelegationError, match="caught the error"):
        with forbidding("patchify", torch.nn.functional.unfold):
            sneaky(torch.randn(1, 1, 4, 4))

# Module 4 data helpers: load_membrane_potential, series_blocks
# ---------------------------------------------------------------------------------------------


def test_membrane_potential_is_the_matplotlib_recording_averaged():
    from course_utils.data import load_membrane_potential

    raw = load_membrane_potential(downsample=1)
    assert raw.shape == (12000,) and raw.dtype == np.float64
    assert -0.7 < raw[:900].mean() < -0.6  # at rest before the current step
    x = load_membrane_potential(downsample=4)
    assert x.shape == (3000,)
    np.testing.assert_allclose(x[5], raw[20:24].mean())


def test_membrane_potential_refuses_a_zero_downsample():
    from course_utils.data import load_membrane_potential

    with pytest.raises(ValueError):
        load_membrane_potential(downsample=0)


def test_series_blocks_cycle_three_train_one_val_one_test():
    from course_utils.data import series_blocks

    labels = series_blocks(23, block=2)
    assert labels.tolist() == [0] * 6 + [1] * 2 + [2] * 2 + [0] * 6 + [1] * 2 + [2] * 2 + [0] * 3
    counts = np.bincount(series_blocks(3000, block=150), minlength=3)
    assert counts.tolist() == [1800, 600, 600]
    with pytest.raises(ValueError):
        series_blocks(10, block=0)


def test_gradients_local_returns_output_input_and_parameter_grads():
    import torch

    from course_utils import gradients

    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(4, 2, dtype=torch.float64)
    out, (gx,), gp = gradients(lin, x, grad_output=g)
    assert torch.equal(out, lin(x).detach()) and not out.requires_grad
    torch.testing.assert_close(gx, g @ lin.weight.detach())
    torch.testing.assert_close(gp["weight"], g.T @ x.detach())
    torch.testing.assert_close(gp["bias"], g.sum(0))
    # stale gradients are cleared first, so a second call gives the same, not twice as much
    _, (gx2,), gp2 = gradients(lin, x, grad_output=g)
    torch.testing.assert_close(gx2, gx)
    torch.testing.assert_close(gp2["weight"], gp["weight"])
    # a detached output gives no gradients at all; a tuple is backpropagated from its first element
    out3, (gx3,), _ = gradients(lambda t: (t.detach() * 2, t), x)
    assert gx3 is None and torch.equal(out3, x.detach() * 2)
