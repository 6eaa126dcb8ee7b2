"""`assistant eval`: list suites and runs, run a suite, report on runs, compare runs.

Heavy imports (the runner, matplotlib) happen inside the commands so `assistant --help` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.cli.common import (
    ApiKey,
    BaseUrl,
    Model,
    Profile,
    fail,
    install_sigterm_as_interrupt,
    settings_flags,
    user_errors,
)

if TYPE_CHECKING:
    from assistant.evals.runner import Progress

app = typer.Typer(
    name="eval",
    help="Coding evals: run HumanEval through the assistant, report and compare runs.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


@app.command("list")
def list_cmd() -> None:
    """Suites, prompt templates, and the runs in the runs directory."""
    with user_errors():
        from assistant.evals.launch import runs_dir
        from assistant.evals.prompts import load_templates
        from assistant.evals.store import list_runs
        from assistant.evals.suites import BUILTIN

        print("Suites (or give a path to a HumanEval-shaped .jsonl/.jsonl.gz file):")
        for name, about in BUILTIN.items():
            print(f"  {name:12s} {about}")
        print("\nPrompt templates (--template, direct mode):")
        for t in load_templates().values():
            print(f"  {t.name:12s} {t.description}")
        from assistant.evals.ablate import matrix_names

        print("\nAblation matrices (`assistant eval ablate NAME`):")
        for name, about in matrix_names().items():
            print(f"  {name:12s} {about}")
        runs = list_runs(runs_dir())
        print(f"\nRuns in {runs_dir()}:" if runs else f"\nNo runs yet in {runs_dir()}.")
        for store in runs:
            s = store.read_summary() or {}
            r = s.get("pass_rate") or {}
            rate = f"{100 * r['rate']:5.1f}% ({r['passed']}/{r['total']})" if r.get("total") else "   -"
            print(f"  {store.name:50s} {s.get('status', '?'):11s} {rate}")


@app.command("run")
def run_cmd(
    suite: Annotated[
        str, typer.Argument(help="humaneval, repotasks, a HumanEval-shaped JSONL file or a folder of repository tasks.")
    ],
    mode: Annotated[
        str,
        typer.Option("--mode", help="direct: one request per sample; agent: the agent loop with sandboxed tools."),
    ] = "direct",
    template: Annotated[
        str, typer.Option("--template", help="Prompt template (direct mode); see `assistant eval list`.")
    ] = "qwen",
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Comma-separated task ids, e.g. HumanEval/0,HumanEval/5.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", help="Only the first N tasks.")] = None,
    samples: Annotated[int, typer.Option("--samples", "-n", help="Samples per task (pass@k needs n >= k).")] = 1,
    temperature: Annotated[
        float | None, typer.Option("--temperature", "-t", help="Default 0 (greedy) for one sample, 0.8 for more.")
    ] = None,
    top_p: Annotated[float | None, typer.Option("--top-p")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Sampling seed (sample i uses seed + i).")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Default: the template's.")] = None,
    max_steps: Annotated[
        int | None, typer.Option("--max-steps", help="Agent mode: model requests per task (6; repository tasks 12).")
    ] = None,
    time_limit: Annotated[
        float, typer.Option("--time-limit", help="Repository tasks: wall seconds per attempt before it is stopped.")
    ] = 300.0,
    retrieval: Annotated[
        bool, typer.Option("--retrieval/--no-retrieval", help="Repository tasks: index the copy, passages per turn.")
    ] = False,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-j", help="Requests in flight (local model: its slots).")
    ] = 4,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="llama-server threads (local model). 1 is far faster on a busy machine."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds per test run in the sandbox.")] = 10.0,
    extract: Annotated[
        str, typer.Option("--extract", help="auto: the block defining the entry point; first: the first block.")
    ] = "auto",
    sanitize: Annotated[
        bool, typer.Option("--sanitize/--no-sanitize", help="Keep only what the entry point needs.")
    ] = True,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Run folder (default: <data dir>/evals/runs/NAME).")
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="Run name; an existing run of that name is resumed.")
    ] = None,
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    profile: Profile = None,
    local_model: Annotated[
        str | None, typer.Option("--local-model", help="Embedded model to evaluate, e.g. qwen2.5-coder-1.5b.")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a suite; a rerun of the same run (same --name/--out and settings) resumes where it stopped."""
    install_sigterm_as_interrupt()
    with user_errors():
        from assistant.config import load_settings
        from assistant.evals.launch import EvalRequest

        flags = settings_flags(
            base_url=base_url, model=model, api_key=api_key, profile=profile, local_model=local_model
        )
        settings = load_settings(flags)
        req = EvalRequest(
            suite=suite, mode=mode, template=template, limit=limit, samples=samples, temperature=temperature,
            top_p=top_p, seed=seed, max_tokens=max_tokens, max_steps=max_steps, time_limit=time_limit,
            retrieval=retrieval, concurrency=concurrency,
            threads=threads, timeout=timeout, extract=extract, sanitize=sanitize, out=out, name=name,
            task_ids=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
        )  # fmt: skip
        _run(req, settings, quiet)


