"""Benchmark rows and the report: console table, Markdown, JSON, CSV, the PNG plot and the goal summary."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .job import Measurement

# The JSON/CSV columns every row has, in this order (extra columns follow).
ROW_FIELDS = (
    "runtime", "runtime_version", "format", "precision", "precision_run", "threads", "batch", "status", "reason",
    "size_mb", "load_ms", "first_ms", "median_ms", "p90_ms", "p99_ms", "min_ms", "throughput_pps", "peak_rss_mb",
    "rel_error", "kp_agreement", "predict_1p_ms", "predict_8p_ms",
)


@dataclass
class BenchmarkRow(Measurement):
    """One combination of format, precision, runtime precision hint, threads and batch: the :class:`Measurement` of it.

    Times are milliseconds; ``median_ms`` etc. time one runtime call on a batch of
    ``batch`` crops, ``predict_*_ms`` the whole ``PoseEstimator.predict`` (crop,
    normalize, infer, decode) on a 1280x720 frame with 1 and 8 person boxes.
    ``rel_error`` and ``kp_agreement`` compare the heatmaps with the fp32 PyTorch
    model on synthetic person crops (see :func:`lite_hrnet.export.verify.compare`).
    ``status`` is ok, failed or skipped; ``reason`` says why when not ok.
    """

    format: str = ""
    precision: str = ""  # the file's precision
    threads: Optional[int] = None  # as asked (None: the runtime's default)
    batch: int = 1
    precision_hint: Optional[str] = None  # OpenVINO's INFERENCE_PRECISION_HINT as asked (default, f32, bf16, f16)
    size_mb: Optional[float] = None  # the file and its companions
    x_floor: Optional[float] = None  # median per person / the compute floor at the threads applied
    path: str = ""
    graph: str = ""  # "plain" or "deploy" (graph rewrites applied, from the file's metadata) and the file's batch; "engine"
    graph_rewrites: List[str] = field(default_factory=list)  # as the file's metadata records them
    source: str = "export"  # export: the default export the run made; file: a file given with --files
    median_ms_per_person: Optional[float] = None  # median_ms / batch
    min_ms_per_person: Optional[float] = None  # min_ms / batch
    min_x_floor: Optional[float] = None  # min per person / the compute floor at the threads applied

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def label(self) -> str:
        ran = self.precision_run or "?"
        prec = self.precision if ran == self.precision else f"{self.precision}->{ran}"
        return f"{self.format} {prec} t{self.threads_applied or self.threads or '-'} b{self.batch}"

    def to_dict(self) -> Dict[str, Any]:
        """The row's fields, those of :data:`ROW_FIELDS` first and in that order."""
        data = asdict(self)
        return {**{k: data.pop(k) for k in ROW_FIELDS}, **data}

    @classmethod
    def columns(cls) -> List[str]:
        """The field names in :meth:`to_dict` order: the CSV header."""
        names = [f.name for f in fields(cls)]
        return list(ROW_FIELDS) + [n for n in names if n not in ROW_FIELDS]


def _fmt(value: Optional[float], spec: str, none: str = "-") -> str:
    return none if value is None else format(value, spec)


def _frame_ratio(row: "BenchmarkRow") -> Optional[float]:
    """A frame of 8 persons over a frame of 1 through ``PoseEstimator.predict`` (8 would be no batching gain)."""
    if not row.predict_1p_ms or row.predict_8p_ms is None:
        return None
    return row.predict_8p_ms / row.predict_1p_ms


def _pct(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.0%}"


def _case(row: "BenchmarkRow", threads: bool = True) -> Tuple[Any, ...]:
    """What two rows must share to be compared: the runtime and how it was asked to run (the thread count
    left out with ``threads=False``), not the file."""
    return (row.format, row.precision, row.precision_hint, row.batch) + ((row.threads,) if threads else ())


