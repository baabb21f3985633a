"""Rich tables of the ops commands' results."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from tongxin.ops.provision import DepartmentResult, Outcome
from tongxin.ops.status import Lag, StatusReport

ROLLOUT_STYLE = {"complete": "green", "progressing": "yellow", "stalled": "bold red"}
OUTCOME_STYLE: dict[Outcome, str] = {"created": "green", "updated": "yellow", "unchanged": "dim"}


def lag_text(lag: Lag) -> Text:
    if lag.value is None:
        return Text(f"unknown ({lag.reason})", style="dim")
    return Text(f"{lag.value} ({lag.source})", style="yellow" if lag.value else "")


def status_table(report: StatusReport) -> Table:
    table = Table(title=f"Tongxin services in namespace {report.namespace}")
    table.add_column("service")
    table.add_column("component")
    for heading in ("desired", "updated", "ready", "available"):
        table.add_column(heading, justify="right")
    table.add_column("image", overflow="fold")
    table.add_column("rollout")
    table.add_column("lag (events)", overflow="fold")
    for row in report.services:
        table.add_row(
            row.name,
            row.component or "-",
            str(row.desired),
            str(row.updated),
            str(row.ready),
            str(row.available),
            "\n".join(row.images),
            Text(row.rollout, style=ROLLOUT_STYLE[row.rollout]),
            lag_text(row.lag),
        )
    return table


def provision_table(results: list[DepartmentResult], *, dry_run: bool) -> Table:
    title = "Department provisioning" + (
        " (server-side dry run: nothing stored)" if dry_run else ""
    )
    table = Table(title=title)
    table.add_column("department")
    table.add_column("namespace")
    table.add_column("result")
    table.add_column("objects", overflow="fold")
    for result in results:
        lines = Text()
        for i, step in enumerate(result.steps):
            if i:
                lines.append("\n")
            lines.append(f"{step.kind} {step.name}: ")
            lines.append(step.outcome, style=OUTCOME_STYLE[step.outcome])
            if step.note:
                lines.append(f" ({step.note})", style="dim")
        table.add_row(
            result.account.code,
            result.account.namespace,
            Text(result.summary, style=OUTCOME_STYLE[result.summary]),
            lines,
        )
    return table
