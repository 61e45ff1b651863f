"""Shared vision parts: the frozen CNN encoder, its ImageNet head and concepts, image reading, the scene and photo worlds."""
