"""OVN's command output made comparable: row UUIDs and revision numbers
normalized, row order ignored, and nothing else (a real difference stays)."""

from stacklab.observe.ovn_output import canonical, differences, normalize_line

LIST_A = """_uuid               : 404da46d-d637-4998-b51a-1280f0c3b7c6
dhcpv4_options      : 19827e33-afee-4958-a174-bf6c4255da54
external_ids        : {"neutron:device_id"="36b496b2-4976-4bf1-88c0-09f44385fd19", "neutron:revision_number"="4"}
name                : "8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"

_uuid               : e9545fd0-e2bb-4033-92a9-fa83b5787a86
name                : neutron_pg_drop
ports               : [1849f07a-98e5-4383-b384-18fda11959d1, 404da46d-d637-4998-b51a-1280f0c3b7c6]
""".splitlines()

LIST_B = """_uuid               : aaaaaaaa-d637-4998-b51a-1280f0c3b7c6
name                : neutron_pg_drop
ports               : [bbbbbbbb-98e5-4383-b384-18fda11959d1, cccccccc-d637-4998-b51a-1280f0c3b7c6]

_uuid               : 11111111-d637-4998-b51a-1280f0c3b7c6
dhcpv4_options      : 22222222-afee-4958-a174-bf6c4255da54
external_ids        : {"neutron:device_id"="36b496b2-4976-4bf1-88c0-09f44385fd19", "neutron:revision_number"="1"}
name                : "8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"
""".splitlines()


def test_row_uuids_and_revisions_normalized_names_kept():
    line = normalize_line(LIST_A[2], "list")
    assert '"neutron:device_id"="36b496b2-4976-4bf1-88c0-09f44385fd19"' in line     # a neutron id: kept
    assert '"neutron:revision_number"="<n>"' in line
    assert normalize_line(LIST_A[1], "list") == "dhcpv4_options      : <uuid>"
    assert normalize_line(LIST_A[3], "list") == LIST_A[3]                             # a quoted name
    show = "switch 3253dc18-09ad-455f-a0c7-ebeb89ef4075 (neutron-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1) (aka net)"
    assert normalize_line(show, "show") == "switch <uuid> (neutron-9eb0ca8c-b4d4-455b-9f5e-fc3641a0ebd1) (aka net)"
    port = "    port 8811e933-5c4e-4bd2-a6a1-0c87c2f1a3b5"
    assert normalize_line(port, "show") == port                                       # a port's name


def test_order_ignored_real_differences_kept():
    assert differences(canonical(LIST_A, "list"), canonical(LIST_B, "list")) == ([], [])
    changed = [line.replace("neutron_pg_drop", "neutron_pg_other") for line in LIST_B]
    missing, extra = differences(canonical(LIST_A, "list"), canonical(changed, "list"))
    assert missing == ["name                : neutron_pg_drop"]
    assert extra == ["name                : neutron_pg_other"]


def test_show_children_in_any_order():
    a = ["switch 3253dc18-09ad-455f-a0c7-ebeb89ef4075 (neutron-x) (aka net)", "    port p1",
         "        type: localport", "    port p2", "        addresses: [\"fa:16:3e:00:00:01 10.0.0.3\"]"]
    b = ["switch 00000000-09ad-455f-a0c7-ebeb89ef4075 (neutron-x) (aka net)", "    port p2",
         "        addresses: [\"fa:16:3e:00:00:01 10.0.0.3\"]", "    port p1", "        type: localport"]
    assert canonical(a, "show") == canonical(b, "show")
    moved = [line.replace("type: localport", "type: localnet") for line in b]
    assert canonical(a, "show") != canonical(moved, "show")
