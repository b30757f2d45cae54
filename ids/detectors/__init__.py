"""One module per detector; each holds a small class deriving from :class:`Detector`."""
