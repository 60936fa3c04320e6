"""utils.io: JSON object files fail with one line naming the file and the fix."""

from __future__ import annotations

import pytest

from eatnas.errors import ConfigError, EatnasError
from eatnas.utils.io import read_json_object, write_json_atomic


def test_reads_an_object(tmp_path):
    path = write_json_atomic(tmp_path / "a.json", {"arch": "x", "n": 2})
    assert read_json_object(path, "rerun it") == {"arch": "x", "n": 2}


def test_missing_file_names_path_and_the_missing_hint(tmp_path):
    path = tmp_path / "best.json"
    with pytest.raises(EatnasError, match=r"best\.json: missing; run the search first"):
        read_json_object(path, "rerun it", missing="run the search first")
    with pytest.raises(EatnasError, match=r"best\.json: missing; rerun it"):
        read_json_object(path, "rerun it")


@pytest.mark.parametrize("text, reason", [('{"arch": ', r"not valid JSON \(.* at line 1\); rerun it"),
                                          ("[1, 2]", r"expected a JSON object, found list; rerun it"),
                                          (b"\xff\xfe{", r"not valid JSON \(not UTF-8 text\); rerun it")])
def test_bad_content_is_one_clear_error_of_the_requested_class(tmp_path, text, reason):
    path = tmp_path / "basic.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(ConfigError, match=reason):
        read_json_object(path, "rerun it", error=ConfigError)
