# Rule-based late fusion (no training) of SST, TridentNet-Fast and the pointly-supervised panoptic model.
#
#   python tools/eval_fusion.py configs/fusion/fusion_rule_sim.py configs/fusion/fusion_clocs_sim.py \
#       --cache work_dirs/fusion/test_dets.pt
_base_ = ["./_base_/fusion_sim_models.py"]

# per class, from tools/tune_fusion.py configs/fusion/fusion_rule_sim.py --coordinate --folds 4 \
#     --cache work_dirs/fusion/tune_dets.pt   (the tuning split: see ./_base_/fusion_sim_models.py)
scorer = dict(type="RuleScorer", boost={"Car": 0.3, "Pedestrian": 0.5, "Cyclist": 0.5}, miss_factor=1.0)
scorer_checkpoint = None
