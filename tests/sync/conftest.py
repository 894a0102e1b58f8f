import pytest
from _simsession import simulate


@pytest.fixture(scope="session")
def sim_session():
    """The default simulated session (60 s, 4 digits, host-driven every 12 DATA frames of 10 samples)."""
    return simulate()


@pytest.fixture(scope="session")
def sim_reads(sim_session):
    """The seven-segment reader's output on the default session's video (calibrated on that video)."""
    from perifacial.host.sync import SevenSegmentReader

    return SevenSegmentReader(4, sim_session.roi).calibrate(sim_session.frames).read_frames(sim_session.frames)
