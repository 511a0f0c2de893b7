"""Neural network building blocks: modules, layers, losses, initialisation and utilities."""

from . import functional
