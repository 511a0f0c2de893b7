"""Training runs without a UI: the fit generator, its events, data preparation and the worker process."""

from .data import DataError, PreparedData, prepare_data
from .events import Event
from .fit import TrainingError, fit

__all__ = ["DataError", "Event", "PreparedData", "TrainingError", "fit", "prepare_data"]
