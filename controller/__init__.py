"""The OpenFlow side of stacklab: os-ken (Ryu API) applications that program
each node's bridges with the flows a real deployment has (neutron's Open
vSwitch agent: br-int with the OVS firewall, br-tun, the physical bridges).
Each node runs its own app on 127.0.0.1:6633, where its bridges connect."""
