"""NVIDIA Triton: model-repository entries for each target, and a local tritonserver for CPU hosts."""
