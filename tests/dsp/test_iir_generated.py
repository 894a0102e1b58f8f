"""The lane-unrolled kernels of ``dsp/_iir.py`` are generated: regenerating them must give the committed file."""

from __future__ import annotations

import pytest

from perifacial.dsp import _generate_iir as gen


def test_iir_kernels_equal_their_generator():
    src = gen.TARGET.read_text()
    assert gen.regenerate(src) == src, "dsp/_iir.py differs from its generator: python -m perifacial.dsp._generate_iir"
    assert gen.main(["--check"]) == 0


def test_generator_notices_a_hand_edit():
    src = gen.TARGET.read_text()
    edited = src.replace("y3 = b00 * x3 + p03", "y3 = b00 * x3 + p02", 1)
    assert edited != src and gen.regenerate(edited) == src


def test_generator_refuses_a_file_without_markers():
    with pytest.raises(ValueError, match="markers"):
        gen.regenerate("no markers here")


def test_every_generated_kernel_is_defined_once():
    src = gen.TARGET.read_text()
    for k in gen.KERNELS:
        assert src.count(f"def {k.name}(") == 1
