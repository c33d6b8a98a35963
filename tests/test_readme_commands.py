"""Every way the README tells someone to run something is run by a test: here, or in the test named for it.

A command the README gains without an entry below fails `test_every_readme_command_is_covered`.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PROGRAMS = r"(?:sudo |[A-Z_]+=\S+ )*(?:python3?|bash|streamlit|pip3?)\b"

# how each README command is run by the suite. "run": argv run here (small arguments where the README's
# defaults take minutes); "test": the test that runs it; "ci": what .ci/run itself is.
RUN, TEST, CI = "run", "test", "ci"
PY = sys.executable
COVERAGE: list[tuple[str, str, object]] = [
    (r"pip install -r requirements\.txt && streamlit run app\.py", TEST,
     "tests/e2e/conftest.py::start_server"),           # every e2e test serves `streamlit run app.py`
    (r"sudo apt-get install .* && pip install -r requirements-dev\.txt && python -m pytest", CI,
     "the README's test command, run verbatim by .ci/run"),
    (r"bash \.ci/run", CI, "CI runs it on every submission"),
    (r"streamlit run cloud/streamlit_app\.py", TEST, "tests/e2e/test_entry_points_e2e.py::test_cloud_entry_point_serves_every_page"),
    (r"EXPLORER_ALLOW_CUSTOM_MODELS=1 streamlit run app\.py", TEST,
     "tests/app/test_custom_models.py::test_custom_model_folder_loads_through_the_sidebar"),
    (r"pip install -r requirements\.txt --extra-index-url https://download\.pytorch\.org/whl/cpu", TEST,
     "tests/app/test_cloud_entry.py::test_cloud_requirements_are_the_same_pins_with_the_cpu_index"),
    (r"python -m explorer\.tours check assets/lessons/my-tour\.toml", TEST,
     "tests/app/test_tours.py::test_the_readme_example_tour_passes_the_check_command"),
    (r"python -m explorer\.download", RUN, [PY, "-m", "explorer.download", "--js"]),
    (r"python -m explorer\.zoo\.train", RUN, [PY, "-m", "explorer.zoo.train", "--only", "tiny-gpt2", "--steps", "2",
                                                "--out", "{tmp}"]),
    (r"pip install pip-tools && bash tools/pin", RUN, "pin"),
    (r"bash tools/upgrade-check", RUN, ["bash", "tools/upgrade-check", "tests/unit/test_text.py"]),
    (r"python bench/attention\.py", RUN, [PY, "bench/attention.py", "--tokens", "16"]),
    (r"python bench/generation\.py", RUN, [PY, "bench/generation.py", "--compare", "6", "--rounds", "1"]),
    (r"python bench/rope\.py", RUN, [PY, "bench/rope.py", "--tokens", "16", "--rounds", "1"]),
    (r"python bench/kvcache\.py", RUN, [PY, "bench/kvcache.py", "--tokens", "16", "--batch", "1"]),
    (r"python bench/adapt\.py", RUN, [PY, "bench/adapt.py", "--steps", "2", "--big-steps", "1", "--length", "32"]),
    (r"python bench/pipeline\.py", RUN, [PY, "bench/pipeline.py", "--tokens", "16", "--repeats", "1"]),
    (r"python bench/figures\.py", RUN, [PY, "bench/figures.py", "--small", "16", "--large", "64", "--rounds", "1"]),
    (r"python bench/load\.py", TEST, "tests/e2e/test_class_scale_e2e.py::test_load_bench_with_four_sessions_runs_clean"),
    (r"python -m explorer\.serve --processes 2 --port 8501", TEST,
     "tests/e2e/test_class_scale_e2e.py::test_two_processes_behind_nginx_serve_every_page_with_sticky_sessions"),
    (r"python bench/multimodal\.py", RUN, [PY, "bench/multimodal.py", "--repeats", "1"]),
    (r"python bench/efficient\.py", RUN, [PY, "bench/efficient.py", "--tokens", "128", "--block", "32",
                                          "--rounds", "1", "--model-tokens", "24", "--window", "4"]),
]


def readme_commands() -> list[str]:
    text = README.read_text()
    found = []
    for block in re.findall(r"```(?:bash|sh)?\n(.*?)```", text, re.S):
        found += [line.split("  #")[0].strip() for line in block.splitlines() if re.match(PROGRAMS, line.strip())]
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    found += [span.strip() for span in re.findall(r"`([^`\n]+)`", text) if re.match(PROGRAMS, span.strip())]
    return list(dict.fromkeys(found))


def coverage_of(command: str):
    hits = [c for c in COVERAGE if re.fullmatch(c[0], command)]
    return hits[0] if len(hits) == 1 else None


def test_every_readme_command_is_covered():
    commands = readme_commands()
    assert len(commands) >= 8, commands
    missing = [c for c in commands if coverage_of(c) is None]
    assert missing == [], f"README commands no test runs (add them to COVERAGE): {missing}"


@pytest.mark.parametrize("entry", [c for c in COVERAGE if c[1] == TEST], ids=lambda c: c[0][:40])
def test_named_tests_exist(entry):
    path, name = str(entry[2]).split("::")
    assert re.search(rf"^def {name}\b", (ROOT / path).read_text(), re.M), entry[2]


def _run(argv: list[str], timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("entry", [c for c in COVERAGE if c[1] == RUN and c[2] != "pin"], ids=lambda c: c[0][:40])
def test_readme_command_runs(entry, tmp_path):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in entry[2]]
    # upgrade-check builds a whole virtualenv (torch included) before it runs its one test file
    p = _run(argv, timeout=2400 if argv[0] == "bash" else 900)
    out = p.stdout + p.stderr
    assert "Traceback (most recent call last)" not in out, out[-3000:]
    # a benchmark that ran to the end but missed a timing target on a loaded machine exits 1 with its verdict
    finished = p.returncode == 0 or (argv[1].startswith("bench/") and re.search(r"FAIL|MISSED|MISMATCH|SLOW", out))
    assert finished, out[-3000:]
    assert out.strip(), "printed nothing"


def test_pins_regenerate_to_what_is_committed(tmp_path):
    # tools/pin in a copy of the repository reproduces the committed pin files: nobody edited them by hand
    if not shutil.which("pip-compile"):
        pytest.fail("pip-compile (pip-tools, in requirements-dev.txt) is needed to check the pins")
    for f in ["tools/pin", "requirements/app.in", "requirements/dev.in", "requirements.txt", "requirements-dev.txt",
              "cloud/requirements.txt"]:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / f, tmp_path / f)
    p = subprocess.run(["bash", "tools/pin"], cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    for f in ["requirements.txt", "requirements-dev.txt", "cloud/requirements.txt"]:
        assert (tmp_path / f).read_text() == (ROOT / f).read_text(), f"{f} differs from what tools/pin generates"
