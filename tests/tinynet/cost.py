"""Closed-form cost of the test family, per part and pillar."""

from __future__ import annotations

from mfsearch.cost.counts import Counts, ModelCost, PartCost
from mfsearch.spec.geometry import check_resolution, conv_out

PILLARS = ("stem", "blocks", "head")


def conv_bn(cin: int, cout: int, kernel: int, groups: int, positions: int) -> Counts:
    weights = kernel * kernel * (cin // groups) * cout
    return Counts(params=weights + 2 * cout, core=weights * positions, bn=cout * positions)


def analyze(spec, resolution: int = 224) -> ModelCost:
    res = conv_out(check_resolution(resolution), 3, 2)
    parts = [PartCost("stem", "stem", {"stem": conv_bn(3, spec.stem, 3, 1, res * res)},
                      {"cin": 3, "cout": spec.stem, "stride": 2, "res_in": resolution,
                       "res_out": res, "hidden": []})]
    cin = spec.stem
    for i, b in enumerate(spec.blocks):
        hidden, out_res = cin * b.expand, conv_out(res, 3, b.stride)
        counts = (conv_bn(cin, hidden, 1, 1, res * res)
                  + conv_bn(hidden, hidden, 3, hidden, out_res * out_res)
                  + conv_bn(hidden, b.out, 1, 1, out_res * out_res))
        parts.append(PartCost(f"block{i + 1}", "block", {"blocks": counts},
                              {"cin": cin, "cout": b.out, "stride": b.stride, "res_in": res,
                               "res_out": out_res, "hidden": [hidden]}))
        cin, res = b.out, out_res
    head = (conv_bn(cin, spec.head, 1, 1, res * res) + Counts(pool=spec.head * res * res)
            + Counts(params=spec.head * spec.num_classes + spec.num_classes,
                     core=spec.head * spec.num_classes))
    parts.append(PartCost("head", "head", {"head": head},
                          {"cin": cin, "cout": spec.num_classes, "stride": 1, "res_in": res,
                           "res_out": 1, "hidden": [spec.head]}))
    return ModelCost(model=spec.name, resolution=resolution, parts=parts, pillar_names=PILLARS,
                     family=spec.family)
