"""Headless Chromium: forced onto QUIC it loads a page and a subresource over
h3; left to itself it starts on TCP (h2) and reads the Alt-Svc field."""
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


def load_page(origin, certs, flags):
    """Loads https://ORIGIN/ in a fresh headless profile; returns what the
    page's script wrote between its RESULT: and :END markers, as JSON."""
    profile = tempfile.mkdtemp(prefix="h3g-chromium-")
    try:
        cmd = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu"] + flags + [
               "--ignore-certificate-errors-spki-list=" + certs["spki"],
               "--user-data-dir=" + profile, "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run",
               "--virtual-time-budget=5000", "--dump-dom", "https://%s/" % origin]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=90)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    m = re.search(r"RESULT:(.*?):END", p.stdout, re.S)
    assert m, "no result in DOM; stdout=%r stderr=%r" % (p.stdout[-2000:], p.stderr[-3000:])
    return json.loads(m.group(1).replace("&quot;", '"'))


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_loads_page_and_subresource_over_h3(start_server, certs, tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE)
    (root / "check.js").write_text(SCRIPT)
    srv = start_server(root=str(root))
    origin = "127.0.0.1:%d" % srv.port
    entries = load_page(origin, certs, ["--enable-quic", "--origin-to-force-quic-on=" + origin])
    by_type = {e["type"]: e for e in entries}
    assert by_type["navigation"]["proto"] == "h3", entries
    scripts = [e for e in entries if e["name"].endswith("/check.js")]
    assert scripts and scripts[0]["proto"] == "h3", entries
    srv.stop()
    log = srv.access()
    assert 'path="/" status=200' in log and 'path="/check.js" status=200' in log


SCRIPT_H2 = """
window.addEventListener('load', function () {
  fetch('/check.js').then(function (r) {
    var nav = performance.getEntriesByType('navigation')[0];
    var pre = document.createElement('pre');
    pre.id = 'result';
    // the markers are split: this script is inline, in the same DOM
    pre.textContent = 'RES' + 'ULT:' + JSON.stringify({proto: nav.nextHopProtocol,
                                                       altsvc: r.headers.get('alt-svc')}) +
                      ':E' + 'ND';
    document.body.appendChild(pre);
  });
});
"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_chromium_without_forcing_quic_loads_over_h2_and_sees_alt_svc(start_server, certs,
                                                                       tmp_path):
    """Without --origin-to-force-quic-on Chromium starts on TCP: it negotiates h2
    and reads the Alt-Svc field advertising HTTP/3 on the same port.  It would
    only act on it for a certificate that chains to a public root (it ignores
    Alt-Svc from hosts whose certificate errors it was told to ignore), so here
    it stays on h2."""
    root = tmp_path / "www"
    root.mkdir()
    (root / "index.html").write_text(PAGE.replace('<script src="/check.js"></script>',
                                                  "<script>%s</script>" % SCRIPT_H2))
    (root / "check.js").write_text("// fetched\n")
    srv = start_server(root=str(root))
    origin = "127.0.0.1:%d" % srv.port
    got = load_page(origin, certs, [])
    assert got == {"proto": "h2", "altsvc": 'h3=":%d"; ma=86400' % srv.port}, got
    srv.stop()
    assert re.search(r'path="/check.js" status=200 .* proto=h2', srv.access())
