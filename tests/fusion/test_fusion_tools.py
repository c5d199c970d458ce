"""The fusion benchmark and the fuser's training, end to end on a detection cache of the tiny simulated frames.

The cache holds ground truth turned into detections (3D boxes jittered, a false positive per frame; 2D boxes the
labelled ones), so the numbers are known in advance where it matters."""
import json
import os
import subprocess
import sys

import pytest
import torch

from perception.datasets import kitti_io
from perception.fusion import LateFusion, RuleScorer
from perception.fusion.builder import load_fusion_config
from perception.fusion.detection_cache import DetectionCache, load_detection_cache
from perception.fusion.evaluation import camera_only_purity, evaluate_fusion
from perception.structures import Boxes2D, Detections2D, box_iou_2d

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLASSES = ("Car", "Pedestrian", "Cyclist")


@pytest.fixture(scope="module")
def cache_file(tmp_path_factory):
    """16 tiny simulated frames (a handful of moderate objects per class: the devkit's R40 needs more than one)."""
    from perception.datasets.sim import SimConfig, generate_dataset

    root = tmp_path_factory.mktemp("fusion_sim")
    generate_dataset(root, num_frames=16, config=SimConfig.tiny(seed=0), workers=1, progress=False)
    gen = torch.Generator().manual_seed(0)
    ids = [f"{i:06d}" for i in range(16)]
    lidar, camera = [], []
    for fid in ids:
        gt = kitti_io.read_frame(root, fid, with_image=False).annotations
        gt = gt.select([n in CLASSES for n in gt.names])
        det = gt.select(torch.arange(len(gt)))
        det.boxes3d.tensor[:, :2] += 0.05 * torch.randn(len(gt), 2, generator=gen)
        det.scores = torch.rand(len(gt), generator=gen) * 0.5 + 0.5
        lidar.append(det)
        camera.append(Detections2D(boxes=Boxes2D(gt.boxes2d.tensor.clone()), scores=torch.full((len(gt),), 0.9),
                                   names=list(gt.names)))
    path = tmp_path_factory.mktemp("fusion_cache") / "dets.pt"
    DetectionCache(data_root=str(root), frame_ids=ids, lidar={"sst": lidar},
                   camera={"tridentnet_fast": camera}).save(path)
    return path


def test_cache_round_trip_and_errors(cache_file, tmp_path):
    cache = load_detection_cache(cache_file)
    assert cache.frame_ids[:2] == ["000000", "000001"] and len(cache.frame_ids) == 16 and set(cache.lidar) == {"sst"}
    with pytest.raises(FileNotFoundError, match="cache_detections"):
        load_detection_cache(tmp_path / "none.pt")
    torch.save({"format": "other"}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="not a detection cache"):
        load_detection_cache(tmp_path / "bad.pt")


def test_fusion_that_keeps_the_lidar_scores_keeps_the_lidar_3d_ap(cache_file):
    """The 3D rows differ only by the scores: a rule with no boost and no miss penalty reproduces LiDAR-only."""
    cache = load_detection_cache(cache_file)
    identity = LateFusion(scorer=RuleScorer(boost=0.0, miss_factor=1.0), class_names=CLASSES)
    boosted = LateFusion(scorer=RuleScorer(boost=1.0, miss_factor=0.5), class_names=CLASSES)
    table = evaluate_fusion(cache, {"identity": identity, "boosted": boosted}, lidar_model="sst",
                            camera_model="tridentnet_fast")
    assert table["frames"] == 16
    assert table["3D"]["identity"] == table["3D"]["lidar_only"]
    # every detection is a true positive here, in 3D (jitter 5 cm) as in 2D (the labelled boxes): the same AP,
    # the devkit's most for so few objects (R40 counts one recall step per ground-truth object: 5 cars -> 10.0)
    assert table["3D"]["lidar_only"]["Car"] == table["2D"]["camera_only"]["Car"] == pytest.approx(10.0)
    assert set(table["2D"]) == {"lidar_only", "camera_only", "identity", "boosted"}


