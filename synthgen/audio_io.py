"""Read any user audio file as the mono signal a model expects, saying what was changed; write WAVs into output folders."""

__all__ = [
    "AUDIO_SUFFIXES",
    "WHOLE_SOUND_S",
    "LoadedAudio",
    "audio_files_in",
    "block_levels_db",
    "clipping_note",
    "fit_length",
    "leading_silence",
    "prepare_folder",
    "prepare_wav_path",
    "read_audio",
    "wav_bytes",
    "write_wav",
]

import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from synthgen.errors import SynthgenError

#: a file quieter than this peak is treated as silent
SILENT_PEAK = 1e-4
#: a file shorter than this gets a warning: there is too little sound to match
SHORT_SOUND_S = 0.1
#: the sound starts at the first block of samples within this of its loudest block
ONSET_BELOW_PEAK_DB = 40.0
#: samples per block of the level envelope that finds where a sound starts (and, for resynth, ends)
LEVEL_BLOCK = 256
#: less silence than this before the sound is left as it is
MIN_LEAD_S = 0.02
#: blocks before the start that rise at least this much (dB) each into it are the sound's attack, kept
ATTACK_RISE_DB = 0.5
#: the most of a file kept whole (after the silence before its sound) besides the requested length
WHOLE_SOUND_S = 30.0
#: file name endings taken for audio where a folder is given
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3")
# libsndfile's note on a chunk whose header promises more bytes than the file holds
_TRUNCATED = re.compile(r"^data\s*:.*should be", re.MULTILINE)


@dataclass
class LoadedAudio:
    """Mono audio at the requested rate and length, and the changes made to get there.

    ``whole`` is the sound before it was trimmed or padded (from its start, at most
    :data:`WHOLE_SOUND_S` seconds): how long a longer sound lasts.
    """

    audio: np.ndarray
    sample_rate: int
    whole: np.ndarray
    changes: list[str] = field(default_factory=list)


def fit_length(audio: np.ndarray, n_samples: int, fade_s: float, sample_rate: int) -> np.ndarray:
    """Trim (with a short fade-out) or zero-pad the last axis to ``n_samples``."""
    if audio.shape[-1] >= n_samples:
        out = audio[..., :n_samples].copy()
        n_fade = min(int(fade_s * sample_rate), n_samples)
        if n_fade:
            out[..., -n_fade:] *= np.linspace(1.0, 0.0, n_fade, dtype=out.dtype)
        return out
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, n_samples - audio.shape[-1])]
    return np.pad(audio, pad)


def block_levels_db(audio: np.ndarray) -> np.ndarray:
    """The mean power of each whole block of :data:`LEVEL_BLOCK` samples of mono ``audio``, in dB below
    the loudest block ``(n_blocks,)``; empty when there is no block or all are silent."""
    n_blocks = len(audio) // LEVEL_BLOCK
    energy = np.square(audio[: n_blocks * LEVEL_BLOCK], dtype=np.float64).reshape(n_blocks, LEVEL_BLOCK).mean(axis=1)
    if n_blocks == 0 or energy.max() <= 0:
        return np.empty(0)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(energy / energy.max())


def leading_silence(audio: np.ndarray, sample_rate: int) -> int:
    """Samples of silence before mono ``audio`` ``(n_samples,)`` starts (0 for under :data:`MIN_LEAD_S`).

    The sound starts at the first block of :data:`LEVEL_BLOCK` samples within :data:`ONSET_BELOW_PEAK_DB`
    of the loudest, or earlier where the blocks before it rise into it by :data:`ATTACK_RISE_DB` or
    more each (a slow attack, kept whole); digital silence and a steady noise floor do not rise.
    """
    levels = block_levels_db(audio)
    if not levels.size:
        return 0
    start = int(np.argmax(levels > -ONSET_BELOW_PEAK_DB))
    while start > 0 and np.isfinite(levels[start - 1]) and levels[start - 1] < levels[start] - ATTACK_RISE_DB:
        start -= 1
    lead = start * LEVEL_BLOCK
    return lead if lead >= MIN_LEAD_S * sample_rate else 0


