"""Invert4TVG: GRPO fine-tuning of Qwen2.5-VL for temporal video grounding, with inversion tasks.

`Invert4TVGTrainer` is TRL's `GRPOTrainer` with video. TRL 1.16 carries images through a multimodal processor
but ignores videos (a `<|video_pad|>` prompt trains with no video features), so this subclass

* turns each dataset row (a grounding row: `query`, `duration`, `windows`, `video`) into the prompt of the
  task drawn for it (`Invert4TVGTaskSampler`: TVG with probability p, else verb completion, action recognition
  or video description), cropping the video to the ground-truth window for the inversion tasks;
* samples the clip's frames with `Qwen2_5_VLVideoProcessor` (PyAV, 2 fps, ~2.8 M pixels per video) and keeps
  each row's `pixel_values_videos` / `video_grid_thw` / `second_per_grid_ts` beside it, through generation,
  the old/reference log-probabilities and the loss (one list entry per row, so TRL's shuffling and splitting
  of the generation batch keep them aligned);
* expands the video placeholder to the right number of tokens and rebuilds `mm_token_type_ids` for every
  forward pass, checking that the video tokens equal the vision tower's features;
* scores each task with its own rewards (`momentzoo.rewards.MIXED_REWARD_FUNCS` with a `task` column: TVG gets
  `r_format + r_IoU`, an inversion task `r_format + r_task`) and logs each task's mean reward.

It overrides private `GRPOTrainer` methods (`_tokenize_prompts`, `_generate_and_score_completions`,
`_get_per_token_logps_and_entropies`, `_calculate_rewards`), hence the `trl>=1.16,<1.17` pin in setup.cfg.

Runs on CPU with `use_cpu=True, bf16=False, fp16=False, use_vllm=False`. With `beta > 0` TRL reloads the
reference model from `config._name_or_path`; for a model passed as an instance (its in-memory weights may
differ from any checkpoint, e.g. after an SFT warm start) the policy is saved to a temporary folder first and
the reference is loaded from there, so the reference is exactly the starting policy.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections import defaultdict

import torch
from accelerate.utils import gather_object
from transformers import AutoModelForImageTextToText, AutoTokenizer, PreTrainedTokenizerBase, ProcessorMixin
from trl import GRPOTrainer

from ...data.qwen2_5_vl_video import Qwen2_5_VLVideoChatProcessor, Qwen2_5_VLVideoProcessor
from ...rewards import MIXED_REWARD_FUNCS, TASKS, default_lemmatizer
from .config import Invert4TVGConfig
from .inference import check_video_llm, load_clip_video_inputs, vision_token_ids
from .tasks import Invert4TVGTaskSampler, build_task_rows

__all__ = ["Invert4TVGTrainer"]

logger = logging.getLogger(__name__)

_RESERVED_COLUMNS = ("prompt", "task")


def _completion_text(completion) -> str:
    """A completion's text: TRL gives a string, or chat messages `[{"role": "assistant", "content": ...}]`."""
    return completion if isinstance(completion, str) else "".join(str(m.get("content", "")) for m in completion)


