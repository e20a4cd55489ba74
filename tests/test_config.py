from pathlib import Path

import pytest

from taxonomy.config import Config, load_config
from taxonomy.errors import TaxonomyError

REPO = Path(__file__).resolve().parents[1]


def test_default_config_file_matches_model_defaults():
    # configs/default.yaml documents every setting; it must equal the built-in defaults.
    assert load_config(REPO / "configs/default.yaml") == Config()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_bad_value_names_path_and_line(tmp_path):
    path = write(tmp_path, "seed: 1\ncluster:\n  min_size: 1\n")
    with pytest.raises(TaxonomyError) as err:
        load_config(path)
    assert str(err.value) == f"{path}:3: cluster.min_size: must be ≥ 2"


def test_unknown_key_is_an_error(tmp_path):
    path = write(tmp_path, "embed:\n  batchsize: 8\n")
    with pytest.raises(TaxonomyError, match=r"c.yaml:2: embed.batchsize: unknown setting"):
        load_config(path)


def test_auto_or_int_union(tmp_path):
    assert load_config(write(tmp_path, "cluster:\n  min_size: 7\n")).cluster.min_size == 7
    with pytest.raises(TaxonomyError, match="cluster.min_size"):
        load_config(write(tmp_path, "cluster:\n  min_size: big\n"))


def test_invalid_yaml_reports_line(tmp_path):
    path = write(tmp_path, "seed: 1\ninput:\n  paths: [a, b\n")
    with pytest.raises(TaxonomyError, match=r"c.yaml:\d+: invalid YAML"):
        load_config(path)


def test_python_tags_are_rejected(tmp_path):
    path = write(tmp_path, "seed: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(TaxonomyError, match="invalid YAML"):
        load_config(path)


def test_non_mapping_and_missing_file(tmp_path):
    with pytest.raises(TaxonomyError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))
    with pytest.raises(TaxonomyError, match="not found"):
        load_config(tmp_path / "nope.yaml")


def test_overrides_apply_dotted_keys(tmp_path):
    cfg = load_config(write(tmp_path, "seed: 3\n"), {"cluster.max_unassigned": 0.1})
    assert cfg.seed == 3 and cfg.cluster.max_unassigned == 0.1
