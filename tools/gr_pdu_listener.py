#!/usr/bin/python3
"""A GNU Radio 3.10 flowgraph that receives orbitlink's frames as PMT PDUs (``orbitlink rx
--gr-pdu ENDPOINT``): ``zeromq.sub_msg_source(ENDPOINT) -> a message block`` that prints one
line per PDU: ``pdu SAMPLE_INDEX HEX`` (and the metadata keys with --meta). Run it with the
system's Python, where GNU Radio lives; it ends when its standard input closes (or Ctrl-C).

    /usr/bin/python3 tools/gr_pdu_listener.py tcp://127.0.0.1:5560 [--meta]
"""

import sys

import pmt
from gnuradio import gr, zeromq


class Collect(gr.basic_block):
    def __init__(self, show_meta):
        gr.basic_block.__init__(self, "orbitlink_pdus", None, None)
        self.show_meta = show_meta
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self.handle)

    def handle(self, msg):
        if not (pmt.is_pair(msg) and pmt.is_dict(pmt.car(msg))
                and pmt.is_u8vector(pmt.cdr(msg))):
            print("not-a-pdu", flush=True)
            return
        meta = pmt.car(msg)
        data = bytes(pmt.u8vector_elements(pmt.cdr(msg)))
        si = pmt.dict_ref(meta, pmt.intern("sample_index"), pmt.PMT_NIL)
        si = pmt.to_uint64(si) if pmt.is_uint64(si) else -1
        line = f"pdu {si} {data.hex()}"
        if self.show_meta:
            line += " " + " ".join(pmt.symbol_to_string(k)
                                   for k in pmt.dict_keys(meta) if pmt.is_symbol(k))
        print(line, flush=True)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    tb = gr.top_block()
    src = zeromq.sub_msg_source(argv[0], 100, False)
    sink = Collect("--meta" in argv[1:])
    tb.msg_connect((src, "out"), (sink, "in"))
    tb.start()
    print("listening on", argv[0], flush=True)
    try:
        sys.stdin.read()
    except KeyboardInterrupt:
        pass
    tb.stop()
    tb.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
