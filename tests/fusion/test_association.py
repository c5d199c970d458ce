"""3D-2D association on hand-built scenes: known matches, occlusion, objects outside the image, classes."""
import torch

from perception.fusion import associate, pair_affinity, project_to_image


def test_projection_of_a_box_ahead_is_centred_and_scales_with_depth(scene):
    objs = scene.lidar([("Car", 10.0, 0.0), ("Car", 20.0, 0.0)], [0.9, 0.9])
    proj = project_to_image(objs.boxes3d, scene.calib, scene.image_size)
    assert proj.in_image.tolist() == [True, True]
    torch.testing.assert_close(proj.depth, torch.tensor([10.0, 20.0]))
    centre_u = (proj.boxes[:, 0] + proj.boxes[:, 2]) / 2
    torch.testing.assert_close(centre_u, torch.full((2,), 609.5593), atol=0.5, rtol=0)  # straight ahead
    # the box lies 0.17..1.7 m below the camera: its bottom edge is lowest at the front face (8.05 m away), its
    # top edge highest at the rear face (11.95 m away)
    h = proj.boxes[:, 3] - proj.boxes[:, 1]
    assert abs(float(h[0]) - 721.5377 * (1.7 / 8.05 - 0.17 / 11.95)) < 0.05
    assert float(h[0]) / float(h[1]) > 1.9  # twice as far, about half as tall


def test_known_matches_are_found_whatever_the_order(scene):
    objs = scene.lidar([("Car", 15.0, 4.0), ("Pedestrian", 12.0, -3.0), ("Cyclist", 25.0, 1.0)], [0.8, 0.7, 0.6])
    proj = scene.projections(objs, scene.calib)
    jitter = torch.tensor([[2.0, -1.0, 1.0, 2.0], [-1.0, 1.0, 1.0, -1.0], [1.0, 1.0, -2.0, 0.0]])
    order = [2, 0, 1]  # the camera lists them in another order
    cam = scene.camera((proj + jitter)[order], [objs.names[k] for k in order], [0.9, 0.8, 0.7])
    a = associate(proj, cam.boxes.tensor, names_a=objs.names, names_b=cam.names)
    assert a.pairs.tolist() == [[0, 1], [1, 2], [2, 0]]
    assert a.unmatched_a.numel() == 0 and a.unmatched_b.numel() == 0
    assert (a.iou > 0.7).all()


def test_class_mismatch_and_weak_overlap_do_not_match(scene):
    objs = scene.lidar([("Car", 15.0, 4.0), ("Car", 15.0, -4.0)], [0.8, 0.7])
    proj = scene.projections(objs, scene.calib)
    shifted = proj[1].clone()
    shifted[0::2] += 0.8 * (proj[1, 2] - proj[1, 0])  # IoU about 0.1
    cam = scene.camera(torch.stack([proj[0], shifted]), ["Pedestrian", "Car"], [0.9, 0.9])
    a = associate(proj, cam.boxes.tensor, names_a=objs.names, names_b=cam.names)
    assert a.pairs.numel() == 0 and a.unmatched_a.tolist() == [0, 1] and a.unmatched_b.tolist() == [0, 1]
    # without the class gate the first pair matches; the weak overlap still does not
    a = associate(proj, cam.boxes.tensor, names_a=objs.names, names_b=cam.names, class_aware=False)
    assert a.pairs.tolist() == [[0, 0]]


def test_occluded_object_gets_its_own_box_where_a_greedy_loop_would_steal_the_near_one(scene):
    """A far car mostly hidden behind a near one: the camera sees the near car whole and a strip of the far
    one.  The far car's projection overlaps the near car's 2D box more than its own strip, so a greedy loop
    that visits the far car first (say, it has the higher LiDAR score) takes the wrong box."""
    objs = scene.lidar([("Car", 22.0, 1.0), ("Car", 12.0, 0.0)], [0.95, 0.6])  # far first, higher score
    far, near = scene.projections(objs, scene.calib)
    strip = torch.tensor([float(far[0]), float(far[1]), float(near[0]), float(far[3])])  # far car's visible left
    cam = scene.camera(torch.stack([near, strip]), ["Car", "Car"], [0.9, 0.5])
    iou, _ = pair_affinity(torch.stack([far, near]), cam.boxes.tensor)
    assert iou[0, 0] > iou[0, 1] > 0  # greedy by score: the far car would take the near car's box
    a = associate(torch.stack([far, near]), cam.boxes.tensor, names_a=objs.names, names_b=cam.names,
                  min_iou=0.1, max_centre_distance=1.0)
    assert a.pairs.tolist() == [[0, 1], [1, 0]]  # far <-> strip, near <-> near box


def test_objects_outside_the_image_are_not_matched(scene):
    objs = scene.lidar([("Car", -10.0, 0.0), ("Car", 3.0, 30.0), ("Car", 15.0, 0.0)], [0.9, 0.9, 0.9])
    proj = project_to_image(objs.boxes3d, scene.calib, scene.image_size)
    assert proj.in_image.tolist() == [False, False, True]  # behind the camera; far to the left; ahead
    assert (proj.boxes[:2] == 0).all()
    cam = scene.camera(torch.stack([torch.tensor([0.0, 0.0, 100.0, 100.0]), proj.boxes[2]]), ["Car", "Car"],
                            [0.9, 0.9])
    a = associate(proj.boxes, cam.boxes.tensor, names_a=objs.names, names_b=cam.names, valid_a=proj.in_image,
                  min_iou=0.0, max_centre_distance=10.0)
    assert a.pairs.tolist() == [[2, 1]]
    assert a.unmatched_a.tolist() == [0, 1] and a.unmatched_b.tolist() == [0]


def test_empty_sides():
    a = associate(torch.zeros(0, 4), torch.tensor([[0.0, 0.0, 10.0, 10.0]]), names_a=[], names_b=["Car"])
    assert a.pairs.shape == (0, 2) and a.unmatched_b.tolist() == [0]
    a = associate(torch.tensor([[0.0, 0.0, 10.0, 10.0]]), torch.zeros(0, 4), names_a=["Car"], names_b=[])
    assert a.unmatched_a.tolist() == [0] and a.partner_of_a(1).tolist() == [-1]
