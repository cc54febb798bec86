"use strict";
// ipsecsim HTML report: draws the run from the JSON in <script id="report-data">. No network.
(function () {
  const D = JSON.parse(document.getElementById("report-data").textContent);
  const NS = document.getElementById("overview").namespaceURI; // the SVG namespace, from the page itself
  const PAGE = 150; // messages per page of the sequence diagram
  const W = 1000; // width of the timeline drawings
  const LEFT = 120;
  let win = [0, D.meta.duration || 1];
  let page = 0;

  function el(name, attrs, parent, text) {
    const e = document.createElementNS(NS, name);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function h(name, attrs, parent, text) {
    const e = document.createElement(name);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }
  function pad(n, w) { return String(n).padStart(w, "0"); }
  function fmt(t) {
    if (!D.meta.long) return t.toFixed(3) + " s";
    t = Math.round(t * 1000) / 1000;
    const d = Math.floor(t / 86400); let r = t - d * 86400;
    const hh = Math.floor(r / 3600); r -= hh * 3600;
    const mm = Math.floor(r / 60); const ss = r - mm * 60;
    return d + "d" + pad(hh, 2) + ":" + pad(mm, 2) + ":" + pad(ss.toFixed(3), 6);
  }
  function parseT(s) {
    s = s.trim().toLowerCase();
    let m = s.match(/^(?:(\d+)d)?(\d{1,2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?$/);
    if (m) return (+(m[1] || 0)) * 86400 + (+m[2]) * 3600 + (+m[3]) * 60 + (+(m[4] || 0));
    m = s.match(/^([\d.]+)\s*(ms|s|m|min|h|d)?$/);
    if (m) return (+m[1]) * ({ ms: 0.001, s: 1, m: 60, min: 60, h: 3600, d: 86400 }[m[2] || "s"]);
    return NaN;
  }
  function peersAll() {
    const names = D.meta.peers.map(p => p.name);
    for (const x of D.bars.concat(D.marks)) if (names.indexOf(x.peer) < 0) names.push(x.peer);
    return names;
  }

  // ---- header -------------------------------------------------------------------------
  function header() {
    const m = D.meta;
    document.getElementById("title").textContent = m.name;
    const sub = document.getElementById("meta");
    sub.textContent = (m.seed !== null ? "seed " + m.seed + ", " : "") + fmt(m.duration) + " simulated, " +
      m.events + " events, " + D.message_total + " IKE messages (ipsecsim " + m.version + ")";
    if (m.description) h("p", { class: "sub" }, document.getElementById("head"), m.description);
    const pe = h("p", { class: "sub peers" }, document.getElementById("head"));
    for (const p of m.peers) h("span", {}, pe, p.name + (p.address ? ": " + p.address + ", " + p.profile +
      ", IKEv" + p.ike + ", start " + p.start : ""));
    const notes = document.getElementById("notes");
    if (D.messages.length < D.message_total)
      h("div", { class: "note" }, notes, "The run put " + D.message_total + " IKE messages on the wire; the " +
        "sequence diagram lists the first " + D.messages.length + ".");
    if (D.detail_cap && D.message_total > D.detail_cap)
      h("div", { class: "note" }, notes, "Decoded contents are kept for the first " + D.detail_cap +
        " messages only (to keep this file small); later messages show their header and payload list.");
    if (m.source === "events")
      h("div", { class: "note" }, notes, "Made from a saved events file: the messages show their payload list " +
        "but not their decoded contents, and the final state is not known. Make the report from the scenario " +
        "for both.");
  }

  // ---- overview: the whole run, a window to select -------------------------------------
  function overview() {
    const svg = document.getElementById("overview");
    svg.innerHTML = "";
    const dur = D.meta.duration || 1;
    const H = 70;
    svg.setAttribute("viewBox", "0 0 " + (W + LEFT + 10) + " " + H);
    svg.setAttribute("width", W + LEFT + 10);
    svg.setAttribute("height", H);
    const x = t => LEFT + t / dur * W;
    // message density: aggregated per period
    const bins = 200, counts = new Array(bins).fill(0);
    for (const mm of D.messages) counts[Math.min(bins - 1, Math.floor(mm.t / dur * bins))]++;
    const max = Math.max(1, ...counts);
    el("text", { x: 4, y: 22 }, svg, "IKE messages");
    counts.forEach((c, i) => { if (c) el("rect", { class: "hist", x: LEFT + i * W / bins, y: 30 - 24 * c / max,
      width: Math.max(1, W / bins - 0.5), height: 24 * c / max }, svg); });
    el("text", { x: 4, y: 48 }, svg, "outages");
    for (const o of D.outages) el("rect", { class: "outage", x: x(o.start), y: 38, width: Math.max(1, x(o.end) - x(o.start)), height: 12 }, svg);
    axis(svg, 0, dur, 52, x);
    const b = el("rect", { class: "brush", x: x(win[0]), y: 2, width: Math.max(2, x(win[1]) - x(win[0])), height: 48 }, svg);
    let start = null;
    const tAt = ev => { const r = svg.getBoundingClientRect(); const px = (ev.clientX - r.left) * (W + LEFT + 10) / r.width;
      return Math.min(dur, Math.max(0, (px - LEFT) / W * dur)); };
    svg.onmousedown = ev => { start = tAt(ev); ev.preventDefault(); };
    svg.onmousemove = ev => { if (start === null) return; const t = tAt(ev);
      b.setAttribute("x", x(Math.min(start, t))); b.setAttribute("width", Math.max(2, Math.abs(x(t) - x(start)))); };
    svg.onmouseup = ev => { if (start === null) return; const t = tAt(ev); const a = Math.min(start, t), z = Math.max(start, t);
      start = null; if (z - a > dur / 2000) setWindow(a, z); };
  }
  function axis(svg, a, z, y, x) {
    const g = el("g", { class: "axis" }, svg);
    el("line", { x1: LEFT, x2: LEFT + W, y1: y, y2: y }, g);
    for (let i = 0; i <= 5; i++) {
      const t = a + (z - a) * i / 5;
      el("line", { x1: x(t), x2: x(t), y1: y, y2: y + 4 }, g);
      el("text", { x: x(t), y: y + 15, "text-anchor": i === 0 ? "start" : (i === 5 ? "end" : "middle") }, g, fmt(t));
    }
  }
  function setWindow(a, z) {
    win = [a, z]; page = 0;
    document.getElementById("since").value = fmt(a);
    document.getElementById("until").value = fmt(z);
    overview(); timeline(); sequence();
  }

  // ---- state timeline ------------------------------------------------------------------
  function timeline() {
    const svg = document.getElementById("timeline");
    svg.innerHTML = "";
    const [a, z] = win;
    const x = t => LEFT + (Math.min(z, Math.max(a, t)) - a) / (z - a) * W;
    const inWin = (s, e) => e >= a && s <= z;
    let y = 6;
    const centers = {};
    for (const peer of peersAll()) {
      const bars = D.bars.filter(b => b.peer === peer);
      const mk = D.marks.filter(m => m.peer === peer);
      if (!bars.length && !mk.length) continue;
      el("text", { class: "lane-label", x: 4, y: y + 12 }, svg, peer);
      for (const kind of ["ike", "child"]) {
        const kb = bars.filter(b => b.kind === kind);
        if (!kb.length) continue;
        // rekeys overlap old and new for a moment: alternate two sub-rows
        const rows = [-1e18, -1e18];
        el("rect", { class: "lane-bg", x: LEFT, y: y, width: W, height: 34 }, svg);
        el("text", { x: 40, y: y + 21 }, svg, kind === "ike" ? "IKE SAs" : "CHILD SAs");
        for (const b of kb) {
          const r = rows[0] <= b.start ? 0 : (rows[1] <= b.start ? 1 : (rows[0] <= rows[1] ? 0 : 1));
          rows[r] = b.end;
          const yy = y + 1 + r * 17;
          centers[b.id] = [x(b.start), x(b.end), yy + 8];
          if (!inWin(b.start, b.end)) continue;
          const g = el("g", { class: "sa-bar " + kind, "data-peer": peer, "data-kind": kind, "data-id": b.id }, svg);
          const w = Math.max(1.5, x(b.end) - x(b.start));
          el("rect", { x: x(b.start), y: yy, width: w, height: 15, rx: 2 }, g);
          el("title", {}, g, b.label + "\n" + b.detail + "\nfrom " + fmt(b.start) + " to " + fmt(b.end) +
            " (" + b.end_reason + ")");
          if (w > b.label.length * 5.6) el("text", { x: x(b.start) + 3, y: yy + 11 }, g, b.label);
        }
        const dense = kb.filter(b => inWin(b.start, b.end)).length > 120;
        if (dense) { el("text", { x: LEFT + W + 4, y: y + 21, style: "font-size:10px" }, svg, "zoom in"); }
        for (const b of kb) {
          if (dense) break; // at this scale the hooks would hide the bars: drag a window in the overview
          if (!b.prev || !centers[b.prev] || !inWin(b.start, b.end)) continue;
          const [, , py] = centers[b.prev]; const [sx, , sy] = centers[b.id];
          el("path", { class: "rekey-link", d: "M" + sx + "," + py + " C" + (sx - 6) + "," + (py + sy) / 2 + " " +
            (sx - 6) + "," + (py + sy) / 2 + " " + sx + "," + sy }, svg);
        }
        y += 38;
      }
      if (mk.length) {
        el("rect", { class: "lane-bg", x: LEFT, y: y, width: W, height: 16 }, svg);
        el("text", { x: 40, y: y + 12 }, svg, "events");
        // aggregate marks that fall on the same pixel
        const seen = {};
        for (const m of mk) {
          if (m.t < a || m.t > z) continue;
          const px = Math.round(x(m.t)), key = px + m.kind;
          if (seen[key]) { seen[key].n++; seen[key].title.textContent += "\n" + fmt(m.t) + " " + m.text; continue; }
          const c = el("rect", { class: "mark " + m.kind + (m.bad ? " bad" : ""), x: px - 2, y: y + 3 + (m.bad ? 0 : 2),
            width: 4, height: m.bad ? 10 : 6, "data-event": m.event }, svg);
          seen[key] = { n: 1, title: el("title", {}, c, fmt(m.t) + " " + m.text) };
        }
        y += 20;
      }
      y += 6;
    }
    const flows = [...new Set(D.outages.map(o => o.flow))];
    for (const f of flows) {
      el("text", { x: 4, y: y + 11 }, svg, "outage " + f);
      el("rect", { class: "lane-bg", x: LEFT, y: y, width: W, height: 14 }, svg);
      for (const o of D.outages.filter(o => o.flow === f && inWin(o.start, o.end))) {
        const r = el("rect", { class: "outage", x: x(o.start), y: y + 1, width: Math.max(1.5, x(o.end) - x(o.start)), height: 12 }, svg);
        el("title", {}, r, f + " dropped " + fmt(o.start) + " - " + fmt(o.end) + " (" + o.reasons.join(", ") + ")");
      }
      y += 18;
    }
    axis(svg, a, z, y + 2, t => LEFT + (t - a) / (z - a) * W);
    svg.setAttribute("viewBox", "0 0 " + (W + LEFT + 60) + " " + (y + 24));
    svg.setAttribute("width", W + LEFT + 60);
    svg.setAttribute("height", y + 24);
  }

  // ---- sequence diagram ----------------------------------------------------------------
  function windowMessages() { return D.messages.filter(m => m.t >= win[0] - 1e-9 && m.t <= win[1] + 1e-9); }
  function sequence() {
    const svg = document.getElementById("sequence");
    svg.innerHTML = "";
    const all = windowMessages();
    const pages = Math.max(1, Math.ceil(all.length / PAGE));
    page = Math.min(page, pages - 1);
    const msgs = all.slice(page * PAGE, (page + 1) * PAGE);
    document.getElementById("pageinfo").textContent = all.length ? ("messages " + (page * PAGE + 1) + "–" +
      (page * PAGE + msgs.length) + " of " + all.length + " in the window" +
      (pages > 1 ? " (page " + (page + 1) + " of " + pages + ")" : "")) : "no IKE message in the window";
    const names = D.meta.peers.map(p => p.name);
    const width = 900, left = 130, right = width - 60;
    const px = {};
    names.forEach((n, i) => { px[n] = names.length === 1 ? (left + right) / 2 : left + (right - left) * i / (names.length - 1); });
    const rowH = 46, top = 40;
    const height = top + msgs.length * rowH + 20;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    for (const n of names) {
      const g = el("g", { class: "peer-head" }, svg);
      el("rect", { x: px[n] - 50, y: 4, width: 100, height: 24, rx: 4 }, g);
      el("text", { x: px[n], y: 21, "text-anchor": "middle" }, g, n);
      el("line", { class: "lifeline", x1: px[n], x2: px[n], y1: 28, y2: height }, svg);
    }
    msgs.forEach((m, k) => {
      const y = top + k * rowH + 30;
      const cls = "msg " + (m.resp ? "response" : "request") + (m.rt ? " retransmit" : "") + (m.lost ? " lost" : "");
      const g = el("g", { class: cls, "data-i": m.i, id: "msg-" + m.i }, svg);
      el("rect", { class: "hit", x: 0, y: y - 30, width: width, height: rowH }, g);
      const x1 = px[m.from] !== undefined ? px[m.from] : left, x2 = px[m.to] !== undefined ? px[m.to] : right;
      const xe = m.lost ? x1 + (x2 - x1) * 0.55 : x2;
      el("line", { x1: x1, x2: xe, y1: y, y2: y + 6 }, g);
      if (m.lost) {
        el("text", { class: "lost-x", x: xe, y: y + 11, "text-anchor": "middle" }, g, "✗");
        el("text", { class: "lost-x", x: xe + (x2 > x1 ? 10 : -10), y: y + 12, "text-anchor": x2 > x1 ? "start" : "end",
          style: "font-size:11px" }, g, "lost (" + (m.lost === "loss" ? "random loss on the link" : m.lost) + ")");
      } else {
        const dir = x2 > x1 ? -1 : 1;
        el("path", { d: "M" + xe + "," + (y + 6) + " l" + (dir * 9) + ",-5 l0,8 z", fill: "currentColor",
          style: "fill:" + (m.rt ? "#c77800" : (m.resp ? "#2e8b57" : "#2b5fc4")) }, g);
      }
      el("text", { class: "time", x: 4, y: y + 4 }, g, fmt(m.t));
      const mid = (x1 + x2) / 2;
      el("text", { class: "label", x: mid, y: y - 17, "text-anchor": "middle" }, g,
        m.ex + " " + (m.resp ? "response" : "request") + " " + m.mid + (m.rt ? "  (retransmission " + m.rt + ")" : ""));
      el("text", { class: "payloads", x: mid, y: y - 5, "text-anchor": "middle" }, g, (!m.enc ? "[ " + m.pl.join(" ") + " ]" : (m.v === 1 ? "encrypted [ " + m.pl.join(" ") + " ]" : "SK { " + m.pl.join(" ") + " }")));
      el("title", {}, g, "click to open the decoded message");
      g.addEventListener("click", () => show(m));
    });
  }

  function tree(parent, nodes) {
    for (const [label, value, kids] of nodes) {
      if (kids && kids.length) {
        const d = h("details", {}, parent);
        if (label.indexOf("header") < 0 && label !== "keys") d.open = true;
        const s = h("summary", {}, d);
        h("span", { class: "k" }, s, label + (value ? ": " : ""));
        h("span", { class: "v" }, s, value);
        tree(d, kids);
      } else {
        const p = h("div", { class: "leaf" }, parent);
        h("span", { class: "k" }, p, label + ": ");
        h("span", { class: "v" }, p, value);
      }
    }
  }
  function show(m) {
    for (const s of document.querySelectorAll(".msg.selected")) s.classList.remove("selected");
    const g = document.getElementById("msg-" + m.i);
    if (g) g.classList.add("selected");
    const box = document.getElementById("detail");
    box.innerHTML = "";
    h("h3", {}, box, m.from + " → " + m.to + ": " + m.ex + " " + (m.resp ? "response" : "request") + " " + m.mid);
    const facts = h("div", { class: "facts" }, box);
    h("div", {}, facts, "sent at " + fmt(m.t) + (m.rt ? ", retransmission " + m.rt + " of the same request" : ", first transmission"));
    h("div", {}, facts, m.lost ? "lost on the way (" + m.lost + ")" : (m.arr !== null && m.arr !== undefined ? "arrived at " + fmt(m.arr) : ""));
    h("div", {}, facts, "payloads: [ " + m.pl.join(" ") + " ]" + (!m.enc ? ", in the clear" : (m.v === 1 ? ", encrypted (RFC 2409 Appendix B)" : ", encrypted in the SK payload (RFC 7296 3.14)")));
    const det = D.details[String(m.i)];
    if (det) {
      h("h3", { style: "margin-top:8px" }, box, "Decoded");
      tree(box, det);
    } else {
      h("p", { class: "help" }, box, D.meta.source === "events" ? "The events file keeps the payload list only." :
        "Decoded contents are kept for the first " + D.detail_cap + " messages of the run.");
    }
  }

  // ---- final state ---------------------------------------------------------------------
  function state() {
    const box = document.getElementById("state");
    if (!D.state.length) { h("p", { class: "help" }, box, "Not known from an events file."); return; }
    const t = h("table", {}, box);
    const hr = h("tr", {}, t);
    for (const c of ["peer", "status", "vendor words", "SAs at the end", "failures"]) h("th", {}, hr, c);
    for (const p of D.state) {
      const r = h("tr", {}, t);
      h("td", {}, r, p.peer);
      h("td", { class: p.status === "ipsec_sa_established" ? "ok" : (p.status === "ike_sa_established" ? "warn" : "bad") },
        r, p.status + (p.down ? " (" + p.down + ")" : ""));
      h("td", {}, r, Object.entries(p.vendor).map(([k, v]) => k + ": " + v).join("; "));
      h("td", {}, r, p.ike.concat(p.child).join("\n") || "none").style.whiteSpace = "pre-line";
      h("td", {}, r, p.failures.join("\n") || "none").style.whiteSpace = "pre-line";
    }
    if (D.traffic.length) {
      const tt = h("table", {}, document.getElementById("traffic"));
      const r0 = h("tr", {}, tt);
      for (const c of ["direction", "offered (bytes)", "delivered (bytes)", "dropped (bytes, by reason)", "outages"]) h("th", {}, r0, c);
      for (const d of D.traffic) {
        const r = h("tr", {}, tt);
        h("td", {}, r, d.direction);
        h("td", {}, r, d.offered.toLocaleString("en"));
        h("td", {}, r, d.delivered.toLocaleString("en") + (d.offered ? " (" + (100 * d.delivered / d.offered).toPrecision(4) + " %)" : ""));
        h("td", {}, r, Object.entries(d.dropped).map(([k, v]) => k + " " + v.toLocaleString("en")).join(", ") || "none");
        h("td", {}, r, d.outages + (d.outages ? ", " + d.outage_total + " in all" : ""));
      }
    }
  }

  function controls() {
    document.getElementById("apply").onclick = () => {
      const a = parseT(document.getElementById("since").value), z = parseT(document.getElementById("until").value);
      if (!isNaN(a) && !isNaN(z) && z > a) setWindow(a, z);
    };
    document.getElementById("whole").onclick = () => setWindow(0, D.meta.duration || 1);
    document.getElementById("prev").onclick = () => { if (page > 0) { page--; sequence(); } };
    document.getElementById("next").onclick = () => { page++; sequence(); };
    document.getElementById("since").value = fmt(win[0]);
    document.getElementById("until").value = fmt(win[1]);
  }

  header();
  controls();
  overview();
  timeline();
  sequence();
  state();
  if (D.messages.length) show(D.messages[0]);
  document.body.setAttribute("data-ready", "1");
})();
