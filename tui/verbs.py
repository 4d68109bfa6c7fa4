"""The day-2 keys both screens share (a node row on the main view, a job row on the node screen): restart, stop
or start after a confirmation, a shell with the dashboard suspended. The work runs in a worker thread; its end
comes back as an `OperationDone` message the screen turns into a line in the alerts."""

from __future__ import annotations

from typing import Any

from textual.app import SuspendNotSupported
from textual.screen import Screen

from tui.confirm_screen import ConfirmScreen
from tui.context import Dashboard
from tui.messages import OperationDone
from tui.model import Alert, Severity
from tui.operating import Action


def ask_and_do(screen: Screen[Any], dashboard: Dashboard, action: Action, node: str, job: str | None) -> None:
    """Ask "ACTION WHAT?"; on yes, do it in a worker thread (the screen gets OperationDone)."""
    operator = dashboard.operator
    if operator is None:
        screen.notify(f"{action}: only on a real cluster (picf dashboard)", severity="warning")
        return
    what = f"{node}/{job}" if job else f"every job on {node}"

    def work() -> None:
        outcome = operator.control(action, node, job, lambda _: None)
        screen.post_message(OperationDone(f"{action} {what}", outcome))

    def answered(yes: bool | None) -> None:
        if yes:
            screen.notify(f"{action} {what} ...")
            screen.run_worker(work, thread=True, group="operation", exit_on_error=False)

    screen.app.push_screen(ConfirmScreen(f"{action} {what}? (in the deploy's canary order, under its locks)"), answered)


def open_shell(screen: Screen[Any], dashboard: Dashboard, node: str) -> None:
    """A shell on `node` as the cluster's user with the pinned host key; the dashboard comes back after it."""
    operator = dashboard.operator
    if operator is None:
        screen.notify("shell: only on a real cluster (picf dashboard)", severity="warning")
        return
    try:
        with screen.app.suspend():
            code = operator.shell(node)
    except SuspendNotSupported:
        screen.notify("shell: this terminal cannot suspend the dashboard; use `picf ssh` in another", severity="error")
        return
    except Exception as exc:  # a changed host key, an unreachable node: say so, keep the dashboard
        screen.notify(f"shell on {node}: {exc}", severity="error")
        return
    screen.notify(f"shell on {node} ended (exit {code})")


def operation_done(screen: Screen[Any], dashboard: Dashboard, message: OperationDone) -> None:
    """The end of a restart, stop or start: a line in the alerts and a notification."""
    ok = message.outcome.exit_code == 0
    first = message.outcome.message.splitlines()[0] if message.outcome.message else ""
    dashboard.model.add_event(Alert(Severity.INFO if ok else Severity.CRITICAL, "",
                                    f"{message.title.upper()} {'ok' if ok else 'failed'}: {first}"))  # fmt: skip
    screen.notify(f"{message.title}: {'done' if ok else first}", severity="information" if ok else "error")
