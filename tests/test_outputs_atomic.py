"""Outputs survive a killed run, and runs are byte-identical across processes.

A run is SIGKILLed at every file step of the output swap (helpers/fake_embed.py stops before
each step until told to go on);
afterwards every output parses and is the old or the new complete version, and manifest.json
is present exactly when the files form one consistent run. Embeddings are the deterministic
stand-in, so a run takes seconds.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
import fake_embed  # noqa: E402

from taxonomy.atomic import MANIFEST, output_path, publish, verify_outputs  # noqa: E402
from taxonomy.errors import TaxonomyError  # noqa: E402
from taxonomy.pipeline import run  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HELPER = REPO / "tests/helpers/fake_embed.py"
OUTPUTS = ("documents.csv", "map.html", "taxonomy.yaml")
TOPICS = [
    "compressing the KV cache of transformer decoders for long context generation",
    "retrieval augmented generation with dense passage retrievers and rerankers",
    "diffusion models for text to image generation with classifier free guidance",
    "speech recognition with self supervised audio encoders and streaming decoders",
    "reinforcement learning from human feedback and direct preference optimization",
]


def abstracts(n: int, variant: str) -> list[str]:
    return [
        f"Paper {i} ({variant}) studies {TOPICS[i % len(TOPICS)]} in setting {i}." for i in range(n)
    ]


def make_config(folder: Path, n: int, variant: str, cache: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"abstract": abstracts(n, variant)}).to_csv(folder / "papers.csv", index=False)
    cfg = {"cache_dir": str(cache), "input": {"paths": [str(folder / "papers.csv")]}}
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(config: Path, out: Path, *, hash_seed: str = "0", handshake: bool = False):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": hash_seed}
    env.pop("STEP_HANDSHAKE", None)
    if handshake:
        env["STEP_HANDSHAKE"] = "1"
    args = [sys.executable, str(HELPER), "run", "--config", str(config), "--out", str(out)]
    return subprocess.Popen(
        [*args, "--quiet"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if handshake else subprocess.PIPE,
        text=True,
    )


def read_outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def check_parses(out: Path) -> None:
    """Each file parses on its own (in a mixed set they may come from different runs)."""
    doc = yaml.safe_load((out / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert doc["themes"] and doc["papers"] > 0
    docs = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert len(docs) > 0 and docs["id"].is_unique
    page = (out / "map.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    blob = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1))


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Config B, and the complete outputs of config A (old) and config B (new)."""
    import taxonomy.embed

    tmp = tmp_path_factory.mktemp("versions")
    real = taxonomy.embed.embed_texts
    taxonomy.embed.embed_texts = fake_embed.fake_embed_texts
    try:
        old = run(make_config(tmp / "a", 12, "old", tmp / "cache"), out=tmp / "old").out_dir
        config_b = make_config(tmp / "b", 16, "new", tmp / "cache")
        new = run(config_b, out=tmp / "new").out_dir
    finally:
        taxonomy.embed.embed_texts = real
    return config_b, old, new


# Steps of the swap: 3 staging writes, 3 renames, the manifest. Each kill is one process run
# (~5 s here), so the fast test kills before the first write, the second rename and the
# manifest; the slow one before every step.
EXPECTED_STATES = {
    0: ("write", "ooo", True),  # nothing swapped yet: the old run, confirmed by its manifest
    1: ("write", "ooo", True),
    2: ("write", "ooo", True),
    3: ("rename", "ooo", False),  # old manifest removed: the swap has begun
    4: ("rename", "noo", False),  # documents.csv is new, map.html and taxonomy.yaml are old
    5: ("rename", "nno", False),
    6: ("atomic", "nnn", False),  # every file new, manifest not yet written
}


@pytest.mark.parametrize(
    "kill_points", [(0, 4, 6), pytest.param(tuple(range(7)), marks=pytest.mark.slow)]
)
def test_run_killed_during_the_swap_leaves_complete_outputs(versions, tmp_path, kill_points):
    config_b, old_dir, new_dir = versions
    old, new = read_outputs(old_dir), read_outputs(new_dir)
    assert all(old[name] != new[name] for name in OUTPUTS)
    for kill_at in kill_points:
        out = tmp_path / f"out{kill_at}"
        shutil.copytree(old_dir, out)
        proc = cli(config_b, out, handshake=True)
        steps = []
        for line in proc.stdout:
            if line.startswith("STEP") and str(out) in line:
                steps.append(line.split()[1:3])
                if len(steps) > kill_at:
                    proc.send_signal(signal.SIGKILL)
                    break
            proc.stdin.write("go\n")
            proc.stdin.flush()
        proc.wait(timeout=60)
        assert proc.returncode == -signal.SIGKILL
        visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
        assert set(OUTPUTS) <= set(visible) <= {*OUTPUTS, MANIFEST}, visible
        check_parses(out)
        current = read_outputs(out)
        state = "".join("o" if current[n] == old[n] else "n" for n in OUTPUTS)
        for name in OUTPUTS:
            assert current[name] in (old[name], new[name]), f"{name} is neither version"
        if (out / MANIFEST).exists():
            assert verify_outputs(out) == [] and state in ("ooo", "nnn")
        else:
            assert verify_outputs(out)  # a mixed or unconfirmed set is reported
        assert (steps[-1][0], state, (out / MANIFEST).exists()) == EXPECTED_STATES[kill_at]
    # The next complete run clears the leftovers of the killed one.
    out = tmp_path / f"out{kill_points[1]}"
    assert any(p.name.startswith(".staging-") for p in out.iterdir())
    proc = cli(config_b, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([*OUTPUTS, MANIFEST])
    assert read_outputs(out) == new and verify_outputs(out) == []


def test_same_input_gives_identical_bytes_in_separate_processes(versions, tmp_path):
    config_b, _, new_dir = versions
    procs = [cli(config_b, tmp_path / f"p{seed}", hash_seed=seed) for seed in ("1", "2")]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    for name in ("taxonomy.yaml", "documents.csv", "map.html", MANIFEST):
        first = (tmp_path / "p1" / name).read_bytes()
        assert first == (tmp_path / "p2" / name).read_bytes(), name
        assert first == (new_dir / name).read_bytes(), name  # and equal to the in-process run


# --- publish and output names ------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["../escape.yaml", "/etc/passwd", "sub/file.csv", "..", ".", "", ".hidden", "a\\b"]
)
def test_output_names_cannot_leave_the_output_folder(tmp_path, name):
    with pytest.raises(TaxonomyError, match="must be a plain file name"):
        output_path(tmp_path / "out", name)
    with pytest.raises(TaxonomyError):
        publish(tmp_path / "out", {name: b"x"})
    assert not (tmp_path / "escape.yaml").exists()


def test_publish_replaces_the_set_and_cleans_leftovers(tmp_path):
    out = tmp_path / "out"
    publish(out, {"a.txt": b"1", "b.txt": b"1"})
    (out / ".staging-dead").mkdir()
    (out / ".staging-dead/a.txt").write_bytes(b"half")
    (out / ".a.txt.x1y2.tmp").write_bytes(b"half")
    (out / "notes.md").write_bytes(b"mine")  # not ours: left alone
    publish(out, {"a.txt": b"2", "b.txt": b"2"})
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", MANIFEST, "notes.md"]
    assert (out / "a.txt").read_bytes() == b"2" and verify_outputs(out) == []
    assert oct((out / "a.txt").stat().st_mode & 0o777) == oct(0o644)
    (out / "b.txt").write_bytes(b"edited")
    assert verify_outputs(out) == [f"{out / 'b.txt'}: does not match {MANIFEST} (from another run)"]
