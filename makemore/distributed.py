"""Data-parallel training on PyTorch's own stack: a net's instance trained by `processes` processes on each of
`nodes` machines, each with a copy of the net (DistributedDataParallel) and a share of every batch.

The train stage starts them as torchrun does, with torch's elastic launcher: on this machine alone, or on
several that meet at a rendezvous (MAKEMORE_MASTER, MAKEMORE_NODE_RANK). A process that torchrun itself
started (`torchrun ... -m stages.train NAME`) trains as one of them. The gloo backend runs on CPUs, NCCL on
GPUs. Rank 0 writes every output; a failed process fails the run, and its message is the stage's one line.
"""

import logging
import os
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from makemore import MakemoreError

WORKER = "TORCHELASTIC_RUN_ID"  # set in every process torchrun or the elastic launcher starts
MASTER = "MAKEMORE_MASTER"  # HOST:PORT of node 0's rendezvous, for nodes > 1
NODE_RANK = "MAKEMORE_NODE_RANK"  # this machine's number, 0 to nodes - 1 (node 0 writes the outputs)
ERRORS = "MAKEMORE_ERRORS"  # a folder where a process that fails leaves its one line for the launcher


@dataclass(frozen=True)
class Ranks:
    """This process's place among those training one net: its rank of `world`."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process measures for the others and writes the outputs."""
        return self.rank == 0

    def share(self, count: int) -> slice:
        """This process's consecutive share of `count` items: the shares of all the ranks are disjoint and cover them."""
        return slice(count * self.rank // self.world, count * (self.rank + 1) // self.world)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The sum of `tensor` over every process."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """(world, *shape): `tensor` of every process, by rank."""
        gathered = [torch.empty_like(tensor) for _ in range(self.world)]
        dist.all_gather(gathered, tensor)
        return torch.stack(gathered)


def ranks() -> Ranks:
    if dist.is_available() and dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    return Ranks()


def processes_per_node(config: object) -> int:
    """The processes an instance asks for on each machine: `auto` is one per GPU, or one without a GPU."""
    processes = getattr(config, "processes", 1)
    return (torch.cuda.device_count() or 1) if processes == "auto" else processes


def processes_in_run(config: object) -> int:
    """How many processes train the instance: nodes x processes."""
    return getattr(config, "nodes", 1) * processes_per_node(config)


def is_worker() -> bool:
    return WORKER in os.environ


@contextmanager
def process_group(config: object, name: str) -> Iterator[Ranks]:
    """In a process of a distributed run, its group, checked against the instance's params; else a group of one."""
    if not is_worker():
        yield Ranks()
        return
    # by launch(), which reports the one line of the process that failed first
    launched = ERRORS in os.environ
    if launched:  # a Ctrl-C reaches the launcher, which stops every process with a SIGTERM: die of it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        join(config, name)
        try:
            yield ranks()
        finally:
            dist.destroy_process_group()
    except Exception as e:
        if not launched:  # started by torchrun itself: each process says what it met
            raise
        message = str(e) if isinstance(e, MakemoreError) else f"{type(e).__name__}: {str(e).splitlines()[0]}"
        Path(os.environ[ERRORS], os.environ["RANK"]).write_text(
            f"{time.time_ns()} {message}", encoding="utf-8"
        )
        raise SystemExit(1) from None


def join(config: object, name: str) -> None:
    """Join the run's process group: NCCL with a GPU each, or gloo with a share of the cores."""
    world = int(os.environ["WORLD_SIZE"])
    wanted = processes_in_run(config)
    if world != wanted:
        raise MakemoreError(
            f"models.{name}: started in {world} processes, but its nodes x processes is {wanted}"
        )
    local_world = int(os.environ["LOCAL_WORLD_SIZE"])
    check_processes(config, name, local_world)
    if on_gpus(config):
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group("nccl")
    else:  # the machine's cores shared out, unless OMP_NUM_THREADS says otherwise
        threads = int(os.environ.get("OMP_NUM_THREADS", 0)) or max(1, (os.cpu_count() or 1) // local_world)
        torch.set_num_threads(threads)
        dist.init_process_group("gloo")


def on_gpus(config: object) -> bool:
    return torch.cuda.is_available() and getattr(config, "device", "cpu") == "auto"


def check_processes(config: object, name: str, processes: int) -> None:
    """Refuse more processes on a machine than it has GPUs (with `device: auto`) or cores: each needs one."""
    have = torch.cuda.device_count() if on_gpus(config) else os.cpu_count() or 1
    if processes > have:
        raise MakemoreError(
            f"models.{name}.processes = {processes}: more than this machine's {have} "
            f"{'GPUs' if on_gpus(config) else 'cores'} (each process needs one; auto: one per GPU)"
        )


def launch(config: object, name: str, module: str) -> None:
    """Run `python -m module NAME` in nodes x processes processes with torch's elastic launcher (torchrun's), and
    wait for them; a failure becomes one MakemoreError, with the message of the process that failed first."""
    check_processes(config, name, processes_per_node(config))
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    nodes = getattr(config, "nodes", 1)
    if nodes == 1:  # this machine alone: torchrun --standalone
        rendezvous = {"rdzv_backend": "c10d", "rdzv_endpoint": "localhost:0", "run_id": str(uuid.uuid4())}
    elif MASTER in os.environ and NODE_RANK in os.environ:
        rendezvous = {
            "rdzv_backend": "static",
            "rdzv_endpoint": os.environ[MASTER],
            "rdzv_configs": {"rank": int(os.environ[NODE_RANK])},
            "run_id": "makemore",
        }
    else:
        raise MakemoreError(
            f"nodes = {nodes}: set {MASTER}=HOST:PORT (node 0's address) and {NODE_RANK}=K (0 to {nodes - 1}) "
            "on each machine"
        )
    launch_config = LaunchConfig(
        min_nodes=nodes,
        max_nodes=nodes,
        nproc_per_node=processes_per_node(config),
        max_restarts=0,
        **rendezvous,
    )
    with tempfile.TemporaryDirectory(prefix="makemore-errors-") as errors:
        os.environ[ERRORS] = errors
        try:
            launcher = elastic_launch(launch_config, sys.executable)
            # its warnings and failure report: ours is one line
            for logger in logging.root.manager.loggerDict:
                if logger.startswith("torch.distributed.elastic"):
                    logging.getLogger(logger).setLevel(logging.CRITICAL)
            launcher("-m", module, name)
        except SignalException:  # a Ctrl-C, which the launcher passed on to every process
            raise KeyboardInterrupt from None
        except ChildFailedError as e:
            raise MakemoreError(first_failure(e.failures, Path(errors))) from None
        finally:
            del os.environ[ERRORS]


def first_failure(failures: dict, errors: Path) -> str:
    """What made a run fail: a process killed by the system (not the launcher's stop of its peers), else the first
    error a process met (its peers' lost connections come after it), else how the first process to fail ended."""
    for rank, failure in sorted(failures.items()):
        if failure.exitcode < 0 and -failure.exitcode != signal.SIGTERM:
            return f"training process {rank} was killed by {signal.Signals(-failure.exitcode).name}: no model written"
    reports = [path.read_text(encoding="utf-8").split(" ", 1) for path in errors.iterdir()]
    if reports:
        return min(reports, key=lambda report: int(report[0]))[1]
    rank, failure = min(failures.items(), key=lambda item: item[1].timestamp)
    return f"training process {rank} exited with status {failure.exitcode}: no model written"
