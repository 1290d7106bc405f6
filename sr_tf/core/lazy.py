"""TensorFlow and Keras, imported at their first use: `from sr_tf.core.lazy import keras, tf`.

Importing TensorFlow takes seconds, and a command's `--help`, its flags and the zoo table need none
of it. A module whose top level only defines functions and constants takes `tf` and `keras` from
here; `tf.X` then imports TensorFlow the first time it runs. (A module that subclasses Keras
classes, such as sr_tf.models.layers, imports them itself and is imported where it is used.)
"""

import importlib
import sys


class LazyModule:
    """Stands for the module `name`: attribute access imports it (once) and reads from it."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        module = sys.modules.get(self._name) or importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self):
        return f"<lazily imported module {self._name!r}>"


tf = LazyModule("tensorflow")
keras = LazyModule("keras")
