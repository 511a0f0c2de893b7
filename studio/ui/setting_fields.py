"""A field for any declared training setting (studio.design.training_spec.Setting): a spin box, a float
box, a check box, a list of choices or a text of numbers, each with the setting's range and help."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QCheckBox, QComboBox, QLineEdit

from studio.design.training_spec import Setting, SettingError

from .fields import FloatBox, int_box

AUTO = "auto"  # what an optional number shows while the run decides it


def _step(setting: Setting) -> float:
    """A spin step a tenth of the default's size (0.001 for 0.01), or 0.0001 from zero."""
    d = setting.default
    if not isinstance(d, (int, float)) or not d:
        return 1e-4
    return 10.0 ** math.floor(math.log10(abs(d) / 10))


class SettingField:
    """A widget for one setting, with one way to read, write and watch it whatever its kind."""

    def __init__(self, setting: Setting, labels: dict | None = None):
        self.setting = setting
        self.widget = self._make(setting, labels or {})
        self.widget.setToolTip(f"{setting.help} ({setting.expected()})")

    def _make(self, s: Setting, labels: dict):
        if s.kind == "choice":
            w = QComboBox()
            for key in s.choices:
                w.addItem(labels.get(key, key.replace("_", " ")), key)
            return w
        if s.kind == "bool":
            return QCheckBox()
        if s.kind == "floats":
            return QLineEdit()
        lo = s.min - (1 if s.kind == "int" else s.min) if s.optional else s.min
        w = int_box((lo, s.max)) if s.kind == "int" else FloatBox((lo, s.max), _step(s))
        if s.optional:  # the lowest value stands for none: the run decides
            w.setSpecialValueText(AUTO)
        return w

    def get(self):
        w, s = self.widget, self.setting
        if s.kind == "choice":
            return w.currentData()
        if s.kind == "bool":
            return w.isChecked()
        if s.kind == "floats":
            try:
                return s.validate(w.text())
            except SettingError:
                return None  # not a valid list yet: the caller keeps the stored value
        value = w.value()
        return None if s.optional and value == w.minimum() else value

    def set(self, value) -> None:
        w, s = self.widget, self.setting
        if s.kind == "choice":
            i = w.findData(value)
            if i >= 0:
                w.setCurrentIndex(i)
        elif s.kind == "bool":
            w.setChecked(bool(value))
        elif s.kind == "floats":
            w.setText(", ".join(f"{v:g}" for v in value))
        else:
            w.setValue(w.minimum() if value is None else value)

    def connect(self, callback) -> None:
        w, s = self.widget, self.setting
        if s.kind == "choice":
            w.currentIndexChanged.connect(callback)
        elif s.kind == "bool":
            w.toggled.connect(callback)
        elif s.kind == "floats":
            w.editingFinished.connect(callback)
        else:
            w.valueChanged.connect(callback)
