"""`studio.core.nn.functional`: the functional forms of layers, activations and losses."""

from ..ops.activation import log_softmax, relu, softmax
from ..ops.elementwise import sigmoid, tanh
