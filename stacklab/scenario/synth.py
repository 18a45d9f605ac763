"""Generated scenarios for scale: one controller and N computes on one
physical network, a VXLAN network (Geneve on OVN), M instances per compute."""


def mesh_scenario(computes, per_node, name="scale", sdn="neutron"):
    lines = ["name: %s" % name, "description: 1 controller + %d computes x %d instances" % (computes, per_node)]
    if sdn != "neutron":
        lines.append("sdn: {type: %s}" % sdn)
    lines += ["nodes:", "  controller:", "    role: controller",
             "    nics: {eth0: {physical_network: provider, address: 172.16.0.11/16}}",
             "    bridge_mappings: {provider: br-provider}"]
    for i in range(1, computes + 1):
        lines += ["  compute%d:" % i, "    role: compute",
                  "    nics: {eth0: {physical_network: provider, address: 172.16.%d.%d/16}}"
                  % (1 + i // 200, i % 200 + 20),
                  "    bridge_mappings: {provider: br-provider}"]
    lines += ["networks:", "  selfservice:", "    type: %s" % ("geneve" if sdn == "ovn" else "vxlan"),
              "    segmentation_id: 203",
              "    subnet: {cidr: 192.168.0.0/20}", "instances:"]
    for i in range(1, computes + 1):
        for j in range(per_node):
            lines.append("  vm%d-%d: {node: compute%d, network: selfservice}" % (i, j, i))
    return "\n".join(lines) + "\n"
