using Xunit;

// The root tests count mounts under their sandboxes and the namespaces of this process's threads; they run one at a
// time so that those counts belong to the test that looks at them.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