def _run(req: Any, settings: Any, quiet: bool) -> None:
    from assistant.evals.launch import run_eval
    from assistant.evals.report import print_summary

    view = _ProgressView(quiet)
    try:
        store, summary = asyncio.run(run_eval(req, settings, on_progress=view.update, on_start=view.start))
    except KeyboardInterrupt:
        view.close()
        where = view.store_path or "the run folder"
        again = "" if req.name or req.out else f" plus --name {view.store_name}"
        sys.stderr.write(
            f"\nInterrupted: finished attempts are saved in {where}.\nResume with the same command{again}.\n"
        )
        raise typer.Exit(130) from None
    finally:
        view.close()
    print_summary(summary, store.path)


class _ProgressView:
    """A rich progress bar on stderr: done/total, pass rate so far, ETA (plain lines when not a terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bar: Any = None
        self.task: Any = None
        self.store_path: Path | None = None
        self.store_name: str | None = None
        self._last_line = 0.0

    def start(self, store: Any, runner: Any, sandbox: Any) -> None:
        self.store_path, self.store_name = store.path, store.name
        if sandbox.warning:
            sys.stderr.write(f"WARNING: {sandbox.warning}\n")
        work, done = runner.pending()
        total = done + len(work)
        sys.stderr.write(f"[run {store.path}: {done}/{total} done{', resuming' if done else ''}]\n")
        if self.quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.bar = Progress(
            TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
            TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True), transient=False,
        )  # fmt: skip
        self.bar.start()
        self.task = self.bar.add_task("eval", total=total, completed=done, rate="pass -")

    def update(self, progress: Progress, record: dict[str, Any]) -> None:
        rate = f"pass {100 * progress.passed / progress.done:.1f}%" if progress.done else "pass -"
        if progress.errors:
            rate += f", {progress.errors} errors"
        if self.bar is not None:
            self.bar.update(self.task, completed=progress.done, rate=rate)
            return
        if self.quiet:
            return
        import time

        now = time.monotonic()
        if now - self._last_line > 10 or progress.done == progress.total:
            self._last_line = now
            sys.stderr.write(f"[{progress.done}/{progress.total} {rate}]\n")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


@app.command("report")
def report_cmd(
    runs: Annotated[list[str], typer.Argument(help="Run folders or names.")],
    html: Annotated[bool, typer.Option("--html/--no-html", help="Write report.html (per-task drill-down).")] = True,
    png: Annotated[bool, typer.Option("--png/--no-png", help="Write chart.png.")] = True,
) -> None:
    """Print a table per run and write chart.png and a self-contained report.html into each run folder."""
    with user_errors():
        from assistant.evals.launch import runs_dir
        from assistant.evals.report import report_run
        from assistant.evals.store import resolve_run

        for ref in runs:
            for path in report_run(resolve_run(ref, runs_dir()), html=html, png=png):
                print(f"wrote {path}")


@app.command("compare")
def compare_cmd(
    runs: Annotated[list[str], typer.Argument(help="Two or more run folders or names.")],
    png: Annotated[Path | None, typer.Option("--png", help="Also write a comparison chart here.")] = None,
) -> None:
    """Compare runs side by side: pass rates with intervals, and which tasks differ."""
    if len(runs) < 2:
        raise fail("compare needs at least two runs.", code=2)
    with user_errors():
        from assistant.evals.launch import runs_dir
        from assistant.evals.report import compare_runs
        from assistant.evals.store import resolve_run

        stores = [resolve_run(ref, runs_dir()) for ref in runs]
        compare_runs(stores, png=png)


@app.command("rescore")
def rescore_cmd(
    run: Annotated[str, typer.Argument(help="A direct-mode run folder or name.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the new run.")],
    extract: Annotated[str, typer.Option("--extract", help="auto or first (the first fenced block).")] = "auto",
    sanitize: Annotated[bool, typer.Option("--sanitize/--no-sanitize")] = True,
) -> None:
    """Score a run's recorded answers again with other extraction settings (no model requests)."""
    if extract not in ("auto", "first"):
        raise fail("--extract must be auto or first.", code=2)
    with user_errors():
        from assistant.evals.launch import runs_dir
        from assistant.evals.report import headline
        from assistant.evals.rescore import rescore
        from assistant.evals.store import resolve_run

        store = asyncio.run(rescore(resolve_run(run, runs_dir()), out, strategy=extract, sanitize=sanitize))
        print(f"{store.path}: {headline(store.read_summary() or {})}")


