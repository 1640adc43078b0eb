import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from gngan import plots  # noqa: E402


def _runs(values_per_seed):
    return [{"history": [{"step": 10 * (i + 1), "m": v} for i, v in enumerate(vals)]} for vals in values_per_seed]


def test_metric_over_training_draws_mean_band_and_the_papers_final_value_on_the_same_axis():
    results = {"a": _runs([[1, 2, 3], [3, 4, 5]]), "b": _runs([[0, 0, 1], [0, 0, 1]])}
    fig = plots.metric_over_training(results, {"a": "A", "b": "B"}, "m", "metric", paper_final={"a": (7.0, 0.5)})
    ax = fig.axes[0]
    means = {line.get_label(): line.get_ydata() for line in ax.lines if line.get_label() in ("A", "B")}
    np.testing.assert_allclose(means["A"], [2, 3, 4])
    # the paper's value: one diamond at (just after our last step, 7.0) in A's colour, no diamond for B
    diamonds = [line for line in ax.lines if line.get_marker() == "D" and len(line.get_xdata())]
    assert len(diamonds) == 1
    assert diamonds[0].get_xdata()[0] > 30 and diamonds[0].get_ydata()[0] == 7.0
    assert diamonds[0].get_color() == [line for line in ax.lines if line.get_label() == "A"][0].get_color()
    assert "paper, final (± std)" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_metric_over_training_without_paper_values_has_no_paper_legend():
    fig = plots.metric_over_training({"a": _runs([[1, 2]])}, {"a": "A"}, "m", "metric")
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["A"]


def test_image_samples_shows_each_stored_grid():
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((10, 10, 3), 200, dtype=np.uint8)).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    results = {"a": [{"final": {"samples_png": png, "fid": 12.345, "step": 2000}}],
               "b": [{"final": {"fid": 3.0, "step": 2000}}]}
    fig = plots.image_samples(results, {"a": "A"})
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["A\nFID 12.3 at iteration 2,000"]
    assert fig.axes[0].images[0].get_array().shape == (10, 10, 3)


def test_image_samples_titles_stay_off_the_grids_above_them():
    import base64
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((64, 64, 3), 200, dtype=np.uint8)).save(buf, format="PNG")
    png = base64.b64encode(buf.getvalue()).decode()
    results = {m: [{"final": {"samples_png": png, "fid": 300.0, "step": 1000}}] for m in "abcde"}
    fig = plots.image_samples(results, {m: f"method {m} (+NE+GM, hinge)" for m in "abcde"})
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    shown = [ax for ax in fig.axes if ax.images]
    assert len(shown) == 5
    for ax in shown:
        title = ax.title.get_window_extent(renderer)
        for other in shown:
            assert not title.overlaps(other.images[0].get_window_extent(renderer)), (ax.get_title(), other.get_title())


def test_long_runs_label_iterations_in_thousands():
    fig = plots.metric_over_training({"a": [{"history": [{"step": 0, "m": 1}, {"step": 200_000, "m": 2}]}]},
                                     {"a": "A"}, "m", "metric")
    fig.canvas.draw()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert "100K" in labels and "200K" in labels


def _scatters(ax):
    """The scatter plots of ``ax`` (error bars are line collections, which also have offsets)."""
    return [c for c in ax.collections if not hasattr(c, "get_segments")]


def test_covered_modes_per_seed_shows_every_seed_our_mean_and_the_papers_mean_with_its_std():
    results = {"a": [{"final": {"covered_modes": v}} for v in (20, 24, 25)],
               "b": [{"final": {"covered_modes": v}} for v in (1, 3)]}
    fig = plots.covered_modes_per_seed(results, {"a": "A", "b": "B"}, num_modes=25, paper={"a": (24.39, 0.44)})
    ax = fig.axes[0]
    dots = sorted(float(y) for c in _scatters(ax) for _, y in c.get_offsets())
    assert dots == [1, 3, 20, 24, 25]
    bars = {container.get_label(): container for container in ax.containers}
    ours_a = bars["ours, mean ± std"]
    assert ours_a.lines[0].get_ydata()[0] == 23.0
    np.testing.assert_allclose(ours_a.lines[2][0].get_segments()[0][:, 1], [23 - np.std([20, 24, 25], ddof=1),
                                                                           23 + np.std([20, 24, 25], ddof=1)])
    theirs = bars["paper"]  # only method a has a paper value
    assert theirs.lines[0].get_ydata()[0] == 24.39 and theirs.lines[0].get_xdata()[0] < 1
    np.testing.assert_allclose(theirs.lines[2][0].get_segments()[0][:, 1], [24.39 - 0.44, 24.39 + 0.44])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ours, mean ± std", "paper"]


def test_covered_modes_per_seed_puts_equal_counts_side_by_side():
    results = {"a": [{"final": {"covered_modes": v}} for v in (25, 25, 25, 3)]}
    ax = plots.covered_modes_per_seed(results, {"a": "A"}, num_modes=25).axes[0]
    dots = np.concatenate([c.get_offsets() for c in _scatters(ax)])
    at_25 = np.sort(dots[dots[:, 1] == 25][:, 0])
    np.testing.assert_allclose(np.diff(at_25), [0.05, 0.05])
    np.testing.assert_allclose(at_25.mean(), dots[dots[:, 1] == 3][0, 0])  # both groups centred alike


def test_a_method_has_the_same_colour_in_the_per_seed_dots_and_the_training_curves():
    names = [f"m{i}" for i in range(11)]  # more methods than matplotlib's ten default colours
    curves = plots.metric_over_training({m: [{"history": [{"step": 0, "covered_modes": 1}],
                                              "final": {"covered_modes": 1}}] for m in names},
                                        {m: m for m in names}, "covered_modes", "modes")
    dots = plots.covered_modes_per_seed({m: [{"final": {"covered_modes": 1}}] for m in names}, {m: m for m in names}, 25)
    line_colors = [matplotlib.colors.to_hex(line.get_color()) for line in curves.axes[0].lines if line.get_label() in names]
    dot_colors = [matplotlib.colors.to_hex(c.get_facecolor()[0]) for c in _scatters(dots.axes[0])]
    assert line_colors == dot_colors and len(set(dot_colors)) == 11
    assert "#000000" not in dot_colors  # black marks our mean ± std
