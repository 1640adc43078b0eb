"""gngan: GN-GAN (Tran, Bui, Cheung, AAAI 2019) reimplemented in PyTorch, with its replication book."""

__version__ = "0.1.0"
