"""Contracts shared by every layer above: atomic file writes and tf.distribute devices."""