class Invert4TVGTrainer(GRPOTrainer):
    """GRPO on Qwen2.5-VL with videos and Invert4TVG's task mixing (see the module doc).

    Args:
        model: a `Qwen2_5_VLForConditionalGeneration` (or Qwen2-VL) instance, or a hub id / local path.
        args: an `Invert4TVGConfig`.
        train_dataset, eval_dataset: grounding rows with `query`, `duration` (s), `windows` (s), `video` (a path,
            `{"bytes", "path"}` or bytes) and ideally `qid`. The trainer writes the `prompt` and `task` columns.
        processing_class: the tokenizer (or a processor, whose tokenizer is used); loaded from the model's path
            when omitted.
        video_processor: a `Qwen2_5_VLVideoProcessor`; built from `args` and the model's vision geometry when omitted.
        reward_funcs: defaults to `momentzoo.rewards.MIXED_REWARD_FUNCS` (task-aware; each returns `None` on
            other tasks' rows).
        lemmatizer: the `VerbLemmatizer` that picks the verb of inversion prompts (default: `default_lemmatizer()`).
        callbacks, optimizers, peft_config: as `GRPOTrainer`.
    """

    _tag_names = ["trl", "grpo", "momentzoo", "invert4tvg", "temporal-video-grounding"]

    def __init__(
        self,
        model,
        args: Invert4TVGConfig | None = None,
        train_dataset=None,
        eval_dataset=None,
        processing_class: PreTrainedTokenizerBase | ProcessorMixin | None = None,
        video_processor: Qwen2_5_VLVideoProcessor | None = None,
        reward_funcs=None,
        lemmatizer=None,
        callbacks=None,
        optimizers=(None, None),
        peft_config=None,
    ):
        if args is None:
            args = Invert4TVGConfig(output_dir="invert4tvg")
        if not isinstance(args, Invert4TVGConfig):
            raise ValueError(f"args must be an Invert4TVGConfig, got {type(args).__name__}")
        if isinstance(model, str):
            init_kwargs = dict(args.model_init_kwargs or {})
            if isinstance(init_kwargs.get("dtype"), str) and init_kwargs["dtype"] != "auto":
                init_kwargs["dtype"] = getattr(torch, init_kwargs["dtype"])
            model = AutoModelForImageTextToText.from_pretrained(model, **init_kwargs)
            args.model_init_kwargs = None  # consumed here; TRL warns about them for instantiated models
        config = model.config
        check_video_llm(config, "Invert4TVGTrainer")
        if processing_class is None:
            processing_class = AutoTokenizer.from_pretrained(config._name_or_path)
        tokenizer = processing_class.tokenizer if isinstance(processing_class, ProcessorMixin) else processing_class
        if video_processor is None:
            video_processor = Qwen2_5_VLVideoProcessor.from_model_config(config, **args.video_processor_kwargs())
        self.video_processor = video_processor
        self.video_chat = Qwen2_5_VLVideoChatProcessor(tokenizer, video_processor)
        if self.video_chat.video_token_id != config.video_token_id:
            raise ValueError(
                f"the tokenizer's <|video_pad|> id ({self.video_chat.video_token_id}) differs from the model's "
                f"video_token_id ({config.video_token_id}): they do not belong together"
            )
        for name, dataset in (("train_dataset", train_dataset), ("eval_dataset", eval_dataset)):
            columns = getattr(dataset, "column_names", None) or []
            clash = [c for c in _RESERVED_COLUMNS if c in columns]
            if clash:
                raise ValueError(
                    f"{name} has column(s) {clash}, which Invert4TVGTrainer writes itself; rename or remove them"
                )
        generation_kwargs = dict(args.generation_kwargs or {})
        suppress = set(generation_kwargs.get("suppress_tokens", []) or []) | set(vision_token_ids(config))
        generation_kwargs["suppress_tokens"] = sorted(suppress)
        args.generation_kwargs = generation_kwargs

        reference_dir, original_name = None, config._name_or_path
        if args.beta != 0.0 and peft_config is None and not hasattr(model, "peft_config"):
            # TRL reloads the reference from config._name_or_path: point it at a copy of the starting policy.
            reference_dir = tempfile.TemporaryDirectory(prefix="invert4tvg-reference-")
            model.save_pretrained(reference_dir.name)
            config._name_or_path = reference_dir.name
        try:
            super().__init__(
                model=model,
                reward_funcs=list(reward_funcs) if reward_funcs is not None else list(MIXED_REWARD_FUNCS),
                args=args,
                train_dataset=train_dataset,
                eval_dataset=eval_dataset,
                processing_class=tokenizer,
                callbacks=callbacks,
                optimizers=optimizers,
                peft_config=peft_config,
            )
        finally:
            if reference_dir is not None:
                config._name_or_path = original_name
                reference_dir.cleanup()
        self.task_sampler = Invert4TVGTaskSampler(
            args.tvg_probability, args.inversion_tasks, args.task_mixing, args.seed
        )
        self.lemmatizer = lemmatizer if lemmatizer is not None else default_lemmatizer()
        self._generation_round = 0
        self._active_videos: list[dict] | None = None
        self._inversion_fallbacks = 0

    # -- prompts and videos -------------------------------------------------------------------------------
    def _draw_tasks(self, rows: list[dict], mode: str) -> list[str]:
        if mode != "train":
            return [self.args.eval_task] * len(rows)
        keys = [str(row.get("qid") or f"{row.get('video_id')}|{row.get('query')}") for row in rows]
        tasks = self.task_sampler.sample(self._generation_round, keys)
        self._generation_round += 1
        return tasks

    def build_task_rows(self, rows: list[dict], tasks: list[str]) -> list[dict]:
        """`tasks.build_task_rows` with this trainer's lemmatizer, system prompt and prompt options."""
        rows, fallbacks = build_task_rows(
            rows, tasks, self.lemmatizer, self.args.system_prompt, self.args.vc_mask, self.args.tvg_prompt_with_duration
        )
        self._inversion_fallbacks += fallbacks
        return rows

    def _load_videos(self, rows: list[dict]) -> list[dict]:
        """Per row, the video tensors of its clip (decoded once per distinct clip: a GRPO group shares one)."""
        return load_clip_video_inputs(self.video_processor, rows, self.accelerator.device, self.args.video_root)

    # -- TRL hooks ----------------------------------------------------------------------------------------
    def _tokenize_prompts(self, prompts: list):
        videos = self._active_videos
        if videos is None:
            return super()._tokenize_prompts(prompts)
        if len(videos) != len(prompts):
            raise RuntimeError(f"{len(prompts)} prompts but {len(videos)} videos in the generation batch")
        prompt_ids, token_types = [], []
        for prompt, video in zip(prompts, videos):
            text = self.video_chat.apply_chat_template(prompt) if isinstance(prompt, list) else prompt
            ids, types = self.video_chat.encode(text, video)
            prompt_ids.append(ids)
            token_types.append(types)
        fields = {key: torch.cat([v[key] for v in videos]) for key in self.video_processor.model_input_names}
        fields["mm_token_type_ids"] = token_types  # per-token: TRL left-pads it like the prompt ids
        return prompt_ids, None, fields

    def _generate_and_score_completions(self, inputs):
        mode = "train" if self.model.training else "eval"
        rows = self.build_task_rows(inputs, self._draw_tasks(inputs, mode))
        videos = self._load_videos(rows)
        self._active_videos = videos
        try:
            output = super()._generate_and_score_completions(rows)
        finally:
            self._active_videos = None
        output["video_inputs"] = videos  # a list: TRL's shuffle/split of the generation batch keep it row-aligned
        counts = defaultdict(int)
        for row in rows:
            counts[row["task"]] += 1
        for task in TASKS:
            self._metrics[mode][f"tasks/{task}/fraction"].append(counts[task] / len(rows))
        if mode == "train":
            self._metrics[mode]["inversion/fallback_to_tvg"].append(float(self._inversion_fallbacks))
        return output

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        self._active_videos = inputs.get("video_inputs")
        try:
            return super().compute_loss(
                model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch
            )
        finally:
            self._active_videos = None

    def _video_forward_inputs(self, input_ids: torch.Tensor, videos: list[dict], logits_to_keep: int) -> dict:
        token_types = (input_ids == self.video_chat.video_token_id).long() * 2
        token_types[:, input_ids.size(1) - logits_to_keep :] = (
            0  # completions hold no video (those tokens are suppressed)
        )
        fields = {key: torch.cat([v[key] for v in videos]) for key in self.video_processor.model_input_names}
        tokens = int((token_types == 2).sum())
        features = sum(self.video_processor.num_video_tokens(fields["video_grid_thw"]))
        if tokens != features:
            raise RuntimeError(f"the batch has {tokens} video tokens but its videos give {features} features")
        fields["mm_token_type_ids"] = token_types
        return fields

    def _get_per_token_logps_and_entropies(
        self,
        model,
        input_ids,
        attention_mask,
        logits_to_keep,
        batch_size=None,
        compute_entropy=False,
        compute_aux_loss=False,
        **multimodal,
    ):
        videos = self._active_videos
        if videos is None:
            return super()._get_per_token_logps_and_entropies(
                model,
                input_ids,
                attention_mask,
                logits_to_keep,
                batch_size=batch_size,
                compute_entropy=compute_entropy,
                compute_aux_loss=compute_aux_loss,
                **multimodal,
            )
        if len(videos) != input_ids.size(0):
            raise RuntimeError(f"{input_ids.size(0)} sequences but {len(videos)} videos")
        batch_size = batch_size or input_ids.size(0)
        all_logps, all_entropies, all_aux = [], [], []
        for start in range(0, input_ids.size(0), batch_size):
            end = min(start + batch_size, input_ids.size(0))
            ids, mask = input_ids[start:end], attention_mask[start:end]
            model_inputs = {
                "input_ids": ids,
                "attention_mask": mask,
                **self._video_forward_inputs(ids, videos[start:end], logits_to_keep),
            }
            if compute_aux_loss:
                model_inputs["output_router_logits"] = True
            # Only the completion tokens are scored.
            labels = ids.masked_fill(mask == 0, -100)
            labels[:, :-logits_to_keep] = -100
            with self.accelerator.autocast():
                outputs = model(**model_inputs, labels=labels, fused_lm_head=True)
            all_logps.append(outputs.log_probs[:, -logits_to_keep:])
            if compute_entropy:
                all_entropies.append(outputs.entropy[:, -logits_to_keep:])
            if compute_aux_loss:
                all_aux.append(outputs.aux_loss)
        logps = torch.cat(all_logps, dim=0)
        entropies = torch.cat(all_entropies, dim=0) if compute_entropy else None
        aux_loss = torch.stack(all_aux).mean() if compute_aux_loss else None
        return logps, entropies, aux_loss

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        mode = "train" if self.model.training else "eval"
        tasks = gather_object([row["task"] for row in inputs])
        weights = self.reward_weights.to(rewards_per_func.device)
        totals = (rewards_per_func * weights).nansum(dim=1)
        scored = ~torch.isnan(rewards_per_func).all(dim=1)
        for task in TASKS:
            selected = torch.tensor([t == task for t in tasks], device=totals.device) & scored
            if selected.any():
                self._metrics[mode][f"rewards/task_{task}/mean"].append(totals[selected].mean().item())
        if mode == "eval":
            self._record_grounding_recall(inputs, completions)
        return rewards_per_func

    def _record_grounding_recall(self, inputs, completions) -> None:
        """R1@m and mIoU of the evaluation's grounding answers (the `grounding_recall` metric), kept so that
        `Trainer.evaluate` reports them as `eval_R1@0.5`, `eval_mIoU`, ... (usable as `metric_for_best_model`).
        Each answer is one entry, so the logged mean over all evaluation batches is the metric over all answers."""
        from ...metrics.grounding_recall.grounding_recall import compute_grounding_recall

        picked = [
            (_completion_text(c), [list(w) for w in row["windows"]])
            for row, c in zip(inputs, completions)
            if row["task"] == "tvg" and row.get("windows")
        ]
        picked = gather_object(picked)
        for answer, windows in picked:
            for name, value in compute_grounding_recall([answer], [windows], ranks=[1]).items():
                self._metrics["eval"][name].append(value)

    # -- saving -------------------------------------------------------------------------------------------
    def _save(self, output_dir: str | None = None, state_dict=None):
        super()._save(output_dir, state_dict=state_dict)
        self.video_processor.save_pretrained(output_dir if output_dir is not None else self.args.output_dir)

    def create_model_card(self, model_name: str | None = None, dataset_name: str | None = None, tags=None):
        """Write the Invert4TVG card (`momentzoo/model_cards/invert4tvg.md`) as `output_dir/README.md`."""
        if not self.is_world_process_zero():
            return
        from .card import render_invert4tvg_card

        base = self.model.config._name_or_path
        card = render_invert4tvg_card(
            model_id=self.hub_model_id or model_name or os.path.basename(os.path.normpath(self.args.output_dir)),
            base_model=base if base and not os.path.isdir(base) else None,
            datasets=[dataset_name] if dataset_name else None,
            args=self.args,
            tags=[tags] if isinstance(tags, str) else tags,
        )
        card.save(os.path.join(self.args.output_dir, "README.md"))
