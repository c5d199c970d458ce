"""Turn simulated (or KITTI-layout) frames into a ROS 1 bag: the inference node's built-in default input.

    python tools/make_bag.py                                  # 10 simulated frames at 10 Hz -> data/sim_drive.bag
    python tools/make_bag.py --frames 50 --rate 5 --out data/sim50.bag
    python tools/make_bag.py --data-root data/kitti --frame-ids 000000 000001   # real KITTI frames

Each frame becomes /lidar/points (PointCloud2 x y z intensity, frame 'velodyne'), /camera/image (bgr8, frame
'camera', stamped --image-offset s after the cloud) and /camera/camera_info; /tf_static holds the extrinsic
once (camera <- velodyne).  Simulated frames are generated into --data-root first (or reused).
"""
from __future__ import annotations

import argparse
import sys

from perception.apis.demo import DEMO_SEED, prepare_demo_frames
from perception.datasets import kitti_io
from perception.ros.recording import frame_messages, write_sensor_bag


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="data/sim_drive.bag", help="output bag (default: data/sim_drive.bag)")
    parser.add_argument("--data-root", default="data/ros_sim",
                        help="KITTI-layout frames; simulated frames are generated here unless --frame-ids is "
                             "given (default: data/ros_sim)")
    parser.add_argument("--frames", type=int, default=10, help="simulated frames to generate (default: 10)")
    parser.add_argument("--frame-ids", nargs="+", help="existing frames of --data-root to record instead")
    parser.add_argument("--seed", type=int, default=DEMO_SEED, help="simulation seed")
    parser.add_argument("--tiny", action="store_true", help="small simulated frames (the test preset)")
    parser.add_argument("--rate", type=float, default=10.0, help="frames per second of the recording (default: 10)")
    parser.add_argument("--start", type=float, default=1.7e9, help="stamp of the first cloud, s (default: 1.7e9)")
    parser.add_argument("--image-offset", type=float, default=0.01,
                        help="camera stamp minus LiDAR stamp, s (default: 0.01)")
    parser.add_argument("--encoding", default="bgr8", choices=["rgb8", "bgr8"], help="image encoding")
    parser.add_argument("--format", default="ros1", choices=["ros1", "ros2", "mcap"],
                        help="ros1: a .bag file (default); ros2 / mcap: a ROS 2 bag directory (SQLite3 / MCAP)")
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error("--rate must be > 0")
    if args.frame_ids:
        frame_ids = args.frame_ids
    else:
        if args.frames < 1:
            parser.error("--frames must be at least 1")
        frame_ids = prepare_demo_frames(args.data_root, args.frames, seed=args.seed, tiny=args.tiny)

    def messages():
        for i, frame_id in enumerate(frame_ids):
            frame = kitti_io.read_frame(args.data_root, frame_id)
            yield from frame_messages(frame, stamp=args.start + i / args.rate, seq=i, image_offset=args.image_offset,
                                      encoding=args.encoding, with_tf=(i == 0))

    counts = write_sensor_bag(args.out, messages(), fmt=args.format)
    print(f"wrote {args.out}: " + ", ".join(f"{t} x{n}" for t, n in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
