"""What an export did: one :class:`Artifact` per file, gathered in an :class:`ExportReport`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional


@dataclass
class Artifact:
    """One exported file and how it compares with PyTorch."""

    format: str
    precision: str
    path: str
    size_bytes: int = 0
    seconds: float = 0.0
    status: str = "ok"  # ok, failed, cached (an existing file kept)
    runtime_precision: Optional[str] = None  # what the runtime actually ran during the check
    rel_error: Optional[float] = None
    mean_displacement_px: Optional[float] = None
    max_displacement_px: Optional[float] = None
    agreement: Optional[float] = None
    check: Optional[str] = None  # the tolerance that was applied
    message: str = ""
    end_to_end: bool = False  # an end-to-end file (lite_hrnet.export.end_to_end), checked against its plain file


@dataclass
class ExportReport:
    """Every artifact of one :func:`lite_hrnet.export.export_model` call, with the checkpoint they came from."""

    model_name: str
    out_dir: str
    checkpoint_sha256: str
    artifacts: List[Artifact] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(a.status != "failed" for a in self.artifacts)

    def to_dict(self) -> Dict:
        return {"model_name": self.model_name, "out_dir": self.out_dir, "checkpoint_sha256": self.checkpoint_sha256,
                "ok": self.ok, "artifacts": [asdict(a) for a in self.artifacts]}

    def table(self) -> str:
        header = f"{'format':<10} {'precision':<9} {'status':<7} {'size':>8} {'time':>7} {'ran':<5} {'rel err':>9} {'kp agree':>8} {'kp Δpx':>7}  path"
        lines = [header, "-" * len(header)]
        for a in self.artifacts:
            size = f"{a.size_bytes / 1e6:.2f}MB" if a.size_bytes else "-"
            rel = f"{a.rel_error:.2e}" if a.rel_error is not None else "-"
            agree = f"{a.agreement:.0%}" if a.agreement is not None else "-"
            disp = f"{a.mean_displacement_px:.2f}" if a.mean_displacement_px is not None else "-"
            fmt = f"{a.format} e2e" if a.end_to_end else a.format
            lines.append(f"{fmt:<10} {a.precision:<9} {a.status:<7} {size:>8} {a.seconds:>6.1f}s {a.runtime_precision or '-':<5} "
                         f"{rel:>9} {agree:>8} {disp:>7}  {a.path}")
            if a.message:
                lines.append(f"{'':<10} {a.message}")
        return "\n".join(lines)


__all__ = ["Artifact", "ExportReport"]
