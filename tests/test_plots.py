import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402

from gngan import experiments, plots  # noqa: E402


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


def _hex(color):
    return matplotlib.colors.to_hex(color)


def test_a_method_has_the_same_colour_in_the_per_seed_dots_and_the_training_curves():
    names = list(experiments.GRID2D_METHODS)  # the 2D chapter's eleven, more than matplotlib's ten default colours
    curves = plots.metric_over_training({m: [{"history": [{"step": 0, "covered_modes": 1}],
                                              "final": {"covered_modes": 1}}] for m in names},
                                        {m: m for m in names}, "covered_modes", "modes")
    dots = plots.covered_modes_per_seed({m: [{"final": {"covered_modes": 1}}] for m in names},
                                        {m: m for m in names}, 25)
    line_colors = [_hex(line.get_color()) for ax in curves.axes for line in ax.lines if line.get_label() in names]
    dot_colors = [_hex(c.get_facecolor()[0]) for c in _scatters(dots.axes[0])]
    assert line_colors == dot_colors and len(set(dot_colors)) == 11
    assert "#000000" not in dot_colors  # black marks our mean ± std


def _panels(fig):
    return [ax for ax in fig.axes if ax.axison]


def test_more_than_four_methods_get_one_panel_each_on_shared_axes():
    results = {m: _runs([[i, i + 1, i + 2]]) for i, m in enumerate("abcde")}
    labels = {m: f"method {m.upper()}" for m in results}
    fig = plots.metric_over_training(results, labels, "m", "metric")
    panels = _panels(fig)
    assert [ax.get_title() for ax in panels] == ["method A", "method B", "method C", "method D", "method E"]
    assert len(fig.axes) == 6  # a 2 x 3 grid, its last cell switched off
    assert len({ax.get_ylim() for ax in panels}) == 1 and len({ax.get_xlim() for ax in panels}) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["ours, mean ± std over seeds", "ours, one seed"]
    fig.canvas.draw()  # the panel above the empty cell keeps its iteration ticks
    assert any(t.get_text() for t in panels[2].get_xticklabels()) and panels[2].get_xlabel() == "iteration"
    assert not any(t.get_text() for t in panels[0].get_xticklabels())
    assert [ax.get_ylabel() for ax in panels] == ["metric", "", "", "metric", ""]


def test_four_methods_share_one_axis_unless_panels_are_asked_for():
    results = {m: _runs([[1, 2]]) for m in "abcd"}
    labels = {m: m.upper() for m in results}
    assert len(plots.metric_over_training(results, labels, "m", "metric").axes) == 1
    assert len(_panels(plots.metric_over_training(results, labels, "m", "metric", panels=True))) == 4
    five = {**results, "e": _runs([[1, 2]])}
    assert len(plots.metric_over_training(five, {**labels, "e": "E"}, "m", "metric", panels=False).axes) == 1


def test_each_panel_draws_its_methods_mean_over_seeds():
    results = {m: _runs([[1 + i, 2, 6], [3, 4 * i, 5], [2, 0, 1]]) for i, m in enumerate("abcde")}
    fig = plots.metric_over_training(results, {m: m for m in results}, "m", "metric")
    for i, (ax, m) in enumerate(zip(_panels(fig), results)):
        (mean,) = [line for line in ax.lines if line.get_label() == m]
        np.testing.assert_allclose(mean.get_ydata(), [(6 + i) / 3, (2 + 4 * i) / 3, 4])
        np.testing.assert_allclose(mean.get_xdata(), [10, 20, 30])
        assert len(ax.lines) == 1 + 3  # the mean and one thin line per seed


def test_the_papers_final_value_is_marked_only_in_the_panels_of_its_methods():
    results = {m: _runs([[1, 2, 3], [3, 4, 5]]) for m in "abcde"}
    fig = plots.metric_over_training(results, {m: m for m in results}, "m", "metric",
                                     paper_final={"b": (7.0, 0.5), "e": (2.5, 1.0), "z": (1.0, 0.0)})
    for ax, m in zip(_panels(fig), results):
        diamonds = [line for line in ax.lines if line.get_marker() == "D" and len(line.get_xdata())]
        dashed = [line for line in ax.lines if line.get_linestyle() == "--"]
        if m in ("b", "e"):
            value = {"b": 7.0, "e": 2.5}[m]
            assert len(diamonds) == 1 and diamonds[0].get_ydata()[0] == value and diamonds[0].get_xdata()[0] > 30
            assert len(dashed) == 1 and list(dashed[0].get_ydata()) == [value, value]
            colour = _hex([line for line in ax.lines if line.get_label() == m][0].get_color())
            assert _hex(diamonds[0].get_color()) == _hex(dashed[0].get_color()) == colour
        else:
            assert diamonds == [] and dashed == []
    assert "paper, final (± std)" in [t.get_text() for t in fig.legends[0].get_texts()]


def test_method_color_does_not_depend_on_the_other_methods_shown():
    def colours(order):
        fig = plots.metric_over_training({m: _runs([[1, 2]]) for m in order}, {m: m for m in order}, "m", "metric")
        return {line.get_label(): _hex(line.get_color()) for ax in fig.axes for line in ax.lines
                if line.get_label() in order}

    one, other = colours(["gan", "distgan", "wgangp"]), colours(["wgangp", "gngan_gm", "sngan", "distgan", "vae"])
    assert one["distgan"] == other["distgan"] == _hex(plots.method_color("distgan"))
    assert one["wgangp"] == other["wgangp"] == _hex(plots.method_color("wgangp"))
    fig = plots.covered_modes_per_seed({m: [{"final": {"covered_modes": 1}}] for m in ("vae", "distgan")},
                                       {"vae": "VAE", "distgan": "Dist-GAN"}, 25)
    assert _hex(_scatters(fig.axes[0])[1].get_facecolor()[0]) == one["distgan"]


def test_runs_derived_from_a_method_take_its_colour():
    wgangp = plots.method_color("wgangp")
    sweeps = [k for k, v in experiments.GRID2D_SWEEP.items() if v[1] == "wgangp"]
    assert sweeps and all(plots.method_color(k) == wgangp for k in sweeps)
    assert plots.method_color("wgangp_tuned") == plots.method_color("wgangp_toy_recipe") == wgangp
    assert plots.method_color("sweep_wgangp_a_setting_not_swept_yet") == wgangp
    for key, (_, probe, _) in experiments.GRID2D_CHECKS.items():
        assert plots.method_color(key) == plots.method_color(probe), key
    assert plots.method_color("beta_vae_tuned") == plots.method_color("beta_vae") != plots.method_color("vae")
    assert plots.method_color("gngan_hinge_stl10") == plots.method_color("gngan_hinge")
    assert plots.method_color("sngan_resnet") == plots.method_color("sngan")
    assert plots.method_color("gangp") != plots.method_color("gan")  # a known key, not the prefix gan + "gp"


def test_methods_shown_together_have_distinct_colours_and_none_is_black_or_the_papers_red():
    chapters = [list(experiments.GRID2D_METHODS), *(list(s) for s in experiments.IMAGE_SECTIONS.values())]
    assert len(chapters[0]) == 11
    for methods in chapters:
        colours = [_hex(plots.method_color(m)) for m in methods]
        assert len(set(colours)) == len(methods), methods
        assert not {"#000000", _hex("tab:red")} & set(colours)


def test_an_unknown_method_gets_a_fixed_colour_of_its_own():
    colour = plots.method_color("not_a_method")
    assert colour == plots.method_color("not_a_method")
    matplotlib.colors.to_rgb(colour)
