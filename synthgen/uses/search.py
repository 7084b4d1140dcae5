"""Search with the synth in the loop: start from the model's answer, samples of its posterior and the
nearest training sounds, try every other class of each categorical parameter of the best, then refine
it with CMA-ES over unit parameters, rendering every try.

References:
    Hansen, "The CMA evolution strategy: a tutorial" (arXiv:1604.00772), through the ``cma`` package.
    Ros & Hansen, "A simple modification in CMA-ES achieving linear time and space complexity"
    (PPSN 2008): the diagonal (separable) variant used here.
"""

__all__ = [
    "MAX_BUDGET",
    "SearchResult",
    "SpectralDistance",
    "posterior_samples",
    "search_preset",
    "start_candidates",
]

import sys
import time
import warnings
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np
from threadpoolctl import threadpool_limits

from synthgen.config import FeatureSettings, Note, SynthConfig
from synthgen.errors import SynthgenError
from synthgen.features import mel_from_power, stft_magnitude
from synthgen.model import LoadedModel
from synthgen.progress import progress_bar
from synthgen.synths.base import Synth
from synthgen.synths.rendering import render_unit, split_among, usable_cpus
from synthgen.uses.index import SoundIndex
from synthgen.uses.level import apply_gain_db, db_to_gain, gain_to_db
from synthgen.uses.metrics import level_gain_db

#: more renders than this for one sound is a typo rather than a search (minutes of rendering)
MAX_BUDGET = 100_000
#: nearest training sounds tried as starting points
N_NEAREST = 16
#: samples of the model's posterior tried as starting points
N_POSTERIOR = 4
#: spread of posterior samples around the encoder's mean latent (the prior's std is 1)
POSTERIOR_SCALE = 0.5
#: spread (unit space) of the samples around the answer of a model without a latent space
ANSWER_SPREAD = 0.1
#: CMA-ES population (renders per generation) and initial step (unit space): with renders that are
#: the same each time, more and smaller generations matched closer than 12 at 0.08
CMA_POPSIZE = 8
CMA_SIGMA = 0.05
#: adapt only the variance of each parameter (separable CMA-ES): a few hundred renders are too few to
#: learn a full covariance of 25-40 parameters; it matched sounds closer on every set it was tuned on
CMA_DIAGONAL = True
#: weight of the log-mel MSE next to the mean spectral convergence: at 0.1 it held the search back
#: on spectral convergence; at 0 the search's log-mel MSE grew by half on amsynth's banks
LOG_MEL_WEIGHT = 0.02
#: most synth instances rendering a search's candidates at once, one thread each
MAX_THREADS = 4
#: seconds of the timing's renders (each scored) a timed default budget holds: set so that the shipped configs'
#: budgets come out (330 for the built-in synth, 170 for amsynth on two cores), with which a search takes about
#: 1.5 s (its first candidates render in one large batch, faster than the timing's batches)
TIMED_SEARCH_S = 1.8
#: presets rendered to time a synth for its default budget
TIMED_RENDERS = 48


