"""Number fields whose ranges are the project format's (studio.design.project.RANGES), and a float field
that keeps every value exactly: a QDoubleSpinBox rounds to its decimals, so 0.00012345 or 1e-8 from a
project file would change as soon as the window showed it."""

from __future__ import annotations

import math

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

from studio.design.project import RANGES

EXACT_DECIMALS = 320  # enough that Qt's rounding to decimals never changes a double


class FloatBox(QDoubleSpinBox):
    """A float field that shows values in short form (0.001, 1e-08) and keeps them exactly."""

    def __init__(self, key, step: float, parent=None):
        super().__init__(parent)
        self.setDecimals(EXACT_DECIMALS)
        lo, hi = RANGES[key] if isinstance(key, str) else key
        self.setRange(lo, hi)
        self.setSingleStep(step)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return f"{value:.10g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        if self.specialValueText() and text.strip() == self.specialValueText():
            return self.minimum()
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        stripped = text.strip()
        if self.specialValueText() and stripped == self.specialValueText():
            return QValidator.State.Acceptable, text, pos
        try:
            value = float(stripped)
        except ValueError:
            # part of a number being typed ("", "1e", "-", "0.") may still become one
            partial = stripped in ("", "-", "+", ".") or stripped[-1:] in ("e", "E", "-", "+", ".")
            state = QValidator.State.Intermediate if partial else QValidator.State.Invalid
            return state, text, pos
        if math.isfinite(value) and self.minimum() <= value <= self.maximum():
            return QValidator.State.Acceptable, text, pos
        return QValidator.State.Intermediate, text, pos

    def stepBy(self, steps: int) -> None:  # noqa: N802
        # from a value like 0.0123, a step lands on a round number rather than 0.1123
        step = self.singleStep()
        target = round((self.value() + steps * step) / step) * step
        self.setValue(min(max(target, self.minimum()), self.maximum()))


def int_box(key, **kwargs) -> QSpinBox:
    """A spin box over the format's range for `key` (or a (low, high) range)."""
    lo, hi = RANGES[key] if isinstance(key, str) else key
    return QSpinBox(minimum=int(lo), maximum=int(hi), **kwargs)
