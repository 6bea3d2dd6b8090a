"""App start times and memory: `python -m evals.app_start [--home KB] [--cold] [--json OUT]`.

Each measurement runs the real app (`app.py`) in a fresh Python process through Streamlit's AppTest, from
process start to the first answer of the seed question, and reads that process's peak RSS:
- cold: an empty KB_HOME — the app builds the default knowledge base itself (lexical + static index),
  then answers (the dense index keeps filling in the background, not waited for);
- warm: a second start on the same knowledge base (indexes on disk, nothing to build).
With --home, warm starts are measured on that knowledge base (e.g. the full default KB with vectors).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from evals.common import print_table, write_report

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "宝宝刚出生就有摄影公司打电话推销，他们怎么知道我家信息的？能告他们吗？"

CHILD = r"""
import json, resource, sys, time
t0 = time.monotonic()
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=1800)
at.run()
while not at.chat_input:          # first start: the app shows build progress until the index is ready
    time.sleep(2)
    at.run()
t_ready = time.monotonic() - t0
at.chat_input[0].set_value(sys.argv[2]).run()
answered = any("[1]" in md.value for msg in at.chat_message for md in msg.markdown)
t_answer = time.monotonic() - t0
print(json.dumps({"ready_s": round(t_ready, 1), "first_answer_s": round(t_answer, 1), "answered": answered,
                  "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def measure(home: Path) -> dict[str, object]:
    env = dict(os.environ, KB_HOME=str(home))
    env.pop("KB_EMBED_CACHE", None)
    t = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT / "app.py"), QUESTION],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_s"] = round(time.monotonic() - t, 1)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.app_start")
    parser.add_argument("--home", type=Path, default=None, help="measure warm starts on this KB")
    parser.add_argument("--cold", action="store_true", help="also measure a cold start on an empty KB_HOME")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    rows = []
    home = args.home
    if args.cold or home is None:
        home = Path(tempfile.mkdtemp(prefix="kb-cold-"))
        rows.append({"start": "cold (empty store)", **measure(home)})
    for i in (1, 2):
        rows.append({"start": f"warm #{i}", **measure(home)})
    print(f"KB {home}")
    print_table(rows, ["start", "ready_s", "first_answer_s", "process_s", "peak_rss_mb", "answered"])
    path = write_report({"kb": str(home), "runs": rows}, args.json, "app-start.json")
    print(f"report: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
