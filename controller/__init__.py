"""The OpenFlow side of stacklab: os-ken (Ryu API) applications that program
the nodes' bridges with the flows a real deployment has, over one shared
OpenFlow layer (openflow.py):

  neutron/   neutron's Open vSwitch agent, one app per node on 127.0.0.1:6633
             (br-int with the OVS firewall, br-tun, the physical bridges)
  netvirt/   OpenDaylight netvirt, one central app on the controller node that
             every compute's br-int reaches on port 6653 (004's DVR pipeline)"""
