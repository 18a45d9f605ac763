"""OpenDaylight netvirt's flow set on br-int (004's DVR pipeline), played by
one central os-ken app (app.py) that every node's br-int connects to on port
6653. One module per service, each owning its tables:

  dispatcher.py  genius' interface manager: 0 (classifier), 17 (ingress
                 dispatcher), 220 (egress dispatcher)
  acl.py         40 and 251: the ports' ingress and egress ACL
  l3.py          19 (gateway MACs), 21 (FIB, the gateway's ICMP responder),
                 81 (ARP responder), 36 (routed traffic from tunnels)
  elan.py        50 (SMAC), 51 (DMAC), 52 (flood), 36 (switched traffic from tunnels)
  nat.py         25-28: floating IPs (DNAT and SNAT)
  groups.py      the group tables: next hops, ELAN broadcast, the external gateway

metadata.py encodes metadata and reg6 as genius does; plan.py is what the
lab tells the controller; pipeline.py composes a node's flows and groups.
docs/netvirt.md maps every table to its file."""
