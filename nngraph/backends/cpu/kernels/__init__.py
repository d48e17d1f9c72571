"""CPU compute kernels (GEMM, convolution) with fused epilogues; see gemm.py / conv.py / epilogue.py."""
