"""A batch sampler wrapper that records the sample ids of each batch for the step that consumes it."""


class RecordingBatchSampler:
    """Wraps a batch sampler (or a sampler plus a batch size) and hands every batch's indices to the run.

    DataLoader workers prefetch, but batches come out in the order the sampler made them, so the run keeps them
    first-in first-out and each optimizer step takes `batches_per_step` of them.
    """

    def __init__(self, batch_sampler, run):
        self.batch_sampler = batch_sampler
        self.run = run

    def __iter__(self):
        self.run._batches.clear()  # a new pass: batches prefetched but never consumed are gone
        for batch in self.batch_sampler:
            self.run.record_batch(batch)
            yield batch

    def __len__(self):
        return len(self.batch_sampler)

    def set_epoch(self, epoch):
        for target in (self.batch_sampler, getattr(self.batch_sampler, "sampler", None)):
            if hasattr(target, "set_epoch"):
                target.set_epoch(epoch)
