"""Every job's defaults, in one place: the Python API (`mfsearch.jobs`), the command line and
the settings objects below them read them here. The proxy training's own defaults are the
fields of `mfsearch.proxy.config.ProxyConfig`."""

# The search. The default procedure was chosen by replayed searches (reports/proxy_fidelity.md,
# "Decision quality"; docs/decisions.md): seed noise is as large as the band's differences, so
# a fourth seed for each finalist buys more than a gentler pruner does, and the candidates and
# finalists that eta 4 pays for buy the rest.
BUDGET = "150M"
TRIALS = 32  # candidates a search evaluates (pruning pays for them)
PRUNER = "sha"  # successive halving at rungs of the proxy's schedule
ETA = 4  # the pruner keeps the top 1/eta of a rung: rungs at 15 and 60 steps
FINALISTS = 4  # trained candidates the confirmation stage retrains
CONFIRM_SEEDS = 3  # further seeds of each finalist and the control
# The whole run, loading included: on a machine too slow for the procedure above in this
# time, the search plans a smaller one that fits (nas/timing.py). "none" turns it off.
TIME_LIMIT = "10m"
TOLERANCE = 0.1  # the band is [(1 - tolerance) x budget, budget]
RESOLUTION = 224  # the input the band's MAdds are counted at
OBJECTIVES = "acc"
SAMPLER = "tpe"
SEED = 0
VAL_FRACTION = 0.2  # held out of a flat ImageFolder for scoring
# Held-out images a proxy training is scored on (the built-in task's; the cap of a folder's):
# their sampling error stays well below the seed-to-seed spread of a short training.
HELD_OUT_IMAGES = 4096
DEVICE = "auto"  # where proxies train: CUDA when there is one
# `mfsearch variants --train`: a shipped variant learns under the default proxy when its final
# training loss ends clearly below guessing's, under LEARNED_MARGIN x ln(classes), and its
# held-out top-1 is above chance; two seeds each.
LEARNED_MARGIN = 0.9
LEARN_SEEDS = 2
PRECISION = "fp32"  # CUDA trainings' precision

# The fidelity measurement.
FIDELITY_BUDGET = "150M"
FIDELITY_ARCHS = 8
FIDELITY_FACTOR = 4  # the reference trains this many times longer than the proxy
FIDELITY_REPEATS = 1
FIDELITY_JOBS = 1

# Latency figures, as mobile papers measure them.
LATENCY_BATCH = 1
LATENCY_THREADS = 1
LATENCY_DEVICE = "cpu"
LATENCY_MIN_TIME = 1.0  # seconds of timed runs per figure
THROUGHPUT_BATCH = 32
ENGINE = "torch"

# Real training (`mfsearch train`).
TRAIN_BATCH = 128
TRAIN_WARMUP_EPOCHS = 1
TRAIN_LABEL_SMOOTHING = 0.1
TRAIN_EMA_DECAY = 0.999
TRAIN_WORKERS = 2
