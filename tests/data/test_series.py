"""Time series: the embedded sunspots, Mackey-Glass, user CSV files and their bad inputs."""

import numpy as np
import pytest
import torch

from ann.data.series import (
    fit_ar,
    load_mackey_glass,
    load_sunspots,
    mackey_glass,
    read_series_csv,
    sunspots_yearly,
)
from ann.errors import AnnError


def test_sunspots_are_the_statsmodels_series():
    s = sunspots_yearly()
    assert len(s) == 309                                   # 1700-2008
    assert s[:4].tolist() == [5.0, 11.0, 16.0, 23.0]
    assert s[-2:].tolist() == [7.5, 2.9]
    assert s.max() == 190.2                                # 1957, the highest yearly mean


def test_windows_targets_and_split_order():
    train, test = load_sunspots("train"), load_sunspots("test")
    x, y, ar = test.batch(slice(0, len(test)))
    assert x.shape == (len(test), 11, 1) and y.shape == ar.shape == (len(test), 1)
    s = torch.tensor(sunspots_yearly(), dtype=torch.float32)
    torch.testing.assert_close(y[-1, 0], s[-1])                   # the last year is a test target
    torch.testing.assert_close(x[0, :, 0], s[test.first - 11:test.first])
    assert len(train) + 11 == round(0.7 * 309) and train.info["mean"] > 0


def test_ar_baseline_recovers_a_linear_process():
    rng = np.random.default_rng(0)
    v = np.zeros(500)
    for t in range(2, 500):
        v[t] = 0.6 * v[t - 1] - 0.3 * v[t - 2] + 1.0 + 0.01 * rng.standard_normal()
    w = fit_ar(v, window=2, horizon=1)[:, 0]
    np.testing.assert_allclose(w, [-0.3, 0.6, 1.0], atol=0.02)


def test_mackey_glass_is_chaotic_and_bounded():
    s = mackey_glass()
    assert len(s) == 3000 and 0.2 < s.min() < s.max() < 1.5
    d = load_mackey_glass("val")
    assert d.batch([0])[1].shape == (1, 10)


def test_user_csv_reads_a_named_column(tmp_path):
    f = tmp_path / "s.csv"
    f.write_text("# my series\ndate,value\n" + "".join(f"d{i},{np.sin(i / 3):.4f}\n" for i in range(200)))
    assert read_series_csv(str(f), "value")[1] == pytest.approx(np.sin(1 / 3), abs=1e-4)
    d = load_sunspots("test", path=str(f), column="value", window=5, horizon=3)
    assert d.batch([0])[0].shape == (1, 5, 1) and d.info["horizon"] == 3


@pytest.mark.parametrize("text,column,words", [
    ("t,v\n1,2\n2,\n3,4\n", "v", ["row 3", "missing"]),
    ("t,v\n1,2\n2,NaN\n", "v", ["row 3", "missing"]),
    ("t,v\n1,2\n2,abc\n", "v", ["not numeric", "abc"]),
    ("t,v\n1,2\n", "w", ["no column 'w'", "'t', 'v'"]),
    ("t,v\n1,2\n", "", ["data.column"]),
])
def test_bad_csv_says_what_is_wrong(tmp_path, text, column, words):
    f = tmp_path / "bad.csv"
    f.write_text(text)
    with pytest.raises(AnnError) as e:
        read_series_csv(str(f), column)
    for w in words:
        assert w in str(e.value)


def test_series_too_short_for_the_window(tmp_path):
    f = tmp_path / "short.csv"
    f.write_text("v\n" + "".join(f"{i}\n" for i in range(30)))
    with pytest.raises(AnnError, match="too short"):
        load_sunspots("train", path=str(f), column="v", window=20)
