"""infomin: contrastive self-supervised learning where the views are the object of study."""

__version__ = "0.1.0"
