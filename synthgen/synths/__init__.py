"""Synth backends behind one interface: the built-in Faust synth and VST2/VST3 plugins.

Only this package imports DawDreamer; :mod:`synthgen.synths.loading` builds a synth from a config.
"""

__all__ = ["ParameterInfo", "Synth"]

from synthgen.synths.base import ParameterInfo, Synth
