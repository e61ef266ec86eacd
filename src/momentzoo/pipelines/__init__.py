"""transformers pipelines for momentzoo's tasks, registered with `PIPELINE_REGISTRY` on `import momentzoo`, so
`transformers.pipeline("<task>", model=...)` builds them."""

from transformers import AutoModelForImageTextToText
from transformers.pipelines import PIPELINE_REGISTRY

from ..auto import AutoModelForTemporalGrounding, AutoModelForTemporalLocalization
from .temporal_action_localization import TemporalActionLocalizationPipeline
from .temporal_video_grounding import TemporalVideoGroundingPipeline

__all__ = ["TemporalActionLocalizationPipeline", "TemporalVideoGroundingPipeline"]

PIPELINE_REGISTRY.register_pipeline(
    "temporal-action-localization",
    pipeline_class=TemporalActionLocalizationPipeline,
    pt_model=AutoModelForTemporalLocalization,
    type="multimodal",
)

PIPELINE_REGISTRY.register_pipeline(
    "temporal-video-grounding",
    pipeline_class=TemporalVideoGroundingPipeline,
    pt_model=(AutoModelForImageTextToText, AutoModelForTemporalGrounding),  # Qwen2.5-VL policies, TimeExpert
    type="multimodal",
)
