"""One split of a run's dataset, read as the run's configuration says."""

from __future__ import annotations

from .. import config, registry
from ..errors import AnnError


def load_split(rc, split: str):
    """One split of the run's dataset; text datasets are cut into windows of the model's context
    and tokenized as the run asks. A loader whose info lists ``model_keys`` gets each of those
    model settings as a keyword (None where the run's model has no such key), and one whose info
    names a ``tokenizer_kind`` gets ``tokenizer`` (``data.tokenizer``, None when unset)."""
    entry = registry.dataset_entry(rc.data.name)
    options = {k: getattr(rc.data, k) for k in entry.option_names}
    if entry.info.get("task") != "lm":
        # a saved tokenizer (data.tokenizer=FILE.json) reaches the sentence datasets that say
        # they read one; any other ignores data.tokenizer's kinds but cannot take a file
        if rc.data.tokenizer.endswith(".json"):
            if not entry.info.get("reads_tokenizer"):
                takers = [n for n in registry.list_datasets()
                          if registry.dataset_entry(n).info.get("task") == "lm"
                          or registry.dataset_entry(n).info.get("reads_tokenizer")]
                raise AnnError(f"dataset {rc.data.name!r} reads text with its own tokenizer, not "
                               f"data.tokenizer={rc.data.tokenizer} (a checkpoint's, from "
                               f"train.init_from); datasets that take one: {', '.join(takers)}")
            options["tokenizer"] = rc.data.tokenizer
        if "max_len" in entry.info and config.value(rc.model, "max_len") is not None:
            # sentences, padded to the model's length (BERT)
            return registry.load_dataset(rc.data.name, split, max_len=rc.model.max_len, **options)
        # the model's settings a loader asks for by name (None where the model has no such key),
        # and data.tokenizer for one that tokenizes as asked (its info names a tokenizer_kind)
        asks = {k: config.value(rc.model, k) for k in entry.info.get("model_keys", ())}
        if "tokenizer_kind" in entry.info:
            asks["tokenizer"] = rc.data.tokenizer or None
        return registry.load_dataset(rc.data.name, split, **asks, **options)
    block = config.value(rc.model, "block_size")
    if block is None:
        raise AnnError(f"model {rc.model_name!r} does not read text; dataset {rc.data.name!r} needs "
                       "a language model such as gpt")
    return registry.load_dataset(rc.data.name, split, block_size=block,
                                 tokenizer=rc.data.tokenizer or None, **options)
