"""OpenFlow messages as bytes, for comparing what a flow builder sends with
what a test builds by hand with os-ken's parser."""

from os_ken.ofproto import ofproto_v1_3 as ofp, ofproto_v1_3_parser as parser


class FakeDatapath:
    """What os-ken's message classes need of a datapath to serialize."""
    ofproto = ofp
    ofproto_parser = parser
    id = 1


DP = FakeDatapath()


def wire(msg):
    msg.serialize()
    return bytes(msg.buf)
