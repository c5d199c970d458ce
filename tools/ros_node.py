"""The perception inference node: camera + LiDAR in, unified detections out, ROS style.

On recorded data (no ROS needed):

    python tools/make_bag.py                                        # the built-in input: data/sim_drive.bag
    python tools/ros_node.py --bag data/sim_drive.bag --out outputs/sim_drive_detections.bag
    python tools/ros_node.py --bag run.bag --out det.bag --rate 1   # real time, live queues and drops

On a ROS 1 master (ROS_MASTER_URI, ROS_HOSTNAME as usual):

    python tools/ros_node.py --ros _config:=configs/fusion/fusion_clocs_sim.py _points_topic:=/velodyne_points

Every parameter of perception.ros.NodeParams is an option here (--points-topic ...) and, with --ros, also a
private parameter (~points_topic, or _points_topic:=... on the command line; those win).  SIGINT / SIGTERM stop
the node cleanly: the frame in flight finishes, the output bag is closed and complete.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import signal
import sys
import threading

from perception.ros.params import NodeParams


def _add_param_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("node parameters (see perception.ros.params.NodeParams)")
    for f in dataclasses.fields(NodeParams):
        default = f.default
        kind = "numbers" if isinstance(default, tuple) else type(default).__name__
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None, metavar=kind.upper(),
                           nargs="+" if isinstance(default, tuple) else None,
                           help=f"default: {default!r}")


def _build_node(params: NodeParams, publish):
    from perception.apis import FusionDetector
    from perception.ros.node import InferenceNode

    # a relative config path is tried from here, then from the repository root (perception.fusion.builder)
    detector = FusionDetector(config=params.config, device=params.device, checkpoints=params.checkpoints or None,
                              with_panoptic=params.with_panoptic)
    return InferenceNode(params=params, detector=detector, class_names=detector.config.class_names, publish=publish)


def _install_signal_handlers(stop: threading.Event) -> None:
    def handler(signum, _frame):
        logging.getLogger("perception.ros").info("received %s, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def run_on_bag(params: NodeParams, bag: str, out: str, rate, progress: bool) -> int:
    from perception.ros.bag import BagRecorder, replay_bag

    stop = threading.Event()
    _install_signal_handlers(stop)
    holder = {}
    node = _build_node(params, lambda topic, msg: holder["recorder"].publish(topic, msg))
    with BagRecorder(out, node.publications) as recorder:   # complete (renamed to OUT) unless an error escapes
        holder["recorder"] = recorder
        n = replay_bag(node, recorder, bag, rate=rate, stop=stop, progress=progress)
    path = recorder.path
    summary = node.summary()
    print(f"read {n} messages from {bag}; wrote {path}: "
          + ", ".join(f"{t} x{c}" for t, c in sorted(recorder.counts.items())))
    for key, value in summary.items():
        print(f"  {key}: {value:.1f}" if isinstance(value, float) else f"  {key}: {value}")
    return 0


def run_on_master(params: NodeParams, name: str, remaps: list[str]) -> int:
    from perception.ros.rospy_transport import RospyTransport, forward_logs_to_rospy, import_rospy

    rospy = import_rospy()
    rospy.init_node(name, argv=[sys.argv[0]] + remaps, disable_signals=True)
    forward_logs_to_rospy()
    private = {k.lstrip("~"): v for k, v in rospy.get_param("~", {}).items()} if rospy.has_param("~") else {}
    params = params.override(private)
    stop = threading.Event()
    _install_signal_handlers(stop)
    holder = {}
    node = _build_node(params, lambda topic, msg: holder["transport"].publish(topic, msg))
    transport = holder["transport"] = RospyTransport(node)
    node.start()
    rospy.loginfo(f"{name}: subscribed to {node.subscriptions}, publishing {node.publications}")
    try:
        while not stop.wait(params.diagnostics_period or 1.0) and not rospy.is_shutdown():
            node.maybe_publish_diagnostics()
    finally:
        node.stop()
        transport.close()
        rospy.signal_shutdown("stopped")
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ros_remaps = [a for a in argv if ":=" in a]           # rospy's _param:=value / topic remapping
    argv = [a for a in argv if ":=" not in a]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--bag", help="input bag: ROS 1 .bag, ROS 2 bag directory or .mcap")
    mode.add_argument("--ros", action="store_true", help="run on the ROS master of ROS_MASTER_URI")
    parser.add_argument("--out", help="output ROS 1 bag (with --bag)")
    parser.add_argument("--rate", default="max",
                        help="replay rate with --bag: 'max' (as fast as the node goes, nothing dropped) or a factor "
                             "of the recorded rate, e.g. 1 (default: max)")
    parser.add_argument("--name", default="perception_node", help="ROS node name (with --ros)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_param_options(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(levelname)s] %(name)s: %(message)s")
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(NodeParams) if getattr(args, f.name) is not None}
    try:
        params = NodeParams().override(values)
    except ValueError as err:
        parser.error(str(err))
    if args.bag:
        if not args.out:
            parser.error("--bag needs --out (the output bag)")
        if ros_remaps:
            parser.error(f"ROS remappings {ros_remaps} need --ros; use --option value with --bag")
        try:
            rate = None if args.rate == "max" else float(args.rate)
        except ValueError:
            parser.error(f"--rate must be 'max' or a number, got {args.rate!r}")
        return run_on_bag(params, args.bag, args.out, rate, progress=not args.no_progress)
    return run_on_master(params, args.name, ros_remaps)


if __name__ == "__main__":
    sys.exit(main())
