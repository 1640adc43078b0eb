"""gngan.carry: a file split over two device calls and joined there, each part and the whole checked."""

import hashlib
import json

import pytest

from gngan import carry

MiB = 2**20


def test_split_sizes_leave_both_calls_the_same_room():
    # calls already hold 24 and 42 MiB; a 42 MiB file: (42 + 42 - 24) / 2 = 30 MiB in call 1, 12 in call 2,
    # 64 - 24 - 30 = 10 = 64 - 42 - 12 MiB left in each
    assert carry.split_sizes(42 * MiB, (24 * MiB, 42 * MiB), 64 * MiB) == (30 * MiB, 12 * MiB)
    # a call with far more room takes the whole file; the other none
    assert carry.split_sizes(10, (0, 100), 200) == (10, 0)
    assert carry.split_sizes(10, (100, 0), 200) == (0, 10)
    with pytest.raises(ValueError, match=r"does not fit in two calls of 64 MiB .* over by 1\.0 MiB"):
        carry.split_sizes(64 * MiB, (24 * MiB, 42 * MiB), 64 * MiB)  # 41 + 23 MiB: each call 1 MiB over


def test_split_then_join_gives_back_the_file(tmp_path):
    data = bytes(range(256)) * 4099
    (tmp_path / "w.pt").write_bytes(data)
    manifest = carry.split_file(tmp_path / "w.pt", (1000, len(data) - 1000), (tmp_path / "a", tmp_path / "b"))
    assert manifest["sha256"] == hashlib.sha256(data).hexdigest()
    assert [(p["name"], p["bytes"]) for p in manifest["parts"]] == [("w.pt.part1", 1000),
                                                                  ("w.pt.part2", len(data) - 1000)]
    assert json.loads((tmp_path / "a" / carry.MANIFEST).read_text()) == manifest
    assert (tmp_path / "a" / "w.pt.part1").read_bytes() == data[:1000]
    staged = carry.stage(tmp_path / "a" / carry.MANIFEST, tmp_path / "stage")
    assert [p.name for p in staged] == ["w.pt.part1"]
    joined = carry.join(tmp_path / "b" / carry.MANIFEST, [tmp_path / "stage", tmp_path / "b"], tmp_path / "stage")
    assert joined == tmp_path / "stage" / "w.pt" and joined.read_bytes() == data
    # joined already: kept as it is
    assert carry.join(tmp_path / "b" / carry.MANIFEST, [tmp_path / "nowhere"], tmp_path / "stage") == joined


def test_a_part_of_zero_bytes_is_left_out(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"abc")
    manifest = carry.split_file(tmp_path / "w.pt", (3, 0), (tmp_path / "a", tmp_path / "b"))
    assert [p["name"] for p in manifest["parts"]] == ["w.pt.part1"]
    assert not (tmp_path / "b" / "w.pt.part2").exists() and (tmp_path / "b" / carry.MANIFEST).exists()
    # call 2 stages nothing (its part is empty), which is no error; call 1's part missing is one
    assert carry.stage(tmp_path / "b" / carry.MANIFEST, tmp_path / "stage", call=2) == []
    (tmp_path / "a" / "w.pt.part1").unlink()
    with pytest.raises(FileNotFoundError, match="w.pt.part1 \\(part of w.pt\\) is missing"):
        carry.stage(tmp_path / "a" / carry.MANIFEST, tmp_path / "stage")
    with pytest.raises(ValueError, match="do not make up"):
        carry.split_file(tmp_path / "w.pt", (1, 1), (tmp_path / "a", tmp_path / "b"))


def test_join_refuses_a_missing_or_corrupt_part(tmp_path):
    (tmp_path / "w.pt").write_bytes(b"abcdef")
    carry.split_file(tmp_path / "w.pt", (3, 3), (tmp_path / "a", tmp_path / "b"))
    with pytest.raises(FileNotFoundError, match=r"w.pt.part1 \(part of w.pt\) is in none of"):
        carry.join(tmp_path / "b" / carry.MANIFEST, [tmp_path / "b"], tmp_path / "out")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "w.pt.part1").write_bytes(b"abc")  # a good copy elsewhere
    (tmp_path / "a" / "w.pt.part1").write_bytes(b"abX")
    with pytest.raises(ValueError, match="the part is corrupt"):
        carry.join(tmp_path / "b" / carry.MANIFEST, [tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    assert not (tmp_path / "out" / "w.pt").exists()
    joined = carry.join(tmp_path / "b" / carry.MANIFEST, [tmp_path / "a", tmp_path / "c", tmp_path / "b"],
                        tmp_path / "out")
    assert joined.read_bytes() == b"abcdef"


def test_the_command_line_says_what_is_wrong_in_one_line(tmp_path, capsys):
    assert carry.main(["join", str(tmp_path / "none.json"), "--search", str(tmp_path), "--into",
                       str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gngan.carry join: ") and err.count("\n") == 1
