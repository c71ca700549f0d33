"""ganserve: a real-time inference server for StyleGAN-style generators."""

__version__ = "0.1.0"
