// The isolator modules this assembly offers to the Mesos agent, one attribute per module name. The native
// shim (native/shim) exports a Mesos module symbol of the same name for each.
//
// The port-mapping isolator (org_netisolator_PortMappingIsolator) registers here when it lands; until then
// creating it fails with the bridge's "no isolator module" error, which names this assembly and what it does
// register.

using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;

[assembly: IsolatorModule("org_netisolator_NetworkCniIsolator", typeof(CniIsolator))]
