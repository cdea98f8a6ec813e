"""Real training of a spec on the user's images (`mfsearch train`): streamed data with
augmentation (`data`), the recipe (`settings`), the loop with checkpoints, resume, EMA and
torch.distributed (`loop`), and the files it leaves (`outputs`)."""
