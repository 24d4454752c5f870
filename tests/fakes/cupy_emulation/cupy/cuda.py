"""`cupy.cuda` for the emulation: the host is device 0, and all work is done when a call returns."""

from __future__ import annotations

# Blocks per launch follow the multiprocessor count (kernels/gpu/_runtime.py: grid_for). One keeps
# emulated grids small, since every block is BLOCK host threads, while launches over the larger
# test inputs still span several blocks and take several turns of their grid-stride loops.
_MULTIPROCESSORS = 1


class runtime:  # noqa: N801 - the name CuPy gives the module
    """The CUDA runtime calls raylane makes."""

    @staticmethod
    def getDeviceCount() -> int:  # noqa: N802 - CuPy's name
        return 1


class Device:
    """Device 0; a context manager like CuPy's, with the attributes raylane reads."""

    def __init__(self, device: int | None = None) -> None:
        self.id = 0 if device is None else int(device)
        if self.id != 0:
            raise ValueError(f"the CuPy emulation has one device, 0; got device {self.id}")
        self.attributes = {"MultiProcessorCount": _MULTIPROCESSORS}

    def __enter__(self) -> Device:
        return self

    def __exit__(self, *exc_info) -> None:
        return None


class Event:
    """A point in a stream; every launch is synchronous here, so it has always been reached."""

    def synchronize(self) -> None:
        return None


class Stream:
    def record(self, event: Event | None = None) -> Event:
        return event if event is not None else Event()


def get_current_stream() -> Stream:
    return Stream()
