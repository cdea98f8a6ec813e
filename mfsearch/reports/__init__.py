"""Last stage of the pipeline: ablation tables, published-model comparisons and plots."""
