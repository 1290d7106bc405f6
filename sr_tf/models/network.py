"""`SRNetwork`, the Keras class of every zoo network (its spec's graph plus its description as its
config), and `from_description`. Kept apart from specs.py, which loads no TensorFlow: this module
subclasses keras.Model."""

import keras

from sr_tf.models.layers import PACKAGE
from sr_tf.models.specs import get_spec


@keras.saving.register_keras_serializable(package=PACKAGE)
class SRNetwork(keras.Model):
    """A zoo network: the spec's functional graph, plus its description as its Keras config."""

    def __init__(self, model, scales, options=None, name=None, trainable=True, **kwargs):
        spec = get_spec(model)
        scales = spec.scales(scales)
        options = spec.options(options)
        graph = spec.builder(scales, **options)
        outputs = graph.outputs if spec.multi_scale else graph.outputs[0]
        super().__init__(graph.inputs[0], outputs, name=name or graph.name, trainable=trainable, **kwargs)
        self.description = {"model": spec.name, "scales": list(scales), "options": options}

    @property
    def spec(self):
        return get_spec(self.description["model"])

    @property
    def scales(self):
        return tuple(self.description["scales"])

    def get_config(self):
        return {**self.description, "name": self.name, "trainable": self.trainable}


def from_description(description, source="the description"):
    """Builds the (untrained) network a description names; errors name `source`."""
    try:
        return SRNetwork(description["model"], description["scales"], description.get("options", {}))
    except (KeyError, TypeError) as error:
        raise ValueError(f"{source} is not a valid model description ({error!r}): {description!r}") from error
