"""The JSON record every benchmark writes beside its printed figures: what ran, where, when, under what load."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any


def write_record(out: Path, results: Any, **context: Any) -> None:
    """Write `results` with the command, machine, load average and time (plus `context`) to `out` as JSON."""
    record = {"command": " ".join(sys.argv), "machine": f"{platform.machine()}, {os.cpu_count()} cores",
              "load_average_at_end": os.getloadavg(), "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              **context, "results": results}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"written {out}")
