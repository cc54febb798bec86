"""The human timeline of ``ipsecsim run``: one line per thing that happened.

Each event name has a formatter in ``FORMATTERS`` returning the text of its line; events
without one are shown generically (name and fields), so new events are never hidden.
Received messages are shown only with ``verbose`` (their send line already says it all,
and a lost one is marked).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from ..proto.events import Event
from ..proto.events.network import PLACED
from .bgp_view import FORMATTERS as BGP_FORMATTERS
from .ha_summary import render_ha
from .timefmt import CURRENT, TimeFormat, at, span
from .timeline_filter import TimelineFilter
from .tunnel_state import describe as describe_tunnel

if TYPE_CHECKING:
    from ..result import Result


def fmt_time(t: float, long: bool = False) -> str:
    """Seconds with milliseconds; ``long`` (runs of 10,000 s and more): days and a clock time,
    for every line of the run alike (``timefmt``)."""
    return TimeFormat(long).at(t, pad=True)


def _message(e: Event, names: dict[str, str]) -> str:
    kind = "response" if e.get("response") else "request"
    payloads = " ".join(e.get("payloads") or [])
    rt = e.get("retransmit", 0)
    rt_text = f" [yellow](retransmit {rt})[/]" if rt else ""
    head = f"{e.get('exchange')} {kind} {e.get('msg_id')}"
    return f"{escape(head)}{rt_text} \\[ {escape(payloads)} ]"


def _arrow(e: Event, names: dict[str, str], outbound: bool = True) -> str:
    other = names.get(e.get("dst" if outbound else "src"), e.get("dst" if outbound else "src"))
    return f"{e.peer} → {other}" if outbound else f"{e.peer} ← {other}"


_PHASES = {"ike": "IKE SA negotiation", "child": "CHILD SA negotiation", "child_rekey": "CHILD SA rekey",
           "ike_rekey": "IKE SA rekey"}


def _failed(e: Event) -> str:
    notify = e.get("notify")
    what = _PHASES.get(str(e.get("phase")), "CHILD SA negotiation")
    return f"[bold red]{what} failed[/]" + (f" {escape(notify)}" if notify else "") + \
        f": {escape(str(e.get('reason', '')))}"


def _size(n: float) -> str:
    for unit, k in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= k:
            return f"{n / k:.4g} {unit}"
    return f"{n:g} B"


def _limit(e: Event) -> str:
    lim = e.get("limit")
    if lim is None:
        return ""
    if e.get("by") == "time":
        return f" after {span(lim)}"
    return f" at {_size(lim)}" if e.get("by") == "bytes" else f" at {lim:g} packets"


def _expired(e: Event) -> str:
    what = "IKE SA" if e.get("sa_type") == "ike" else f"CHILD SA {e.get('spi_in')}_i {e.get('spi_out')}_o"
    colour = "yellow" if e.get("kind") == "soft" else "bold red"
    act = "rekeying" if e.get("kind") == "soft" else "deleting"
    return f"[{colour}]{escape(what)} {e.get('kind')} lifetime reached by {e.get('by')}[/]{_limit(e)}: {act}"


def _rekeyed(e: Event) -> str:
    pfs = f" PFS {e.get('pfs')}" if e.get("pfs") else ""
    who = "we initiated" if e.get("initiator") else "peer initiated"
    return (f"[bold green]CHILD SA rekeyed[/] {e.get('old_spi_in')}_i {e.get('old_spi_out')}_o → "
            f"{e.get('spi_in')}_i {e.get('spi_out')}_o{escape(pfs)} ({who}; old SA carried "
            f"{_size(e.get('bytes_out', 0))} out, {_size(e.get('bytes_in', 0))} in)")


def _collision(e: Event) -> str:
    what = "IKE SA" if e.get("sa_type") == "ike" else "CHILD SA"
    def spis(d: dict[str, str] | None) -> str:
        return " ".join(f"{v}_{k.split('_')[1][0]}" for k, v in (d or {}).items())
    keep, drop = spis(e.get("keeping")), spis(e.get("deleting"))
    return (f"[yellow]simultaneous {what} rekey[/] ({'we' if e.get('outcome') == 'lost' else 'peer'} made the SA "
            f"with the lowest nonce): keeping {keep}, deleting {drop}")


def _dropped(e: Event) -> str:
    detail = e.get("detail")
    flow = str(e.get("flow"))
    what = (f"health-check probes of {flow.removeprefix('nqa:')}" if flow.startswith("nqa:")
            else f"traffic {flow}")  # NQA / VcoHealthCheck probes are not in the traffic summary
    return (f"[red]✗ {escape(what)} dropped ({escape(str(e.get('reason')))})[/]: "
            f"{_size(e.get('bytes', 0))}, {_count(e.get('packets'), 'packet')} offered between "
            f"{CURRENT.get().at(e.get('start'))} and {at(e.get('end'))} ({span(e.get('duration'))})"
            + (f"; {escape(str(detail))}" if detail else ""))


def _started(e: Event) -> str:
    what = f"every {e.get('interval'):g} s, {e.get('size')} B" if e.get("kind") == "ping" else \
        f"{e.get('rate_bps') / 1e6:g} Mbit/s of {e.get('packet_size')} B packets" + (
            f" every {e.get('every'):g} s" if e.get("every") else "")
    df = e.get("df")
    if df is not None and df != (e.get("kind") != "ping"):  # only when not the kind's default
        what += ", DF set" if df else ", DF not set"
    return (f"traffic {escape(str(e.get('flow')))} ({e.get('kind')}) {e.get('src')} → {e.get('dst')} "
            f"({escape(str(e.get('to')))}) starts: {what}")


def _count(n: Any, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _fault_where(e: Event) -> str:
    if e.get("between"):
        a, b = e.get("between")
        return f" on the path {escape(a)} ⇄ {escape(b)} only"
    if e.get("direction"):
        return f" {escape(e.get('direction'))} only"
    return ""


def _flat(d: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in d.items():
        if isinstance(v, dict):
            out += _flat(v, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: {v if not isinstance(v, list) else ', '.join(map(str, v))}")
    return out


def _fault_details(e: Event) -> str:
    """What the fault does: the values it sets, the loss / delay it adds, how long it lasts."""
    parts = []
    if isinstance(e.get("set"), dict):
        parts.append("; ".join(_flat(e.get("set"))))
    loss = e.get("loss")
    if isinstance(loss, float | int):
        parts.append(f"loss {loss:.0%}" if loss * 100 == int(loss * 100) else f"loss {loss:g}")
    elif isinstance(loss, dict):
        if loss.get("mean_good") is not None:
            parts.append(f"Gilbert-Elliott: bursts of {loss.get('mean_bad'):g} s after {loss.get('mean_good'):g} s "
                         f"without on average, {loss.get('loss_bad'):.0%} lost in a burst")
        else:
            parts.append(f"Gilbert-Elliott p {loss.get('p')}, r {loss.get('r')}, losing {loss.get('loss_bad'):.0%} "
                         f"in the bad state")
    for key in ("delay", "jitter"):
        if e.get(key) is not None:
            parts.append(f"{key} {e.get(key) * 1000:g} ms")
    if e.get("address"):
        parts.append(f"new address {e.get('address')}")
    if e.get("protocol"):
        parts.append(f"{e.get('protocol').upper()} only")
    if e.get("duration") is not None and not e.get("undo"):
        parts.append(f"for {span(e.get('duration'))}")
    return f" ({escape(', '.join(parts))})" if parts else ""


def _ha_switch(e: Event) -> str:
    old, new = e.get("from"), e.get("to")
    flows = e.get("flows") or []
    moved = f"; {', '.join(flows)} {'moves' if len(flows) == 1 else 'move'}" if flows else ""
    if new is None:
        return f"[bold red]HA: no usable member[/] (was {escape(str(old))}): {escape(str(e.get('reason')))}"
    if old is None and str(e.get("reason")).startswith(PLACED):
        return f"[green]HA flow {escape(', '.join(flows))} on {escape(new)}[/] ({escape(str(e.get('reason')))})"
    what = f"{escape(old)} → {escape(new)}" if old is not None else f"{escape(new)} active"
    colour = "bold magenta" if old is not None else "bold green"
    return f"[{colour}]HA switch {what}[/] ({escape(str(e.get('reason')))}){escape(moved)}"


def _ha_member(e: Event) -> str:
    ok = e.get("usable")
    colour = "green" if ok else "red"
    return f"[{colour}]HA member {escape(str(e.get('member')))} {'usable' if ok else 'unusable'}[/]: " \
           f"{escape(str(e.get('reason')))}"


def _generic(e: Event) -> str:
    fields = " ".join(f"{k}={v}" for k, v in e.fields.items())
    return f"{escape(e.event)} {escape(fields)}"


Formatter = Callable[[Event, dict[str, str]], tuple[str, str]]

FORMATTERS: dict[str, Formatter] = {
    "message_sent": lambda e, n: (_arrow(e, n), _message(e, n)),
    "message_received": lambda e, n: (_arrow(e, n, False), "[dim]" + _message(e, n) + "[/]"),
    "message_lost": lambda e, n: (_arrow(e, n), f"[red]✗ lost ({escape(e.get('reason'))}):[/] [dim]" + (
        f"{e.get('exchange')} {'response' if e.get('response') else 'request'} {e.get('msg_id')}"
        if e.get("exchange") is not None else escape(str(e.get("message")))) + "[/]"),
    "message_ignored": lambda e, n: (e.peer, f"[dim]ignored {escape(str(e.get('exchange', '')))} "
                                     f"message: {escape(str(e.get('reason')))}[/]"),
    "ike_sa_established": lambda e, n: (e.peer, f"[bold green]IKE SA established[/] "
                                        f"{e.get('spi_i')}_i {e.get('spi_r')}_r {escape(e.get('proposal'))}"
                                        f" (remote id {escape(str(e.get('remote_id')))})"),
    "child_sa_established": lambda e, n: (e.peer, f"[bold green]CHILD SA established[/] "
                                          f"{e.get('spi_in')}_i {e.get('spi_out')}_o {escape(e.get('proposal'))} "
                                          f"{', '.join(e.get('local_ts'))} === {', '.join(e.get('remote_ts'))}"),
    "negotiation_failed": lambda e, n: (e.peer, _failed(e)),
    "retransmit_gave_up": lambda e, n: (e.peer, f"[bold red]gave up[/] {e.get('exchange')} request "
                                        f"{e.get('msg_id')} after {e.get('transmissions')} transmissions"),
    "negotiation_retry": lambda e, n: (e.peer, f"[yellow]retrying[/]: attempt {e.get('attempt')} of "
                                       f"{e.get('keyingtries')}"),
    "ke_group_retry": lambda e, n: (e.peer, f"[yellow]DH group {e.get('rejected')} refused[/], retrying "
                                    f"with group {e.get('requested')}"),
    "ike_sa_deleted": lambda e, n: (e.peer, f"[magenta]IKE SA deleted[/] {e.get('spi_i')}_i "
                                    f"{e.get('spi_r')}_r ({escape(str(e.get('reason')))})"),
    "child_sa_deleted": lambda e, n: (e.peer, f"[magenta]CHILD SA deleted[/] {e.get('spi_in')}_i "
                                      f"{e.get('spi_out')}_o ({escape(str(e.get('reason')))})"),
    "dpd_probe_sent": lambda e, n: (e.peer, "[cyan]DPD probe[/] " + (
        f"msg {e.get('msg_id')}" if e.get("msg_id") is not None else f"R-U-THERE seq {e.get('seq')}") +
        (f" (retry {e.get('retry')})" if e.get("retry") else "")),
    "dpd_probe_acked": lambda e, n: (e.peer, "[cyan]DPD probe answered[/]" + (
        f" msg {e.get('msg_id')}" if e.get("msg_id") is not None else f" seq {e.get('seq')}")),
    "peer_dead": lambda e, n: (e.peer, "[bold red]peer dead[/] (DPD: " + (
        "a request went unanswered through its whole retransmission schedule" if e.get("cause") == "exchange_gave_up"
        else f"silent for {span(e.get('silent_for'))} since {at(e.get('last_inbound'))}") +
        f"): action {escape(str(e.get('action')))}"),
    "nqa_probe_sent": lambda e, n: (e.peer, f"[dim]NQA probe {e.get('seq')} → {e.get('destination')} "
                                    f"({e.get('path')})[/]"),
    "nqa_probe_lost": lambda e, n: (e.peer, f"[yellow]NQA probe {e.get('seq')} unanswered[/] "
                                    f"({e.get('consecutive')} in a row)"),
    "nqa_state": lambda e, n: (e.peer, ("[bold green]" if e.get("state") == "up" else "[bold red]") +
                               f"NQA path {e.get('state')}[/]: {escape(str(e.get('reason')))}"),
    "route_revoked": lambda e, n: (e.peer, f"[bold red]route revoked[/] (health check to {e.get('destination')})"),
    "route_restored": lambda e, n: (e.peer, f"[green]route restored[/] (health check to {e.get('destination')})"),
    "fault": lambda e, n: (e.peer, f"[bold yellow]⚡ fault {escape(e.get('kind'))}[/]" +
                           (" (end)" if e.get("undo") else "") + _fault_where(e) + _fault_details(e)),
    "sa_expired": lambda e, n: (e.peer, _expired(e)),
    "child_sa_rekeyed": lambda e, n: (e.peer, _rekeyed(e)),
    "ike_sa_rekeyed": lambda e, n: (e.peer, f"[bold green]IKE SA rekeyed[/] {e.get('spi_i')}_i {e.get('spi_r')}_r → "
                                    f"{e.get('new_spi_i')}_i {e.get('new_spi_r')}_r {escape(str(e.get('proposal')))} "
                                    f"({'we' if e.get('initiator') else 'peer'} initiated; " +
                                    ("a new phase 1 authenticated the peer again)" if e.get("ike_version") == 1
                                     else "message ids restart at 0)")),
    "rekey_collision": lambda e, n: (e.peer, _collision(e)),
    "rekey_retry": lambda e, n: (e.peer, f"[yellow]will retry the {'IKE' if e.get('sa_type') == 'ike' else 'CHILD'} "
                                 f"SA rekey[/] in {e.get('retry_in'):.1f} s"),
    "traffic_dropped": lambda e, n: (e.peer, _dropped(e)),
    "traffic_started": lambda e, n: (e.peer, _started(e)),
    "traffic_stopped": lambda e, n: (e.peer, f"traffic {escape(str(e.get('flow')))} stops"),
    "negotiation_triggered": lambda e, n: (e.peer, f"[cyan]traffic {e.get('src')} → {e.get('dst')} triggers "
                                           f"negotiation[/] (on-traffic)"),
    "nat_detected": lambda e, n: (e.peer, "NAT detected (" + ", ".join(
        f"{side} {'yes' if e.get(side) else 'no'}" for side in ("local", "remote")) + ")"),
    "nat_t_floated": lambda e, n: (e.peer, f"[cyan]NAT traversal:[/] IKE now {e.get('local')} ⇄ {e.get('remote')}, "
                                   f"ESP in UDP"),
    "peer_address_updated": lambda e, n: (e.peer, f"[yellow]peer's NAT port changed:[/] {e.get('old')} → "
                                          f"{e.get('new')} (IKE and ESP follow it)"),
    "nat_keepalive_sent": lambda e, n: (e.peer, f"[dim]NAT-keepalive {e.get('src')} → {e.get('dst')}[/]"),
    "nat_mapping_created": lambda e, n: (e.peer, f"NAT mapping {e.get('inside')} → {e.get('outside')}"),
    "nat_mapping_expired": lambda e, n: (e.peer, f"[yellow]NAT mapping {e.get('inside')} → {e.get('outside')} "
                                         f"expired[/] (idle {e.get('idle'):g} s)"),
    "ha_switch": lambda e, n: (e.peer, _ha_switch(e)),
    "ha_member_state": lambda e, n: (e.peer, _ha_member(e)),
    "lifetime_negotiated": lambda e, n: (e.peer, f"[cyan]{'ISAKMP' if e.get('phase') == 'ike' else 'IPsec'} SA "
                                         f"lifetime[/] {escape(str(e.get('reason')))}"),
}
FORMATTERS.update(BGP_FORMATTERS)


def _shown_at(e: Event) -> float:
    """Where a line goes in the timeline: a drop interval (reported when it closes) at the
    time it began, every other event when it happened."""
    start = e.get("start") if e.event == "traffic_dropped" else None
    return float(start) if isinstance(start, int | float) else e.t


def render(result: Result, console: Console, verbose: bool = False, only: TimelineFilter | None = None) -> None:
    """The header, the timeline (the lines ``only`` keeps), the final state and the traffic,
    every time written in the one format the run's length chooses (``timefmt``)."""
    token = CURRENT.set(TimeFormat.for_run(result.duration))
    try:
        _render(result, console, verbose, only or TimelineFilter())
    finally:
        CURRENT.reset(token)


