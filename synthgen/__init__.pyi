from .config import Note as Note
from .config import SynthConfig as SynthConfig
from .config import load_config as load_config
from .dataset import open_dataset as open_dataset
from .dataset import render_dataset as render_dataset
from .errors import SynthgenError as SynthgenError
from .model import LoadedModel as LoadedModel
from .model import load_model as load_model
from .params import ParameterSpace as ParameterSpace
from .synths.loading import load_synth as load_synth
from .train import TrainSettings as TrainSettings
from .train import train_model as train_model
from .uses.evaluate import evaluate as evaluate
from .uses.phrase import resynthesize_phrase as resynthesize_phrase
from .uses.play import play_preset as play_preset
from .uses.resynth import resynthesize as resynthesize

__all__ = [
    "LoadedModel",
    "Note",
    "ParameterSpace",
    "SynthConfig",
    "SynthgenError",
    "TrainSettings",
    "evaluate",
    "load_config",
    "load_model",
    "load_synth",
    "open_dataset",
    "play_preset",
    "render_dataset",
    "resynthesize",
    "resynthesize_phrase",
    "train_model",
]
