"""What a job's parent run says in the MLflow UI (its note): the job, its budget, how it ended, and the targets
it serves with their verdicts once they are judged."""

from __future__ import annotations

from typing import Any

NOTE_TAG = "mlflow.note.content"


def job_note(job: Any, status: str, reason: str, verdicts: list[Any] | None = None) -> str:
    lines = [f"**{job.experiment} · {job.method} · {job.dataset}** at profile `{job.profile}` on {job.device}"
             + (f" ({job.platform})" if job.platform else "") + ": "
             f"{job.steps:,} steps, {len(job.seeds)} seeds" + (f", {job.n_trials} settings" if job.sweep else ""),
             "", f"Status: {status}" + (f": {reason}" if reason else "")]
    if verdicts:
        lines += ["", "Targets it serves, and their verdicts:"]
        lines += [f"- `{v.target}`: **{v.verdict}**" + (f" ({v.detail})" if v.detail else "") for v in verdicts[:60]]
        if len(verdicts) > 60:
            lines.append(f"- … and {len(verdicts) - 60} more")
    elif job.targets:
        lines += ["", "Targets it serves:", *(f"- `{t}`" for t in job.targets[:60])]
        if len(job.targets) > 60:
            lines.append(f"- … and {len(job.targets) - 60} more")
    return "\n".join(lines)


def annotate_parents(results: Any, tracker: Any, profile: str, device: str) -> None:
    """Write each judged job's verdicts into the note of its parent run on this host's device and platform."""
    from benchmark.numerics import host_platform

    platform = host_platform(device) or ""
    for (p, _place, triple), record in results.records.items():
        if p != profile or record.job.device != device or record.job.platform != platform or record.parent is None:
            continue
        targets = {t.id for t in results.suite.all_targets if triple in t.jobs}
        verdicts = [v for v in results.verdicts if v.target in targets]
        tracker.set_tags(record.parent.run_id, {NOTE_TAG: job_note(record.job, record.status, record.reason,
                                                                   verdicts)})
