"""Render a page in headless Chromium (Debian's chromium, see bindep.txt) and query the DOM it produced.

Used by tests that assert on what a person sees: the health-audit HTML report.
"""
import html.parser
import os
import shutil
import subprocess

import pytest


class _Dom(html.parser.HTMLParser):
    """Collect elements by id/class from the DOM Chromium dumps."""

    def __init__(self):
        html.parser.HTMLParser.__init__(self)
        self.stack, self.elements = [], []

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.elements.append(el)
        if tag not in ("meta", "br", "img", "link", "input"):
            self.stack.append(el)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                del self.stack[i:]
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

    def find(self, **attrs):
        return [e for e in self.elements if all(
            (v in e["attrs"].get(k, "").split()) if k == "class" else e["attrs"].get(k) == v for k, v in attrs.items())]


def chromium(page_path, name, output_dir):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium is not installed (bindep.txt)")
    os.makedirs(output_dir, exist_ok=True)
    profile = os.path.join(os.path.dirname(page_path), "chromium-profile-" + name)
    shot = os.path.join(output_dir, name + ".png")
    flags = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--user-data-dir=" + profile, "--window-size=1400,1800"]
    out = subprocess.run(flags + ["--screenshot=" + shot, "file://" + page_path], capture_output=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert os.path.getsize(shot) > 10000  # a real rendering, kept as a test artifact
    dom = subprocess.run(flags + ["--dump-dom", "file://" + page_path], capture_output=True, timeout=120, text=True, check=False)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parser = _Dom()
    parser.feed(dom.stdout)
    return parser
