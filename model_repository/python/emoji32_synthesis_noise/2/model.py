"""Triton Python-backend model: runs one ganserve ONNX graph with ONNX Runtime.

`ganserve compile --target python` copies this file as `<entry>/<version>/model.py`. Triton imports
it inside its Python stub, so it may only use numpy, onnxruntime and Triton's own utilities.
The ONNX file is the onnx target's graph of the same version (config parameter `onnx_model`: that
entry, relative to this one), so one compiled copy serves both targets.
"""

import json
import os
import sys

# Triton's stub starts its interpreter without reading PYTHONPATH, and the packages this model
# needs may live in a virtual environment named there (as `ganserve triton` and the tests do).
for _path in reversed([p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import numpy as np  # noqa: E402
import onnxruntime as ort  # noqa: E402
import triton_python_backend_utils as pb_utils  # noqa: E402


class TritonPythonModel:
    def initialize(self, args):
        config = json.loads(args["model_config"])
        parameters = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        onnx_entry = os.path.join(args["model_repository"], parameters["onnx_model"])
        path = os.path.normpath(os.path.join(onnx_entry, args["model_version"], "model.onnx"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = int(parameters.get("threads", "0"))
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # leave idle cores to others
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_names = [o.name for o in self.session.get_outputs()]

    def execute(self, requests):
        # The dynamic batcher hands over several requests at once: one ONNX Runtime run for all.
        per_request = [{n: pb_utils.get_input_tensor_by_name(r, n).as_numpy() for n in self.input_names} for r in requests]
        sizes = [len(feeds[self.input_names[0]]) for feeds in per_request]
        feeds = {n: np.concatenate([f[n] for f in per_request]) for n in self.input_names}
        outputs = self.session.run(self.output_names, feeds)
        responses, start = [], 0
        for size in sizes:
            tensors = [pb_utils.Tensor(n, out[start : start + size]) for n, out in zip(self.output_names, outputs, strict=True)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
            start += size
        return responses
