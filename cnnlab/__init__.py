"""cnnlab: a desktop lab for learning how convolutional networks work."""

__version__ = "0.1.0"
