"""Training: batches streamed from HDF5, the training loop with warm-ups and resume, checkpoints."""

__all__ = ["TrainSettings", "train_model"]

from synthgen.train.loop import TrainSettings, train_model