@app.command("ablate")
def ablate_cmd(
    matrix: Annotated[str, typer.Argument(help="Matrix name (smoke, default, study, full).")] = "default",
    matrix_file: Annotated[
        Path | None, typer.Option("--matrix", help="A matrix file (default: the bundled evals/templates/matrix.toml).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Matrix folder (default: <data dir>/evals/ablations/NAME).")
    ] = None,
    only: Annotated[str | None, typer.Option("--only", help="Comma-separated cell names to run.")] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-j", help="Requests in flight per cell.")] = 4,
    threads: Annotated[
        int | None, typer.Option("--threads", help="llama-server / llama.cpp tool threads (1 on a busy machine).")
    ] = None,
    list_only: Annotated[bool, typer.Option("--list", help="Show the matrix's cells and exit.")] = False,
    base_url: BaseUrl = None,
    model: Model = None,
    api_key: ApiKey = None,
    profile: Profile = None,
) -> None:
    """Run an ablation matrix: each cell a normal eval run; then a side-by-side report (md, png, html).

    The same command again resumes: finished cells are kept, the others run or resume.
    """
    install_sigterm_as_interrupt()
    with user_errors():
        from assistant.config import load_settings
        from assistant.evals.ablate import MatrixOptions, load_matrix, run_matrix
        from assistant.evals.launch import runs_dir
        from assistant.evals.matrix_report import write_matrix_report

        spec = load_matrix(matrix, matrix_file)
        if list_only:
            print(f"{spec.name}: {spec.description} ({spec.source})")
            for c in spec.cells:
                extra = f" vs {c.baseline}" if c.baseline else ""
                print(f"  {c.name:22s} {c.axis:10s} {c.suite} {c.mode} quant={c.quant} kv={c.kv}{extra}")
            return
        settings = load_settings(settings_flags(base_url=base_url, model=model, api_key=api_key, profile=profile))
        folder = out or runs_dir().parent / "ablations" / spec.name
        names = [n.strip() for n in only.split(",") if n.strip()] if only else None
        opt = MatrixOptions(folder, concurrency=concurrency, threads=threads, only=names, command=" ".join(sys.argv))

        def show(cell: Any, state: Any) -> None:
            why = f": {state.reason}" if state.reason else ""
            sys.stderr.write(f"[cell {cell.name}: {state.status}{why}]\n")

        try:
            asyncio.run(run_matrix(spec, settings, opt, on_cell=show))
        except KeyboardInterrupt:
            sys.stderr.write(f"\nInterrupted: finished cells and attempts are saved in {folder}; "
                             "run the same command to resume.\n")  # fmt: skip
            raise typer.Exit(130) from None
        try:
            written = write_matrix_report(folder)
        except Exception as exc:  # the cells' runs are saved; only the side-by-side pages are missing
            from assistant.termsafe import visible

            why = visible(f"{type(exc).__name__}: {exc}", one_line=True)
            sys.stderr.write(f"Could not write the matrix report ({why}); the cells' "
                             f"runs are saved in {folder}: `assistant eval ablate-report {folder}` writes it "
                             "again.\n")  # fmt: skip
            raise typer.Exit(1) from None
        for path in written:
            print(f"wrote {path}")
        print((folder / "report.md").read_text(encoding="utf-8"))


@app.command("ablate-report")
def ablate_report_cmd(folder: Annotated[Path, typer.Argument(help="A matrix folder.")]) -> None:
    """Write the matrix report again (report.md, report.png, report.html) from the cells' runs."""
    with user_errors():
        from assistant.evals.ablate import MatrixError, read_state
        from assistant.evals.matrix_report import write_matrix_report

        if not read_state(folder):
            raise MatrixError(f"{folder} is not a matrix folder (no matrix.json).")
        for path in write_matrix_report(folder):
            print(f"wrote {path}")
        print((folder / "report.md").read_text(encoding="utf-8"))


@app.command("check-tasks")
def check_tasks_cmd(
    suite: Annotated[str, typer.Argument(help="repotasks or a folder of repository tasks.")] = "repotasks",
) -> None:
    """Self-check a repository task suite: reference solutions pass, untouched repositories fail."""
    with user_errors():
        from assistant.evals.repotasks import check_suite
        from assistant.evals.suites import load_suite

        loaded = load_suite(suite)
        problems = asyncio.run(check_suite(loaded))
        for line in problems:
            print(line)
        print(f"{len(loaded.tasks)} tasks, {len(problems)} problem(s)")
        if problems:
            raise typer.Exit(1)


@app.command("confidence")
def confidence_cmd(
    run: Annotated[str, typer.Argument(help="A direct-mode run folder or name (recorded with token probabilities).")],
) -> None:
    """Token confidence against correctness: mean and minimum token probability, AUROC, confidence.png."""
    with user_errors():
        from assistant.evals.confidence import MEASURES, chart, confidence_report
        from assistant.evals.launch import runs_dir
        from assistant.evals.store import RunError, resolve_run

        store = resolve_run(run, runs_dir())
        report = confidence_report(store)
        if not report["attempts"]:
            raise RunError(
                f"{store.name} has no attempts with token probabilities (direct runs of function suites record them)."
            )
        print(f"{store.name}: {report['attempts']} attempts, {report['passed']} passed")
        for m in MEASURES:
            e = report[m]
            auc = f"AUROC {e['auroc']} (95% CI {e['auroc_ci95']})" if "auroc" in e else "AUROC n/a (one verdict only)"
            print(f"  {m:9s} passed {e['passed_mean']}  failed {e['failed_mean']}  {auc}")
        path = store.path / "confidence.png"
        chart(store, path)
        (store.path / "confidence.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {path}")
