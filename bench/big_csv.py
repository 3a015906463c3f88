"""Wall time and peak memory of `tabcompress distill` with default settings on a CSV of millions of rows.

The CSV is bank_marketing.csv repeated to ``--rows`` rows (9 text columns, 8 numeric); the teacher is
`make demo`'s (a one-hot Pipeline in front of a 300-tree forest, fitted on sample_data/bank_marketing_4k.csv).
Each run goes through the console script under ``/usr/bin/time -v``; with ``--vs`` a second tabcompress
executable (an older checkout's, say) runs on the same files, the two in turn, so their ratio is read
side by side on one machine.

    python bench/big_csv.py [--rows 5000000] [--vs /path/to/other/.venv/bin/tabcompress] [--repeats 1]
    python bench/big_csv.py --rows 20000000 --options '--max-rows 1000000' --out bench/results/big_csv_20m.json
    python bench/big_csv.py --rows 20000000 --options '--max-rows 1000000 --student gbdt'  # trains from disk
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from run import DEFAULT_DATA_DIR, gnu_time, log, write_json  # noqa: E402


def write_csv(source: Path, rows: int, out: Path) -> None:
    lines = source.read_text(encoding="utf-8").splitlines(keepends=True)
    header, body = lines[0], lines[1:]
    whole, rest = divmod(rows, len(body))
    with out.open("w", encoding="utf-8") as fh:
        fh.write(header)
        for _ in range(whole):
            fh.writelines(body)
        fh.writelines(body[:rest])


def timed_run(command: str, teacher: Path, data: Path, out: Path, extra: list[str]) -> dict:
    proc = subprocess.run(["/usr/bin/time", "-v", command, "distill", str(teacher), str(data), "--out", str(out),
                           "--seed", "0", "--json", "-q", *extra], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{command} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    _, seconds, peak_kib = gnu_time(proc.stderr)
    report = json.loads(proc.stdout)
    return {"command": command, "options": extra, "wall_s": round(seconds, 1),
            "peak_rss_mib": round(peak_kib / 1024, 1), "fidelity": report["metrics"]["student"]["fidelity"],
            "train_rows": report["data"]["train_rows"], "test_rows": report["data"]["test_rows"],
            "student": {key: report["student"][key] for key in report["student"]
                        if key in ("type", "trained_on", "streamed_rows", "serialized_bytes")},
            "stages_s": report.get("timings_s")}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=5_000_000)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR / "bank_marketing.csv")
    p.add_argument("--command", default=str(ROOT / ".venv" / "bin" / "tabcompress"))
    p.add_argument("--vs", help="another tabcompress executable, run in turn with --command")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--options", default="", help="more distill options, e.g. '--max-rows 1000000'")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "big_csv.json")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tabcompress-big-") as tmp:
        work = Path(tmp)
        data, teacher = work / "big.csv", work / "teacher.joblib"
        log(f"writing {args.rows:,} rows of {args.data.name} to {data}")
        write_csv(args.data, args.rows, data)
        csv_bytes = data.stat().st_size
        subprocess.run([sys.executable, str(ROOT / "sample_data" / "train_teacher.py"),
                        str(ROOT / "sample_data" / "bank_marketing_4k.csv"), str(teacher)], check=True)
        runs = []
        for repeat in range(args.repeats):
            for command in [args.command] + ([args.vs] if args.vs else []):
                log(f"run {repeat + 1}: {command}")
                result = timed_run(command, teacher, data, work / f"out-{len(runs)}", args.options.split())
                log(f"  {result['wall_s']} s, peak {result['peak_rss_mib']} MiB, fidelity {result['fidelity']}")
                runs.append(result)
    write_json(args.out, {"rows": args.rows, "data": args.data.name, "csv_bytes": csv_bytes, "runs": runs})
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
