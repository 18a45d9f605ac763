"""Looking into a running lab: probes sent from its namespaces (probes.py),
its bridges' flows (flows.py) and OVSDB (ovsdb.py), a packet's walk across
nodes (walk.py, trace.py), the documents' reference outputs (references.py),
logging in to its instances (ssh.py)."""
