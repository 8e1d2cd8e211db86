"""Files shipped inside drm_core (see README.md here): the default model."""
from pathlib import Path

# MoveNet MultiPose's backbone and 2D heads under the DRM's depth heads (model card: README.md here), the model
# the node, the demo and the replay load when no model is given.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "drm_movenet_real.pt"
