"""Checkpoint barriers flowing through the execution graph, as an animation: one frame per time step.

Layer: `sim.viz`. Reads only the trace (`BarrierSent` with its arrival time,
`ChannelBlocked`/`ChannelResumed`, `SnapshotTaken`, the checkpoint's trigger
and end) and the execution graph and placements, laid out as
`draw_execution_graph` lays them out. Never reads a live task or channel.

In each frame a barrier on the wire is a disc in its checkpoint's colour on
its channel's arrow, as far along as the time between its send and its
arrival says (hollow when it is a priority, i.e. unaligned, barrier); a
barrier that arrived but waits in its consumer's input queue (until
`BarrierReceived`) is a faded disc at the arrow's head, and one its producer
forwarded (as its snapshot began) that still waits behind data in the
producer's output queue is a faded disc at the arrow's tail; a blocked channel (its consumer is aligning) is a thick orange arrow; a subtask
that finished its snapshot gets a diamond in the checkpoint's colour.

A frame is drawn at every `step` of the window, and also halfway through every
barrier's trip that falls between two steps, so that no barrier crosses an
edge unseen; the title says the frame's time.

Viewable in Jupyter (`_repr_html_`, through `FuncAnimation.to_jshtml`) and
savable as `.gif` (matplotlib's Pillow writer) or `.html` (the same
self-contained player).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from matplotlib.animation import FuncAnimation, PillowWriter
from matplotlib.colors import to_rgba
from matplotlib.lines import Line2D

from sim.trace import BarrierReceived
from sim.viz.barriers import Barrier, barrier_messages, blocked_spans, checkpoint_window_us, snapshot_marks
from sim.viz.figures import spacetime_checkpoint
from sim.viz.graphs import count_label, execution_graph_canvas
from sim.viz.marks import ALIGNING_LABEL
from sim.viz.style import ALIGNING_COLOR, SNAPSHOT_COLOR, checkpoint_color, ms

if TYPE_CHECKING:
    from sim.scenario.result import RunResult

DEFAULT_FRAMES = 60
FPS = 6
_QUEUED_FACE_ALPHA = 0.3
_AT_HEAD = 0.93  # how far along its arrow a barrier waiting at the receiver is drawn
_AT_TAIL = 0.07  # ... and one queued at the sender
_WIDTH_IN = 10.0
_TITLE_STRIP_IN = 0.9


class FrameState(NamedTuple):
    """What one frame shows at `t_us`.

    Attributes:
        queued: barriers its producer forwarded (as its snapshot began), still queued behind data at the sender.
        moving: barriers on the wire, each with how far it has come (0 to 1).
        waiting: barriers that arrived but wait in the consumer's input queue (not yet taken).
        blocked: ids of the channels blocked for alignment.
        snapshotted: subtasks whose snapshot (synchronous part) is done.
    """

    t_us: int
    queued: list[Barrier]
    moving: list[tuple[Barrier, float]]
    waiting: list[Barrier]
    blocked: list[str]
    snapshotted: list[str]


def barriers_in_flight(barriers: list[Barrier], t_us: int) -> list[tuple[Barrier, float]]:
    """The barriers on the wire at `t_us`, each with how far it has come (0 at its send, 1 at its arrival).

    A barrier is on the wire from its send (included) to its arrival (excluded).
    """
    return [(b, (t_us - b.sent_us) / (b.received_us - b.sent_us))
            for b in barriers if b.sent_us <= t_us < b.received_us]


def frame_times_us(start_us: int, end_us: int, frames: int, spans: list[tuple[int, int]]) -> list[int]:
    """`frames` evenly spaced times from `start_us` to `end_us`, plus the middle of every span `[a, b)`
    (a barrier's trip and wait) that no evenly spaced time falls into; sorted, without repeats."""
    if frames < 2:
        raise ValueError(f"an animation needs at least 2 frames, got {frames}")
    grid = [start_us + (end_us - start_us) * i // (frames - 1) for i in range(frames)]
    extra = [(a + b) // 2 for a, b in spans if b > a and not any(a <= t < b for t in grid)]
    return sorted(set(grid + [t for t in extra if start_us <= t <= end_us]))


def taken_us(trace, barriers: list[Barrier]) -> dict[tuple[int, str], int]:
    """(checkpoint id, channel) -> when the consumer took the barrier from its input queue (`BarrierReceived`)."""
    wanted = {(b.checkpoint_id, b.channel) for b in barriers}
    out: dict[tuple[int, str], int] = {}
    for e in trace:
        if isinstance(e, BarrierReceived) and (e.checkpoint_id, e.channel) in wanted:
            out.setdefault((e.checkpoint_id, e.channel), e.t_us)
    return out


def _disc_face(barrier: Barrier, queued: bool):
    """A barrier's fill: pale while it waits in a queue; on the wire, its checkpoint's colour (white if priority)."""
    color = checkpoint_color(barrier.checkpoint_id)
    if queued:
        return to_rgba(color, _QUEUED_FACE_ALPHA)
    return "white" if barrier.priority else color


def _exit_point(box, toward: tuple[float, float]) -> tuple[float, float]:
    """Where the line from the centre of `box` to `toward` leaves the box."""
    cx, cy = _centre(box)
    dx, dy = toward[0] - cx, toward[1] - cy
    scale = min(box.get_width() / 2 / abs(dx) if dx else float("inf"),
                box.get_height() / 2 / abs(dy) if dy else float("inf"), 1.0)
    return cx + dx * scale, cy + dy * scale


def _centre(box) -> tuple[float, float]:
    return box.get_x() + box.get_width() / 2, box.get_y() + box.get_height() / 2


class BarrierAnimation:
    """The frames of one checkpoint's barriers through the execution graph; build with `animate_barriers`.

    Attributes:
        checkpoint_id: the checkpoint shown, or None for every barrier in the window.
        times_us: the virtual time of each frame.
        fig: the figure the frames are drawn on (not registered with pyplot).
        ax: its axes, in inches as `execution_graph_canvas` lays it out.
        boxes: subtask id -> its box.
        barriers: the barriers shown, by send time.
        title: the text that names each frame's time and counts.
    """

    def __init__(self, result: RunResult, checkpoint_id: int | None, times_us: list[int]):
        self.checkpoint_id = checkpoint_id
        self.times_us = times_us
        self.fig, self.ax, self.boxes, self._arrows = execution_graph_canvas(
            result.execution_graph, result.placements, min_width_in=_WIDTH_IN, title_in=_TITLE_STRIP_IN)
        self._name = result.job_name
        trace = list(result.trace)
        shown = (lambda cid: True) if checkpoint_id is None else (lambda cid: cid == checkpoint_id)
        self.barriers = [b for b in barrier_messages(trace, result.execution_graph) if shown(b.checkpoint_id)]
        self._taken = taken_us(trace, self.barriers)
        # A producer forwards its barriers just before its snapshot's synchronous part starts.
        self._emitted = {(m.checkpoint_id, m.task): m.start_us for m in snapshot_marks(trace)}
        self._blocked = [(s[0], s[1], s[2]) for spans in blocked_spans(trace).values() for s in spans
                         if shown(s[3])]
        self._snapshots = [m for m in snapshot_marks(trace) if shown(m.checkpoint_id) and m.task in self.boxes]
        self._arrow_style = {cid: (a.get_edgecolor(), a.get_linewidth()) for cid, a in self._arrows.items()}
        self._discs = self._barrier_artists()
        self._diamonds = self._snapshot_artists()
        width_in, height_in = self.fig.get_size_inches()
        self.title = self.ax.text(width_in / 2, height_in - _TITLE_STRIP_IN / 2, "", ha="center", va="center",
                                  fontsize=11, linespacing=1.5)
        self._key()
        self.draw_frame(0)

    def _barrier_artists(self) -> list[Line2D]:
        discs = []
        for b in self.barriers:
            color = checkpoint_color(b.checkpoint_id)
            disc, = self.ax.plot([], [], marker="o", markersize=11, markeredgewidth=2.2, linestyle="",
                                 markerfacecolor=_disc_face(b, queued=False), markeredgecolor=color, zorder=7)
            disc.set_gid(f"barrier:{b.checkpoint_id}:{b.channel}")
            discs.append(disc)
        return discs

    def _snapshot_artists(self) -> list[Line2D]:
        diamonds = []
        for mark in self._snapshots:
            box = self.boxes[mark.task]
            x, y = box.get_x() + box.get_width() / 2, box.get_y() + box.get_height()
            diamond, = self.ax.plot([x], [y], marker="D", markersize=9, linestyle="", zorder=7,
                                    markerfacecolor=checkpoint_color(mark.checkpoint_id),
                                    markeredgecolor=SNAPSHOT_COLOR)
            diamond.set_gid(f"snapshot:{mark.checkpoint_id}:{mark.task}")
            diamonds.append(diamond)
        return diamonds

    def _key(self) -> None:
        """What the marks mean, added to the execution graph's legend under the picture."""
        legend = self.ax.get_legend()
        handles = list(legend.legend_handles)
        for handle, text in zip(handles, legend.get_texts()):
            handle.set_label(text.get_text())
        cids = sorted({b.checkpoint_id for b in self.barriers}) or [self.checkpoint_id or 1]
        color = checkpoint_color(cids[0])
        handles += [Line2D([], [], marker="o", linestyle="", markersize=9, color=color, label="barrier on the wire"),
                    Line2D([], [], marker="o", linestyle="", markersize=9, markeredgecolor=color,
                           markerfacecolor=to_rgba(color, _QUEUED_FACE_ALPHA), markeredgewidth=2,
                           label="barrier queued (tail: sender, head: receiver)")]
        if any(b.priority for b in self.barriers):
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=9, markerfacecolor="white",
                                  markeredgecolor=color, markeredgewidth=2, label="priority barrier (unaligned)"))
        handles += [Line2D([], [], color=ALIGNING_COLOR, linewidth=3.5, label=ALIGNING_LABEL),
                    Line2D([], [], marker="D", linestyle="", markersize=8, markerfacecolor=color,
                           markeredgecolor=SNAPSHOT_COLOR, label="snapshot taken")]
        self.ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 0.0), ncols=-(-len(handles) // 2),
                       frameon=False, fontsize=8)

    def state_at(self, t_us: int) -> FrameState:
        """What frame time `t_us` shows (see `FrameState`)."""
        queued = [b for b in self.barriers if self._emitted.get((b.checkpoint_id, b.producer), b.sent_us) <= t_us
                  < b.sent_us]
        waiting = [b for b in self.barriers
                   if b.received_us <= t_us < self._taken.get((b.checkpoint_id, b.channel), b.received_us)]
        blocked = sorted({channel for start, end, channel in self._blocked if start <= t_us < end})
        done = [m.task for m in self._snapshots if m.end_us <= t_us]
        return FrameState(t_us, queued, barriers_in_flight(self.barriers, t_us), waiting, blocked, done)

    def draw_frame(self, index: int) -> list:
        """Show frame `index`; returns the artists it changed."""
        state = self.state_at(self.times_us[index])
        where = {id(b): (progress, False) for b, progress in state.moving}
        where.update((id(b), (_AT_HEAD, True)) for b in state.waiting)
        where.update((id(b), (_AT_TAIL, True)) for b in state.queued)
        for barrier, disc in zip(self.barriers, self._discs):
            shown = where.get(id(barrier))
            disc.set_visible(shown is not None)
            if shown is not None:
                disc.set_data(*([v] for v in self._point(barrier, shown[0])))
                disc.set_markerfacecolor(_disc_face(barrier, queued=shown[1]))
        for cid, arrow in self._arrows.items():
            color, width = (ALIGNING_COLOR, 3.5) if cid in state.blocked else self._arrow_style[cid]
            arrow.set_color(color)
            arrow.set_linewidth(width)
        for mark, diamond in zip(self._snapshots, self._diamonds):
            diamond.set_visible(mark.end_us <= state.t_us)
        focus = "" if self.checkpoint_id is None else f", checkpoint {self.checkpoint_id}"
        self.title.set_text(f"Barriers: {self._name}{focus}, at {ms(state.t_us):.2f} ms\n"
                             f"barriers: {len(state.queued)} queued at a sender, {len(state.moving)} on the wire, "
                             f"{len(state.waiting)} queued at a receiver; {count_label(len(state.blocked), 'channel')} "
                             f"blocked; {count_label(len(state.snapshotted), 'snapshot')} taken")
        return [*self._discs, *self._arrows.values(), *self._diamonds, self.title]

    def _point(self, barrier: Barrier, progress: float) -> tuple[float, float]:
        a, b = self.boxes[barrier.producer], self.boxes[barrier.consumer]
        start, end = _exit_point(a, _centre(b)), _exit_point(b, _centre(a))
        return start[0] + (end[0] - start[0]) * progress, start[1] + (end[1] - start[1]) * progress

    def to_animation(self, fps: int = FPS) -> FuncAnimation:
        """A matplotlib `FuncAnimation` over every frame."""
        return FuncAnimation(self.fig, self.draw_frame, frames=len(self.times_us), interval=1000 / fps,
                             blit=False, repeat=True)

    def to_jshtml(self, fps: int = FPS) -> str:
        """A self-contained HTML player (JavaScript, frames embedded as PNG), as Jupyter shows it."""
        return self.to_animation(fps).to_jshtml(fps=fps, default_mode="once")

    def _repr_html_(self) -> str:
        return self.to_jshtml()

    def save(self, path: str | os.PathLike, fps: int = FPS) -> Path:
        """Write the animation as `.gif` (Pillow) or `.html` (the player of `to_jshtml`); returns the path.

        Raises:
            ValueError: another file suffix.
        """
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".gif":
            self.to_animation(fps).save(path, writer=PillowWriter(fps=fps), dpi=self.fig.dpi)
        elif suffix in (".html", ".htm"):
            path.write_text(self.to_jshtml(fps), encoding="utf-8")
        else:
            raise ValueError(f"cannot save an animation as {path.name!r}; expected a .gif or .html file")
        return path


