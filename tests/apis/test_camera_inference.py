"""CameraDetector: in-memory images give what the evaluation pipeline gives from files, in original pixels."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate

from perception.apis import CameraDetector
from perception.apis.model_zoo import repo_path
from perception.visualization import save_image

CONFIG = "configs/tridentnet/tridentnet_fast_sim.py"


def _image(h: int = 150, w: int = 496, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 90, np.uint8)
    for _ in range(12):
        y, x = rng.integers(0, h - 20), rng.integers(0, w - 30)
        img[y:y + rng.integers(10, 60), x:x + rng.integers(10, 90)] = rng.integers(0, 255, 3)
    return img


@pytest.fixture(scope="module")
def detector():
    torch.manual_seed(0)
    return CameraDetector(config=repo_path(CONFIG), checkpoint=None)


def test_in_memory_images_match_the_file_pipeline(detector, tmp_path):
    img = _image()
    path = tmp_path / "img.png"
    save_image(path, img)
    cfg = Config.fromfile(repo_path(CONFIG))
    data = Compose(cfg.test_pipeline)(dict(img_path=str(path), sample_idx=0))
    with torch.no_grad():
        direct = detector.model.test_step(pseudo_collate([data]))[0].pred_instances

    (dets,) = detector([img])
    assert len(dets) == len(direct) > 0  # random weights still give the RPN's proposals scored by the head
    torch.testing.assert_close(dets.boxes.tensor, direct.bboxes.float())
    torch.testing.assert_close(dets.scores, direct.scores.float())
    assert set(dets.names) <= {"Car", "Pedestrian", "Cyclist"}
    # boxes are in the original image's pixels (the model ran at 828 x 250 input pixels)
    t = dets.boxes.tensor
    assert float(t[:, 2].max()) <= img.shape[1] + 1e-3 and float(t[:, 3].max()) <= img.shape[0] + 1e-3
    assert float(t[:, 2].max()) > img.shape[1] / 4  # not left at the input scale's origin only


def test_batches_give_the_same_result_as_single_images(detector):
    images = [_image(seed=1), _image(seed=2), _image(seed=3)]
    batched = detector(images, batch_size=2)
    single = [detector([im])[0] for im in images]
    for a, b in zip(batched, single):
        torch.testing.assert_close(a.boxes.tensor, b.boxes.tensor, atol=1e-3, rtol=1e-4)
        assert a.names == b.names


def test_score_threshold_and_bad_images(detector):
    img = _image()
    (all_dets,) = detector([img])
    thr = float(all_dets.scores.median())
    detector.score_thr = thr
    try:
        (kept,) = detector([img])
    finally:
        detector.score_thr = 0.0
    assert len(kept) == int((all_dets.scores >= thr).sum()) and bool((kept.scores >= thr).all())
    with pytest.raises(ValueError, match=r"image 0: expected an \(H, W, 3\) uint8 RGB array"):
        detector([img.astype(np.float32)])
    with pytest.raises(ValueError, match="image 1"):
        detector([img, img[..., 0]])
