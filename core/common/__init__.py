"""The shared base: file safety, the data folder, devices, data-parallel ranks, config command lines, events."""
