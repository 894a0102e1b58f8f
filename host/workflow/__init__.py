"""The researcher's session end to end (issue 9): MVC calibration, processing, EMG-assisted coding, live monitor.

Modules (each small, importable on its own; the CLI commands ``perifacial mvc|process|coding|monitor`` are thin
wrappers around them):

* :mod:`.mvc_session` -- the seven-movement MVC protocol and the calibration with its channel x movement
  response table (the simulated participant for ``sim://`` is :mod:`perifacial.host.sim.participant`);
* :mod:`.quality` -- per-channel signal quality (noise RMS, mains level, lead-off and gap fractions);
* :mod:`.process` -- recording -> envelopes (gap-aware) -> spotting -> quantification -> CSV/JSON/figures;
* :mod:`.figures` -- the paper figures (Li et al. 2024 [arXiv:2409.00017] Fig. 5 and Fig. 12, the six regions'
  envelopes);
* :mod:`.coding` -- the coder hand-off CSV and agreement with the EMG spotting (Li et al. 2025 [ChinaXiv:202506.00079]);
* :mod:`.monitor` -- the live view's state and update loop.

The simulator's ground truth for a ``sim://`` recording is :mod:`perifacial.host.sim.truth`.
"""
