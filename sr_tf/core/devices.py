"""tf.distribute strategies for training and inference: default, mirrored, multi_worker; CPU replicas."""

import functools
import json
import os

from absl import logging

from sr_tf.core.lazy import tf

DISTRIBUTIONS = ("default", "mirrored", "multi_worker")


def configure_cpu_replicas(n):
    """Splits the CPU into n logical devices so MirroredStrategy has n replicas on a CPU-only machine.

    Must run before TensorFlow executes its first op. A no-op when n <= 1 or when the devices
    are already configured that way.
    """
    if not n or n <= 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is not None and len(current) == n:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * n)
    except RuntimeError as error:
        raise RuntimeError(
            f"--cpu_replicas={n} must be set before TensorFlow starts running ops ({error})"
        ) from error


def make_strategy(distribution="default"):
    """The strategy for --distribution. Mirrored strategies are made once per process: a second
    MirroredStrategy over the same devices would reuse collective keys whose shapes the first fixed."""
    if distribution == "default":
        return tf.distribute.get_strategy()
    if distribution == "mirrored":
        return _mirrored_strategy()
    if distribution == "multi_worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("--distribution=multi_worker needs the TF_CONFIG environment variable")
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        logging.info("multi-worker: task %s of %d workers", task_info(), strategy.num_replicas_in_sync)
        return strategy
    raise ValueError(f"--distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r}")


@functools.cache
def _mirrored_strategy():
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def task_info():
    """(task type, index) from TF_CONFIG, or ('chief', 0) without one."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    return task.get("type", "chief"), int(task.get("index", 0))


def is_chief(strategy):
    """The worker that writes checkpoints, logs and exports (worker 0 when there is no chief)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    resolver = strategy.cluster_resolver
    task_type, task_id = resolver.task_type, resolver.task_id
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "chief" or (not has_chief and task_type == "worker" and task_id == 0)


def replica_strategy(cpu_replicas=0):
    """MirroredStrategy over the GPUs, or over `cpu_replicas` logical CPUs (configured here, so
    call it before TensorFlow runs its first op); None when there is only one device."""
    configure_cpu_replicas(cpu_replicas)
    if len(tf.config.list_logical_devices("GPU")) > 1 or (cpu_replicas or 0) > 1:
        return make_strategy("mirrored")
    return None
