"""Files shipped inside drm_core (see README.md here): the default model."""
from pathlib import Path

# The small model (EfficientNet-Lite0, synthetic + pseudo-labelled real frames) that the node, the demo and the
# replay load when no model is given.
DEFAULT_MODEL_PATH = Path(__file__).resolve().parent / "drm_small_effnet_real.pt"