@dataclass
class BenchmarkReport:
    """Everything one benchmark run measured, with the machine and settings it ran under."""

    model: Dict[str, Any]
    machine: Dict[str, Any]
    settings: Dict[str, Any]
    rows: List[BenchmarkRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.rows)

    # ------------------------------------------------------------------ the floor
    def apply_floor(self, floor_ms: Optional[float]) -> None:
        """Per-person times of every ok row and their ratio to ``floor_ms`` (one image on one core) at the threads applied."""
        for r in self.rows:
            if not r.ok or r.median_ms is None:
                continue
            r.median_ms_per_person = round(r.median_ms / r.batch, 3)
            r.min_ms_per_person = None if r.min_ms is None else round(r.min_ms / r.batch, 3)
            if floor_ms:
                per_thread_floor = floor_ms / (r.threads_applied or r.threads or 1)
                r.x_floor = round(r.median_ms_per_person / per_thread_floor, 2)
                r.min_x_floor = None if r.min_ms_per_person is None else round(r.min_ms_per_person / per_thread_floor, 2)

    def before_after(self) -> List[Dict[str, Any]]:
        """Plain graph against deploy graph, per runtime, precision, hint, threads and batch: min and median per person."""
        ok = [r for r in self.rows if r.ok and r.min_ms_per_person and r.graph]
        out = []
        for deploy in (r for r in ok if r.graph.startswith("deploy")):
            for plain in (r for r in ok if r.graph.startswith("plain") and _case(r) == _case(deploy)):
                out.append({"format": deploy.format, "precision": deploy.precision, "hint": deploy.precision_hint,
                            "threads": deploy.threads, "batch": deploy.batch, "plain": plain.graph, "deploy": deploy.graph,
                            "plain_min_ms_per_person": plain.min_ms_per_person,
                            "deploy_min_ms_per_person": deploy.min_ms_per_person,
                            "deploy_over_plain_by_min": round(deploy.min_ms_per_person / plain.min_ms_per_person, 3),
                            "deploy_over_plain_by_median": round(deploy.median_ms_per_person / plain.median_ms_per_person, 3)})
        return out

    def thread_scaling(self) -> List[Dict[str, Any]]:
        """Per file and batch, one thread's min time per person over each larger thread count's (2.0: twice as fast on 2)."""
        ok = [r for r in self.rows if r.ok and r.min_ms_per_person and r.threads]
        out = []
        for one in (r for r in ok if r.threads == 1):
            for more in (r for r in ok if r.threads > 1 and r.path == one.path
                         and _case(r, threads=False) == _case(one, threads=False)):
                out.append({"format": one.format, "precision": one.precision, "hint": one.precision_hint, "graph": one.graph,
                            "batch": one.batch, "threads": more.threads,
                            "speedup_by_min": round(one.min_ms_per_person / more.min_ms_per_person, 3),
                            "speedup_by_median": round(one.median_ms_per_person / more.median_ms_per_person, 3)})
        return out

    # ------------------------------------------------------------------ goals
    def summary(self) -> Dict[str, Any]:
        """Per thread count at batch 1: best fp32 runtime against PyTorch eager, int8 against fp32, distance to the floor."""
        out: Dict[str, Any] = {}
        ok = [r for r in self.rows if r.ok and r.batch == 1 and r.median_ms is not None]
        for threads in sorted({r.threads for r in ok}, key=lambda t: (t is None, t or 0)):
            group = [r for r in ok if r.threads == threads]
            entry: Dict[str, Any] = {}
            torch_row = next((r for r in group if r.format == "torch" and r.precision == "fp32" and r.precision_run == "fp32"), None)
            fp32 = [r for r in group if r.format != "torch" and r.precision == "fp32"]
            if torch_row is not None:
                entry["torch_fp32_ms"] = round(torch_row.median_ms, 3)
            if fp32:
                best = min(fp32, key=lambda r: r.median_ms)
                entry["best_fp32"] = {"format": best.format, "precision_run": best.precision_run,
                                      "hint": best.precision_hint, "median_ms": round(best.median_ms, 3)}
                strict = [r for r in fp32 if r.precision_run == "fp32"]
                if strict:
                    b = min(strict, key=lambda r: r.median_ms)
                    entry["best_strict_fp32"] = {"format": b.format, "median_ms": round(b.median_ms, 3)}
                if torch_row is not None and torch_row.min_ms and best.min_ms:
                    # Minimums are what the code does when nothing else runs: a cross-check on a loaded machine.
                    best_min = min(fp32, key=lambda r: r.min_ms or float("inf"))
                    entry.setdefault("by_min", {})["best_fp32_over_torch"] = round(best_min.min_ms / torch_row.min_ms, 3)
                if torch_row is not None:
                    ratio = best.median_ms / torch_row.median_ms
                    entry["best_fp32_over_torch"] = round(ratio, 3)
                    entry["goal_fp32_0.2x_torch"] = ratio <= 0.2
                    if strict:
                        entry["best_strict_fp32_over_torch"] = round(b.median_ms / torch_row.median_ms, 3)
            pairs = []
            for q in (r for r in group if r.precision == "int8"):
                base = next((r for r in group if r.precision == "fp32" and r.format == q.format
                             and r.precision_hint == q.precision_hint), None)
                if base is not None:
                    pairs.append({"format": q.format, "hint": q.precision_hint, "int8_ms": round(q.median_ms, 3),
                                  "fp32_ms": round(base.median_ms, 3), "speedup": round(base.median_ms / q.median_ms, 3),
                                  "speedup_by_min": round(base.min_ms / q.min_ms, 3) if base.min_ms and q.min_ms else None})
            if pairs:
                by_format: Dict[str, List[float]] = {}
                for p in pairs:
                    by_format.setdefault(p["format"], []).append(p["speedup"])
                faster = sorted(f for f, s in by_format.items() if all(v > 1.0 for v in s))
                entry["int8_vs_fp32"] = pairs
                entry["int8_faster_formats"] = faster
                entry["goal_int8_faster_on_2"] = len(faster) >= 2
            strict = [r for r in self.rows if r.ok and r.threads == threads and r.format != "torch"
                      and r.precision_run == "fp32" and r.min_x_floor is not None]
            for batch in sorted({r.batch for r in strict}):
                b = min((r for r in strict if r.batch == batch), key=lambda r: r.min_x_floor)
                entry.setdefault("best_strict_fp32_x_floor", {})[f"batch {batch}"] = {
                    "label": b.label, "graph": b.graph, "min_ms_per_person": b.min_ms_per_person, "x_floor_by_min": b.min_x_floor,
                    "x_floor_by_median": b.x_floor}
            frames = [r for r in self.rows if r.ok and r.threads == threads and _frame_ratio(r) is not None and r.format != "torch"]
            if frames:
                f8 = min(frames, key=lambda r: _frame_ratio(r))
                entry["best_8p_over_1p"] = {"label": f8.label, "graph": f8.graph, "ratio": round(_frame_ratio(f8), 2)}
            floor = self.model.get("floor_ms_per_image_1thread")
            best_any = min(group, key=lambda r: r.median_ms)
            if floor:
                threads_used = best_any.threads_applied or best_any.threads or 1
                entry["fastest"] = {"label": best_any.label, "median_ms": round(best_any.median_ms, 3),
                                    "floor_ms": round(floor / threads_used, 3),
                                    "x_floor": round(best_any.median_ms / (floor / threads_used), 1)}
            out[f"threads={threads if threads is not None else 'default'}"] = entry
        before_after, scaling = self.before_after(), self.thread_scaling()
        if before_after:
            out["before_after"] = before_after
        if scaling:
            out["thread_scaling"] = scaling
        warning = self.load_warning()
        if warning:
            out["warning"] = warning
        return out

    def load_warning(self) -> str:
        """A warning when the machine was busy as the run started (medians then measure the contention too)."""
        load, cores = self.machine.get("load_average"), self.machine.get("usable_cores")
        if load and cores and load[0] > 0.25 * cores:
            return (f"load average {load[0]:.2f} on {cores} usable cores when the run started: other work shared "
                    "the CPU, medians are inflated and the goal verdicts unreliable; compare min_ms, or rerun on a quiet machine")
        return ""

    def summary_lines(self) -> List[str]:
        lines = []
        for key, e in self.summary().items():
            if not isinstance(e, dict):
                continue
            parts = []
            if "best_fp32" in e:
                b = e["best_fp32"]
                text = f"best fp32 file: {b['format']} ({b['precision_run']}) {b['median_ms']:.2f} ms"
                if "best_fp32_over_torch" in e:
                    verdict = "reached" if e["goal_fp32_0.2x_torch"] else "NOT reached"
                    text += f" = {e['best_fp32_over_torch']:.2f} x PyTorch eager {e['torch_fp32_ms']:.2f} ms (goal <= 0.2: {verdict})"
                if b["precision_run"] != "fp32" and "best_strict_fp32" in e:
                    # OpenVINO's bf16 default is not fp32 arithmetic: say what fp32 proper gives too.
                    s = e["best_strict_fp32"]
                    text += f"; computing in fp32: {s['format']} {s['median_ms']:.2f} ms"
                    if "best_strict_fp32_over_torch" in e:
                        text += f" = {e['best_strict_fp32_over_torch']:.2f} x"
                parts.append(text)
            if "int8_vs_fp32" in e:
                pairs = ", ".join(f"{p['format']}{'/' + p['hint'] if p['hint'] else ''} x{p['speedup']:.2f}" for p in e["int8_vs_fp32"])
                verdict = "reached" if e["goal_int8_faster_on_2"] else "NOT reached"
                parts.append(f"int8 speed-up over fp32: {pairs} (faster on {len(e['int8_faster_formats'])} runtime(s); goal >= 2: {verdict})")
            for batch, b in e.get("best_strict_fp32_x_floor", {}).items():
                parts.append(f"computing in fp32, {batch}: {b['label']} ({b['graph']}) {b['min_ms_per_person']:.2f} ms per person "
                             f"(min) = {b['x_floor_by_min']:.1f} x the floor")
            if "best_8p_over_1p" in e:
                f8 = e["best_8p_over_1p"]
                parts.append(f"frame of 8 persons / 1 person: {f8['ratio']:.1f} ({f8['label']}, {f8['graph']})")
            if "fastest" in e:
                f = e["fastest"]
                parts.append(f"fastest: {f['label']} {f['median_ms']:.2f} ms = {f['x_floor']:.1f} x the compute floor {f['floor_ms']:.2f} ms")
            by_min = []
            if "best_fp32_over_torch" in e.get("by_min", {}):
                by_min.append(f"best fp32 / PyTorch = {e['by_min']['best_fp32_over_torch']:.2f}")
            speedups = [f"{p['format']}{'/' + p['hint'] if p['hint'] else ''} x{p['speedup_by_min']:.2f}"
                        for p in e.get("int8_vs_fp32", []) if p.get("speedup_by_min")]
            if speedups:
                by_min.append("int8 speed-up " + ", ".join(speedups))
            if by_min:
                parts.append("by min latency: " + "; ".join(by_min))
            lines.append(f"{key}: " + "; ".join(parts) if parts else f"{key}: nothing to compare")
        pairs = self.before_after()
        if pairs:
            lines.append("deploy graph / plain graph, min per person: " + ", ".join(
                f"{p['format']} {p['precision']}{'/' + p['hint'] if p['hint'] else ''} t{p['threads']} b{p['batch']} "
                f"x{p['deploy_over_plain_by_min']:.2f}" for p in pairs))
        scaling = self.thread_scaling()
        if scaling:
            lines.append("1 thread / more threads, min per person: " + ", ".join(
                f"{p['format']} {p['precision']}{'/' + p['hint'] if p['hint'] else ''} {p['graph']} b{p['batch']} "
                f"t{p['threads']} x{p['speedup_by_min']:.2f}" for p in scaling))
        if self.load_warning():
            lines.append("WARNING: " + self.load_warning())
        return lines

    # ------------------------------------------------------------------ output
    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "BenchmarkReport":
        """The report back from :meth:`to_dict` output (e.g. a results JSON), to re-render its table or plot."""
        known = {f.name for f in fields(BenchmarkRow)}
        rows = [BenchmarkRow(**{k: v for k, v in r.items() if k in known}) for r in data.get("rows", [])]
        return cls(model=dict(data.get("model", {})), machine=dict(data.get("machine", {})),
                   settings=dict(data.get("settings", {})), rows=rows)

    def to_dict(self) -> Dict[str, Any]:
        return {"model": self.model, "machine": self.machine, "settings": self.settings,
                "rows": [r.to_dict() for r in self.rows], "summary": self.summary()}

    def write_json(self, path: Union[str, Path]) -> Path:
        path = _writable(path, "--json")
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path

    def write_csv(self, path: Union[str, Path]) -> Path:
        path = _writable(path, "--csv")
        with path.open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=BenchmarkRow.columns())
            writer.writeheader()
            for row in self.rows:
                d = row.to_dict()
                d["notes"] = "; ".join(d["notes"])
                writer.writerow({k: "" if v is None else v for k, v in d.items()})
        return path

    def _columns(self) -> List[Tuple[str, str, Any]]:
        """(header, alignment, getter) of the printed table."""
        return [
            ("format", "<", lambda r: r.format),
            ("graph", "<", lambda r: r.graph or "-"),
            ("runtime", "<", lambda r: f"{r.runtime} {r.runtime_version}".strip()),
            ("prec", "<", lambda r: r.precision),
            ("hint", "<", lambda r: r.precision_hint or "-"),
            ("ran", "<", lambda r: r.precision_run or "-"),
            ("thr", ">", lambda r: "-" if r.threads is None else str(r.threads)),
            ("applied", ">", lambda r: "-" if r.threads_applied is None else str(r.threads_applied)),
            ("batch", ">", lambda r: str(r.batch)),
            ("status", "<", lambda r: r.status),
            ("MB", ">", lambda r: _fmt(r.size_mb, ".2f")),
            ("load ms", ">", lambda r: _fmt(r.load_ms, ".0f")),
            ("1st ms", ">", lambda r: _fmt(r.first_ms, ".1f")),
            ("median", ">", lambda r: _fmt(r.median_ms, ".2f")),
            ("p90", ">", lambda r: _fmt(r.p90_ms, ".2f")),
            ("p99", ">", lambda r: _fmt(r.p99_ms, ".2f")),
            ("min", ">", lambda r: _fmt(r.min_ms, ".2f")),
            ("ms/pers", ">", lambda r: _fmt(r.median_ms_per_person, ".2f")),
            ("x floor", ">", lambda r: _fmt(r.x_floor, ".1f")),
            ("min x fl", ">", lambda r: _fmt(r.min_x_floor, ".1f")),
            ("pers/s", ">", lambda r: _fmt(r.throughput_pps, ".1f")),
            ("RSS MB", ">", lambda r: _fmt(r.peak_rss_mb, ".0f")),
            ("rel err", ">", lambda r: _fmt(r.rel_error, ".1e")),
            ("kp agr", ">", lambda r: _pct(r.kp_agreement)),
            ("1p ms", ">", lambda r: _fmt(r.predict_1p_ms, ".2f")),
            ("8p ms", ">", lambda r: _fmt(r.predict_8p_ms, ".2f")),
            ("8p/1p", ">", lambda r: _fmt(_frame_ratio(r), ".1f")),
        ]

    def table(self) -> str:
        """The console table, failure reasons under their rows, then the machine and the goal summary."""
        columns = self._columns()
        cells = [[get(r) for _, _, get in columns] for r in self.rows]
        widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _, _) in enumerate(columns)]
        header = "  ".join(f"{h:{a}{w}}" for (h, a, _), w in zip(columns, widths))
        lines = [header, "-" * len(header)]
        for row, c in zip(self.rows, cells):
            lines.append("  ".join(f"{v:{a}{w}}" for v, (_, a, _), w in zip(c, columns, widths)))
            if row.reason:
                lines.append(f"    {row.status}: {row.reason}")
        m = self.model
        s = self.settings
        lines.append("")
        lines.append(f"model: {m.get('name')} {m.get('input_size')}, {m.get('weights')}; "
                     f"{m.get('gflop_per_image', 0):.3f} GFLOP/image; compute floor {_fmt(m.get('floor_ms_per_image_1thread'), '.2f')} ms "
                     f"per image on one core ({m.get('floor_note', '')})")
        lines.append(f"machine: {self.machine.get('one_line', '')}")
        timing = f"{s.get('runs')} runs" if s.get("runs") else f"{s.get('seconds')} s per combination"
        lines.append(f"timing: {s.get('warmup')} warm-up calls, then {timing}; latency is one runtime call on a batch; "
                     f"predict = crop + normalize + infer + decode on a 1280x720 frame; memory: {s.get('rss_scope')}")
        lines.extend(self.summary_lines())
        return "\n".join(lines)

    def markdown(self, title: Optional[str] = None) -> str:
        """A Markdown table of the rows (for benchmarks/results/*.md)."""
        head = ["format", "graph", "runtime", "precision", "ran", "threads", "batch", "status", "size MB", "load ms",
                "first ms", "median ms", "p90 ms", "p99 ms", "min ms", "median ms / person", "x floor", "min x floor",
                "persons/s", "peak RSS MB", "rel err", "kp agree", "predict 1p ms", "predict 8p ms", "8p / 1p"]
        m, mach, s = self.model, self.machine, self.settings
        lines = [f"# {title}", ""] if title else []
        timing = f"{s.get('runs')} timed runs" if s.get("runs") else f"{s.get('seconds')} s of timed runs"
        libs = ", ".join(f"{k} {v}" for k, v in (mach.get("libraries") or {}).items())
        lines += [
            f"- model: `{m.get('name')}` {m.get('input_size')}, {m.get('weights')}; "
            f"{m.get('macs', 0) / 1e6:.1f}M MACs = {m.get('gflop_per_image', 0):.3f} GFLOP per image",
            f"- machine: {mach.get('one_line', '')}",
            f"- libraries: {libs}",
            f"- timing: {s.get('warmup')} warm-up calls then {timing} per row, each row in "
            f"{'a fresh process' if s.get('isolated') else 'the same process'}; latency = one runtime call on a batch; "
            f"predict = crop + normalize + infer + decode on a {s.get('frame', '')}",
            f"- compute floor: {_fmt(m.get('floor_ms_per_image_1thread'), '.2f')} ms per image on one core ({m.get('floor_note', '')})",
        ]
        if s.get("note"):
            lines.append(f"- note: **{s['note']}**")
        lines += ["", "| " + " | ".join(head) + " |", "|" + "|".join(["---"] * len(head)) + "|"]
        for r in self.rows:
            ran = (r.precision_run or "-") + (f" (hint {r.precision_hint})" if r.precision_hint else "")
            threads = "-" if r.threads is None else f"{r.threads} ({r.threads_applied if r.threads_applied is not None else '?'})"
            cells = [r.format, r.graph or "-", f"{r.runtime} {r.runtime_version}".strip(), r.precision, ran, threads,
                     str(r.batch), r.status if r.ok else f"{r.status}: {r.reason}", _fmt(r.size_mb, ".2f"),
                     _fmt(r.load_ms, ".0f"), _fmt(r.first_ms, ".1f"), _fmt(r.median_ms, ".2f"), _fmt(r.p90_ms, ".2f"),
                     _fmt(r.p99_ms, ".2f"), _fmt(r.min_ms, ".2f"), _fmt(r.median_ms_per_person, ".2f"),
                     _fmt(r.x_floor, ".1f"), _fmt(r.min_x_floor, ".1f"), _fmt(r.throughput_pps, ".1f"),
                     _fmt(r.peak_rss_mb, ".0f"),
                     _fmt(r.rel_error, ".1e"), _pct(r.kp_agreement), _fmt(r.predict_1p_ms, ".2f"), _fmt(r.predict_8p_ms, ".2f"),
                     _fmt(_frame_ratio(r), ".1f")]
            lines.append("| " + " | ".join(c.replace("|", "/") for c in cells) + " |")
        lines += ["", "Threads: requested (applied, as the runtime reports it). " + str(self.settings.get("rss_scope", ""))]
        settings = sorted({f"{r.format}: {n}" for r in self.rows for n in r.notes})
        if settings:
            lines += ["", "Runtime settings read back:", ""] + [f"- {n}" for n in settings]
        lines += ["", "Summary:", ""] + [f"- {line}" for line in self.summary_lines()]
        return "\n".join(lines) + "\n"

    def write_markdown(self, path: Union[str, Path], title: Optional[str] = None) -> Path:
        path = _writable(path, "--markdown")
        path.write_text(self.markdown(title))
        return path

    def plot(self, path: Union[str, Path]) -> Path:
        """PNG: latency against keypoint agreement per format and precision, and latency per runtime."""
        path = _writable(path, "--plot")
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import FuncFormatter
        except ImportError:
            raise ImportError("--plot needs matplotlib: pip install matplotlib") from None
        rows = [r for r in self.rows if r.ok and r.median_ms is not None]
        # A Figure with its own Agg canvas: no pyplot, so no global figure state and no display needed.
        fig = Figure(figsize=(15, max(6.0, 0.32 * len(rows) + 2.5)))
        FigureCanvasAgg(fig)
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1.2]})
        markers = {"torch": "o", "onnx": "s", "openvino": "^", "tflite": "D", "engine": "*"}
        # Colour = the file's precision; a hollow marker = computed in bf16 (OpenVINO's default on bf16 CPUs).
        colors = {"fp32": "tab:blue", "fp16": "tab:orange", "int8": "tab:red"}
        several = len({(r.threads_applied or r.threads, r.batch) for r in rows}) > 1
        seen = set()
        for r in rows:
            y = r.kp_agreement if r.kp_agreement is not None else float("nan")
            color = colors.get(r.precision, "gray")
            hollow = "bf16" in (r.precision_run or "")
            label = f"{r.format} {r.precision}" + (f" (ran {r.precision_run})" if r.precision_run != r.precision else "")
            ax1.scatter(r.median_ms, y, marker=markers.get(r.format, "x"), s=60, linewidths=1.5,
                        facecolors="none" if hollow else color, edgecolors=color, label=None if label in seen else label)
            seen.add(label)
            if several:
                ax1.annotate(f"t{r.threads_applied or r.threads or '-'} b{r.batch}", (r.median_ms, y), fontsize=7,
                             textcoords="offset points", xytext=(4, 3))
        ax1.set_xscale("log")
        # Plain numbers on the log axis (1, 2, 3, 5 x 10^k), not 3x10^1.
        plain = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.0e}"[0] in "1235" else "")
        ax1.xaxis.set_major_formatter(plain)
        ax1.xaxis.set_minor_formatter(plain)
        ax1.set_xlabel("median latency per call (ms, log); colour: file precision, hollow: computed in bf16")
        ax1.set_ylabel("keypoint agreement with fp32 PyTorch")
        ax1.set_ylim(-0.05, 1.05)
        ax1.grid(True, which="both", alpha=0.3)
        if rows:
            # Below the axes: agreement sits near 1 and near 0, a legend inside would hide points.
            ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=3, frameon=False)
        ax1.set_title("accuracy against speed")
        ordered = sorted(rows, key=lambda r: r.median_ms, reverse=True)
        labels = [f"{r.runtime} {r.precision}{'' if r.precision_run == r.precision else '->' + (r.precision_run or '?')}"
                  f"{' (hint ' + r.precision_hint + ')' if r.precision_hint else ''} t{r.threads_applied or r.threads or '-'} b{r.batch}"
                  for r in ordered]
        ax2.barh(range(len(ordered)), [r.median_ms for r in ordered], height=0.6,
                 color=[colors.get(r.precision, "gray") for r in ordered],
                 hatch=None, edgecolor=["black" if "bf16" in (r.precision_run or "") else "none" for r in ordered])
        ax2.set_yticks(range(len(ordered)))
        ax2.set_yticklabels(labels, fontsize=8)
        for i, r in enumerate(ordered):
            ax2.annotate(f"{r.median_ms:.2f}", (r.median_ms, i), fontsize=7, xytext=(3, -3), textcoords="offset points")
        ax2.set_xlabel("median latency per call (ms)")
        ax2.set_title("latency per runtime")
        ax2.grid(True, axis="x", alpha=0.3)
        title = f"{self.model.get('name')} on {self.machine.get('cpu_model', '?')}"
        if self.settings.get("note"):
            title += f" ({self.settings['note']})"
        fig.suptitle(title, fontsize=10)
        fig.tight_layout()
        fig.savefig(str(path), dpi=110)
        return path


def _writable(path: Union[str, Path], arg: str) -> Path:
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{arg}: {path} is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OSError(f"{arg}: cannot create {path.parent}: {e.strerror or e}") from None
    return path