def animate_barriers(result: RunResult, checkpoint_id: int | None = None, start_ms: float | None = None,
                     end_ms: float | None = None, frames: int = DEFAULT_FRAMES) -> BarrierAnimation:
    """Animate one checkpoint's barriers through the execution graph.

    Args:
        result: the run; only its trace, graphs and placements are read.
        checkpoint_id: the checkpoint (default: the one the standard space-time diagram shows).
        start_ms: the first frame's time (default: the checkpoint's trigger, a little earlier).
        end_ms: the last frame's time (default: the checkpoint's last mark, a little later).
        frames: evenly spaced frames (more are added so that every barrier is seen on the wire).

    Raises:
        ValueError: the run triggered no checkpoint, an unknown checkpoint, or fewer than 2 frames.
    """
    if checkpoint_id is None:
        checkpoint_id = spacetime_checkpoint(result)
        if checkpoint_id is None:
            raise ValueError(f"run {result.job_name!r} triggered no checkpoint: there are no barriers to animate")
    first, last = checkpoint_window_us(result.trace, checkpoint_id)
    margin = max((last - first) // 20, 200)
    start_us = max(first - margin, 0) if start_ms is None else round(start_ms * 1000)
    end_us = last + margin if end_ms is None else round(end_ms * 1000)
    if end_us <= start_us:
        raise ValueError(f"the animation ends ({ms(end_us)} ms) before it starts ({ms(start_us)} ms)")
    barriers = [b for b in barrier_messages(result.trace, result.execution_graph) if b.checkpoint_id == checkpoint_id]
    taken = taken_us(result.trace, barriers)
    spans = [(b.sent_us, taken.get((b.checkpoint_id, b.channel), b.received_us)) for b in barriers]
    return BarrierAnimation(result, checkpoint_id, frame_times_us(start_us, end_us, frames, spans))
