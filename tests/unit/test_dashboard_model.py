"""The dashboard's pure part: rows, sorting, filtering, alerts, histories."""

from __future__ import annotations

from tests.tui.synthetic import SyntheticSource
from tui.model import Alert, DashboardModel, Severity, alerts_of, matches


def model_after(rounds: int, nodes: int = 6) -> tuple[DashboardModel, SyntheticSource]:
    source = SyntheticSource(nodes)
    model = DashboardModel()
    for _ in range(rounds):
        model.update(source.poll())
    return model, source


def test_rows_put_trouble_first_and_dim_the_unreachable() -> None:
    model, source = model_after(2)
    rows = model.rows(source.now())
    assert [name for name, _, _ in rows][:2] == ["pi-6", "pi-1"]
    _name, cells, dim = rows[0]
    assert dim and cells[4].startswith("unreachable, seen") and cells[5] == "-"
    assert rows[1][1][4] == "crash loop" and not rows[1][2]


def test_sorting_by_temperature_and_reversing() -> None:
    model, source = model_after(1)
    model.sort_key = "temp"
    assert next(n for n, _, _ in model.rows(source.now())) == "pi-2"  # hottest first
    model.sort_reverse = True
    assert [n for n, _, _ in model.rows(source.now())][-1] == "pi-2"
    assert model.next_sort() == "load"


def test_filter_words_match_anywhere() -> None:
    model, source = model_after(1)
    model.filter_text = "armv7 doppler"
    assert sorted(n for n, _, _ in model.rows(source.now())) == ["pi-1", "pi-3", "pi-5"]
    assert model.health is not None
    assert matches(model.health.nodes[0], "crash-loop") and not matches(model.health.nodes[1], "crash-loop")


def test_alerts_order_crash_loops_then_failing_unreachable_warnings_events() -> None:
    model, _ = model_after(1)
    model.add_event(Alert(Severity.INFO, "", "DEPLOY ok: deployed to 3 node(s)"))
    texts = [a.text.split()[0] for a in model.alerts()]
    assert texts == ["CRASH", "UNREACHABLE", "THERMAL", "UNDER-VOLTAGE", "DEPLOY"]
    assert model.alerts()[0].patch == "align64"


def test_history_grows_once_per_answer_and_is_bounded() -> None:
    model, _source = model_after(130)
    history = model.histories["pi-2"]
    assert len(history.temp) == 120 and len(history.cpu) == 120
    health = model.health
    assert health is not None
    model.update(health)  # the same round again (a late node): nothing appended
    assert len(model.histories["pi-1"].temp) == 120
    assert not model.histories["pi-6"].temp  # never answered


def test_no_alerts_when_all_is_well() -> None:
    source = SyntheticSource(2)
    source.fixed = True
    health = source.poll()
    assert [a.severity for a in alerts_of(health)] == [Severity.WARNING]  # pi-2 runs hot in the made-up data
