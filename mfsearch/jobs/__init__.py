"""Every job mfsearch runs, as one function each: the Python API and the command line call the
same ones, with the defaults of `mfsearch.defaults`. `plan_*` checks a job's inputs before any
work and returns it; the plain function plans and runs."""

from .ablate import AblateJob, ablate, plan_ablate
from .budget import SearchJob, plan_search, search
from .fidelity import FidelityJob, plan_fidelity, proxy_fidelity
from .learn import LearnJob, plan_variants_learn, variants_learn
from .latency import (LatencyJob, LatencyResult, LatencyTableJob, latency_table, measure_latency,
                      plan_latency, plan_latency_table)
from .train import TrainJob, plan_train, train
from .verify import VerifyJob, plan_verify, verify
from .models import (CheckJob, Cost, CostJob, ExportJob, build_model, check, cost, export,
                     load_model, load_spec, plan_check, plan_cost, plan_export, save_model)

__all__ = ["AblateJob", "ablate", "plan_ablate", "CheckJob", "Cost", "CostJob", "ExportJob", "FidelityJob",
           "LatencyJob", "LearnJob",
           "LatencyResult", "LatencyTableJob", "SearchJob", "build_model", "check", "cost",
           "export", "latency_table", "load_model", "load_spec", "measure_latency",
           "plan_check", "plan_cost", "plan_export", "plan_fidelity", "plan_latency",
           "plan_latency_table", "plan_search", "plan_variants_learn", "plan_train",
           "plan_verify", "proxy_fidelity", "save_model", "search",
           "train", "TrainJob", "variants_learn", "verify", "VerifyJob"]
