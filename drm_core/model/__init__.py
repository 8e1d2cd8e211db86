"""The DRM network: configuration, modules and the factory."""
from drm_core.model.config import ModelConfig
from drm_core.model.drm import DRM, build_model

__all__ = ["DRM", "ModelConfig", "build_model"]
