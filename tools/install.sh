#!/usr/bin/env bash
# Set up ./.venv with everything the stack needs (CPU build) and compile the ops.
#
#   bash tools/install.sh            # idempotent: quick when nothing changed
#
# Steps: Debian libraries (open3d needs libusb), a venv, torch 2.13.0 (CPU),
# mmcv 2.1.0 built from source with its ops (~14 min on 2 cores the first time;
# pip caches the wheel), the pinned requirements, then `perception` itself in
# editable mode with its C++ ops (PERCEPTION_REQUIRE_OPS=1: a broken kernel fails).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}
PIP="$VENV/bin/python -m pip"
export PIP_DISABLE_PIP_VERSION_CHECK=1

log() { printf '\n==> %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "need root (or sudo) to run: $*" >&2; return 1; fi
}

# 1. Debian packages -------------------------------------------------------------------
apt_missing=()
ldconfig -p | grep -q 'libusb-1.0.so.0' || apt_missing+=(libusb-1.0-0)
ldconfig -p | grep -q 'libGL.so.1' || apt_missing+=(libgl1)
if [ ${#apt_missing[@]} -gt 0 ]; then
  log "apt-get install ${apt_missing[*]}"
  as_root apt-get install -y --no-install-recommends "${apt_missing[@]}" \
    || { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${apt_missing[@]}"; }
fi

# 2. venv + Python packages (skipped when requirements are unchanged) -------------------
[ -x "$VENV/bin/python" ] || { log "creating $VENV"; "$PYTHON" -m venv "$VENV"; }
stamp="$VENV/.perception-deps"
want=$(cat requirements.txt tools/install.sh | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing torch 2.13.0 (CPU) and build tools"
  $PIP install -q torch==2.13.0 numpy==1.26.4 wheel ninja
  # torch 2.13 declares setuptools>=77, but mmcv 2.1.0's setup.py needs setuptools<70: install it after
  # torch on purpose (pip prints a dependency warning; torch only uses setuptools to build extensions).
  $PIP install -q "setuptools<70"
  log "installing mmcv 2.1.0 with ops (source build the first time: ~14 min on 2 cores; then cached)"
  MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-2} $PIP install -q --no-build-isolation mmcv==2.1.0
  log "installing pinned requirements"
  $PIP install -q -r requirements.txt
  echo "$want" > "$stamp"
fi

# 3. ROS 1 from Debian, for the inference node on a real master ----------------------------
# Debian bookworm ships ROS 1 (Noetic era) for its system Python 3.11.  Rather than putting all of
# /usr/lib/python3/dist-packages on the venv's path (Debian's numpy, yaml, ... would shadow or mix with the
# pinned ones), link exactly the ROS packages into $VENV/ros1 and add that one directory with a .pth file.
# PERCEPTION_SKIP_ROS=1 skips this step (the node then runs on bags only).
ros_debs=(python3-rospy python3-rosmaster python3-sensor-msgs python3-geometry-msgs python3-diagnostic-msgs
          python3-tf2-msgs)
ros_pkgs=(rospy rosgraph rosmaster roslib rospkg genpy genmsg catkin catkin_pkg roscpp std_msgs sensor_msgs
          geometry_msgs diagnostic_msgs tf2_msgs rosgraph_msgs actionlib_msgs defusedxml)
if [ "${PERCEPTION_SKIP_ROS:-0}" != 1 ]; then
  missing=()
  for deb in "${ros_debs[@]}"; do dpkg -s "$deb" >/dev/null 2>&1 || missing+=("$deb"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]} (ROS 1 for the inference node)"
    as_root apt-get install -y --no-install-recommends "${missing[@]}" \
      || { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${missing[@]}"; }
  fi
  ros_dir="$(cd "$VENV" && pwd)/ros1"
  mkdir -p "$ros_dir"
  for pkg in "${ros_pkgs[@]}"; do
    [ -e "/usr/lib/python3/dist-packages/$pkg" ] && ln -sfn "/usr/lib/python3/dist-packages/$pkg" "$ros_dir/$pkg"
  done
  site=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$ros_dir" > "$site/perception-ros1.pth"
  "$VENV/bin/python" -c "import rospy, genpy, sensor_msgs.msg, diagnostic_msgs.msg, tf2_msgs.msg" \
    || { echo "ROS 1 packages are linked into $ros_dir but do not import; see the error above" >&2; exit 1; }
  command -v rosmaster >/dev/null || { echo "rosmaster not found after installing python3-rosmaster" >&2; exit 1; }
fi

# 4. perception + compiled ops (incremental) ---------------------------------------------
log "building perception ops"
export PERCEPTION_REQUIRE_OPS=${PERCEPTION_REQUIRE_OPS:-1}
if ! $PIP show -q perception >/dev/null 2>&1; then
  $PIP install -q --no-build-isolation --no-deps -e .
else
  "$VENV/bin/python" setup.py -q build_ext --inplace
fi
"$VENV/bin/python" -c "import perception.ops as o; print('perception ops:', o.backend_summary())"
log "install done"
