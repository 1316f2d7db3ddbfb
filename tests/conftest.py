import os

# GUI tests run without a display; set before any Qt import.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The suite's arrays are small: one BLAS thread avoids oversubscription on the 2-core
# CI machine (OpenBLAS spinning threads made small products 10-30x slower there).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