def _render(result: Result, console: Console, verbose: bool, only: TimelineFilter) -> None:
    sc = result.scenario
    names = {s.address: n for n, s in sc.peers.items()}
    nat = sc.spec.link.nat
    if nat is not None:
        names[nat.public_address] = nat.peer  # the peer behind the NAT, as seen from outside
    run = f"seed {result.seed}, {span(result.duration)} simulated" if result.clock == "simulated" else \
        f"live, {span(result.duration)} {result.clock}"
    crypto = ", crypto model (key exchange from hashes)" if result.crypto == "model" else ""
    console.print(f"[bold]{escape(sc.spec.name)}[/]  {run}, "
                  f"{len(result.events)} events{crypto}")
    if sc.spec.description:
        console.print(f"[dim]{escape(sc.spec.description.strip())}[/]")
    for note in sc.spec.notes:  # faults and flows a shorter --duration drops
        console.print(f"[yellow]not simulated: {escape(note)}[/]")
    part = sc.spec.partner
    for n, s in sc.peers.items():
        behind = f", behind a NAT (public {nat.public_address}, mappings expire after {nat.mapping_timeout:g} s " \
                 f"idle)" if nat is not None and nat.peer == n else ""
        tunnel = f", tunnel to {part[n]}" if len(sc.peers) > 2 else ""
        console.print(f"  {n}: {s.address} profile {s.profile}, IKEv{s.ike.version}, start {s.start}{behind}{tunnel}")
    for g in sc.spec.ha:
        order = ", ".join(f"{m} (master)" if i == 0 else m for i, m in enumerate(g.members))
        console.print(f"  HA group {g.name}: {order}; {g.mode}{', preempt' if g.preempt else ', no preempt'}, "
                      f"watching {', '.join(g.watch)}")
    console.print()
    # where peers share an address (one gateway, several tunnels), each names its own remote peer
    own = {n: {**names, sc.peers[p].address: p} for n, p in part.items()}
    width = max(len(n) for n in (*sc.peers, *(g.name for g in sc.spec.ha))) * 2 + 3
    tf = CURRENT.get()
    shown_only = only.describe()
    if shown_only:
        console.print(f"[dim]{escape(shown_only)}[/]")
    for t, e in sorted(((_shown_at(e), e) for e in result.events), key=lambda x: x[0]):
        if e.event == "message_received" and not verbose:
            continue
        if not only.keeps(t, e):
            continue
        fmt = FORMATTERS.get(e.event)
        who, text = fmt(e, own.get(e.peer, names)) if fmt else (e.peer, _generic(e))
        console.print(f"{tf.at(t, pad=True)}  {escape(who):<{width}}  {text}", soft_wrap=True)
    if not only.summary_only:
        console.print()
    render_state(result, console)


