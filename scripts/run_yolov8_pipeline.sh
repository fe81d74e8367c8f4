#!/usr/bin/env bash
# Run a YOLOv8 / YOLO11 ONNX model over a Lookout project (see scripts/README_YOLOV8.md).
#
#   ./run_yolov8_pipeline.sh <project_id> [--install-deps] [--limit N] [--model PATH] [...]
#
# --install-deps  run `uv sync` first (installs Lookout's dependencies; never downloads a model)
# --limit N       analyze at most N images of the project
# --model PATH    the ONNX model (default: $YOLO_MODEL_PATH)
# Other options go to yolov8_ml_pipeline.py (--help lists them). Settings come from the
# environment or the .env file of the repository: ML_CALLBACK_HMAC_SECRET, API_KEY,
# LOOKOUT_URL, YOLO_MODEL_PATH. Exit codes are the pipeline's: 0 done, 1 some analyses failed,
# 2 bad settings, 3 the model cannot be loaded, 4 the server refused or could not be reached.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

usage() {
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

install=0
args=()
for arg in "$@"; do
  case "$arg" in
    --install-deps) install=1 ;;
    -h|--help) usage; exit 0 ;;
    *) args+=("$arg") ;;
  esac
done
if [ "${#args[@]}" -eq 0 ]; then
  usage >&2
  echo "error: name the project: $0 <project_id> [--install-deps] [--limit N]" >&2
  exit 2
fi

if ! command -v uv >/dev/null 2>&1; then
  echo "error: uv is not installed (pip install uv)" >&2
  exit 2
fi

if [ "$install" -eq 1 ]; then
  echo "installing dependencies: uv sync (in $root)"
  (cd "$root" && uv sync)
fi

if [ ! -d "${UV_PROJECT_ENVIRONMENT:-$root/.venv}" ]; then
  echo "error: dependencies are not installed; run again with --install-deps" >&2
  exit 2
fi

exec uv run --no-sync --project "$root" python "$here/yolov8_ml_pipeline.py" "${args[@]}"