def audio_files_in(folder: str | Path) -> list[Path]:
    """The audio files directly in ``folder`` (by :data:`AUDIO_SUFFIXES`), sorted by name.

    Raises:
        SynthgenError: the folder holds none.
    """
    files = sorted(p for p in Path(folder).iterdir() if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise SynthgenError(f"{folder} holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
    return files


def read_audio(path: str | Path, sample_rate: int, duration_s: float | None, fade_s: float = 0.1) -> LoadedAudio:
    """Read a WAV/FLAC/OGG/AIFF/MP3 file: mix to mono, resample, cut the silence before the sound (a synth's note
    starts at once), trim or pad to ``duration_s`` (``None``: as long as it is, at most :data:`WHOLE_SOUND_S`).

    Raises:
        SynthgenError: missing file, not audio, empty or silent.
    """
    path = Path(path)
    if path.is_dir():
        raise SynthgenError(f"{path} is a folder, not an audio file")
    if not path.is_file():
        raise SynthgenError(f"audio file not found: {path}")
    try:
        audio, file_rate = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        raise SynthgenError(f"{path} is not an audio file soundfile can read (WAV, FLAC, OGG, AIFF, MP3)") from None
    if len(audio) == 0:
        raise SynthgenError(f"{path} holds no audio samples")
    changes = []
    held_s = len(audio) / file_rate
    if _TRUNCATED.search(sf.info(path).extra_info):
        changes.append(f"warning: {path.name} is truncated (its header promises more audio than it holds); using the {held_s:.2f} s there")
    if held_s < SHORT_SOUND_S:
        changes.append(f"warning: {path.name} holds only {len(audio)} samples ({held_s:.3f} s): too short to say much about its sound")
    if audio.shape[1] > 1:
        changes.append(f"mixed {audio.shape[1]} channels to mono")
    mono = audio.mean(axis=1)
    if not np.isfinite(mono).all():
        raise SynthgenError(f"{path} holds invalid (NaN or infinite) samples")
    peak = float(np.abs(mono).max())
    if peak < SILENT_PEAK:
        raise SynthgenError(f"{path} is silent (peak below -80 dBFS); give a recording with sound in it")
    if peak > 1.0:
        # float files may go past full scale; far past it, spectrogram powers overflow
        mono = mono / peak
        changes.append(f"scaled down to full scale (its peak was {peak:.3g})")
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ")  # librosa.resample's default
        changes.append(f"resampled {file_rate} Hz to {sample_rate} Hz")
    if lead := leading_silence(mono, sample_rate):
        mono = mono[lead:]
        changes.append(f"cut {lead / sample_rate:.2f} s of silence before the sound starts")
    n_samples = round((WHOLE_SOUND_S if duration_s is None else duration_s) * sample_rate)
    if duration_s is None:
        n_samples = min(n_samples, len(mono))
        duration_s = n_samples / sample_rate
    if len(mono) != n_samples:
        verb = "trimmed" if len(mono) > n_samples else "padded"
        changes.append(f"{verb} {len(mono) / sample_rate:.2f} s to {duration_s:.2f} s")
    whole = mono[: round(WHOLE_SOUND_S * sample_rate)].astype(np.float32)
    return LoadedAudio(fit_length(mono, n_samples, fade_s, sample_rate).astype(np.float32), sample_rate, whole, changes)


def _peak(audio: np.ndarray) -> float:
    return float(np.abs(audio).max()) if np.size(audio) else 0.0


def _unclipped(audio: np.ndarray) -> np.ndarray:
    """Mono float audio scaled down only if it would clip."""
    audio = np.asarray(audio, dtype=np.float32)
    peak = _peak(audio)
    return audio / peak if peak > 1.0 else audio


def clipping_note(audio: np.ndarray) -> str | None:
    """One line saying how much :func:`write_wav` scales ``audio`` down so it does not clip, if it must."""
    peak = _peak(audio)
    if peak <= 1.0:
        return None
    over_db = 20 * np.log10(peak)
    return f"at the input's level the sound peaks at {over_db:+.1f} dBFS: its WAV is scaled down by that much so it does not clip"


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write mono float audio as a 16-bit WAV, scaled down only if it would clip."""
    sf.write(path, _unclipped(audio), sample_rate, subtype="PCM_16")
    return Path(path)


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Mono float audio as the bytes of a 16-bit WAV file, scaled down only if it would clip."""
    buffer = io.BytesIO()
    sf.write(buffer, _unclipped(audio), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def prepare_wav_path(out: str | Path) -> Path:
    """Check that ``out`` names a WAV file to write (not a folder, ending in .wav) and create its folder."""
    out = Path(out)
    if out.is_dir() or out.suffix.lower() != ".wav":
        raise SynthgenError(f"--out {out} is {'a folder' if out.is_dir() else 'not a .wav file'}: give the path of a .wav file to write")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def prepare_folder(out: str | Path) -> Path:
    """Create an output folder (refusing a path that is a file)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SynthgenError(f"--out {out} is a file; give a folder")
    out.mkdir(parents=True, exist_ok=True)
    return out
