// The isolator modules this assembly offers to the Mesos agent, one attribute per module name. The native
// shim (native/shim) exports a Mesos module symbol of the same name for each.

using NetIsolator.Bridge;
using NetIsolator.Isolators.Cni;
using NetIsolator.Isolators.PortMappingIsolation;

[assembly: IsolatorModule("org_netisolator_NetworkCniIsolator", typeof(CniIsolator))]
[assembly: IsolatorModule("org_netisolator_PortMappingIsolator", typeof(PortMappingIsolator))]
