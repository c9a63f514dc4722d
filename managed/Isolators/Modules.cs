// The isolator modules this assembly offers to the Mesos agent, one attribute per module name. The native
// shim (native/shim) exports a Mesos module symbol of the same name for each.
//
// The CNI network isolator (org_netisolator_NetworkCniIsolator) and the port-mapping isolator
// (org_netisolator_PortMappingIsolator) register here as they land; until then creating them fails with
// the bridge's "no isolator module" error, which names this assembly and what it does register.
