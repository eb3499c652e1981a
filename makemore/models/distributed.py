"""Data-parallel training on PyTorch's own stack: a net's instance trained by `processes` processes on each of
`nodes` machines, each with a copy of the net (DistributedDataParallel) and a share of every batch.

The train stage starts them as torchrun does, with torch's elastic launcher: on this machine alone, or on
several that meet at a rendezvous (MAKEMORE_MASTER, MAKEMORE_NODE_RANK). A process that torchrun itself
started (`torchrun ... -m stages.train NAME`) trains as one of them. The gloo backend runs on CPUs; on GPUs,
NCCL carries the GPU tensors and gloo the few CPU ones. Rank 0 writes every output; a failed process fails the
run, and its message is the stage's one line.
"""

import gc
import logging
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import torch
import torch.distributed as dist

from makemore import MakemoreError
from makemore.artifacts import scratch_folder

WORKER = "TORCHELASTIC_RUN_ID"  # set in every process torchrun or the elastic launcher starts
MASTER = "MAKEMORE_MASTER"  # HOST:PORT of node 0's rendezvous, for nodes > 1
NODE_RANK = "MAKEMORE_NODE_RANK"  # this machine's number, 0 to nodes - 1 (node 0 writes the outputs)
ERRORS = "MAKEMORE_ERRORS"  # a folder where a process that fails leaves its one line for the launcher


class Cluster(Protocol):
    """Where a net trains: the params of makemore/models/training.py's TrainingConfig that this module reads."""

    device: Literal["cpu", "auto"]  # auto: a GPU each, when there are GPUs
    processes: int | Literal["auto"]  # on each machine (auto: one per GPU)
    nodes: int  # machines
    wait: int  # seconds a machine waits for the others to meet


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


def processes_per_node(config: Cluster) -> int:
    """The processes an instance asks for on each machine: `auto` is one per GPU, or one without a GPU."""
    return (torch.cuda.device_count() or 1) if config.processes == "auto" else config.processes


def processes_in_run(config: Cluster) -> int:
    """How many processes train the instance: nodes x processes."""
    return config.nodes * processes_per_node(config)


def is_worker() -> bool:
    return WORKER in os.environ


@contextmanager
def process_group(config: Cluster, name: str) -> Iterator[Ranks]:
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
            # Every process done before any tears down the group, and DDP's buckets of pending work (kept alive by
            # reference cycles) freed while the group exists: gloo aborted a process that freed them at exit.
            dist.barrier()
        finally:
            gc.collect()
            dist.destroy_process_group()
    except Exception as e:
        if not launched:  # started by torchrun itself: each process says what it met
            raise
        message = str(e) if isinstance(e, MakemoreError) else f"{type(e).__name__}: {str(e).splitlines()[0]}"
        Path(os.environ[ERRORS], os.environ["RANK"]).write_text(
            f"{time.time_ns()} {message}", encoding="utf-8"
        )
        raise SystemExit(1) from None


