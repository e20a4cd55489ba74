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

from taxonomy.atomic import MANIFEST, output_path, publish, verify_outputs
from taxonomy.errors import TaxonomyError
from taxonomy.pipeline import run
from tests.helpers import fake_embed

REPO = Path(__file__).resolve().parents[1]
HELPER = "tests.helpers.fake_embed"
OUTPUTS = ("documents.csv", "map.html", "taxonomy.yaml")
# Everything a run writes, in the order publish stages and renames it: sorted, map.html last
# (its page is rendered while the others are written: `publish(last=...)`).
ALL_FILES = (
    "changes.json",
    "changes.md",
    "documents.csv",
    "documents.parquet",
    "map.png",
    "map.svg",
    "papers.bib",
    "papers.ris",
    "state.json",
    "taxonomy.yaml",
    "map.html",
)
# Written too unless output.report is off (the swap tests turn it off: without months in their
# input, trends.csv is the same header in both versions, so it cannot tell old from new).
REPORT_FILES = ("report.html", "trends.csv")
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


def make_config(folder: Path, n: int, variant: str, cache: Path, report: bool = True) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"abstract": abstracts(n, variant)}).to_csv(folder / "papers.csv", index=False)
    cfg = {
        "cache_dir": str(cache),
        "input": {"paths": [str(folder / "papers.csv")]},
        "output": {"report": report},
    }
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(config: Path, out: Path, *, hash_seed: str = "0", handshake: bool = False):
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": hash_seed}
    env.pop("STEP_HANDSHAKE", None)
    if handshake:
        env["STEP_HANDSHAKE"] = "1"
    args = [sys.executable, "-m", HELPER, "run", "--config", str(config), "--out", str(out)]
    return subprocess.Popen(
        [*args, "--quiet"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if handshake else subprocess.PIPE,
        text=True,
    )


def read_outputs(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in ALL_FILES}


def check_parses(out: Path) -> None:
    """Each file parses on its own (in a mixed set they may come from different runs)."""
    doc = yaml.safe_load((out / "taxonomy.yaml").read_text(encoding="utf-8"))
    assert doc["themes"] and doc["papers"] > 0
    docs = pd.read_csv(out / "documents.csv", dtype=str, keep_default_na=False)
    assert len(docs) > 0 and docs["id"].is_unique
    assert json.loads((out / "state.json").read_text(encoding="utf-8"))["topics"]
    assert json.loads((out / "changes.json").read_text(encoding="utf-8"))
    page = (out / "map.html").read_text(encoding="utf-8")
    assert page.rstrip().endswith("</html>")
    blob = re.search(r'<script type="application/json" id="map-data">(.*?)</script>', page, re.S)
    assert blob and json.loads(blob.group(1))


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    """Config B, the outputs of config A (old), and those of B run over A's outputs (new)."""
    from taxonomy import engines

    tmp = tmp_path_factory.mktemp("versions")
    engines.use_embedder(fake_embed.FakeEmbedder())
    try:
        config_a = make_config(tmp / "a", 12, "old", tmp / "cache", report=False)
        old = run(config_a, out=tmp / "old").out_dir
        config_b = make_config(tmp / "b", 16, "new", tmp / "cache", report=False)
        shutil.copytree(old, tmp / "new")  # B follows A: its ids and changes refer to A's run
        new = run(config_b, out=tmp / "new").out_dir
    finally:
        engines.use_embedder(None)
    return config_b, old, new


# Steps of the swap: 8 staging writes, 8 renames, then the manifest. Each kill is one process
# run (~5 s here), so the fast test kills before the first write, the third rename and the
# manifest; the slow one before every step.
N_STEPS = 2 * len(ALL_FILES) + 1


def expected_state(kill_at: int) -> tuple[str, str, bool]:
    """(step killed before, 'o'/'n' per file in ALL_FILES order, manifest present)."""
    n = len(ALL_FILES)
    if kill_at < n:  # nothing swapped yet: the old run, confirmed by its manifest
        return "write", "o" * n, True
    if kill_at < 2 * n:  # old manifest gone; the first files renamed are new
        done = kill_at - n
        return "rename", "n" * done + "o" * (n - done), False
    return "atomic", "n" * n, False  # every file new, the manifest not yet written


@pytest.mark.parametrize(
    "kill_points",
    [
        pytest.param((0, 10, 16), marks=pytest.mark.slow),  # ~11 s: kept out of the fast tier
        pytest.param(tuple(range(N_STEPS)), marks=pytest.mark.slow),
    ],
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
        assert set(ALL_FILES) <= set(visible) <= {*ALL_FILES, MANIFEST}, visible
        check_parses(out)
        current = read_outputs(out)
        state = "".join("o" if current[n] == old[n] else "n" for n in ALL_FILES)
        for name in ALL_FILES:
            assert current[name] in (old[name], new[name]), f"{name} is neither version"
        if (out / MANIFEST).exists():
            assert verify_outputs(out) == [] and len(set(state)) == 1
        else:
            assert verify_outputs(out)  # a mixed or unconfirmed set is reported
        assert (steps[-1][0], state, (out / MANIFEST).exists()) == expected_state(kill_at)
    # The next complete run clears the leftovers of the killed one.
    out = tmp_path / f"out{kill_points[1]}"
    assert any(p.name.startswith(".staging-") for p in out.iterdir())
    proc = cli(config_b, out)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted([*ALL_FILES, MANIFEST])
    assert read_outputs(out) == new and verify_outputs(out) == []


@pytest.mark.parametrize(
    "n_papers",
    [16, pytest.param(80, marks=pytest.mark.slow)],  # 80: the UMAP + HDBSCAN path (>= 30)
)
def test_same_input_gives_identical_bytes_in_separate_processes(tmp_path, n_papers):
    config = make_config(tmp_path / "in", n_papers, "det", tmp_path / "cache")
    procs = [cli(config, tmp_path / f"p{seed}", hash_seed=seed) for seed in ("1", "2")]
    for proc in procs:
        _, err = proc.communicate(timeout=500)
        assert proc.returncode == 0, err
    # state.json names each run's own config and cache folder; everything else is identical
    for name in (*ALL_FILES, *REPORT_FILES):
        one, two = (tmp_path / "p1" / name).read_bytes(), (tmp_path / "p2" / name).read_bytes()
        if name == "state.json":
            one, two = (without_paths(json.loads(x)) for x in (one, two))
        assert one == two, name


def without_paths(state: dict) -> dict:
    return {k: v for k, v in state.items() if k not in ("config", "cache_dir")}


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
    (out / f".staging-{os.getpid()}-live").mkdir()  # a run still going: left alone
    publish(out, {"a.txt": b"2", "b.txt": b"2"})
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [f".staging-{os.getpid()}-live", "a.txt", "b.txt", MANIFEST, "notes.md"]
    )
    assert (out / "a.txt").read_bytes() == b"2" and verify_outputs(out) == []
    assert oct((out / "a.txt").stat().st_mode & 0o777) == oct(0o644)
    (out / "b.txt").write_bytes(b"edited")
    assert verify_outputs(out) == [f"{out / 'b.txt'}: does not match {MANIFEST} (from another run)"]


def test_assign_rewrites_tables_and_map_and_keeps_the_manifest_whole(
    versions, tmp_path, fake_embedder
):
    from taxonomy.assign import assign as assign_files

    config_b, _, new_dir = versions
    out = tmp_path / "run"
    shutil.copytree(new_dir, out)
    before = read_outputs(out)
    extra = tmp_path / "extra.csv"
    pd.DataFrame({"abstract": abstracts(3, "assigned later")}).to_csv(extra, index=False)
    columns = {"title_column": "title", "abstract_column": "abstract", "id_column": "arxiv_id"}
    placed = assign_files([extra], out, cache_dir=tmp_path / "c", columns=columns, map_html=True)
    assert len(placed.papers) == 3
    after = read_outputs(out)
    changed = sorted(name for name in ALL_FILES if after[name] != before[name])
    assert changed == [
        "documents.csv",
        "documents.parquet",
        "map.html",
        "papers.bib",
        "papers.ris",
    ]
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted(ALL_FILES) and verify_outputs(out) == []


def test_eval_warns_about_a_mixed_output_set(versions, tmp_path):
    from typer.testing import CliRunner

    from taxonomy.cli import app

    _, _, new_dir = versions
    out = tmp_path / "run"
    shutil.copytree(new_dir, out)
    clean = CliRunner().invoke(app, ["eval", "--run", str(out), "--json"])
    assert clean.exit_code == 0 and "warning" not in clean.output, clean.output
    (out / MANIFEST).unlink()  # as a run killed between its renames leaves it
    mixed = CliRunner().invoke(app, ["eval", "--run", str(out), "--json"])
    assert mixed.exit_code == 0
    assert f"warning: {out / MANIFEST}: missing" in mixed.output


def test_publish_never_writes_through_links_out_of_the_folder(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "precious").write_bytes(b"keep me too")
    out = tmp_path / "out"
    out.mkdir()
    (out / "taxonomy.yaml").symlink_to(victim)  # an output name pointing out of the folder
    (out / ".staging-old").symlink_to(outside)  # a "leftover" that is a link to elsewhere
    publish(out, {"taxonomy.yaml": b"new"})
    assert victim.read_bytes() == b"keep me" and (outside / "precious").exists()
    assert not (out / "taxonomy.yaml").is_symlink()
    assert (out / "taxonomy.yaml").read_bytes() == b"new"


@pytest.mark.slow
def test_real_model_runs_are_identical_across_processes(tmp_path):
    # Each process embeds with the real model into its own cache: the vectors, not only the
    # later stages, must not depend on the process.
    config = make_config(tmp_path / "in", 20, "real", tmp_path / "unused")
    procs = []
    for seed in ("1", "2"):
        cfg = yaml.safe_load(config.read_text())
        cfg["cache_dir"] = str(tmp_path / f"cache{seed}")
        path = tmp_path / f"config{seed}.yaml"
        path.write_text(yaml.safe_dump(cfg))
        env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONHASHSEED": seed}
        args = ["run", "--config", str(path), "--out", str(tmp_path / f"p{seed}"), "--quiet"]
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "taxonomy.cli", *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    # state.json names each run's own config and cache folder; everything else is identical
    for name in (*ALL_FILES, *REPORT_FILES):
        one, two = (tmp_path / "p1" / name).read_bytes(), (tmp_path / "p2" / name).read_bytes()
        if name == "state.json":
            one, two = (without_paths(json.loads(x)) for x in (one, two))
        assert one == two, name


# --- one run per folder, and rollback (issue 18, items 3 and 4) -----------------------------

HOLD_LOCK = """
import sys
from pathlib import Path
from taxonomy.atomic import locked
with locked(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


def hold_lock(out: Path) -> subprocess.Popen:
    """A second process holding the output folder's lock until its stdin gets a line."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(out)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_run_into_a_folder_in_use_fails_at_once(versions, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import taxonomy.atomic
    from taxonomy.cli import app

    config_b, _, new_dir = versions
    out = tmp_path / "run"
    shutil.copytree(new_dir, out)
    before = read_outputs(out)
    holder = hold_lock(out)
    try:
        result = CliRunner().invoke(app, ["run", "-c", str(config_b), "-o", str(out)])
        assert result.exit_code == 2, result.output
        line = result.output.strip()
        assert "\n" not in line
        assert line == (
            f"error: {out}: output folder is in use by another run (pid {holder.pid}); "
            "wait for it to finish or choose another output folder"
        )
        # publish (a Python caller without `locked`) waits a little, then gives up the same way
        monkeypatch.setattr(taxonomy.atomic, "PUBLISH_WAIT", 0.2)
        with pytest.raises(TaxonomyError, match=rf"in use by another run \(pid {holder.pid}\)"):
            publish(out, {"taxonomy.yaml": b"other"})
    finally:
        holder.communicate("go\n", timeout=30)
    assert read_outputs(out) == before and verify_outputs(out) == []
    publish(out, {"notes.txt": b"free again"})  # released when the holder exits
    assert not (out / taxonomy.atomic.LOCK_FILE).exists()


SLOW_PUBLISH = """
import json, sys, time
from pathlib import Path
import taxonomy.atomic as atomic
delays = json.loads(sys.argv[3])
real = atomic._rename
def slow(source, target):
    time.sleep(delays.get(target.name, 0))
    real(source, target)
atomic._rename = slow
tag = sys.argv[2].encode()
atomic.publish(Path(sys.argv[1]), {name: tag * 100 for name in ("a.txt", "b.txt", "c.txt")})
"""


def test_concurrent_publishes_never_leave_a_manifest_over_a_mixed_set(tmp_path):
    # Unlocked, run 2 swaps a and b at once and c after 2 s; run 1 swaps all three after 1 s:
    # a and b end up from run 1, c from run 2, and run 2's manifest, written last, vouches
    # for all three. With the lock, one run waits for the other and each set stays whole.
    out = tmp_path / "out"
    publish(out, {name: b"0" * 100 for name in ("a.txt", "b.txt", "c.txt")})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    delays = {"1": {"a.txt": 1.0}, "2": {"c.txt": 2.0}}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SLOW_PUBLISH, str(out), tag, json.dumps(delays[tag])], env=env
        )
        for tag in ("1", "2")
    ]
    assert [proc.wait(timeout=60) for proc in procs] == [0, 0]
    assert verify_outputs(out) == []
    contents = {(out / name).read_bytes() for name in ("a.txt", "b.txt", "c.txt")}
    assert len(contents) == 1  # all three files from one run


