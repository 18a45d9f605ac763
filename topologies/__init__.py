"""The Mininet side of stacklab: emulated nodes with their own Open vSwitch,
the physical networks joining them, instances on tap ports, and the Lab that
composes them from a scenario."""