def test_lidar_only_settings_reproduce_the_lidar_only_ap_with_camera_only_objects_present(cache_file, tmp_path):
    """The coordinate search's fallback is LiDAR-only exactly: with LIDAR_ONLY_SETTINGS the camera-only objects in
    LiDAR range (here a true positive the LiDAR missed and a false positive per frame) fall below the output's
    operating point, so every class's 3D and 2D AP equals LiDAR-only's; keep them (min_score 0) and 2D moves."""
    from perception.fusion.tuning import LIDAR_ONLY_SETTINGS, SCORER_KEYS

    full = load_detection_cache(cache_file)
    lidar, camera = [], []
    for det, cam in zip(full.lidar["sst"], full.camera["tridentnet_fast"]):
        lidar.append(det.select(torch.arange(1, len(det))))                  # the LiDAR misses the first object
        fp = torch.tensor([[5.0, 5.0, 45.0, 85.0]])                          # 80 px tall: within LiDAR range
        camera.append(Detections2D(boxes=Boxes2D(torch.cat([cam.boxes.tensor, fp])),
                                   scores=torch.cat([cam.scores, torch.tensor([0.8])]), names=[*cam.names, "Car"]))
    cache = DetectionCache(data_root=full.data_root, frame_ids=full.frame_ids, lidar={"sst": lidar},
                           camera={"tridentnet_fast": camera})
    scorer = {k: LIDAR_ONLY_SETTINGS[k] for k in SCORER_KEYS}
    fusion = {k: v for k, v in LIDAR_ONLY_SETTINGS.items() if k not in SCORER_KEYS}
    rows = {"lidar_only_settings": LateFusion(scorer=RuleScorer(**scorer), class_names=CLASSES, **fusion),
            "keep_all": LateFusion(scorer=RuleScorer(**scorer), class_names=CLASSES, **(fusion | {"min_score": 0.0}))}
    table = evaluate_fusion(cache, rows, lidar_model="sst", camera_model="tridentnet_fast")
    assert table["3D"]["lidar_only_settings"] == table["3D"]["lidar_only"]
    assert table["2D"]["lidar_only_settings"] == table["2D"]["lidar_only"]
    assert table["3D"]["keep_all"] == table["3D"]["lidar_only"]             # camera-only objects have no 3D box
    assert any(table["2D"]["keep_all"][c] != table["2D"]["lidar_only"][c] for c in CLASSES)

    # what the dropped objects were: per frame the missed first object (real) and the false car
    far = LateFusion(scorer=RuleScorer(**scorer), class_names=CLASSES, **(fusion | {"lidar_max_depth": 1e6}))
    purity = camera_only_purity(cache, far, lidar_model="sst", camera_model="tridentnet_fast")
    first = [det.names[0] for det in full.lidar["sst"]]
    # a missed object whose box a detected object of its class covers (IoU >= 0.5) is not one the LiDAR missed
    covered = [bool(len(cam) > 1 and (box_iou_2d(Boxes2D(cam.boxes.tensor[:1]), Boxes2D(cam.boxes.tensor[1:]))[0]
                                      * torch.tensor([n == cam.names[0] for n in cam.names[1:]])).max() >= 0.5)
               for cam in full.camera["tridentnet_fast"]]
    assert any(covered), "the fixture should hold a missed object under a detected one"
    for c in CLASSES:
        assert purity[c]["real"] == sum(n == c and not cov for n, cov in zip(first, covered))
        assert purity[c]["objects"] == first.count(c) + (16 if c == "Car" else 0)
        assert sum(n for _, _, n, _ in purity[c]["by_camera_score"]) == purity[c]["objects"]
    car = {(lo, hi): (n, k) for lo, hi, n, k in purity["Car"]["by_camera_score"]}
    assert car[(0.5, 1.0)] == (purity["Car"]["objects"], purity["Car"]["real"])   # scores 0.8 and 0.9
    assert camera_only_purity(cache, fusion_rows := rows["lidar_only_settings"], lidar_model="sst",
                              camera_model="tridentnet_fast")["Car"]["objects"] <= purity["Car"]["objects"]
    assert fusion_rows.min_score["Car"] == 0.1        # the caller's fusion is not changed


