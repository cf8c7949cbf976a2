"""The sizes a scaling run walks through, and the refusals that come before any of them.

Pure functions of the current size and the params, so the rules (never past the autoscaler's maximum or the
nodes' room going up, never under the availability floor going down) are unit-tested without a cluster.
"""

from __future__ import annotations

from novacron_runbooks.dagkit.params import ParamError
from novacron_runbooks.scaling.cluster import Autoscaler, Size


def _minimum_after(current: Size, replicas: int, lowering: bool) -> int | None:
    """Return the autoscaler's minimum at ``replicas``: raised going up, lowered going down."""
    if current.hpa_min is None:
        return None
    if lowering:
        return min(current.hpa_min, replicas)
    return max(current.hpa_min, replicas)


def steps_up(current: Size, target: int, step: int) -> list[Size]:
    """Sizes from ``current`` up to ``target``, ``step`` replicas at a time (the last step may be smaller)."""
    sizes, replicas = [], current.replicas
    while replicas < target:
        replicas = min(replicas + step, target)
        sizes.append(Size(replicas, _minimum_after(current, replicas, lowering=False)))
    return sizes


def steps_down(current: Size, target: int, step: int, floor: int) -> list[Size]:
    """Sizes from ``current`` down to ``target``, never under ``floor`` whatever the target says."""
    bottom = max(target, floor)
    sizes, replicas = [], current.replicas
    while replicas > bottom:
        replicas = max(replicas - step, bottom)
        sizes.append(Size(replicas, _minimum_after(current, replicas, lowering=True)))
    return sizes


def scale_up_ceiling(current: int, autoscaler: Autoscaler | None, room: int) -> int:
    """Return the most replicas a scale-up may reach: the autoscaler's maximum and the nodes' room."""
    ceiling = current + room
    if autoscaler is not None:
        ceiling = min(ceiling, autoscaler.max_replicas)
    return ceiling


def check_scale_up_target(target: int, current: int, autoscaler: Autoscaler | None, room: int) -> None:
    """Refuse an explicit target the cluster cannot hold or that is not a scale-up, naming the param."""
    if target == 0:
        return
    if target < current:
        raise ParamError(
            "target_replicas", f"{target} is below the {current} replicas running: that is scale_down's job"
        )
    if autoscaler is not None and target > autoscaler.max_replicas:
        raise ParamError(
            "target_replicas",
            f"{target} is above the autoscaler's maximum of {autoscaler.max_replicas} replicas: raise "
            "max_replicas in its policy with auto_scaling first",
        )
    if target - current > room:
        raise ParamError(
            "target_replicas",
            f"{target} needs {target - current} more pods but the nodes have room for {room}: "
            "add nodes first",
        )


def check_above_floor(target: int, floor: int) -> None:
    """Refuse a target under the availability floor, naming the param and where the floor is set."""
    if target < floor:
        raise ParamError(
            "target_replicas",
            f"{target} is below the availability floor of {floor} replicas "
            "(threshold availability_floor of the scale_down runbook)",
        )


def check_scale_down_target(target: int, current: int, floor: int) -> None:
    """Refuse a target under the availability floor, or above what runs, naming the param."""
    check_above_floor(target, floor)
    if target > current:
        raise ParamError(
            "target_replicas", f"{target} is above the {current} replicas running: that is scale_up's job"
        )
