from eatnas.space import block  # noqa: F401
from eatnas.space import nb201  # noqa: F401
from eatnas.space import cell  # noqa: F401
from eatnas.space import quant  # noqa: F401
