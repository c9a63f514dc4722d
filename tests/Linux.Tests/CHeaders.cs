using System.Diagnostics;
using System.Globalization;
using Xunit;

namespace NetIsolator.Linux.Tests;

/// <summary>
/// Checks hand-declared constants and struct layouts against the system's C headers: a C file of
/// <c>_Static_assert</c>s, one per (C expression, value), compiled with <c>gcc -fsyntax-only</c>. A mismatch fails the
/// test with gcc's message, which names the expression.
/// </summary>
internal static class CHeaders
{
    /// <param name="preamble">The lines before the asserts: <c>#define</c>s and <c>#include</c>s.</param>
    public static void AssertMatch(IEnumerable<string> preamble, IEnumerable<(string C, long Value)> checks)
    {
        var source = string.Join('\n',
            preamble.Concat(checks.Select(c =>
                string.Create(CultureInfo.InvariantCulture, $"_Static_assert((long long)({c.C}) == {c.Value}LL, \"{c.C} != {c.Value}\");")))) + "\n";
        var directory = Directory.CreateTempSubdirectory("netiso-c-headers-");
        try
        {
            var file = Path.Combine(directory.FullName, "check.c");
            File.WriteAllText(file, source);
            using var gcc = Process.Start(new ProcessStartInfo("gcc", ["-fsyntax-only", file]) { RedirectStandardError = true })!;
            var errors = gcc.StandardError.ReadToEnd();
            gcc.WaitForExit();
            Assert.True(gcc.ExitCode == 0, errors);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
