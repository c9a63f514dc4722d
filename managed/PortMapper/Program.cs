using NetIsolator.PortMapper.Plugin;

// mesos-cni-port-mapper: a CNI plugin; the request is in CNI_* variables and on stdin, the answer on stdout.
var plugin = new PortMapperPlugin(Environment.GetEnvironmentVariables(), Console.Out, Console.Error);
using var stdin = Console.OpenStandardInput();
return plugin.Run(stdin);
