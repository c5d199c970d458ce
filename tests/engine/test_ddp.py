"""perception.engine.ddp: the gloo process group is started for torchrun and always torn down."""
import pytest
import torch.distributed as dist

from perception.engine import distributed_session, shutdown_distributed


@pytest.fixture
def torchrun_env(monkeypatch):
    """The environment torchrun gives a world of one rank."""
    for key, value in {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
                       "MASTER_PORT": "29531"}.items():
        monkeypatch.setenv(key, value)
    yield
    if dist.is_initialized():  # a failing test must not leave a group behind for the next one
        dist.destroy_process_group()


def test_session_starts_gloo_and_destroys_the_group_after_the_work(torchrun_env, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with distributed_session("pytorch") as backend:
        assert backend == "gloo"
        assert dist.is_initialized() and dist.get_world_size() == 1
        dist.barrier()
    assert not dist.is_initialized()


def test_session_destroys_the_group_when_the_work_raises(torchrun_env, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    with pytest.raises(RuntimeError, match="bad frame"):
        with distributed_session("pytorch"):
            assert dist.is_initialized()
            raise RuntimeError("bad frame")
    assert not dist.is_initialized()


def test_non_distributed_session_starts_nothing_and_shutdown_is_a_no_op():
    with distributed_session("none") as backend:
        assert backend == "none" and not dist.is_initialized()
    shutdown_distributed()  # nothing to destroy: must not raise
    assert not dist.is_initialized()


def test_pytorch_launcher_without_torchrun_environment_names_what_is_missing(monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match="missing RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT"):
        with distributed_session("pytorch"):
            pass
