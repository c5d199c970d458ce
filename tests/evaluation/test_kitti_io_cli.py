"""tools/eval_kitti.py and the result-directory reader/writer: tiny directories, bad input."""
import importlib.util
import json
import os

import pytest

from perception.datasets.kitti_io import KittiFormatError, read_label, write_label
from perception.evaluation.kitti import evaluate_kitti, load_kitti_dirs, read_result_file, write_kitti_results


@pytest.fixture(scope="module")
def cli(repo_root):
    spec = importlib.util.spec_from_file_location("eval_kitti", repo_root / "tools" / "eval_kitti.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def dirs(tmp_path, obj, dontcare):
    """80 frames: a car detected at 0.9, a far FP at 0.3 in the even frames; a DontCare region."""
    gt_dir, res_dir = tmp_path / "label_2", tmp_path / "results"
    far = dict(bbox=(900.0, 150.0, 1000.0, 250.0), loc=(12.0, 1.5, 40.0))
    ids = [f"{i:06d}" for i in range(80)]
    for k, i in enumerate(ids):
        write_label(gt_dir / f"{i}.txt", [obj(), dontcare((10, 10, 50, 50))])
    write_kitti_results(res_dir, {i: [obj(score=0.9)] + ([obj(score=0.3, **far)] if k % 2 == 0 else [])
                                  for k, i in enumerate(ids)})
    return gt_dir, res_dir, ids


def test_cli_reports_and_writes_json(cli, dirs, tmp_path, capsys):
    gt_dir, res_dir, _ = dirs
    out = tmp_path / "report.json"
    assert cli.main([str(gt_dir), str(res_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "frames evaluated: 80" in text and "Car AP_R40" in text and "Car AP_R11" in text
    report = json.loads(out.read_text())
    assert report["num_frames"] == 80 and report["missing"]["count"] == 0
    # all TPs score above the FPs: precision 1 at every recall
    assert report["metrics"]["kitti/Car_3D_moderate_R40"] == pytest.approx(100.0)
    assert report["metrics"]["kitti/Car_2D_hard_R11_loose"] == pytest.approx(100.0)
    assert report["metrics"]["kitti/Pedestrian_3D_moderate_R40"] == 0.0
    assert len(report["detail"]["curves"]["strict"]["3D"]["Car"][1]) == 41


def test_cli_split_classes_and_devkit_layout(cli, dirs, tmp_path, capsys):
    gt_dir, res_dir, ids = dirs
    split = tmp_path / "val.txt"
    split.write_text("\n".join(ids[:40]) + "\n")
    data_layout = tmp_path / "sub" / "data"
    os.makedirs(data_layout)
    for i in ids:
        (data_layout / f"{i}.txt").write_text((res_dir / f"{i}.txt").read_text())
    out = tmp_path / "r.json"
    assert cli.main([str(gt_dir), str(tmp_path / "sub"), "--split", str(split), "--classes", "Car",
                     "--overlaps", "strict", "--metrics", "3D", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["num_frames"] == 40 and report["extra_results"]["count"] == 40
    assert set(report["metrics"]) == {f"kitti/{c}_3D_{d}_{v}" for c in ("Car", "Overall")
                                      for d in ("easy", "moderate", "hard") for v in ("R11", "R40")}


def test_missing_frames_error_skip_or_empty(cli, dirs, tmp_path, capsys):
    gt_dir, res_dir, ids = dirs
    for i in ids[:3]:
        os.remove(res_dir / f"{i}.txt")
    assert cli.main([str(gt_dir), str(res_dir)]) == 1
    err = capsys.readouterr().err
    assert "3 of 80 frames have no result file" in err and ids[0] in err and "--missing skip" in err
    with pytest.raises(KittiFormatError, match="no result file"):
        load_kitti_dirs(gt_dir, res_dir)
    data, info = load_kitti_dirs(gt_dir, res_dir, missing="skip")
    assert data.num_frames == 77 and info["missing"] == ids[:3]
    data, info = load_kitti_dirs(gt_dir, res_dir, missing="empty")
    assert data.num_frames == 80 and len(data.gt) == 80 and len(data.dt) == 120 - 5
    out = tmp_path / "r.json"
    assert cli.main([str(gt_dir), str(res_dir), "--missing", "skip", "--out", str(out)]) == 0
    assert "frames without result file: 3 (left out" in capsys.readouterr().out
    assert json.loads(out.read_text())["missing"] == {"policy": "skip", "count": 3, "ids": ids[:3]}


LINE = "Car 0.00 0 0.0000 100.00 100.00 200.00 200.00 1.5000 1.6000 3.9000 0.0000 1.5000 20.0000 0.0000 0.900000"


@pytest.mark.parametrize("line,message", [
    ("Car 0.00 0 0.0 100 100 200 200 1.5 1.6 3.9 0 1.5 20 0", "no score"),
    ("Bus" + LINE[3:], "unknown class 'Bus'"),
    ("DontCare" + LINE[3:], "unknown class 'DontCare'"),
    (LINE.replace("1.5000 1.6000", "nan 1.6000"), "NaN"),
    (LINE.replace("1.6000", "-1.6000"), "negative dimension"),
    (LINE.replace("0.900000", "nan"), "NaN"),
    (LINE + " 7", "expected 15 fields"),
    (LINE.replace("100.00 100.00", "abc 100.00"), "non-numeric"),
])
def test_bad_result_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "000007.txt"
    path.write_text(f"{LINE}\n\n{LINE}\n{line}\n")
    with pytest.raises(KittiFormatError, match=message) as info:
        read_result_file(path)
    assert f"{path}:4" in str(info.value)


def test_bad_result_file_stops_the_cli(cli, dirs, capsys):
    gt_dir, res_dir, ids = dirs
    (res_dir / f"{ids[5]}.txt").write_text(LINE + "\nCar 0 0 0 1 2 3\n")
    assert cli.main([str(gt_dir), str(res_dir)]) == 1
    err = capsys.readouterr().err
    assert f"{ids[5]}.txt:2" in err and "fields" in err


def test_result_classes_are_case_insensitive(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(LINE.replace("Car", "car") + "\n" + LINE.replace("Car", "PEDESTRIAN") + "\n")
    assert [o.type for o in read_result_file(path)] == ["Car", "Pedestrian"]


def test_writer_round_trips(tmp_path, obj):
    objects = [obj(score=0.25), obj(type="Cyclist", score=0.5, ry=1.25, alpha=-0.5)]
    paths = write_kitti_results(tmp_path / "res", [("000001", objects), ("000002", [])])
    assert [os.path.basename(p) for p in paths] == ["000001.txt", "000002.txt"]
    back = read_result_file(paths[0])
    assert [(o.type, o.score, o.rotation_y, o.alpha) for o in back] == [("Car", 0.25, 0.0, 0.0),
                                                                      ("Cyclist", 0.5, 1.25, -0.5)]
    assert read_label(paths[1]) == []
    with pytest.raises(ValueError, match="no score"):
        write_kitti_results(tmp_path / "res", {"000003": [obj()]})


def test_files_and_memory_give_the_same_numbers(dirs):
    from perception.evaluation.kitti import KittiEvalData

    gt_dir, res_dir, ids = dirs
    data, _ = load_kitti_dirs(gt_dir, res_dir)
    mem = KittiEvalData.from_objects([read_label(gt_dir / f"{i}.txt") for i in ids],
                                     [read_result_file(res_dir / f"{i}.txt") for i in ids])
    assert evaluate_kitti(data).to_flat_dict() == evaluate_kitti(mem).to_flat_dict()
