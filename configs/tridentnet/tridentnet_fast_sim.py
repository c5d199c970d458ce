# TridentNet-Fast: the tridentnet_sim.py model (same training, same checkpoint) run at test time with the middle
# branch only (dilation 2, no range filtering) -- about the cost of a single-branch network.
#   python tools/test.py configs/tridentnet/tridentnet_fast_sim.py work_dirs/tridentnet_sim/iter_1500.pth
_base_ = ["./tridentnet_sim.py"]

model = dict(test_branch_idx=1)
