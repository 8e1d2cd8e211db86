"""drm_core.reporting: strict JSON and table numbers with "-" for what was not measured."""
import json
import math

import numpy as np

from drm_core.reporting import json_safe, measured, number


def test_json_safe_writes_strict_json():
    data = {"a": [1.5, math.nan, (np.float32(2.0), np.int64(3))], 4: {"b": -math.inf, "c": "x", "d": None}}
    safe = json_safe(data)
    assert safe == {"a": [1.5, None, [2.0, 3]], "4": {"b": None, "c": "x", "d": None}}
    json.dumps(safe, allow_nan=False)


def test_number_formats_and_dashes():
    assert [number(v) for v in (None, math.nan, math.inf, np.float64("nan"))] == ["-"] * 4
    assert number(0.4567, ".2f") == "0.46" and number(0.25, ".1f", 100) == "25.0"
    assert number(np.float32(1.25), ".1f") == "1.2"
    assert number(7) == "7" and number(np.int64(7)) == "7"  # counts as they are
    assert not measured(math.nan) and measured(0.0) and not measured(None)
