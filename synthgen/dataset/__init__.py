"""Datasets: parallel, resumable rendering of presets into HDF5, and reading them back."""

__all__ = ["DatasetFile", "open_dataset", "render_dataset"]

from synthgen.dataset.reading import DatasetFile, open_dataset
from synthgen.dataset.render import render_dataset