def test_a_rename_failing_halfway_restores_the_previous_set(tmp_path, monkeypatch):
    import taxonomy.atomic

    out = tmp_path / "out"
    old = {name: f"old {name}".encode() for name in ALL_FILES}
    publish(out, old)
    old_manifest = (out / MANIFEST).read_bytes()
    real = taxonomy.atomic._rename
    calls = []

    def failing(source, target):
        calls.append(target.name)
        if len(calls) == 4:  # three files already swapped
            raise IsADirectoryError(21, "Is a directory")
        real(source, target)

    monkeypatch.setattr(taxonomy.atomic, "_rename", failing)
    with pytest.raises(TaxonomyError) as caught:
        publish(out, {name: f"new {name}".encode() for name in ALL_FILES})
    message = str(caught.value)
    assert "\n" not in message
    assert message == (
        f"{out}: cannot write {ALL_FILES[3]} (Is a directory); the previous outputs are "
        "restored unchanged"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted([*ALL_FILES, MANIFEST])
    assert {name: (out / name).read_bytes() for name in ALL_FILES} == old
    assert (out / MANIFEST).read_bytes() == old_manifest and verify_outputs(out) == []


def test_an_interrupt_during_the_swap_restores_the_previous_set(tmp_path, monkeypatch):
    import taxonomy.atomic

    out = tmp_path / "out"
    publish(out, {"a.txt": b"old a", "b.txt": b"old b"})
    real = taxonomy.atomic._rename

    def interrupted(source, target):
        if target.name == "b.txt":
            raise KeyboardInterrupt
        real(source, target)

    monkeypatch.setattr(taxonomy.atomic, "_rename", interrupted)
    with pytest.raises(KeyboardInterrupt):
        publish(out, {"a.txt": b"new a", "b.txt": b"new b", "c.txt": b"new c"})
    assert (out / "a.txt").read_bytes() == b"old a" and not (out / "c.txt").exists()
    assert verify_outputs(out) == []


def test_a_folder_in_the_way_of_an_output_fails_before_anything_changes(tmp_path):
    # The attack: state.json blocked by a directory gave a traceback and a mixed set
    # (taxonomy.yaml of the new run, documents.csv of the old).
    out = tmp_path / "out"
    publish(out, {"documents.csv": b"old", "taxonomy.yaml": b"old"})
    (out / "state.json").mkdir()
    with pytest.raises(TaxonomyError, match="state.json: a folder is in the way"):
        publish(out, {n: b"new" for n in ("documents.csv", "state.json", "taxonomy.yaml")})
    assert (out / "documents.csv").read_bytes() == b"old" == (out / "taxonomy.yaml").read_bytes()
    assert verify_outputs(out) == []


def test_publish_streams_a_file_written_by_a_function(tmp_path):
    out = tmp_path / "out"

    def write(handle):
        for k in range(3):
            handle.write(f"part {k}\n".encode())

    publish(out, {"big.txt": write, "small.txt": b"s"})
    assert (out / "big.txt").read_bytes() == b"part 0\npart 1\npart 2\n"
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["files"]["big.txt"]["bytes"] == 21
    assert verify_outputs(out) == []


def test_a_writing_function_that_fails_leaves_the_previous_set(tmp_path):
    out = tmp_path / "out"
    publish(out, {"a.txt": b"old a", "b.txt": b"old b"})

    def broken(handle):
        handle.write(b"half of it")
        raise ValueError("the writer broke")

    with pytest.raises(ValueError, match="the writer broke"):
        publish(out, {"a.txt": b"new a", "b.txt": broken})
    assert (out / "a.txt").read_bytes() == b"old a" and (out / "b.txt").read_bytes() == b"old b"
    assert verify_outputs(out) == []
    assert not [p for p in out.iterdir() if p.name.startswith(".staging-")]
