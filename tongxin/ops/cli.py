"""`tongxin ops`: the platform on a Kubernetes cluster (kubeconfig or in-cluster account)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

if TYPE_CHECKING:
    from tongxin.ops.client import Kube

# The kubernetes client takes seconds to import; the ops modules are imported inside the
# commands so that the rest of `tongxin` (token, run, demo) does not pay for it.

DEFAULT_NAMESPACE = "tongxin"

ops_app = typer.Typer(
    help="Operate Tongxin on Kubernetes: status, department provisioning, rollouts.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)


class _Connection:
    """Connects on first use, so `--help` and argument errors need no cluster."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        self.kubeconfig = kubeconfig
        self.context = context

    def kube(self) -> Kube:
        from tongxin.ops.client import KubeConfigError, connect

        try:
            return connect(self.kubeconfig, self.context)
        except KubeConfigError as exc:
            err.print(f"[red]tongxin ops:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(2) from None


def _kube(ctx: typer.Context) -> Kube:
    from tongxin.ops.client import Kube, connect

    obj = ctx.obj
    if isinstance(obj, Kube):  # injected (tests, or a caller holding its own ApiClient)
        return obj
    if isinstance(obj, _Connection):
        return obj.kube()
    return connect()


@ops_app.callback()
def ops(
    ctx: typer.Context,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context to use.")] = None,
) -> None:
    """Operate Tongxin on Kubernetes. Uses the kubeconfig, or the pod's account in a cluster."""
    if ctx.obj is None:
        ctx.obj = _Connection(kubeconfig, context)


@ops_app.command()
def status(
    ctx: typer.Context,
    namespace: Annotated[str, typer.Option(help="Namespace of the platform.")] = DEFAULT_NAMESPACE,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Replicas, image, rollout state and relay / projection lag of every Tongxin service."""
    from tongxin.ops.render import status_table
    from tongxin.ops.status import collect

    report = collect(_kube(ctx), namespace)
    if as_json:
        typer.echo(json.dumps(report.model_dump(mode="json"), indent=2))
        return
    console = Console()
    if not report.services:
        console.print(f"no Deployments labelled app.kubernetes.io/part-of=tongxin in {namespace}")
        return
    console.print(status_table(report))


@ops_app.command("provision-departments")
def provision_departments(
    ctx: typer.Context,
    department: Annotated[
        list[str] | None,
        typer.Option("--department", "-d", help="Department code (repeatable; default: all 13)."),
    ] = None,
    platform_namespace: Annotated[
        str, typer.Option(help="Namespace of the platform's NATS and its users Secret.")
    ] = DEFAULT_NAMESPACE,
    nats_url: Annotated[
        str | None,
        typer.Option(
            help="NATS URL given to the departments (default: the chart's NATS Service of release "
            "tongxin, nats://tongxin-nats.<platform-namespace>.svc:4222)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Send every write as a server-side dry run.")
    ] = False,
) -> None:
    """Namespace, ServiceAccount, RBAC and NATS credentials Secret for each department."""
    from tongxin.ops import provision as provisioning
    from tongxin.ops.departments import UnknownDepartment, department_accounts
    from tongxin.ops.render import provision_table

    try:
        accounts = department_accounts(department)
    except UnknownDepartment as exc:
        raise typer.BadParameter(str(exc), param_hint="--department") from None
    provisioner = provisioning.Provisioner(
        _kube(ctx),
        platform_namespace=platform_namespace,
        nats_url=nats_url or f"nats://tongxin-nats.{platform_namespace}.svc:4222",
        dry_run=dry_run,
    )
    console = Console()
    if dry_run:
        console.print("dry run: every write is sent with dryRun=All; nothing is stored")
    results = []
    failure = None
    for account in accounts:
        try:
            results.append(provisioner.provision(account))
        except provisioning.ProvisionError as exc:
            failure = f"department {account.code}: {exc}"
            break
    if results:
        console.print(provision_table(results, dry_run=dry_run))
    if failure:
        err.print(f"[red]tongxin ops provision-departments:[/] {escape(failure)}", soft_wrap=True)
        raise typer.Exit(1)


@ops_app.command()
def rollout(
    ctx: typer.Context,
    service: Annotated[str, typer.Argument(help="Deployment name, e.g. volunteers, gateway.")],
    image: Annotated[str, typer.Argument(help="The new image, e.g. registry/tongxin:1.4.2.")],
    namespace: Annotated[str, typer.Option(help="Namespace of the platform.")] = DEFAULT_NAMESPACE,
    container: Annotated[
        str | None, typer.Option(help="Container to update (default: the service's own).")
    ] = None,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to wait for the rollout to complete.")
    ] = 300,
) -> None:
    """Set SERVICE's image to IMAGE, then wait until every replica runs it."""
    from tongxin.ops import rollout as rollouts

    kube = _kube(ctx)
    console = Console()
    try:
        patched = rollouts.set_image(kube, namespace, service, image, container)
        generation = (patched.metadata.generation if patched.metadata else None) or 0
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("{task.fields[detail]}"),
            console=console,
        ) as bar:
            task = bar.add_task(service, total=None, counts="", detail="waiting")

            def show(p: rollouts.Progress) -> None:
                bar.update(
                    task,
                    total=max(p.desired, 1),
                    completed=min(p.available, p.updated),
                    counts=f"updated {p.updated}/{p.desired} ready {p.ready} "
                    f"available {p.available}",
                    detail=p.detail,
                )

            rollouts.wait_for_rollout(
                kube,
                namespace,
                service,
                generation=generation,
                timeout_s=timeout,
                poll_s=rollouts.POLL_S,
                on_progress=show,
            )
    except rollouts.RolloutError as exc:
        err.print(f"[red]tongxin ops rollout:[/] {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(1) from None
    console.print(f"[green]{service}[/] runs {image} on every replica")
