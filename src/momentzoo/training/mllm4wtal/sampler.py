"""DELU's batches: the first `num_pairs` pairs of every batch share an action class (what the co-activity loss
compares), the rest are random videos (DELU's `SampleDataset.load_data`, sampling with replacement)."""

import numpy as np
import torch

__all__ = ["SimilarPairBatchSampler"]


class SimilarPairBatchSampler(torch.utils.data.Sampler):
    """Batches of `batch_size` dataset indices: for each of `num_pairs` random classes (among those that have a
    video), two random videos of that class, then `batch_size - 2 * num_pairs` random videos. `video_labels`: per
    video its class ids. Yields `num_batches` batches per epoch (default: one epoch's worth, len / batch_size); each
    epoch draws anew from `seed`."""

    def __init__(
        self, video_labels, batch_size: int, num_pairs: int = 3, num_batches: int | None = None, seed: int = 0
    ):
        if batch_size < 2 * num_pairs or num_pairs < 0:
            raise ValueError(f"batch_size ({batch_size}) must hold num_pairs ({num_pairs}) pairs")
        by_class: dict[int, list[int]] = {}
        for index, classes in enumerate(video_labels):
            for c in {int(c) for c in classes}:
                by_class.setdefault(c, []).append(index)
        if not by_class:
            raise ValueError("SimilarPairBatchSampler: no video has a label")
        self.classes = [np.asarray(v) for _, v in sorted(by_class.items())]
        self.size, self.batch_size, self.num_pairs = len(video_labels), batch_size, num_pairs
        self.num_batches = num_batches if num_batches is not None else max(1, self.size // batch_size)
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for _ in range(self.num_batches):
            batch = []
            for c in rng.integers(0, len(self.classes), size=self.num_pairs):
                batch.extend(int(i) for i in rng.choice(self.classes[c], size=2))
            batch.extend(int(i) for i in rng.integers(0, self.size, size=self.batch_size - 2 * self.num_pairs))
            yield batch
