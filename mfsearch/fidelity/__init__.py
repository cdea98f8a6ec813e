"""Is the proxy right? `mfsearch fidelity` trains architectures of a band with the proxy and a
longer reference (`measure`, every training kept in `training_log`), bounds what any ranker can
reach (`ceiling`), replays searches over the runs (`decision`), writes the report (`report`)
and the record search reports quote (`record`)."""
