"""OVN's northbound and southbound databases as the lab talks to them: over
the OVSDB protocol with Open vSwitch's own Python IDL (the client neutron's
ovsdbapp is built on), on the unix sockets of the central node, which the
lab sees from outside through the node's private /var/run/ovn.

Northbound writes happen in one transaction (what ovn_nb.rows() built);
reads keep one IDL replica and refresh it on every call."""

import sys
import time
import warnings

from stacklab.errors import LabError
from topologies.ovn_nb import TABLES

def _import_ovs():
    """Open vSwitch's IDL without eventlet: ovs.poller imports eventlet (os-ken's) when it can, only to ask
    whether it monkey-patched select; the lab never does, and an imported eventlet warns at every fork of
    the builder. Blocked for that one import, importable again after."""
    blocked = "eventlet" not in sys.modules
    if blocked:
        sys.modules["eventlet"] = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import ovs.db.idl
            import ovs.poller
    finally:
        if blocked:
            del sys.modules["eventlet"]
    return ovs


ovs = _import_ovs()

NB_SCHEMA = "/usr/share/ovn/ovn-nb.ovsschema"
SB_SCHEMA = "/usr/share/ovn/ovn-sb.ovsschema"


class Database:
    """One IDL replica of a database (`tables`: what it follows)."""

    def __init__(self, remote, schema, tables, what, patience=10.0):
        helper = ovs.db.idl.SchemaHelper(schema)
        for table in tables:
            helper.register_table(table)
        self.what = what
        self.idl = ovs.db.idl.Idl(remote, helper)
        self._wait(lambda: self.idl.has_ever_connected(), patience, "connecting to %s (%s)" % (what, remote))

    def _wait(self, done, patience, doing):
        deadline = time.monotonic() + patience
        while True:
            self.idl.run()
            if done():
                return
            if time.monotonic() > deadline:
                self.close()
                raise LabError("%s: no answer within %.0f s" % (doing, patience))
            poller = ovs.poller.Poller()
            self.idl.wait(poller)
            poller.timer_wait(100)
            poller.block()

    def refresh(self):
        """Take in whatever the server has sent since."""
        self.idl.run()

    def rows(self, table):
        return list(self.idl.tables[table].rows.values())

    def close(self):
        self.idl.close()


# where a row that is not a root lives: (parent table, column); a child is told apart
# within its parent by KEYS, a root (or a globally named row) by KEYS alone
PARENTS = {
    "Logical_Switch_Port": ("Logical_Switch", "ports"),
    "ACL": ("Port_Group", "acls"),
    "Logical_Router_Port": ("Logical_Router", "ports"),
    "Logical_Router_Static_Route": ("Logical_Router", "static_routes"),
    "NAT": ("Logical_Router", "nat"),
    "Gateway_Chassis": ("Logical_Router_Port", "gateway_chassis"),
}
NAMED = ("Logical_Switch", "Logical_Switch_Port", "Port_Group", "Logical_Router", "Logical_Router_Port",
         "Gateway_Chassis")
KEYS = {"ACL": ("direction", "priority", "match"), "Logical_Router_Static_Route": ("ip_prefix", "nexthop"),
        "NAT": ("type", "logical_ip", "external_ip")}
ROOTS = ("DHCP_Options", "Logical_Switch", "Port_Group", "Logical_Router")


def _comparable(value):
    if isinstance(value, ovs.db.idl.Row):
        return str(value.uuid)
    if isinstance(value, (list, tuple)):
        return sorted((_comparable(v) for v in value), key=str)
    if isinstance(value, dict):
        return {k: _comparable(v) for k, v in value.items()}
    return value


def _differs(current, wanted):
    if isinstance(current, list) and not isinstance(wanted, list):
        wanted = [wanted]           # an optional column ([] or [value]) given as its value
    return _comparable(current) != _comparable(wanted)


