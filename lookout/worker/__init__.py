"""The Lookout worker: claims queued analyses and runs an ONNX object detector on them.

It talks to a Lookout server over HTTP only (`lookout.pipeline`), signed with the callback
secret, so it runs on any machine that can reach the server:

    uv run lookout worker --model yolov8n.onnx --model-name yolo_v8 --url http://lookout:5050

Modules: `config` (the models served, the options and their checks, the exit codes),
`detector` (letterbox, YOLOv8/YOLO11 decoding, NMS, onnxruntime), `overlay` (the PNG artifact
with the boxes), `runner` (claim → infer → post → finalize, heartbeats, stopping), `progress`
(the progress bar) and `cli` (the `lookout worker` command).
"""
