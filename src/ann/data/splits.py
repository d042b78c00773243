"""One split of a run's dataset, read as the run's configuration says."""

from __future__ import annotations

from .. import config, registry
from ..errors import AnnError


def load_split(rc, split: str):
    """One split of the run's dataset; text datasets are cut into windows of the model's context
    and tokenized as the run asks."""
    entry = registry.dataset_entry(rc.data.name)
    options = {k: getattr(rc.data, k) for k in entry.option_names}
    if entry.info.get("task") != "lm":
        if "max_len" in entry.info and config.value(rc.model, "max_len") is not None:
            # sentences, padded to the model's length (BERT), read with a saved tokenizer if named
            given = {"tokenizer": rc.data.tokenizer} if rc.data.tokenizer else {}
            return registry.load_dataset(rc.data.name, split, max_len=rc.model.max_len, **given,
                                         **options)
        return registry.load_dataset(rc.data.name, split, **options)
    block = config.value(rc.model, "block_size")
    if block is None:
        raise AnnError(f"model {rc.model_name!r} does not read text; dataset {rc.data.name!r} needs "
                       "a language model such as gpt")
    return registry.load_dataset(rc.data.name, split, block_size=block,
                                 tokenizer=rc.data.tokenizer or None, **options)
