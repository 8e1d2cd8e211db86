"""Helpers every report writer shares: strict JSON and numbers in Markdown tables."""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np


def json_safe(value: Any) -> Any:
    """`value` made strict JSON: NaN and infinities become null (json.dumps would write NaN, which is not
    JSON), numpy scalars become Python numbers, tuples become lists and dictionary keys strings."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def measured(value: Any) -> bool:
    """A number that was measured: not None, NaN or infinite."""
    return value is not None and not (isinstance(value, numbers.Real) and not math.isfinite(value))


def number(value: Any, fmt: str = ".1f", scale: float = 1.0) -> str:
    """`value * scale` formatted with `fmt` for a table cell; "-" where nothing was measured (None, NaN,
    infinite). Whole numbers (counts) are written as they are when not scaled; anything else that is not a
    number with str()."""
    if not measured(value):
        return "-"
    if isinstance(value, numbers.Integral) and scale == 1.0:
        return str(value)
    if not isinstance(value, numbers.Real):
        return str(value)
    return format(value * scale, fmt)
