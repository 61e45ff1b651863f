"""The shared base: file safety, devices, data-parallel ranks, config command lines, training events."""
