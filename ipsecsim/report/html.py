"""``ipsecsim report``: one self-contained HTML file of a run, readable offline.

The page carries its data as JSON (``model.build``) and draws it with the inlined script and
style sheet of ``assets/``: no CDN, no font, no image, no request of any kind. Same run, same
seed: same bytes (the JSON keeps insertion order; nothing depends on the clock).
"""

from __future__ import annotations

import html
import json
from importlib import resources
from pathlib import Path
from typing import Any

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'">
<title>{title} - ipsecsim report</title>
<style>
{css}</style>
</head>
<body>
<div id="head"><h1 id="title">{title}</h1><p class="sub" id="meta"></p></div>
<div id="notes"></div>
<h2>Overview of the whole run</h2>
<p class="help">Drag across the overview to look at a period closely, or type the window (times as the timeline
prints them, or durations: 90s, 2h, 1d12h).</p>
<div class="controls">from <input id="since"> until <input id="until"> <button id="apply">show</button>
<button id="whole">whole run</button></div>
<svg id="overview" role="img" aria-label="overview"></svg>
<h2>SA timeline per peer</h2>
<p class="help">Each bar is one SA from its establishment to its deletion, labelled with its SPIs (in_i / out_o for
CHILD SAs); a dotted hook links a rekeyed SA to the one it replaced. Marks: DPD probes (blue), DPD verdicts (red),
health checks (purple), faults (orange), failures (red), lifetimes reached (grey). Hover for details. Over a long
window the rekey hooks are left out ("zoom in"): drag across the overview to see them.</p>
<svg id="timeline" role="img" aria-label="SA timeline"></svg>
<h2>Sequence diagram</h2>
<p class="help legend"><span><i style="border-color:#2b5fc4"></i>request</span>
<span><i style="border-color:#2e8b57"></i>response</span>
<span><i style="border-color:#c77800;border-top-style:dashed"></i>retransmission</span>
<span><i style="border-color:#d12f2f"></i>lost (✗)</span>
Payloads in strongSwan's notation (SA, KE, No, N(...), IDi, AUTH, TSi ...): [ ... ] in the clear,
SK {{ ... }} encrypted (IKEv2), encrypted [ ... ] (IKEv1).
One row per message in time order (rows are not to scale: read the time on the left).
Click a message to open its decoded content.</p>
<div class="controls"><button id="prev">◀ earlier</button><button id="next">later ▶</button>
<span id="pageinfo"></span></div>
<div id="layout"><div id="seqwrap"><svg id="sequence" role="img" aria-label="sequence diagram"></svg></div>
<div id="detail"><p class="help">Click a message.</p></div></div>
<h2>Final state</h2>
<div id="state"></div>
<h2>Traffic</h2>
<div id="traffic"></div>
<script type="application/json" id="report-data">{data}</script>
<script>
{js}</script>
</body>
</html>
"""


def _asset(name: str) -> str:
    return resources.files("ipsecsim.report").joinpath("assets", name).read_text(encoding="utf-8")


def render(data: dict[str, Any]) -> str:
    """The HTML page of a report's data."""
    payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\!--")
    return _PAGE.format(title=html.escape(str(data["meta"]["name"])), css=_asset("report.css"), js=_asset("report.js"),
                        data=payload)


def write(path: str | Path, data: dict[str, Any]) -> int:
    """Write the page atomically; its size in bytes."""
    import os
    import tempfile
    p = Path(path)
    text = render(data).encode("utf-8")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", dir=p.parent or Path("."))
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # an ordinary file, not mkstemp's private one
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return len(text)
