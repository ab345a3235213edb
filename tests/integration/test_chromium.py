"""Headless Chromium forced onto QUIC loads a page and a subresource over h3."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

PAGE = """<!DOCTYPE html>
<html><head><title>h3 check</title><script src="/check.js"></script></head>
<body><p>checking</p></body></html>
"""

SCRIPT = """
window.addEventListener('load', function () {
  var out = performance.getEntries()
    .filter(function (e) { return e.entryType === 'navigation' || e.entryType === 'resource'; })
    .map(function (e) { return {name: e.name, type: e.entryType, proto: e.nextHopProtocol}; });
  var pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = 'RESULT:' + JSON.stringify(out) + ':END';
  document.body.appendChild(pre);
});
"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_loads_page_and_subresource_over_h3(start_server, certs, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "check.js").write_text(SCRIPT)
    srv = start_server(root=str(root))
    origin = "127.0.0.1:%d" % srv.port
    profile = tempfile.mkdtemp(prefix="h3g-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--enable-quic",
               "--origin-to-force-quic-on=" + origin,
               "--ignore-certificate-errors-spki-list=" + certs["spki"],
               "--user-data-dir=" + profile, "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--virtual-time-budget=5000", "--dump-dom", "https://%s/" % origin]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    m = re.search(r"RESULT:(.*?):END", p.stdout, re.S)
    assert m, "no result in DOM; stdout=%r stderr=%r" % (p.stdout[-2000:], p.stderr[-3000:])
    entries = json.loads(m.group(1).replace("&quot;", '"'))
    by_type = {e["type"]: e for e in entries}
    assert by_type["navigation"]["proto"] == "h3", entries
    scripts = [e for e in entries if e["name"].endswith("/check.js")]
    assert scripts and scripts[0]["proto"] == "h3", entries
    srv.stop()
    log = srv.access()
    assert 'path="/" status=200' in log and 'path="/check.js" status=200' in log
