#!/usr/bin/env bash
# Builds every model's TensorRT engines: runs each build_<model>.sh beside this file.
set -euo pipefail
root="${1:-/models}"
for script in "$root"/tensorrt/build_*.sh; do
  [ "$script" = "$root/tensorrt/build_engines.sh" ] || bash "$script" "$root"
done