def render_state(result: Result, console: Console) -> None:
    summary: dict[str, Any] = result.summary()
    console.print(f"[bold]Final state[/] at {at(result.duration)}:")
    for name, p in summary["peers"].items():
        colour = "green" if p["status"] == "ipsec_sa_established" else (
            "yellow" if p["status"] in ("ike_sa_established",) else "red")
        huawei = p["vendor_status"]["huawei"]["text"]
        down = {"crashed": "  [red]crashed: its SAs are gone[/]", "frozen": "  [red]frozen (hung)[/]"}.get(
            p.get("down") or "", "")
        vendor = f"  [dim](Huawei Cloud: {huawei})[/]" if str(p.get("profile", "")).startswith("huawei") else ""
        console.print(f"  {name}: [{colour}]{p['status']}[/]{vendor}{down}")
        lopsided = describe_tunnel(name, p["tunnel"]) if p.get("tunnel") else None
        if lopsided is not None:
            console.print(f"    [bold red]{escape(lopsided)}[/]")
        for sa in p["ike_sas"]:
            console.print(f"    IKE SA {sa['spi_i']}_i {sa['spi_r']}_r {sa['state']}"
                          f"{' (initiator)' if sa['initiator'] else ''} {escape(str(sa['proposal'] or ''))}")
        for c in p["child_sas"]:
            console.print(f"    CHILD SA {c['spi_in']}_i {c['spi_out']}_o {escape(c['proposal'])} "
                          f"{', '.join(c['local_ts'])} === {', '.join(c['remote_ts'])}")
        for f in p["failures"]:
            console.print(f"    [red]failed at {at(f['t'])}[/]: {escape(str(f['notify'] or ''))} "
                          f"{escape(str(f['reason']))}")
        h = p.get("health") or {}
        for d in h.get("nqa_down", []):
            until = at(d["end"]) if d["end"] is not None else "the end"
            console.print(f"    [yellow]health check down[/] {at(d['start'])} - {until} ({span(d['duration'])})")
        for d in h.get("dpd_peer_dead", []):
            console.print(f"    [yellow]DPD declared the peer dead[/] at {at(d['t'])} (silent for "
                          f"{span(d['silent_for'])}, action {d['action']})")
    render_ha(summary, console)
    render_traffic(summary.get("traffic") or {}, console)


