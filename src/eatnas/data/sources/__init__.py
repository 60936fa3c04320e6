"""Built-in datasets; importing this package registers them in ``eatnas.data.registry.DATASETS``."""

from eatnas.data.sources import cifar, digits, fashion_mnist, imagefolder  # noqa: F401