class Northbound(Database):
    """The northbound database, as neutron's OVN driver writes it."""

    PATIENCE = 30.0

    def __init__(self, remote, patience=10.0):
        super().__init__(remote, NB_SCHEMA, TABLES + ("NB_Global",), "OVN's northbound database", patience)

    @staticmethod
    def _key(table, get, parent):
        """What tells a row apart: its name, its subnet, or its columns within its parent."""
        if table in NAMED:
            return get("name")
        if table == "DHCP_Options":
            return get("external_ids").get("subnet_id")
        return (parent,) + tuple(get(c) for c in KEYS[table])

    def _existing(self):
        """{table: {key: row}} of what the database holds."""
        parents = {}
        for table, (ptable, column) in PARENTS.items():
            for prow in self.rows(ptable):
                for child in getattr(prow, column):
                    parents[child.uuid] = prow.name
        return {table: {self._key(table, lambda c, r=row: getattr(r, c), parents.get(row.uuid)): row
                        for row in self.rows(table)} for table in TABLES}

    @staticmethod
    def _desired_parents(rows):
        parents = {}
        for table, (ptable, column) in PARENTS.items():
            for prow in rows.get(ptable, []):
                for ref in prow.get(column, []):
                    parents[ref[1:]] = prow["name"]
        return parents

    def sync(self, rows, wait=True):
        """Make the database hold `rows` ({table: [row]}, ovn_nb.rows()) in
        one transaction, changing only what differs, as neutron writes each
        change; with `wait`, return once every chassis has it (`ovn-nbctl
        --wait=hv`). What changed: {"inserted": n, "updated": n, "deleted": n}."""
        self.refresh()
        existing = self._existing()
        parents = self._desired_parents(rows)
        txn = ovs.db.idl.Transaction(self.idl)
        counts = {"inserted": 0, "updated": 0, "deleted": 0}
        made, wanted = {}, {table: set() for table in TABLES}
        for table in TABLES:
            for row in rows.get(table, []):
                key = self._key(table, row.get, parents.get(row["_ref"]))
                wanted[table].add(key)
                target = existing[table].get(key)
                changed = False
                if target is None:
                    target = txn.insert(self.idl.tables[table])
                    counts["inserted"] += 1
                for column, value in row.items():
                    if column == "_ref":
                        continue
                    if isinstance(value, list) and value and isinstance(value[0], str) and value[0][:1] == "@":
                        value = [made[ref[1:]] for ref in value]
                    if key not in existing[table] or _differs(getattr(target, column), value):
                        setattr(target, column, value)
                        changed = True
                if changed and key in existing[table]:
                    counts["updated"] += 1
                made[row["_ref"]] = target
        for table in TABLES:            # what is gone from the scenario
            for key, row in existing[table].items():
                if key not in wanted[table]:
                    if table in ROOTS:
                        row.delete()
                    counts["deleted"] += 1      # (a child goes with its parent's reference)
        globals_ = self.rows("NB_Global")
        nb_global = globals_[0] if globals_ else txn.insert(self.idl.tables["NB_Global"])
        if wait and globals_:
            nb_global.increment("nb_cfg")
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            raise LabError("writing OVN's northbound database: %s (%s)" % (status, txn.get_error() or "no detail"))
        if wait and globals_ and status == ovs.db.idl.Transaction.SUCCESS:
            cfg = txn.get_increment_new_value()
            self._wait(lambda: self._hv_cfg() >= cfg, self.PATIENCE,
                       "waiting for every chassis to catch up with northbound change %d" % cfg)
        return counts

    def _hv_cfg(self):
        rows = self.rows("NB_Global")
        return rows[0].hv_cfg if rows else 0

    def write(self, rows):
        """The first write of a lab: every row (no chassis to wait for yet)."""
        return self.sync(rows, wait=False)["inserted"]

    def ports_up(self):
        """{logical switch port name: up} as ovn-northd reports it."""
        self.refresh()
        return {row.name: bool(row.up and row.up[0]) for row in self.rows("Logical_Switch_Port")}


class Southbound(Database):
    """The southbound database: which chassis registered, which ports they bound."""

    def __init__(self, remote, patience=10.0):
        super().__init__(remote, SB_SCHEMA, ("Chassis", "Port_Binding"), "OVN's southbound database", patience)

    def chassis(self):
        self.refresh()
        return {row.name: row for row in self.rows("Chassis")}

    def bound(self):
        """{logical port: chassis name} of the port bindings that have a chassis."""
        self.refresh()
        return {row.logical_port: row.chassis[0].name for row in self.rows("Port_Binding") if row.chassis}
