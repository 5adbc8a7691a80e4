"""The neural-network family, gathered for ``engine.ops``: activations and softmax, losses, layers,
convolution and pooling. (Each module's ``__all__`` names its ops, so only they are re-exported.)"""

from engine.ops.activations import *  # noqa: F403
from engine.ops.conv import *  # noqa: F403
from engine.ops.layers import *  # noqa: F403
from engine.ops.losses import *  # noqa: F403