def join(config: Cluster, name: str) -> None:
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
        # NCCL for the GPU tensors (the gradients); gloo for the CPU ones that every rank sums or gathers (the val
        # NLL, the budget's verdict, the random states of a checkpoint), which NCCL refuses
        dist.init_process_group("cpu:gloo,cuda:nccl")
    else:  # the machine's cores shared out, unless OMP_NUM_THREADS says otherwise
        threads = int(os.environ.get("OMP_NUM_THREADS", 0)) or max(1, (os.cpu_count() or 1) // local_world)
        torch.set_num_threads(threads)
        dist.init_process_group("gloo")


def on_gpus(config: Cluster) -> bool:
    return torch.cuda.is_available() and config.device == "auto"


def check_processes(config: Cluster, name: str, processes: int) -> None:
    """Refuse more processes on a machine than it has GPUs (with `device: auto`) or cores: each needs one."""
    have = torch.cuda.device_count() if on_gpus(config) else os.cpu_count() or 1
    if processes > have:
        raise MakemoreError(
            f"models.{name}.processes = {processes}: more than this machine's {have} "
            f"{'GPUs' if on_gpus(config) else 'cores'} (each process needs one; auto: one per GPU)"
        )


def launch(config: Cluster, name: str, module: str) -> None:
    """Run `python -m module NAME` in nodes x processes processes with torch's elastic launcher (torchrun's), and
    wait for them; a failure becomes one MakemoreError, with the message of the process that failed first."""
    check_processes(config, name, processes_per_node(config))
    rendezvous = meeting(config, name)
    from torch.distributed.elastic.multiprocessing import DefaultLogsSpecs
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # the launcher's logs and the processes' one-line reports, removed after the run (or by the next, after a kill)
    with scratch_folder("launch") as scratch, output_of_other_machines(config, scratch / "stderr"):
        errors = scratch / "errors"
        errors.mkdir()
        launch_config = LaunchConfig(
            min_nodes=config.nodes,
            max_nodes=config.nodes,
            nproc_per_node=processes_per_node(config),
            max_restarts=0,
            logs_specs=DefaultLogsSpecs(log_dir=str(scratch / "logs")),
            **rendezvous,
        )
        os.environ[ERRORS] = str(errors)
        try:
            launcher = elastic_launch(launch_config, sys.executable)
            # Silence the launcher's warnings and failure report: the stage prints its own one line.
            for logger in logging.root.manager.loggerDict:
                if logger.startswith("torch.distributed.elastic"):
                    logging.getLogger(logger).setLevel(logging.CRITICAL)
            launcher("-m", module, name)
        except SignalException:  # a Ctrl-C, which the launcher passed on to every process
            raise KeyboardInterrupt from None
        except ChildFailedError as e:
            raise MakemoreError(first_failure(e.failures, errors)) from None
        except dist.DistError as e:  # the launchers of the machines could not meet, or lost each other
            raise MakemoreError(launcher_failure(config, name, e)) from None
        finally:
            del os.environ[ERRORS]


@contextmanager
def output_of_other_machines(config: Cluster, log: Path) -> Iterator[None]:
    """On a machine other than node 0, what torch's launcher and the processes it starts write to stderr goes to
    `log` instead: node 0 shows the training, and a failure is still one line, which the stage prints after the
    run. Torch's own teardown may log there: its launchers' last barrier races node 0's exit, which hosts it."""
    if config.nodes == 1 or os.environ.get(NODE_RANK) == "0":
        yield
        return
    sys.stderr.flush()
    shown = os.dup(2)
    with open(log, "wb") as hidden:
        os.dup2(hidden.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(shown, 2)
        os.close(shown)


def meeting(config: Cluster, name: str) -> dict[str, object]:
    """The launcher's rendezvous: on this machine alone, a free port of its own (torchrun --standalone); on several,
    node 0's HOST:PORT from MAKEMORE_MASTER, checked with MAKEMORE_NODE_RANK before anything starts."""
    if config.nodes == 1:
        return {"rdzv_backend": "c10d", "rdzv_endpoint": "localhost:0", "run_id": str(uuid.uuid4())}
    if MASTER not in os.environ or NODE_RANK not in os.environ:
        raise MakemoreError(
            f"nodes = {config.nodes}: set {MASTER}=HOST:PORT (node 0's address) and {NODE_RANK}=K "
            f"(0 to {config.nodes - 1}) on each machine"
        )
    host, port = master_address(os.environ[MASTER])
    node = os.environ[NODE_RANK]
    if not (node.isdigit() and int(node) < config.nodes):
        raise MakemoreError(
            f"{NODE_RANK}={node}: not a machine of models.{name}.nodes = {config.nodes} (0 to {config.nodes - 1})"
        )
    others = config.nodes - 1
    if int(node) == 0:  # node 0 listens at the address the others meet it at
        check_port_free(port)
    print(
        f"waiting for {others} more machine{'s' * (others > 1)} at {host}:{port} (up to {config.wait} s) ...",
        file=sys.stderr,
        flush=True,
    )
    if int(node) > 0 and not listening(
        host, port, config.wait
    ):  # before torch's client, which logs each retry
        raise MakemoreError(missed_meeting(config, name))
    return {
        "rdzv_backend": "static",
        "rdzv_endpoint": f"{host}:{port}",
        "rdzv_configs": {"rank": int(node), "timeout": config.wait},
        "run_id": "makemore",
    }


def master_address(address: str) -> tuple[str, int]:
    """HOST and PORT of MAKEMORE_MASTER's HOST:PORT, refused in one line unless the host is known here and the port is
    a TCP port."""
    host, _, port = address.rpartition(":")
    if not (host and port.isdigit() and 0 < int(port) < 65536):
        raise MakemoreError(f"{MASTER}={address}: not HOST:PORT, with a PORT from 1 to 65535")
    try:
        socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
    except OSError:
        raise MakemoreError(f"{MASTER}={address}: no machine {host} known here") from None
    return host, int(port)


def check_port_free(port: int) -> None:
    """Refuse a port node 0 cannot listen on (another program's, or a privileged one), before anything starts."""
    try:
        socket.create_server(("", port)).close()
    except OSError as e:
        raise MakemoreError(
            f"{MASTER}: node 0 cannot listen on port {port} ({os.strerror(e.errno)}): choose another port"
        ) from None


def listening(host: str, port: int, seconds: float) -> bool:
    """Whether something listens at host:port within `seconds` (node 0, once it has started)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((host.strip("[]"), port), timeout=1).close()
            return True
        except OSError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.25)


def launcher_failure(config: Cluster, name: str, error: Exception) -> str:
    if config.nodes == 1:
        return (
            f"models.{name}: torch's launcher failed ({type(error).__name__}: {str(error).splitlines()[0]})"
        )
    return missed_meeting(config, name)


def missed_meeting(config: Cluster, name: str) -> str:
    return (
        f"models.{name}: the {config.nodes} machines did not meet at {os.environ[MASTER]} within models.{name}.wait "
        f"= {config.wait} s: check {MASTER} (node 0's HOST:PORT, the same on every machine) and {NODE_RANK} (0 to "
        f"{config.nodes - 1}, another on each machine)"
    )


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