class SpectralDistance:
    """A multi-resolution spectral distance from renders to one target, with each render's gain fitted.

    ``distance = mean over STFT sizes of SC(g Ŝ, S) + LOG_MEL_WEIGHT * MSE(log-mel(g x̂), log-mel(x))``,
    where SC is spectral convergence on linear magnitudes at the log-mel's STFT size and at a half
    and a quarter of it (hop: half the size), and ``g`` the least-squares gain of each render
    (fitted at the log-mel's STFT), so a render is judged by its timbre, not its level.

    Arguments:
        target: the sound to match, mono ``(n_samples,)``.
        sample_rate: Hz.
        settings: the log-mel settings (the model's).
    """

    def __init__(self, target: np.ndarray, sample_rate: int, settings: FeatureSettings) -> None:
        self.sample_rate = sample_rate
        self.settings = settings
        magnitudes = self._magnitudes(target[None])
        self._target = [m[0] for m in magnitudes]
        self._energies = [float(e[0]) for e in self._energies_of(magnitudes)]
        self._log_mel = np.log(self._mel(magnitudes[-1])[0] + settings.log_offset)

    def _magnitudes(self, audio: np.ndarray) -> list[np.ndarray]:
        """STFT magnitudes, each spectrogram flattened ``(B, T * F)``, at a quarter, a half and the whole of
        the log-mel's STFT size (that one last)."""
        s = self.settings
        spectra = [stft_magnitude(audio, s.n_fft // k, s.n_fft // (2 * k)) for k in (4, 2)]
        spectra.append(stft_magnitude(audio, s.n_fft, s.hop_length, s.n_frames))
        return [m.reshape(len(m), -1) for m in spectra]

    @staticmethod
    def _energies_of(magnitudes: list[np.ndarray]) -> list[np.ndarray]:
        """Each spectrogram's energy ``(B,)`` float64, at each STFT size: the target's and the renders' the same way."""
        return [np.einsum("ij,ij->i", m, m).astype(np.float64) for m in magnitudes]

    def _mel(self, magnitudes: np.ndarray) -> np.ndarray:
        """Mel power ``(B, n_mels, n_frames)`` from flattened magnitudes at the log-mel's STFT size."""
        power = np.square(magnitudes).reshape(len(magnitudes), -1, self.settings.n_fft // 2 + 1)
        return mel_from_power(power, self.sample_rate, self.settings)

    def __call__(self, audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distances ``(B,)`` and fitted gains in dB ``(B,)`` of renders ``(B, n_samples)``; infinite for a
        render that is not finite (a synth that crashed or played NaN)."""
        magnitudes = self._magnitudes(audio)
        # ||S - g Ŝ||² = ||S||² - 2 g <S, Ŝ> + g² ||Ŝ||², from two products per size: no spectrogram-sized temporaries
        dots = [(m @ t).astype(np.float64) for m, t in zip(magnitudes, self._target, strict=True)]
        energies = self._energies_of(magnitudes)
        gain = np.where(energies[-1] > 0, dots[-1] / np.maximum(energies[-1], 1e-30), 1.0)
        gain_db = gain_to_db(gain)
        gain = db_to_gain(gain_db)
        convergence = np.mean(
            [
                np.sqrt(np.maximum(target - 2 * gain * dot + gain**2 * energy, 0.0) / max(target, 1e-30))
                for target, dot, energy in zip(self._energies, dots, energies, strict=True)
            ],
            axis=0,
        )
        mel = np.log(self._mel(magnitudes[-1]) * (gain**2).astype(np.float32)[:, None, None] + self.settings.log_offset)
        mse = ((mel - self._log_mel) ** 2).mean(axis=(1, 2))
        total = convergence + LOG_MEL_WEIGHT * mse
        return np.where(np.isfinite(total), total, np.inf), gain_db


@dataclass
class SearchResult:
    """The preset a search found, and how it got there.

    Arguments:
        unit: the best preset ``(P,)`` in unit space (classes snapped).
        gain_db: its output gain (fitted on the metric's STFT, see :func:`~synthgen.uses.metrics.level_gain_db`).
        audio: its rendering with that gain ``(n_samples,)``.
        note: the note it was rendered at (pitch, velocity, time held).
        distance: its :class:`SpectralDistance` to the target.
        model_distance: the distance of the model's own answer.
        origin: the starting point the best preset came from (``model answer``, ``nearest training
            sound 2``, ``posterior sample 1``), plus `` + class switch`` when switching one categorical
            parameter's class improved it and `` + CMA-ES`` when the local search did.
        n_renders: renders spent.
        seed: the seed of the posterior samples and CMA-ES.
        seconds: wall time of the search, renders included.
        history: the best distance after each batch of renders ``(n_batches,)``.
        failed_renders: renders that came out not finite (the synth crashed or played NaN), skipped.
    """

    unit: np.ndarray
    gain_db: float
    audio: np.ndarray
    note: Note
    distance: float
    model_distance: float
    origin: str
    n_renders: int
    seed: int
    seconds: float
    history: list[float] = field(default_factory=list)
    failed_renders: int = 0


def _import_cma() -> ModuleType:
    """``cma`` without the optional imports it makes at its own import, which CMA-ES does not use.

    It loads ``matplotlib.pyplot`` for its plots (most of a second; a warning when absent) and
    ``scipy.stats`` for its surrogate models (a second; it has its own fallback). Both are hidden
    meanwhile, unless already imported, and its warnings about them silenced.
    """
    hidden = [name for name in ("matplotlib", "matplotlib.pyplot", "scipy.stats") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # its import then fails at once
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import cma
    finally:
        for name in hidden:
            del sys.modules[name]
    return cma


def posterior_samples(model: LoadedModel, mel: np.ndarray, n: int, seed: int = 0, midi_pitch: int | None = None) -> np.ndarray:
    """The model's answer for one log-mel ``(n_mels, n_frames)`` and ``n`` presets from its uncertainty about it.

    Latent models: latents drawn around the encoder's mean (std :data:`POSTERIOR_SCALE`), mapped to
    parameters. Others: Gaussian perturbations of the model's answer (std :data:`ANSWER_SPREAD`).
    ``midi_pitch`` is the note the sound is heard at (a model's pitch input; default: the model's note).

    Returns:
        Unit presets ``(1 + n, P)``: the answer (what ``model.infer`` gives), then the samples.
    """
    rng = np.random.default_rng(seed)
    if not model.has_latent:
        answer = model.infer(mel[None], midi_pitch)
        return np.concatenate([answer, model.config.space.sample_around(np.repeat(answer, n, axis=0), ANSWER_SPREAD, rng)])
    z = model.encode(mel[None], midi_pitch)
    noise = POSTERIOR_SCALE * rng.standard_normal((n, z.shape[1])).astype(np.float32)
    return model.params_from_latent(np.concatenate([z, z + noise]))


def start_candidates(
    model: LoadedModel, mel: np.ndarray, index: SoundIndex | None, seed: int = 0, midi_pitch: int | None = None
) -> tuple[np.ndarray, list[str]]:
    """Starting points of a search: the model's answer, the nearest training sounds, posterior samples.

    ``midi_pitch`` is the note the sound is heard at, as in :func:`posterior_samples`.

    Returns:
        Unit presets ``(C, P)`` in that order of priority, and a label for each.
    """
    posterior = posterior_samples(model, mel, N_POSTERIOR, seed, midi_pitch)
    units, labels = [posterior[:1]], ["model answer"]
    if index is not None:
        nearest = index.nearest(mel[None], N_NEAREST)[1][0]
        units.append(nearest)
        labels += [f"nearest training sound {k + 1}" for k in range(len(nearest))]
    units.append(posterior[1:])
    labels += [f"posterior sample {k + 1}" for k in range(N_POSTERIOR)]
    return model.config.space.snap_unit(np.concatenate(units)), labels


def _render_scored(
    synth: Synth, config: SynthConfig, units: np.ndarray, note: Note, distance: SpectralDistance, threads: int
) -> tuple[np.ndarray, np.ndarray]:
    """Renders ``(B, n_samples)`` of ``units`` at ``note`` (its pitch, velocity and time held) and their distances
    ``(B,)``: each synth instance renders and scores its share in a thread of its own, so scoring one share
    overlaps rendering the other. One preset renders on the synth itself."""

    def render_and_score(copy: Synth, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        audio = render_unit(copy, config, units[rows], [(note.midi_pitch, note.velocity)], note_duration_s=note.note_duration_s)
        return audio, distance(audio)[0]

    if len(units) == 1:
        return render_and_score(synth, np.arange(1))
    shares = split_among(synth.copies(min(threads, len(units))), len(units), render_and_score)
    return np.concatenate([audio for audio, _ in shares]), np.concatenate([scores for _, scores in shares])


def _kept_best(state: dict, units: np.ndarray, audio: np.ndarray, scores: np.ndarray) -> bool:
    """Put the best of a batch of renders in ``state`` (``unit``, ``audio``, ``distance``) where it is nearer; whether it was."""
    k = int(np.argmin(scores))
    if scores[k] >= state["distance"]:
        return False
    state.update(unit=units[k], audio=audio[k], distance=float(scores[k]))
    return True


@threadpool_limits.wrap(limits=1, user_api="blas")
def timed_search_budget(synth: Synth, config: SynthConfig, seed: int = 0) -> tuple[int, float]:
    """A ``search_budget`` for ``config``'s synth on this machine: batches of :data:`CMA_POPSIZE` seeded random
    presets are rendered and scored as a search does (:data:`TIMED_RENDERS` of them, after one batch to warm up),
    and the budget is the renders :data:`TIMED_SEARCH_S` holds, in tens, from 40 to 2,000.

    Returns:
        The budget, and the renders (each scored) per second.
    """
    threads = min(usable_cpus(), MAX_THREADS)
    synth.copies(threads)
    note = config.render.note()
    rng = np.random.default_rng(seed)
    unit = config.space.sample(TIMED_RENDERS + CMA_POPSIZE, rng)
    noise = rng.standard_normal(Synth.n_samples(note, config.render.sample_rate)).astype(np.float32)  # scoring costs the same for any sound
    distance = SpectralDistance(0.1 * noise, config.render.sample_rate, config.features)
    _render_scored(synth, config, unit[:CMA_POPSIZE], note, distance, threads)
    start = time.perf_counter()
    for batch in np.array_split(unit[CMA_POPSIZE:], TIMED_RENDERS // CMA_POPSIZE):
        _render_scored(synth, config, batch, note, distance, threads)
    rate = TIMED_RENDERS / (time.perf_counter() - start)
    return int(np.clip(round(TIMED_SEARCH_S * rate, -1), 40, 2000)), rate


# One BLAS thread: BLAS threads spin on after the distance's product, taking the CPUs the renders need.
@threadpool_limits.wrap(limits=1, user_api="blas")
def search_preset(
    model: LoadedModel,
    synth: Synth,
    target: np.ndarray,
    mel: np.ndarray,
    midi_pitch: int | None = None,
    budget: int | None = None,
    index: SoundIndex | None = None,
    seed: int = 0,
    progress: bool = False,
    threads: int | None = None,
    note_duration_s: float | None = None,
) -> SearchResult:
    """Find the preset whose rendering is nearest to ``target``, spending at most ``budget`` renders.

    The starting points (:func:`start_candidates`, cut to the budget) are rendered and scored. Then,
    budget allowing, every other class of each categorical parameter of the best (a waveform, a filter
    type: switches CMA-ES's small steps on a relaxed class rarely make) replaces it where better. The
    best is refined by separable CMA-ES (population :data:`CMA_POPSIZE`, step :data:`CMA_SIGMA`) over the
    unit parameters, discrete and categorical ones relaxed to ``[0, 1]`` and snapped when rendered.
    The best render seen is returned, so the result is never worse than the best starting point.
    With ``budget`` 0 the model's answer is returned as it is (rendered once).

    Arguments:
        model: the model (its synth config, answer and posterior).
        synth: the model's synth.
        target: the sound to match, mono ``(n_samples,)`` at the model's rate and length.
        mel: its log-mel ``(n_mels, n_frames)``.
        midi_pitch: the note to render at (default: the model's).
        budget: renders allowed (default: the synth config's ``search_budget``).
        index: the model's training sounds, for nearest-neighbour starting points.
        seed: seeds the posterior samples and CMA-ES.
        progress: show a progress bar with the distance reached.
        threads: synth instances rendering each batch of candidates at once (default: one per CPU,
            at most :data:`MAX_THREADS`).
        note_duration_s: how long the key is held (default: the model's note length).
    """
    start = time.perf_counter()
    threads = min(usable_cpus(), MAX_THREADS) if threads is None else threads
    config = model.config
    budget = config.search_budget if budget is None else budget
    if budget > 0:
        synth.copies(threads)  # instances that take a while to make (a plugin's processes) get going
    note = config.render.note(midi_pitch, note_duration_s=note_duration_s)
    distance = SpectralDistance(target, config.render.sample_rate, config.features)
    if budget > 0:
        units, labels = start_candidates(model, mel, index, seed, note.midi_pitch)
        units, labels = units[:budget], labels[:budget]
    else:
        units, labels = model.infer(mel[None], note.midi_pitch), ["model answer"]
    audio, scores = _render_scored(synth, config, units, note, distance, threads)
    best, model_distance = int(np.argmin(scores)), float(scores[0])
    state = {"unit": units[best], "audio": audio[best], "distance": float(scores[best])}
    history, n_renders, failed = [state["distance"]], len(units), int(np.isinf(scores).sum())
    origin = labels[best]
    switches = config.space.class_alternatives(state["unit"])
    if len(switches) and budget - n_renders >= len(switches) + CMA_POPSIZE:
        audio, scores = _render_scored(synth, config, switches, note, distance, threads)
        n_renders, failed = n_renders + len(switches), failed + int(np.isinf(scores).sum())
        if _kept_best(state, switches, audio, scores):
            origin += " + class switch"
        history.append(state["distance"])
    bar = progress_bar(total=max(budget, 1), initial=n_renders, desc="search", unit="render", disable=not progress)
    bar.set_postfix(distance=f"{state['distance']:.3f}")
    if budget - n_renders >= CMA_POPSIZE:
        refined = origin
        cma = _import_cma()
        options = {"popsize": CMA_POPSIZE, "bounds": [0.0, 1.0], "seed": seed + 1, "verbose": -9, "CMA_diagonal": CMA_DIAGONAL}
        strategy = cma.CMAEvolutionStrategy(np.clip(state["unit"], 0.0, 1.0).astype(np.float64), CMA_SIGMA, options)
        while budget - n_renders >= CMA_POPSIZE:
            tries = strategy.ask()
            # render (and keep) exactly the snapped presets a user gets back
            units = config.space.snap_unit(np.asarray(tries))
            audio, scores = _render_scored(synth, config, units, note, distance, threads)
            strategy.tell(tries, scores.tolist())
            n_renders += len(tries)
            failed += int(np.isinf(scores).sum())
            if _kept_best(state, units, audio, scores):
                origin = refined + " + CMA-ES"
            history.append(state["distance"])
            bar.update(len(tries))
            bar.set_postfix(distance=f"{state['distance']:.3f}")
    bar.close()
    if np.isinf(state["distance"]):
        raise SynthgenError(f"every one of the {n_renders} presets tried crashed the synth or played NaN: nothing to return")
    gain_db = float(level_gain_db(target[None], state["audio"][None])[0])
    return SearchResult(
        unit=np.asarray(state["unit"], dtype=np.float32),
        gain_db=gain_db,
        audio=apply_gain_db(state["audio"][None], gain_db)[0],
        note=note,
        distance=state["distance"],
        model_distance=model_distance,
        origin=origin,
        n_renders=n_renders,
        seed=seed,
        seconds=time.perf_counter() - start,
        history=history,
        failed_renders=failed,
    )