def test_train_and_eval_tools_run_on_the_cache(cache_file, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    work = tmp_path / "work"
    cmd = [sys.executable, "tools/train.py", "configs/fusion/fusion_clocs_sim.py", "--work-dir", str(work),
           "--cfg-options", f"train_dataloader.dataset.cache_file={cache_file}", "train_cfg.max_iters=3",
           "train_dataloader.batch_size=2"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (work / "iter_3.pth").is_file()
    out = tmp_path / "eval.json"
    cmd = [sys.executable, "tools/eval_fusion.py", "configs/fusion/fusion_rule_sim.py",
           "configs/fusion/fusion_clocs_sim.py", "--cache", str(cache_file), "--out", str(out),
           "--camera-only-purity", "--class-isolated", "--bootstrap", "3", "--unforced-last-sample"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    table = json.loads(out.read_text())
    assert set(table["3D"]) == {"lidar_only", "fusion_rule_sim", "fusion_clocs_sim"}
    assert "| 3D AP R40 moderate |" in proc.stdout
    gains = table["gains"]
    assert gains["resamples"] == 3 and gains["frames"] == 16
    assert set(gains["2D"]) == {"fusion_rule_sim", "fusion_clocs_sim"}
    car = gains["2D"]["fusion_rule_sim"]["Car"]
    assert car["gain"] == pytest.approx(table["2D"]["fusion_rule_sim"]["Car"] - table["2D"][car["baseline"]]["Car"])
    assert "Gain over the better single sensor" in proc.stdout
    assert set(table["unforced_last_sample"]["2D"]) == set(table["2D"]) and "Sensitivity check" in proc.stdout
    assert set(table["camera_only_purity"]["fusion_rule_sim"]) == set(CLASSES) and "are real" in proc.stdout
    isolated = table["class_isolated"]
    assert set(isolated["2D"]) == set(table["2D"]) and "each class evaluated on its own detections" in proc.stdout
    # (the numbers themselves: test_kitti_known_answers' short-box case and the in-process test below)
    assert all(0.0 <= v <= 100.0 for rows in isolated.values() for r in rows.values() for v in r.values())
    proc = subprocess.run(cmd[:-2] + ["-1"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--bootstrap must be >= 0, got -1" in proc.stderr


def test_bootstrap_of_a_fusion_that_keeps_the_lidar_scores_has_no_3d_gain(cache_file):
    from perception.fusion.evaluation import bootstrap_gains, fusion_eval_data

    cache = load_detection_cache(cache_file)
    identity = LateFusion(scorer=RuleScorer(boost=0.0, miss_factor=1.0), class_names=CLASSES)
    data = fusion_eval_data(cache, {"identity": identity}, lidar_model="sst", camera_model="tridentnet_fast")
    gains = bootstrap_gains(data, resamples=20, seed=1)
    for c in CLASSES:
        assert gains["3D"]["identity"][c] == {"gain": 0.0, "low": 0.0, "median": 0.0, "high": 0.0, "p_worse": 0.0,
                                              "baseline": "lidar_only"}
        assert gains["2D"]["identity"][c]["baseline"] in ("lidar_only", "camera_only")
    with pytest.raises(ValueError, match="single-sensor rows .*camera_only.* are missing"):
        bootstrap_gains({"3D": data["3D"], "2D": {"identity": data["2D"]["identity"]}}, resamples=2)


def test_bootstrap_of_a_fusion_that_loses_detections_is_worse_in_nearly_every_resample():
    """40 frames with one car each; the LiDAR finds all, the fused output loses the first ten: a known loss,
    visible in every resample that draws one of those frames (all but (30/40)^40 = 1e-5 of them)."""
    from perception.datasets.kitti_io import KittiObject
    from perception.evaluation.kitti import KittiEvalData
    from perception.fusion.evaluation import ap_table, bootstrap_gains

    def car(score=None):
        return KittiObject(type="Car", truncated=0.0, occluded=0, alpha=0.0, bbox=(100.0, 100.0, 200.0, 200.0),
                           dimensions=(1.5, 1.6, 3.9), location=(0.0, 1.5, 20.0), rotation_y=0.0, score=score)

    gt = [[car()] for _ in range(40)]
    lidar = [[car(0.5 + i / 100)] for i in range(40)]
    fused = [[] if i < 10 else [car(0.5 + i / 100)] for i in range(40)]
    data = {"3D": {"lidar_only": KittiEvalData.from_objects(gt, lidar), "fused": KittiEvalData.from_objects(gt, fused)},
            "2D": {"lidar_only": KittiEvalData.from_objects(gt, lidar),
                   "camera_only": KittiEvalData.from_objects(gt, [[] for _ in range(40)]),
                   "fused": KittiEvalData.from_objects(gt, fused)}}
    full = ap_table(data)
    # the devkit's R40 with one true positive per recall step: (TPs - 1) / 40
    assert full["3D"]["lidar_only"]["Car"] == pytest.approx(97.5) and full["3D"]["fused"]["Car"] == pytest.approx(72.5)
    gains = bootstrap_gains(data, resamples=200, seed=0)
    for metric in ("3D", "2D"):
        g = gains[metric]["fused"]["Car"]
        assert g["gain"] == pytest.approx(-25.0) and g["baseline"] == "lidar_only"
        assert g["p_worse"] > 0.95 and g["low"] < -25.0 < g["high"] < 0.0
        assert gains[metric]["fused"]["Pedestrian"]["gain"] == 0.0   # no pedestrian anywhere: AP 0 in both rows


def test_tuning_picks_per_class_settings_with_the_best_worst_case_gain(cache_file):
    from perception.fusion.tuning import tune_rule_fusion

    cache = load_detection_cache(cache_file)
    grid = {"boost": (0.0, 1.0), "miss_factor": (1.0,), "camera_only_factor": (0.01,), "box2d": ("lidar", "camera"),
            "camera_duplicate_iou": (None,), "min_score": (0.0,)}
    result = tune_rule_fusion(cache, {}, lidar_model="sst", camera_model="tridentnet_fast", grid=grid,
                              progress=False)
    assert result["combinations"] == 4 and set(result["settings"]) == set(CLASSES)
    for c in CLASSES:
        d3, d2 = result["gains"][c]
        # boost 0 with the projected boxes reproduces the LiDAR-only ranking: the chosen worst case is never below
        # that setting's, and 3D cannot lose when every detection is a true positive
        assert min(d3, d2) >= -1e-9 or result["settings"][c]["boost"] == 0.0
        assert set(result["settings"][c]) == {"boost", "miss_factor", "camera_only_factor", "box2d",
                                              "camera_duplicate_iou", "min_score"}


def test_tune_tool_only_refines_one_setting_and_holds_the_config_values(cache_file, tmp_path):
    out = tmp_path / "tuned.json"
    cmd = [sys.executable, "tools/tune_fusion.py", "configs/fusion/fusion_rule_sim.py", "--cache", str(cache_file),
           "--only", "camera_duplicate_iou", "--values", "none", "0.5", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    result = json.loads(out.read_text())
    assert result["combinations"] == 2
    cfg = load_fusion_config(os.path.join(REPO, "configs/fusion/fusion_rule_sim.py"))
    for c in CLASSES:   # the config's per-class values, not the grid's candidates
        s = result["settings"][c]
        assert s["camera_duplicate_iou"] in (None, 0.5)
        assert s["box2d"] == cfg.fusion.box2d[c] and s["camera_only_factor"] == cfg.fusion.camera_only_factor[c]
        assert s["boost"] == cfg.scorer.boost[c] and s["miss_factor"] == cfg.scorer.miss_factor
        assert s["min_score"] == cfg.fusion.min_score
    assert "camera_duplicate_iou=" in proc.stdout
    bad = subprocess.run([sys.executable, "tools/tune_fusion.py", "configs/fusion/fusion_clocs_sim.py", "--cache",
                          str(cache_file), "--only", "boost"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert bad.returncode != 0 and "need a RuleScorer config" in bad.stderr


def test_coordinate_search_starts_from_the_given_settings_and_stays_in_the_grid(cache_file):
    from perception.fusion.tuning import LIDAR_ONLY_SETTINGS, tune_rule_fusion_coordinates

    cache = load_detection_cache(cache_file)
    grid = {"boost": (0.0, 1.0), "miss_factor": (0.8, 1.0), "camera_only_factor": (0.01,),
            "box2d": ("lidar", "camera"), "camera_duplicate_iou": (None, 0.5), "min_score": (0.0,)}
    start = {"boost": {"Car": 1.0, "Pedestrian": 0.0, "Cyclist": 0.0}, "miss_factor": 1.0,
             "camera_only_factor": 0.01, "box2d": "camera", "camera_duplicate_iou": None, "min_score": 0.0}
    result = tune_rule_fusion_coordinates(cache, {}, start=start, lidar_model="sst", camera_model="tridentnet_fast",
                                          grid=grid, progress=False)
    # 2 + 2 + 1 + 2 + 2 + 1 a sweep, then the LiDAR-only fallback
    assert 1 <= result["sweeps"] <= 2 and result["evaluations"] == result["sweeps"] * 10 + 1
    for c in CLASSES:
        s = result["settings"][c]
        if c in result["lidar_only_classes"]:    # the fallback (its min_score, SST's cut, is not in this grid)
            assert s == LIDAR_ONLY_SETTINGS
            continue
        assert all(s[k] in grid[k] for k in grid), s
        d3, d2 = result["gains"][c]
        assert min(d3, d2) >= -1e-9 or s["boost"] == 0.0   # as the full grid: never below the identity setting


def test_coordinate_search_falls_back_to_lidar_only_for_a_class_it_cannot_improve(cache_file):
    from perception.fusion.tuning import LIDAR_ONLY_SETTINGS, tune_rule_fusion, tune_rule_fusion_coordinates

    cache = load_detection_cache(cache_file)
    # A grid that holds only harmful settings (camera-only objects at the full camera score and the noisy-OR
    # boost, boxes from the camera): every class that it makes worse on a fold must fall back.
    grid = {"boost": (1.0,), "miss_factor": (0.0,), "camera_only_factor": (1.0,), "box2d": ("camera",),
            "camera_duplicate_iou": (None,), "min_score": (0.0,)}
    start = {k: v[0] for k, v in grid.items()}
    common = dict(lidar_model="sst", camera_model="tridentnet_fast", progress=False, folds=2)
    tuned = tune_rule_fusion(cache, {}, grid=grid, **common)
    lidar_only = tune_rule_fusion(cache, {}, grid={k: (v,) for k, v in LIDAR_ONLY_SETTINGS.items()}, **common)
    result = tune_rule_fusion_coordinates(cache, {}, start=start, grid=grid, **common)
    expected = [c for c in CLASSES if lidar_only["worst_fold_gain"][c] >= tuned["worst_fold_gain"][c]]
    assert expected, "the fixture should hold a class the harmful grid makes worse"
    assert result["lidar_only_classes"] == expected
    for c in CLASSES:
        want = LIDAR_ONLY_SETTINGS if c in expected else start
        assert result["settings"][c] == want
        assert result["worst_fold_gain"][c] == max(tuned["worst_fold_gain"][c], lidar_only["worst_fold_gain"][c])


def test_worst_fold_criterion(cache_file):
    from perception.fusion.tuning import tune_rule_fusion

    cache = load_detection_cache(cache_file)
    grid = {"boost": (0.0, 1.0), "miss_factor": (1.0,), "camera_only_factor": (0.01,), "box2d": ("lidar",),
            "camera_duplicate_iou": (None,), "min_score": (0.0,)}
    result = tune_rule_fusion(cache, {}, lidar_model="sst", camera_model="tridentnet_fast", grid=grid, folds=2,
                              progress=False)
    assert result["folds"] == 2 and result["combinations"] == 2
    for c in CLASSES:
        d3, d2 = result["gains"][c]   # means over the folds; the worst fold and metric is at most their minimum
        assert result["worst_fold_gain"][c] <= min(d3, d2) + 1e-9
    with pytest.raises(ValueError, match="folds must be in"):
        tune_rule_fusion(cache, {}, lidar_model="sst", camera_model="tridentnet_fast", grid=grid, folds=0)
    # a precomputed split sets the fold count: without `folds` it is used as it is, a different `folds` is an error
    from perception.fusion.tuning import tuning_split

    split = tuning_split(cache, 2, lidar_model="sst", camera_model="tridentnet_fast")
    again = tune_rule_fusion(cache, {}, lidar_model="sst", camera_model="tridentnet_fast", grid=grid, split=split,
                             progress=False)
    assert again["folds"] == 2 and again["worst_fold_gain"] == result["worst_fold_gain"]
    with pytest.raises(ValueError, match="split has 2 folds, folds=3"):
        tune_rule_fusion(cache, {}, lidar_model="sst", camera_model="tridentnet_fast", grid=grid, split=split,
                         folds=3)


def test_class_isolated_table_evaluates_each_class_on_its_own_detections(cache_file):
    from perception.fusion.evaluation import ap_table, class_isolated_table, fusion_eval_data

    cache = load_detection_cache(cache_file)
    data = fusion_eval_data(cache, {}, lidar_model="sst", camera_model="tridentnet_fast")
    isolated = class_isolated_table(data)
    # the same rows filtered at the source: camera detections of one class only, evaluated by the devkit rule
    for c in CLASSES:
        only = DetectionCache(data_root=cache.data_root, frame_ids=cache.frame_ids, lidar=cache.lidar,
                              camera={"tridentnet_fast": [d.select(torch.tensor([n == c for n in d.names],
                                                                                dtype=torch.bool))
                                                          for d in cache.camera["tridentnet_fast"]]})
        direct = ap_table(fusion_eval_data(only, {}, lidar_model="sst", camera_model="tridentnet_fast"))
        assert isolated["2D"]["camera_only"][c] == pytest.approx(direct["2D"]["camera_only"][c], abs=1e-9)
