"""ipsecsim sweep: the grid, seeds, statistics, outputs, resume, executors and the fast DPD model."""

import json
import math

import numpy as np
import pytest
from conftest import SCENARIOS

from ipsecsim import load_scenario
from ipsecsim.cli import main
from ipsecsim.sweep import core, fast, spec, stats, store

CRASH = SCENARIOS / "huawei-dpd-detects-crash.yaml"  # the branch crashes at 60 s, bulk traffic both ways
FALSE_ALARM = SCENARIOS / "sweeps" / "dpd-false-alarm-lossy-link.yaml"


# --- the grid ------------------------------------------------------------------------------------

def test_ranges_include_both_ends_and_keep_the_unit():
    assert spec.parse_vary("link.loss=0..5%/1%").values == ("0%", "1%", "2%", "3%", "4%", "5%")
    assert spec.parse_vary("peers.A.dpd.delay=10s..30s/10s").values == ("10s", "20s", "30s")
    assert spec.parse_vary("peers.A.dpd.delay=30s..2m/30s").values == ("30s", "60s", "90s", "120s")
    assert spec.parse_vary("peers.A.retransmit.tries=1..3").values == (1, 2, 3)
    assert spec.parse_vary("link.loss=0..0.3/0.1").values == (0.0, 0.1, 0.2, 0.3)  # decimal steps
    assert spec.parse_vary("peers.A.dpd.count=probes,retransmissions").values == ("probes", "retransmissions")


def test_a_cells_seeds_do_not_depend_on_the_rest_of_the_grid():
    small = spec.grid([spec.parse_vary("link.loss=1%,2%")])
    large = spec.grid([spec.parse_vary("link.loss=0%,1%,2%,3%")])
    assert [spec.run_seed(7, c, 0) for c in small] == [spec.run_seed(7, c, 0) for c in large[1:3]]
    assert spec.run_seed(7, small[0], 0) != spec.run_seed(8, small[0], 0)


