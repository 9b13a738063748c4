"""Graphs: named blocks with their parameters, one source, sinks, and explicit connections.

A graph file (YAML, format 1)::

    format: 1
    kind: graph
    name: qpsk-rx
    description: receiver of link qpsk (qpsk.yaml), IQ medium
    blocks:                        # name -> {type, params}; order is free
      source:  {type: recording_source, params: {medium: iq}}
      demod:   {type: psk_demod, params: {modulation: qpsk, symbol_rate: 9600.0, ...}}
      deframer: {type: sync_deframer, params: {...}}
      meta:    {type: frame_meta, params: {...}}
      frames:  {type: frames_sink, params: {format: text}}
      iq:      {type: sigmf_sink, params: {path: out/input}}
    connections:                   # "from -> to"; one output may feed several inputs
      - source -> demod
      - source -> iq               # fan-out: the demodulator and a recorder
      - demod -> deframer
      - deframer -> meta
      - meta -> frames

A node's ``type`` is a registered block (``orbitlink blocks``), source or sink
(:mod:`orbitlink.drivers.interfaces`). Every block and sink has exactly one input, which must
be connected to an output of the same stream type; the source has none. Unknown keys, unknown
types, bad parameters, a connection between different stream types, an input left unconnected
or connected twice, a cycle: each is an error naming the file and the path inside it
(``g.yaml: blocks.demod.params.carrier_bw: ...``, ``g.yaml: connections[2]: ...``).

:func:`link_graph` expands a link into its receive or transmit graph;
:func:`orbitlink.flowgraphs.runner.run_graph` runs a graph.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from orbitlink import OrbitlinkError
from orbitlink import yamlio
from orbitlink.flowgraphs.registry import all_blocks, all_endpoints
from orbitlink.modem.block import Block, ParamError, coerce_params

GRAPH_FORMAT = 1
_GRAPH_KEYS = {"format", "kind", "name", "description", "link", "medium", "samp_rate",
               "blocks", "connections"}
_NODE_KEYS = {"type", "params"}


class GraphError(OrbitlinkError, ValueError):
    """A graph file is malformed (one sentence naming the file and the path inside it)."""


@dataclass
class Node:
    name: str
    type: str
    kind: str  # "block", "source" or "sink"
    obj: object  # the built Block, Source or Sink

    @property
    def out_type(self) -> str | None:
        if self.kind == "sink":
            return None
        return self.obj.out_type

    @property
    def in_types(self) -> tuple:
        if self.kind == "source":
            return ()
        if self.kind == "sink":
            return tuple(self.obj.in_types)
        return (self.obj.in_type,)


@dataclass
class Graph:
    """Built nodes and connections (``edges``: (from, to) node names)."""

    nodes: dict = field(default_factory=dict)
    edges: list = field(default_factory=list)
    name: str = ""
    description: str = ""
    link: str = ""
    medium: str = ""
    samp_rate: float | None = None
    where: str = "<graph>"

    # building ------------------------------------------------------------------------------
    def add(self, name: str, obj, kind: str | None = None) -> str:
        """Add a built block, source or sink under a unique name (``name``, ``name_2``...)."""
        base, i = name, 2
        while name in self.nodes:
            name, i = f"{base}_{i}", i + 1
        if kind is None:
            from orbitlink.drivers.interfaces import Sink, Source

            kind = ("source" if isinstance(obj, Source) else "sink" if isinstance(obj, Sink)
                    else "block")
        self.nodes[name] = Node(name, obj.name, kind, obj)
        return name

    def connect(self, a: str, b: str) -> None:
        self.edges.append((a, b))

    def chain(self, names: list) -> None:
        for a, b in zip(names, names[1:]):
            self.connect(a, b)

    # queries -------------------------------------------------------------------------------
    @property
    def source(self) -> Node:
        return next(n for n in self.nodes.values() if n.kind == "source")

    def sinks(self, type_name: str | None = None) -> list:
        return [n.obj for n in self.nodes.values() if n.kind == "sink"
                and (type_name is None or n.type == type_name)]

    def blocks(self, type_name: str | None = None) -> list:
        return [n.obj for n in self.nodes.values() if n.kind == "block"
                and (type_name is None or n.type == type_name)]

    def upstream(self) -> dict:
        return {b: a for a, b in self.edges}

    def order(self) -> list:
        """Node names in an order where every node comes after its input (sources first)."""
        up = self.upstream()
        out, seen = [], set()
        for n in self.nodes:
            chain = []
            while n not in seen:
                chain.append(n)
                seen.add(n)
                if n not in up:
                    break
                n = up[n]
            out.extend(reversed(chain))
        pos = {n: i for i, n in enumerate(out)}
        if any(pos[a] > pos[b] for a, b in self.edges):  # only a cycle can do this
            raise GraphError(f"{self.where}: connections: the graph has a cycle")
        return out

    def validate(self) -> None:
        """Check the structure: one source, every input connected exactly once to an output of
        its stream type, no cycle (errors name the file and the path inside it)."""
        w = self.where
        srcs = [n.name for n in self.nodes.values() if n.kind == "source"]
        if len(srcs) != 1:
            raise GraphError(f"{w}: blocks: a graph needs exactly one source, found "
                             f"{len(srcs)}{' (' + ', '.join(srcs) + ')' if srcs else ''}")
        seen = {}
        for i, (a, b) in enumerate(self.edges):
            where = f"{w}: connections[{i}]"
            for n in (a, b):
                if n not in self.nodes:
                    raise GraphError(f"{where}: no block named '{n}'")
            if self.nodes[a].kind == "sink":
                raise GraphError(f"{where}: '{a}' is a sink; it has no output")
            if self.nodes[b].kind == "source":
                raise GraphError(f"{where}: '{b}' is a source; it has no input")
            if b in seen:
                raise GraphError(f"{where}: the input of '{b}' is already connected "
                                 f"(connections[{seen[b]}])")
            seen[b] = i
            t = self.nodes[a].out_type
            if t not in self.nodes[b].in_types:
                raise GraphError(f"{where}: '{a}' outputs '{t}' but '{b}' takes "
                                 f"'{'|'.join(self.nodes[b].in_types)}'")
        for n in self.nodes.values():
            if n.kind != "source" and n.name not in seen:
                raise GraphError(f"{w}: blocks.{n.name}: its input is not connected")
        self.order()

    # serialising ---------------------------------------------------------------------------
    def to_dict(self) -> dict:
        doc = {"format": GRAPH_FORMAT, "kind": "graph", "name": self.name}
        if self.description:
            doc["description"] = self.description
        if self.link:
            doc["link"] = self.link
        if self.medium:
            doc["medium"] = self.medium
        if self.samp_rate:
            doc["samp_rate"] = float(self.samp_rate)
        doc["blocks"] = {n.name: {"type": n.type, "params": _params_doc(n.obj.params)}
                         for n in self.nodes.values()}
        doc["connections"] = [f"{a} -> {b}" for a, b in self.edges]
        return doc

    def dumps(self) -> str:
        return yamlio.dumps(self.to_dict())


def _plain(v):
    """A parameter value as YAML can hold it."""
    if isinstance(v, tuple):
        if v and all(isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) for x in v):
            return {k: _plain(x) for k, x in v}  # (name, value) pairs: a mapping
        return [_plain(x) for x in v]
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    return f"<{type(v).__name__}>"  # an object (e.g. a Doppler predictor): in-memory graphs


def _params_doc(p) -> dict:
    return {f.name: _plain(getattr(p, f.name)) for f in dataclasses.fields(p)}


# ------------------------------------------------------------------------------------------------
# loading


def node_types() -> dict:
    """Every type a graph node can name -> (kind, class)."""
    out = {name: ("block", cls) for name, cls in all_blocks().items()}
    srcs, sinks = all_endpoints()
    out.update({name: ("source", cls) for name, cls in srcs.items()})
    out.update({name: ("sink", cls) for name, cls in sinks.items()})
    return out


def _build(kind, cls, params: dict, where: str):
    if not isinstance(params, dict):
        raise GraphError(f"{where}.params: must be a mapping")
    names = {f.name: f for f in dataclasses.fields(cls.Params)}
    for k, v in params.items():
        if k not in names:
            raise GraphError(f"{where}.params: unknown key '{k}' for '{cls.name}' (known: "
                             f"{', '.join(names)})")
        if isinstance(v, str) and v.startswith("<") and v.endswith(">"):
            raise GraphError(f"{where}.params.{k}: {v} is an object that only an in-memory "
                             "graph can hold")
    try:
        p = coerce_params(cls.Params, params, "")
    except ParamError as e:
        msg = str(e).lstrip(": ")
        key = msg.split("'")[1] if msg.startswith("parameter '") else ""
        raise GraphError(f"{where}.params{'.' + key if key else ''}: {msg}") from None
    except TypeError as e:
        raise GraphError(f"{where}.params: {e}") from None
    try:
        return cls(p)
    except OrbitlinkError as e:
        raise GraphError(f"{where}.params: {e}") from None


def parse_graph(doc, where: str) -> Graph:
    """Validate a parsed graph document and build it (every node constructed, so that every
    parameter is range-checked now)."""
    if not isinstance(doc, dict):
        raise GraphError(f"{where}: a graph file must be a YAML mapping")
    unknown = sorted(set(doc) - _GRAPH_KEYS)
    if unknown:
        raise GraphError(f"{where}: unknown key '{unknown[0]}' (known: "
                         f"{', '.join(sorted(_GRAPH_KEYS))})")
    if doc.get("format") != GRAPH_FORMAT:
        raise GraphError(f"{where}: format: must be {GRAPH_FORMAT}, got {doc.get('format')!r}")
    if doc.get("kind", "graph") != "graph":
        raise GraphError(f"{where}: kind: must be 'graph', got {doc.get('kind')!r}")
    blocks = doc.get("blocks")
    if not isinstance(blocks, dict) or not blocks:
        raise GraphError(f"{where}: blocks: must be a mapping of block names to "
                         "{type, params}")
    conns = doc.get("connections", [])
    if not isinstance(conns, list):
        raise GraphError(f"{where}: connections: must be a list of 'from -> to'")
    types = node_types()
    g = Graph(name=str(doc.get("name", "")), description=str(doc.get("description", "")),
              link=str(doc.get("link", "")), medium=str(doc.get("medium", "")),
              samp_rate=doc.get("samp_rate"), where=where)
    for name, spec in blocks.items():
        w = f"{where}: blocks.{name}"
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise GraphError(f"{w}: a block name is letters, digits, '_' and '-'")
        if not isinstance(spec, dict):
            raise GraphError(f"{w}: must be a mapping with 'type' and 'params'")
        bad = sorted(set(spec) - _NODE_KEYS)
        if bad:
            raise GraphError(f"{w}: unknown key '{bad[0]}' (known: type, params)")
        t = spec.get("type")
        if t not in types:
            raise GraphError(f"{w}.type: unknown block type {t!r} (see 'orbitlink blocks')")
        kind, cls = types[t]
        obj = _build(kind, cls, spec.get("params") or {}, w)
        g.nodes[name] = Node(name, t, kind, obj)
    for i, c in enumerate(conns):
        w = f"{where}: connections[{i}]"
        if not isinstance(c, str) or c.count("->") != 1:
            raise GraphError(f"{w}: must be 'from -> to', got {c!r}")
        a, b = (s.strip() for s in c.split("->"))
        a = a[:-4] if a.endswith(".out") else a
        b = b[:-3] if b.endswith(".in") else b
        g.edges.append((a, b))
    g.validate()
    _attach_quality(g)
    return g


def _attach_quality(g: Graph) -> None:
    """FSK frames' snr_db and freq_offset_hz in a graph read from a file, as
    :func:`link_graph` wires them."""
    from orbitlink.modem.quality import attach_quality

    attach_quality([g.nodes[n].obj for n in g.order() if g.nodes[n].kind == "block"])


def load_graph(path: str, overrides: dict | None = None) -> Graph:
    """Read and build a graph file; ``overrides``: ``{"node.param": "value"}`` (``--set``)."""
    where = str(path)
    doc = yamlio.loads(yamlio.read_text(path, where), where)
    if isinstance(doc, dict):
        for key, value in (overrides or {}).items():
            set_param(doc, key, value, where)
    return parse_graph(doc, where)


def set_param(doc: dict, key: str, value: str, where: str) -> None:
    """Apply ``--set node.param=value`` to a graph document."""
    node, _, name = key.partition(".")
    blocks = doc.get("blocks") if isinstance(doc.get("blocks"), dict) else {}
    if not name or node not in blocks or not isinstance(blocks[node], dict):
        raise GraphError(f"{where}: --set {key}: give NODE.PARAM with a node of the graph "
                         f"({', '.join(map(str, blocks))})")
    params = blocks[node].setdefault("params", {}) or {}
    blocks[node]["params"] = params
    params[name] = yamlio.value(value)


def is_graph_file(path: str) -> bool:
    """A YAML file whose ``kind`` is ``graph`` (a link file has none)."""
    try:
        doc = yamlio.loads(yamlio.read_text(path), str(path))
    except OrbitlinkError:
        return False
    return isinstance(doc, dict) and doc.get("kind") == "graph"


# ------------------------------------------------------------------------------------------------
# a link's graphs


def link_graph(link, direction: str = "rx", samp_rate: float | None = None,
               medium: str | None = None, front: list = (), emit_failed: bool | None = None,
               source=None, sinks: list | None = None, seed: int = 0) -> Graph:
    """The graph a link stands for.

    ``rx``: recording source -> ``front`` blocks (e.g. Doppler correction) -> the link's
    receiver -> frame metadata -> ``sinks`` (default: frames printed as text on stdout).
    ``tx``: payload source -> the link's transmitter -> ``sinks`` (default: a SigMF
    recording).
    """
    from orbitlink.drivers.files import RecordingSource

    medium = medium or link.medium
    rate = float(samp_rate or link.samp_rate)
    g = Graph(name=f"{link.name}-{direction}", link=link.name, medium=medium, samp_rate=rate,
              description=f"{'receiver' if direction == 'rx' else 'transmitter'} of link "
                          f"{link.name} ({link.source}), {medium} medium at {rate:g} Hz")
    if direction == "rx":
        src = source if source is not None else RecordingSource(medium=medium)
        names = [g.add("source", src, "source")]
        blocks = list(front) + link.rx_chain(rate, emit_failed=emit_failed, medium=medium) + \
            [link.frame_meta(rate)]
        from orbitlink.modem.quality import attach_quality

        attach_quality(blocks)  # FSK frames' snr_db and freq_offset_hz
        for b in blocks:
            names.append(g.add(b.name, b, "block"))
        g.chain(names)
        if sinks is None:
            from orbitlink.flowgraphs.sinks import FramesSink

            sinks = [FramesSink()]
        for s in sinks:
            g.connect(names[-1], g.add(s.name, s, "sink"))
    elif direction == "tx":
        from orbitlink.flowgraphs.sinks import PayloadSource

        src = source if source is not None else PayloadSource(samp_rate=rate)
        names = [g.add("source", src, "source")]
        for b in link.tx_chain(rate, medium, seed):
            names.append(g.add(b.name, b, "block"))
        g.chain(names)
        if sinks is None:
            if medium == "iq":
                from orbitlink.drivers.files import SigmfSink

                sinks = [SigmfSink(path=f"{link.name}-tx")]
            else:
                from orbitlink.flowgraphs.sinks import WavSink

                sinks = [WavSink(path=f"{link.name}-tx.wav")]
        for s in sinks:
            g.connect(names[-1], g.add(s.name, s, "sink"))
    else:
        raise GraphError(f"direction must be 'rx' or 'tx', got {direction!r}")
    g.validate()
    return g



def demod_node(g, link, samp_rate: float, medium: str, n_front: int = 0) -> str:
    """The name of the demodulator's node in a :func:`link_graph` rx graph built with
    ``n_front`` front blocks: the last block of the link's receiver front
    (``link.rx_front``), whose output is the synchronised symbols (PSK) or the soft symbols
    (the FSK family)."""
    chain = [n for n in g.order() if g.nodes[n].kind == "block"]
    return chain[n_front + len(link.rx_front(samp_rate, medium)) - 1]


def is_block(obj) -> bool:
    return isinstance(obj, Block)
