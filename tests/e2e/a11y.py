"""Accessibility checks the way web teams run them: axe-core, injected into the page under test.

axe-core comes from the npm registry at an exact version (`npm pack`, cached like bertviz's JavaScript), so
the rules do not change under us between runs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

AXE_VERSION = "4.14.1"
CACHE = Path(os.environ.get("EXPLORER_TEST_JS_CACHE", Path.home() / ".cache" / "transformer-explorer" / "test-js"))


def axe_source() -> str:
    path = CACHE / f"axe-{AXE_VERSION}.min.js"
    if not path.is_file():
        npm = shutil.which("npm")
        if not npm:
            pytest.fail("npm is needed to fetch axe-core from the npm registry")
        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", tmp, "--silent"],
                           cwd=tmp, check=True, capture_output=True, timeout=180)
            tgz = next(Path(tmp).glob("axe-core-*.tgz"))
            with tarfile.open(tgz) as t:
                data = t.extractfile("package/axe.min.js").read()
        path.write_bytes(data)
    return path.read_text()


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each (rule, count, first target)."""
    page.add_script_tag(content=axe_source())
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3),
                                       count: v.nodes.length}));
    }""")
    return [f"{v['id']} ({v['impact']}, {v['count']}x): {v['help']} — e.g. {v['nodes'][:2]}"
            for v in result if v["impact"] in ("serious", "critical")]
