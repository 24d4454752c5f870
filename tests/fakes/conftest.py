"""Nothing under tests/fakes is a test: these are stand-ins that tests load on purpose.

`tests/fakes/cupy_emulation` is a fake `cupy` that must only ever be imported by a child process
that puts it on PYTHONPATH (see tests/kernels/test_gpu_emulated.py), so pytest collects nothing here.
"""

collect_ignore_glob = ["*"]