def render_traffic(traffic: dict[str, Any], console: Console) -> None:
    """Per direction: delivered, dropped by reason, outages."""
    directions = traffic.get("directions") or {}
    if not directions:
        return
    console.print("[bold]Traffic[/] (every byte offered: delivered or dropped with a reason):")
    for name, d in directions.items():
        off = d["offered_bytes"]
        pct = f" ({100 * d['delivered_bytes'] / off:.4g} %)" if off else ""
        console.print(f"  {escape(name)}: offered {_size(off)}, delivered {_size(d['delivered_bytes'])}{pct}"
                      + (f", in flight at the end {_size(d['in_flight_bytes'])}" if d["in_flight_bytes"] else ""))
        for reason, b in sorted(d["dropped_bytes"].items()):
            packets = _count(d["dropped_packets"][reason], "packet")
            console.print(f"    [red]dropped ({escape(reason)})[/]: {_size(b)}, {packets}")
        if d.get("fragments"):
            console.print(f"    fragmented on the path (larger than its MTU, no DF): {d['fragmented_packets']} ESP "
                          f"packets into {d['fragments']} IPv4 fragments")
        if d["outages"]:
            console.print(f"    outages: {len(d['outages'])}, {span(d['outage_total'])} in all")
            for o in d["outages"][:10]:
                console.print(f"      {CURRENT.get().at(o['start'])} - {at(o['end'])} ({span(o['duration'])}): "
                              f"{escape(', '.join(o['reasons']))}")
            if len(d["outages"]) > 10:
                console.print(f"      ... {len(d['outages']) - 10} more")
    for s in traffic.get("down") or []:
        console.print(f"  [red]still down at the end[/]: {escape(s['flow'])} ({escape(s['from'])}->{escape(s['to'])}) "
                      f"since {at(s['since'])} ({escape(', '.join(s['reasons']))}), {_size(s['dropped_bytes'])} "
                      f"dropped since, {_count(s['dropped_packets'], 'packet')}")
