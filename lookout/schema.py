"""The base of Lookout's API models."""

from __future__ import annotations

import warnings

from pydantic import BaseModel, ConfigDict
from pydantic.warnings import UnsupportedFieldAttributeWarning

# FastAPI gives the field of a route's body its parameter's name as an alias, which pydantic
# says has no effect when it builds such a model at first use: it has none either way (FastAPI
# validates the whole body against the field; the OpenAPI document is the same, tested).
warnings.filterwarnings("ignore", "The 'alias' attribute", UnsupportedFieldAttributeWarning)


class Schema(BaseModel):
    """A pydantic model whose validator and serializer are built at its first use.

    A server worker defines over a hundred such models before its first answer, and most
    requests use a few of them: building each at first use instead of at import moves that
    work out of every worker's start (`python -m bench boot`). A model's own `model_config`
    adds to this one.
    """

    model_config = ConfigDict(defer_build=True)
