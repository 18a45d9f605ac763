"""OVN's northbound and southbound databases as the lab talks to them: over
the OVSDB protocol with Open vSwitch's own Python IDL (the client neutron's
ovsdbapp is built on), on the unix sockets of the central node, which the
lab sees from outside through the node's private /var/run/ovn.

Northbound writes happen in one transaction (what ovn_nb.rows() built);
reads keep one IDL replica and refresh it on every call."""

import time
import warnings

from stacklab.errors import LabError
from topologies.ovn_nb import TABLES

with warnings.catch_warnings():
    # ovs.poller asks eventlet (os-ken's) whether it is monkey-patched; eventlet warns on import
    warnings.simplefilter("ignore")
    import ovs.db.idl
    import ovs.poller

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


class Northbound(Database):
    """The northbound database, as neutron's OVN driver writes it."""

    def __init__(self, remote, patience=10.0):
        super().__init__(remote, NB_SCHEMA, TABLES + ("NB_Global",), "OVN's northbound database", patience)

    def write(self, rows):
        """Insert `rows` ({table: [row]}, ovn_nb.rows()) in one transaction."""
        txn = ovs.db.idl.Transaction(self.idl)
        if not self.rows("NB_Global"):
            txn.insert(self.idl.tables["NB_Global"])
        made = {}
        for table in TABLES:
            for row in rows.get(table, []):
                new = txn.insert(self.idl.tables[table])
                for column, value in row.items():
                    if column == "_ref":
                        continue
                    if isinstance(value, list) and value and isinstance(value[0], str) and value[0][:1] == "@":
                        value = [made[ref[1:]] for ref in value]
                    setattr(new, column, value)
                made[row["_ref"]] = new
        status = txn.commit_block()
        if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
            raise LabError("writing OVN's northbound database: %s (%s)" % (status, txn.get_error() or "no detail"))
        return sum(len(v) for v in rows.values())

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
