"""Where the weakly-supervised sets come from: the synthetic set with descriptions, the THUMOS14 weak builder, or any
TAL dataset source `load_tal_dataset` knows (e.g. the folder `momentzoo describe` saved)."""

from ..tal_script import load_tal_dataset

__all__ = ["load_wtal_dataset"]


def load_wtal_dataset(name: str, kwargs: dict | None = None, cache_dir: str | None = None):
    """`"synthetic_wtal"` (`make_synthetic_wtal_dataset(**kwargs)`), `"thumos14_weak"` (`Thumos14WeakBuilder` with
    `kwargs` as its config: `annotation_dir`, `features_file` / `features_dir`), else `load_tal_dataset(name, ...)`."""
    kwargs = dict(kwargs or {})
    if name == "synthetic_wtal":
        from .synthetic import make_synthetic_wtal_dataset

        return make_synthetic_wtal_dataset(**kwargs)
    if name == "thumos14_weak":
        from ...data.builders import Thumos14WeakBuilder

        builder = Thumos14WeakBuilder(cache_dir=cache_dir, **kwargs)
        builder.download_and_prepare()
        return builder.as_dataset()
    return load_tal_dataset(name, kwargs, cache_dir=cache_dir)
