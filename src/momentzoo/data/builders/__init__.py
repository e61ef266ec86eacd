"""Dataset builders: `datasets.GeneratorBasedBuilder` classes called directly
(`builder = Thumos14Builder(annotation_file=..., cache_dir=...); builder.download_and_prepare();
builder.as_dataset()`)."""

from .activitynet import ActivityNetBuilder, ActivityNetConfig
from .base import MomentZooBuilderConfig, TemporalGroundingBuilder, TemporalLocalizationBuilder
from .charades_sta import CharadesSTABuilder, CharadesSTAConfig
from .epic_kitchens import EpicKitchensBuilder, EpicKitchensConfig
from .qvhighlights import QVHighlightsBuilder, QVHighlightsConfig
from .thumos14 import Thumos14Builder, Thumos14Config
from .thumos14_weak import Thumos14WeakBuilder, Thumos14WeakConfig

__all__ = [
    "MomentZooBuilderConfig",
    "TemporalLocalizationBuilder",
    "TemporalGroundingBuilder",
    "Thumos14Builder",
    "Thumos14Config",
    "ActivityNetBuilder",
    "ActivityNetConfig",
    "EpicKitchensBuilder",
    "EpicKitchensConfig",
    "CharadesSTABuilder",
    "CharadesSTAConfig",
    "QVHighlightsBuilder",
    "QVHighlightsConfig",
    "Thumos14WeakBuilder",
    "Thumos14WeakConfig",
]