@pytest.mark.parametrize("vary, needle", [
    ("link.loss", "expected PATH=VALUES"),
    ("link.loss=5%..0%/1%", "below its start"),
    ("link.loss=0..5%", "needs a step"),
    ("link.loss=0..5%/0%", "greater than 0"),
    ("link.loss=1s..5%/1%", "same unit"),
    ("link.loss=1%,1%", "given twice"),
    ("seed=1,2", "cannot be varied"),
    ("link.loss=7", "link.loss: expected a probability"),
    ("peers.cloud.dpd.dela=1s", "unknown key 'dela'"),
    ("faults.3.loss=1%", "not an index"),
])
def test_a_bad_vary_is_one_line_and_exit_2(vary, needle, capsys, tmp_path):
    assert main(["sweep", str(CRASH), "--vary", vary, "--runs", "1", "-o", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "x.csv").exists()


def test_an_existing_file_that_is_not_a_sweep_output_is_not_overwritten(tmp_path, capsys):
    mine = tmp_path / "notes.csv"
    mine.write_text("mine\n")
    assert main(["sweep", str(CRASH), "--runs", "1", "-o", str(mine)]) == 2
    assert "is not the output of a sweep" in capsys.readouterr().err
    assert mine.read_text() == "mine\n"


# --- statistics ----------------------------------------------------------------------------------

def test_wilson_interval_and_t_quantiles():
    # Wilson (1927) 95 % interval of 0 of 10: [0, z^2 / (n + z^2)] = [0, 0.2775]
    assert stats.wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    # 5 of 10: 0.5 -+ 0.2366 (centre 0.5) -> [0.2366, 0.7634]
    assert stats.wilson(5, 10) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert stats.t975(1) == 12.706 and stats.t975(200) == pytest.approx(1.9719, abs=1e-3)  # t tables
    d = stats.describe([1.0, 2.0, 3.0, None])
    assert d["n"] == 3 and d["mean"] == 2.0 and d["ci_high"] == pytest.approx(2 + 4.303 * 1 / math.sqrt(3))
    assert stats.describe([True, False, False, True])["mean"] == 0.5


# --- a sweep end to end --------------------------------------------------------------------------

def test_sweep_reports_both_readings_of_huaweis_retry_count_and_resumes(tmp_path, capsys):
    out = tmp_path / "crash.json"
    args = ["sweep", str(CRASH), "--vary", "peers.cloud.dpd.count=probes,retransmissions", "-j", "1", "-o", str(out)]
    assert main([*args, "--runs", "2"]) == 0
    doc = json.loads(out.read_text())
    cells = {c["peers.cloud.dpd.count"]: c for c in doc["cells"]}
    # crash at 60 s, last inbound 60.005 s: Huawei Cloud FAQ reading 30 + 3 x 15 s after it,
    # the USG reading 30 + 4 x 15 s (docs/dpd-ikev1.md): 75.005 / 90.005 s after the crash
    assert cells["probes"]["detection_delay.mean"] == pytest.approx(75.005)
    assert cells["retransmissions"]["detection_delay.mean"] == pytest.approx(90.005)
    assert cells["probes"]["any_false_dead.mean"] == 0.0 and cells["probes"]["runs"] == 2
    assert len(doc["runs"]) == 4
    journal = store.journal_path(out)
    assert len(journal.read_text().splitlines()) == 1 + 4
    # more runs: only the new (cell, run) pairs are simulated
    assert main([*args, "--runs", "3"]) == 0
    assert len(journal.read_text().splitlines()) == 1 + 6
    # an interrupted write (a torn last line) is skipped, the run done again
    journal.write_text(journal.read_text() + '{"cell": 0, "run": 9, "se')
    assert main([*args, "--runs", "3", "--seed", "3"]) == 0
    # another sweep seed is another sweep: refused, nothing lost
    before = journal.read_text()
    assert main([*args, "--runs", "3", "--seed", "4"]) == 2
    assert "another sweep" in capsys.readouterr().err and journal.read_text() == before


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_tables_by_extension_read_back(tmp_path, ext):
    out = tmp_path / f"t{ext}"
    assert main(["sweep", str(CRASH), "--vary", "peers.cloud.dpd.delay=10s,30s", "--runs", "1", "-j", "1",
                 "--metric", "peers.cloud.health.dpd_probes", "-o", str(out)]) == 0
    meta, cells, runs = store.read(out)
    assert [c["peers.cloud.dpd.delay"] for c in cells] == [10.0, 30.0]  # durations in seconds
    # 3 probes in each round (Huawei Cloud FAQ), the verdict delay + 3 x 15 s after the crash
    assert [c["peers.cloud.health.dpd_probes.mean"] for c in cells] == [3, 3]
    assert [c["detection_delay.mean"] for c in cells] == [pytest.approx(55.005), pytest.approx(75.005)]
    assert len(runs) == 2
    if ext == ".parquet":
        assert meta["axes"][0]["labels"] == ["10s", "30s"]


# --- executors -----------------------------------------------------------------------------------

def _plan():
    return core.plan(str(FALSE_ALARM), ["faults.0.loss=20%,30%", "duration=20m"], runs=6, seed=11)


def _rows(p, **kw):
    j = store.Journal(None, {"fingerprint": p.fingerprint, "seed": p.seed})
    return [{k: v for k, v in r.items()} for r in core.execute(p, j, **kw)]


def test_local_processes_and_dask_give_the_same_runs_as_one_process():
    distributed = pytest.importorskip("distributed")
    p = _plan()
    one = _rows(p, jobs=1)
    assert len(one) == 12 and len({r["seed"] for r in one}) == 12
    assert _rows(p, jobs=2) == one
    # a cell answered by the vectorised model beside an engine cell: its trials too
    mixed = _rows(p, jobs=1, methods={0: "fast", 1: "engine"}, trials=50)
    assert [r["method"] for r in mixed] == ["fast"] * 50 + ["engine"] * 6 and mixed[50:] == one[6:]
    assert _rows(p, jobs=2, methods={0: "fast", 1: "engine"}, trials=50) == mixed
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        assert _rows(p, executor="dask", client=client) == one
        assert _rows(p, executor="dask", client=client, methods={0: "fast", 1: "engine"}, trials=50) == mixed


# --- the fast model against the engine ----------------------------------------------------------

def test_round_failure_is_q_to_the_n_with_q_from_request_and_response_loss():
    m = fast.model(load_scenario(FALSE_ALARM))
    assert not isinstance(m, str) and m.exact
    first, fail = fast.round_probabilities(m)
    q = 1 - (1 - 0.02) ** 2  # the R-U-THERE or its ACK lost (RFC 3706: one ACK per R-U-THERE)
    assert fail == pytest.approx(q ** 3)  # Huawei Cloud FAQ: 3 failed probes
    assert first.sum() + fail == pytest.approx(1.0)
    assert m.offsets == (0.0, 15.0, 30.0) and m.give_up == 45.0 and m.delay == 30.0


def _ks(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic."""
    grid = np.sort(np.concatenate([a, b]))
    fa = np.searchsorted(np.sort(a), grid, side="right") / a.size
    fb = np.searchsorted(np.sort(b), grid, side="right") / b.size
    return float(np.abs(fa - fb).max())


def test_fast_model_has_the_engines_distribution_of_the_first_false_verdict():
    p = core.plan(str(FALSE_ALARM), ["faults.0.loss=15%", "duration=1h"], runs=120, seed=5)
    cell = p.cells[0]
    engine = np.array([r["peer_dead_t"] if r["peer_dead_t"] is not None else np.inf for r in _rows(p, jobs=2)])
    scenario = load_scenario(spec.apply(p.raw, cell.overrides))
    m = fast.model(scenario)
    assert not isinstance(m, str) and m.exact, m
    trials = np.nan_to_num(fast.simulate_trials(m, 100_000, 1)["peer_dead_t"], nan=np.inf)
    # KS critical value at alpha = 0.001: 1.95 sqrt((n + m) / (n m))
    crit = 1.95 * math.sqrt((engine.size + trials.size) / (engine.size * trials.size))
    assert _ks(engine, trials) < crit
    # the test has power: counting only the request's loss (q = p) is rejected
    from dataclasses import replace
    wrong = replace(m, loss=fast.Loss(p=1 - math.sqrt(1 - 0.15)))
    assert _ks(engine, np.nan_to_num(fast.simulate_trials(wrong, 100_000, 1)["peer_dead_t"], nan=np.inf)) > crit


def test_a_memoryless_gilbert_elliott_channel_gives_bernoullis_verdicts():
    # a Gilbert-Elliott channel that loses 15 % in both states is Bernoulli loss of 15 % per datagram
    # (sim/loss.py: the state only picks the loss rate), so the two verdict distributions are the same
    from dataclasses import replace
    p = core.plan(str(FALSE_ALARM), ["faults.0.loss=15%", "duration=1h"], runs=1, seed=5)
    m = fast.model(load_scenario(spec.apply(p.raw, p.cells[0].overrides)))
    assert not isinstance(m, str) and m.loss.ge is None and m.down_at is None
    bernoulli = fast.verdicts(m)
    for shared in (True, False):  # one channel for both directions, or one each
        ge = fast.verdicts(replace(m, loss=fast.Loss(ge=(0.3, 0.4, 0.15, 0.15), shared=shared)))
        assert np.array_equal(ge.times, bernoulli.times) and np.allclose(ge.cum, bernoulli.cum, rtol=0, atol=1e-12)
    # and the first round fails with q^3, q = 1 - 0.85^2: the verdict at the first probe + 45 s
    q = 1 - 0.85 ** 2
    assert bernoulli.times[0] == pytest.approx(m.start + 45) and bernoulli.cum[0] == pytest.approx(q ** 3)
    # the comparison can fail: 10 % instead of 15 % in the bad state is another distribution
    other = fast.verdicts(replace(m, loss=fast.Loss(ge=(0.3, 0.4, 0.15, 0.10))))
    assert not np.allclose(np.interp(bernoulli.times, other.times, other.cum), bernoulli.cum, atol=1e-3)


def test_fast_model_detection_of_a_crash_matches_the_faq_timing():
    # the crash scenario's cloud, without traffic: dead 30 + 3 x 15 s after the last ACK
    data = {**load_scenario(FALSE_ALARM).raw, "duration": "10m",
            "faults": [{"at": "1s", "kind": "loss", "loss": "0%"}, {"at": "100s", "kind": "crash", "peer": "branch"}]}
    m = fast.model(load_scenario(data))
    assert not isinstance(m, str) and m.exact, m
    r = fast.simulate_trials(m, 1000, 1)
    # first probe at 30.045 s, each ACK 10 ms later, the next probe 30 s after it: 30.045, 60.055,
    # 90.065 (ACK 90.075), 120.075 finds the branch down: dead at 120.075 + 3 x 15 = 165.075
    assert np.all(r["peer_dead_t"] == pytest.approx(165.075)) and not r["false_dead"].any()
    assert np.all(r["detection_delay"] == pytest.approx(65.075))
    from ipsecsim import simulate
    assert simulate(load_scenario(data)).times("peer_dead", "cloud") == [pytest.approx(165.075)]


def _ge_crash_scenario(tmp_path):
    """The false-alarm tunnel for 1 h with bursty loss (a per-datagram Gilbert-Elliott channel for both
    directions, sim/loss.py) from 1 s and a crash of the branch at 30 min: before the crash every verdict
    is false, after it the verdict comes 45 s after the first probe that finds the branch down."""
    import yaml
    raw = {**load_scenario(FALSE_ALARM).raw, "duration": "1h", "sweep": None,
           "faults": [{"at": "1s", "kind": "loss", "loss": {"model": "gilbert-elliott", "p": 0.03, "r": 0.3,
                                                             "loss_good": 0.01, "loss_bad": 0.6}},
                      {"at": "30m", "kind": "crash", "peer": "branch"}]}
    path = tmp_path / "ge-crash.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in raw.items() if v is not None}))
    return path


def test_fast_model_has_the_engines_distribution_under_bursty_loss_and_a_crash(tmp_path):
    from dataclasses import replace
    p = core.plan(str(_ge_crash_scenario(tmp_path)), runs=150, seed=9)
    engine = np.array([r["peer_dead_t"] if r["peer_dead_t"] is not None else np.inf for r in _rows(p, jobs=2)])
    m = fast.model(p.scenario)
    assert not isinstance(m, str) and m.exact and m.loss.ge == (0.03, 0.3, 0.01, 0.6) and m.down_at == 1800.0, m
    model = np.nan_to_num(fast.simulate_trials(m, 100_000, 1)["peer_dead_t"], nan=np.inf)
    crit = 1.95 * math.sqrt((engine.size + model.size) / (engine.size * model.size))  # KS, alpha = 0.001
    assert _ks(engine, model) < crit
    # power: Bernoulli loss of the same long-run rate (r loss_good + p loss_bad) / (p + r), i.e. the
    # bursts ignored, is rejected; so is the crash 30 s later
    mean = (0.3 * 0.01 + 0.03 * 0.6) / 0.33
    for wrong in (replace(m, loss=fast.Loss(p=mean)), replace(m, down_at=1830.0)):
        assert _ks(engine, np.nan_to_num(fast.simulate_trials(wrong, 100_000, 1)["peer_dead_t"], nan=np.inf)) > crit


def test_the_models_day_of_false_alarms_is_within_the_round_count_bounds():
    # q = 1 - 0.98^2 per probe, q^3 per round (Huawei Cloud FAQ: 3 probes); a day holds between
    # 86400 / (30 + 3 x 15) and 86400 / 30 rounds, so P(a false verdict) lies between 1 - (1 - q^3)^R for both
    m = fast.model(load_scenario(FALSE_ALARM))
    assert not isinstance(m, str)
    v = fast.verdicts(m)
    q3 = (1 - 0.98 ** 2) ** 3
    assert 1 - (1 - q3) ** (86400 / 75) < v.cum[-1] < 1 - (1 - q3) ** (86400 / 30)
    assert v.pruned < 1e-9 and np.all(np.diff(v.times) > 0)
    # IKEv2 retransmission offsets (strongSwan: 4 x 1.8^n s) are no multiples of one step: the round starts
    # multiply, and past the limit the cell is left to the engine
    from dataclasses import replace
    ikev2 = replace(m, offsets=(0.0, 4.0, 11.2, 24.16, 47.488), give_up=165.3184, loss=fast.Loss(p=0.15))
    with pytest.raises(fast.TooLarge):
        fast.verdicts(ikev2, max_atoms=50_000)


def test_model_trials_are_rows_like_runs_and_resume(tmp_path):
    out = tmp_path / "fa.json"
    args = ["sweep", str(FALSE_ALARM), "--vary", "faults.0.loss=5%", "--vary", "duration=2h", "-o", str(out)]
    assert main([*args, "--trials", "300"]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["run"] for r in runs] == list(range(300)) and {r["method"] for r in runs} == {"fast"}
    engine_row = set(_rows(_plan(), jobs=1)[0])
    assert set(runs[0]) - {"settings"} <= engine_row and {"seed", "peer_dead_t", "false_dead"} <= set(runs[0])
    # a trial's row depends on its seed only: computed alone it is the same
    p = core.plan(str(FALSE_ALARM), ["faults.0.loss=5%", "duration=2h"], seed=1)
    assert {k: v for k, v in fast.trial_rows(p, p.cells[0], [123])[0].items()} == \
        {k: v for k, v in runs[123].items() if k != "settings"}
    # more trials: the journal's 300 are kept, 200 added; the table counts 500
    journal = store.journal_path(out)
    assert main([*args, "--trials", "500"]) == 0
    assert len(journal.read_text().splitlines()) == 1 + 500
    doc = json.loads(out.read_text())
    assert doc["runs"][:300] == runs and doc["cells"][0]["runs"] == 500
    # the engine on the same output: the cell's runs are done by the engine and replace the trials
    assert main([*args, "--method", "engine", "--runs", "2", "-j", "1"]) == 0
    _meta, cells, jruns = store.read(out)
    assert cells[0]["method"] == "engine" and [r["method"] for r in jruns] == ["engine", "engine"]


def _with_cpu(duration: str, faults: list) -> dict:
    """The false-alarm tunnel with processing time: the branch on the strongswan profile's costs (a
    message 1.1 ms, docs/cpu.md), the cloud on the same table 20x slower (22 ms a message). The setup then
    ends after 2 s, so the loss windows start at 5 s."""
    raw = {**load_scenario(FALSE_ALARM).raw, "duration": duration, "faults": faults}
    raw.pop("sweep")
    raw["peers"] = {k: dict(v) for k, v in raw["peers"].items()}
    del raw["peers"]["branch"]["cpu"]
    raw["peers"]["cloud"]["cpu"] = {"costs": "strongswan-5.9.8", "scale": 20}
    return raw


def test_fast_model_with_fixed_processing_time_is_exact(tmp_path):
    import itertools
    from dataclasses import replace

    import yaml

    from ipsecsim import simulate
    # no loss: rounds 30 s + 10 ms + 1.1 ms (the R-U-THERE at the branch) + 22 ms (the ACK at the cloud) apart
    probes = simulate(load_scenario(_with_cpu("2m", []))).times("dpd_probe_sent", "cloud")
    assert [b - a for a, b in itertools.pairwise(probes)] == [pytest.approx(30.0331)] * 2
    # a crash while the branch computes the third probe's answer (it arrives 5 ms after it leaves, the
    # answer is ready 1.1 ms later) loses that answer (docs/cpu.md): dead 3 x 15 s after the third probe
    crash = _with_cpu("4m", [{"at": "5s", "kind": "loss", "loss": "0%"},
                             {"at": probes[2] + 0.00505, "kind": "crash", "peer": "branch"}])
    m = fast.model(load_scenario(crash))
    assert not isinstance(m, str) and m.exact, m
    assert m.rtt == pytest.approx(0.0331) and m.answer_cost == pytest.approx(0.0011)
    assert fast.simulate_trials(m, 10, 1)["peer_dead_t"] == pytest.approx([probes[2] + 45] * 10)
    assert simulate(load_scenario(crash)).times("peer_dead", "cloud") == [pytest.approx(probes[2] + 45)]
    # with loss and a crash at 30 min: the engine's verdicts are atoms of the model's distribution (a
    # model without the processing time has its rounds 23.1 ms shorter and misses them) with its weights
    path = tmp_path / "cpu.yaml"
    path.write_text(yaml.safe_dump(_with_cpu("1h", [{"at": "5s", "kind": "loss", "loss": "15%"},
                                                     {"at": "30m", "kind": "crash", "peer": "branch"}])))
    p = core.plan(str(path), runs=120, seed=4)
    engine = np.array([r["peer_dead_t"] for r in _rows(p, jobs=2)])
    m = fast.model(p.scenario)
    assert not isinstance(m, str) and m.exact, m
    for model, fits in ((m, True), (replace(m, rtt=0.01, answer_cost=0.0), False)):
        atoms = fast.verdicts(model).times
        near = np.abs(atoms[np.clip(np.searchsorted(atoms, engine), 1, atoms.size - 1) - 1] - engine)
        near = np.minimum(near, np.abs(atoms[np.clip(np.searchsorted(atoms, engine), 0, atoms.size - 1)] - engine))
        assert bool(np.all(near < 1e-6)) is fits
    trials = fast.simulate_trials(m, 100_000, 1)["peer_dead_t"]
    assert _ks(engine, trials) < 1.95 * math.sqrt((engine.size + trials.size) / (engine.size * trials.size))


def test_auto_uses_the_model_only_where_it_is_exact(tmp_path):
    assert [m for m, _ in fast.choose(core.plan(str(FALSE_ALARM), runs=1), "auto").values()] == ["fast"] * 4
    crash = core.plan(str(CRASH), runs=1)  # bulk traffic resets the idle clock: not modelled
    assert fast.choose(crash, "auto")[0][0] == "engine"


def test_dual_tunnel_outage_follows_the_health_check_period(tmp_path):
    # Alibaba VcoHealthCheck: a probe every 3 s from 1 s, the route withdrawn when the 3rd lost one's
    # successor is due. Failure at 60.5 s: 61, 64, 67 lost, down at 70 s -> 9.5 s of outage; at 62 s:
    # 64, 67, 70 lost, down at 73 s -> 11 s. IDC -> VPC: strongSwan dpd_timeout 30 s + 10 ms link.
    out = tmp_path / "o.json"
    assert main(["sweep", str(SCENARIOS / "sweeps" / "alibaba-dual-tunnel-outage.yaml"), "--vary",
                 "faults.0.at=60.5s,62s", "--runs", "1", "-j", "1", "-o", str(out)]) == 0
    cells = json.loads(out.read_text())["cells"]
    assert [c["traffic.directions.vpc->idc.outage_total.mean"] for c in cells] == [9.5, 11.0]
    assert [c["traffic.directions.idc->vpc.outage_total.mean"] for c in cells] == [30.01, 30.01]


def test_sweep_scenarios_fit_the_schema(capsys):
    import jsonschema
    import yaml
    assert main(["schema"]) == 0
    validator = jsonschema.Draft202012Validator(json.loads(capsys.readouterr().out))
    for path in sorted((SCENARIOS / "sweeps").glob("*.yaml")):
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text())))
        assert not errors, f"{path.name}: {errors[0].message}"


# --- pictures ------------------------------------------------------------------------------------

def test_a_sweeps_picture_says_what_it_shows(tmp_path, capsys):
    out = tmp_path / "fa.csv"
    assert main(["sweep", str(FALSE_ALARM), "--vary", "faults.0.loss=2%,5%", "--vary", "duration=2h",
                 "--trials", "400", "-o", str(out)]) == 0
    svg = tmp_path / "fa.svg"
    assert main(["plot", str(out), "-o", str(svg)]) == 0
    text = svg.read_text()
    # no crash in this scenario: the metric that varies is the share of runs with a false verdict,
    # per loss as written in the sweep, with what the cells are made of
    assert "share of runs with a false DPD verdict" in text and "95 % interval (Wilson)" in text
    assert ">2%<" in text and ">5%<" in text and "400 trials of the vectorised DPD model per cell" in text
    assert main(["plot", str(out), "--cdf", "--metric", "peer_dead_t", "-o", str(svg)]) == 0
    assert "time of the first DPD verdict (s)" in svg.read_text() and "are not drawn" in svg.read_text()
    assert main(["plot", str(out), "-o", str(tmp_path / "fa.gif")]) == 2
    assert "allowed: .png, .svg" in capsys.readouterr().err


def test_a_runs_timeline_is_drawn(tmp_path):
    png = tmp_path / "run.png"
    assert main(["plot", str(CRASH), "-o", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
