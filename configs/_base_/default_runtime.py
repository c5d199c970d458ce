# Runtime defaults shared by every config (mmengine Runner).
default_scope = "perception"

default_hooks = dict(
    timer=dict(type="IterTimerHook"),
    logger=dict(type="LoggerHook", interval=20),
    param_scheduler=dict(type="ParamSchedulerHook"),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=1000, max_keep_ckpts=2, save_last=True),
    sampler_seed=dict(type="DistSamplerSeedHook"),
)
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
    dist_cfg=dict(backend="nccl"),  # tools/train.py switches to gloo on CPU-only machines
)
# DeviceAwareDDP = MMDistributedDataParallel that also runs on CPU (gloo); only used with --launcher pytorch.
# The Runner looks wrappers up in mmengine's root registry, which finds our scope only by the full path.
model_wrapper_cfg = dict(type="perception.engine.ddp.DeviceAwareDDP", broadcast_buffers=False, find_unused_parameters=False)
log_processor = dict(type="LogProcessor", window_size=20, by_epoch=False)
log_level = "INFO"
load_from = None
resume = False
randomness = dict(seed=0)
