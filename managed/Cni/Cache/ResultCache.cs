using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using NetIsolator.Linux;

namespace NetIsolator.Cni.Cache;

/// <summary>
/// The libcni-compatible result cache: one JSON file per attachment at
/// <c>&lt;cacheDir&gt;/results/&lt;network&gt;-&lt;containerId&gt;-&lt;ifName&gt;</c>, mode 0600 in a 0700 directory,
/// written atomically (temporary file, fsync, rename, directory fsync). Files libcni wrote are readable here and
/// vice versa. Unreadable or corrupt files are reported through the problem callback and ignored.
/// </summary>
public sealed class ResultCache
{
    /// <summary>libcni's default cache directory.</summary>
    public const string DefaultCacheDirectory = "/var/lib/cni";

    /// <summary>The <c>kind</c> of the libcni v1 cache format.</summary>
    public const string KindV1 = "cniCacheV1";

    /// <summary>Longest file name (NAME_MAX).</summary>
    public const int MaxFileNameBytes = 255;

    /// <summary>Largest cache file read; anything larger is treated as corrupt.</summary>
    public const int MaxFileBytes = 16 << 20;

    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode FileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Action<CacheProblem>? _onProblem;
    private readonly Durability _durability;
    private volatile bool _resultsDirectoryReady;

    /// <param name="cacheDirectory">The cache root (libcni's cacheDir, default <c>/var/lib/cni</c>).</param>
    /// <param name="onProblem">Told about every cache file that is ignored because it cannot be read or parsed.</param>
    /// <param name="durability">What a written entry must survive (libcni itself never flushes; a cache that
    /// outlives reboots should, so a DEL after a power cut still finds its config).</param>
    public ResultCache(string cacheDirectory, Action<CacheProblem>? onProblem = null, Durability durability = Durability.PowerLoss)
    {
        ArgumentException.ThrowIfNullOrEmpty(cacheDirectory);
        if (!Path.IsPathRooted(cacheDirectory))
        {
            throw new ArgumentException("the cache directory must be absolute", nameof(cacheDirectory));
        }

        CacheDirectory = cacheDirectory;
        ResultsDirectory = Path.Join(cacheDirectory, "results");
        _onProblem = onProblem;
        _durability = durability;
    }

    public string CacheDirectory { get; }

    /// <summary><c>&lt;cacheDir&gt;/results</c>.</summary>
    public string ResultsDirectory { get; }

    /// <summary>
    /// The file name for an attachment, <c>&lt;network&gt;-&lt;containerId&gt;-&lt;ifName&gt;</c> exactly as libcni builds
    /// it. Throws <see cref="ArgumentException"/> for names that are unsafe as a file name: a network name or container
    /// ID outside <c>[A-Za-z0-9][A-Za-z0-9_.-]*</c>, an interface name libcni would refuse, any "..", or a total
    /// longer than 255 bytes.
    /// </summary>
    public static string FileNameFor(string network, string containerId, string ifName)
    {
        ValidateId(network, "network name");
        ValidateId(containerId, "container ID");
        ValidateInterfaceName(ifName);
        var name = $"{network}-{containerId}-{ifName}";
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxFileNameBytes)
        {
            throw new ArgumentException(
                $"cache file name for network \"{network}\", container \"{containerId}\", interface \"{ifName}\" exceeds {MaxFileNameBytes} bytes");
        }

        return name;
    }

    /// <summary>The path of an attachment's cache file (see <see cref="FileNameFor"/>).</summary>
    public string PathFor(string network, string containerId, string ifName) =>
        Path.Join(ResultsDirectory, FileNameFor(network, containerId, ifName));

    /// <summary>Writes (or replaces) an attachment's cache file atomically.</summary>
    public void Save(CachedAttachment attachment)
    {
        ArgumentNullException.ThrowIfNull(attachment);
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException();
        }

        var path = PathFor(attachment.NetworkName, attachment.ContainerId, attachment.IfName);
        var bytes = Serialize(attachment);
        var checkedBefore = _resultsDirectoryReady;
        EnsureResultsDirectory();
        try
        {
            AtomicFile.Write(path, bytes, FileMode, _durability);
        }
        catch (LinuxException e) when (e.Errno == Errno.ENOENT && checkedBefore)
        {
            // The directory checked by an earlier save has been removed since: make it again, once.
            _resultsDirectoryReady = false;
            EnsureResultsDirectory();
            AtomicFile.Write(path, bytes, FileMode, _durability);
        }
    }

    /// <summary>
    /// Loads an attachment. Returns false when there is no cache file, and also (after reporting it) when the file
    /// cannot be read, is not valid cniCacheV1 JSON, or describes a different attachment than its name says.
    /// </summary>
    public bool TryLoad(string network, string containerId, string ifName, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedAttachment? attachment)
    {
        attachment = null;
        var path = PathFor(network, containerId, ifName);
        if (!TryRead(path, out var bytes))
        {
            return false;
        }

        if (!TryParse(path, bytes, out var parsed))
        {
            return false;
        }

        if (parsed.NetworkName != network || parsed.ContainerId != containerId || parsed.IfName != ifName)
        {
            Report(new CacheProblem(path, $"it describes network \"{parsed.NetworkName}\", container \"{parsed.ContainerId}\", interface \"{parsed.IfName}\""));
            return false;
        }

        attachment = parsed;
        return true;
    }

    /// <summary>Removes an attachment's cache file. Idempotent: returns false when there was none.</summary>
    public bool Delete(string network, string containerId, string ifName)
    {
        var path = PathFor(network, containerId, ifName);
        try
        {
            if (!Path.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (DirectoryNotFoundException)
        {
            return false;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    /// <summary>
    /// Enumerates cached attachments (libcni's <c>GetCachedAttachments</c>), sorted by file name, optionally only
    /// those of <paramref name="containerId"/>. Temporary files are skipped; unusable files are reported and skipped.
    /// </summary>
    public IReadOnlyList<CachedAttachment> List(string? containerId = null)
    {
        string[] files;
        try
        {
            files = Directory.GetFiles(ResultsDirectory);
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }

        Array.Sort(files, StringComparer.Ordinal);
        var attachments = new List<CachedAttachment>();
        foreach (var path in files)
        {
            var name = Path.GetFileName(path);
            if (name.StartsWith('.'))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(containerId) && !name.Contains($"-{containerId}-", StringComparison.Ordinal))
            {
                continue;
            }

            if (!TryRead(path, out var bytes) || !TryParse(path, bytes, out var attachment))
            {
                continue;
            }

            if (!string.IsNullOrEmpty(containerId) && attachment.ContainerId != containerId)
            {
                continue;
            }

            string expected;
            try
            {
                expected = FileNameFor(attachment.NetworkName, attachment.ContainerId, attachment.IfName);
            }
            catch (ArgumentException e)
            {
                Report(new CacheProblem(path, e.Message, e));
                continue;
            }

            if (expected != name)
            {
                Report(new CacheProblem(path, $"its content belongs in \"{expected}\""));
                continue;
            }

            attachments.Add(attachment);
        }

        return attachments;
    }

    /// <summary>The cniCacheV1 JSON for an attachment, field for field as libcni writes it.</summary>
    public static byte[] Serialize(CachedAttachment attachment)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("kind", KindV1);
            writer.WriteString("containerId", attachment.ContainerId);
            writer.WriteBase64String("config", attachment.Config.Span);
            writer.WriteString("ifName", attachment.IfName);
            writer.WriteString("networkName", attachment.NetworkName);
            if (!string.IsNullOrEmpty(attachment.NetNs))
            {
                writer.WriteString("netns", attachment.NetNs);
            }

            if (attachment.CniArgs.Count > 0)
            {
                writer.WriteStartArray("cniArgs");
                foreach (var (key, value) in attachment.CniArgs)
                {
                    writer.WriteStartArray();
                    writer.WriteStringValue(key);
                    writer.WriteStringValue(value);
                    writer.WriteEndArray();
                }

                writer.WriteEndArray();
            }

            if (attachment.CapabilityArgs is { Count: > 0 } capabilityArgs)
            {
                writer.WritePropertyName("capabilityArgs");
                capabilityArgs.WriteTo(writer);
            }

            if (attachment.Result is { Count: > 0 } result)
            {
                writer.WritePropertyName("result");
                result.WriteTo(writer);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Parses cniCacheV1 JSON; throws <see cref="FormatException"/> with the reason when it is not.</summary>
    public static CachedAttachment Deserialize(ReadOnlySpan<byte> json)
    {
        JsonDocument document;
        try
        {
            var reader = new Utf8JsonReader(json);
            document = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException e)
        {
            throw new FormatException($"not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException($"expected a JSON object, found {root.ValueKind}");
            }

            var kind = OptionalString(root, "kind");
            if (kind != KindV1)
            {
                throw new FormatException($"kind is {(kind is null ? "missing" : $"\"{kind}\"")}, expected \"{KindV1}\"");
            }

            byte[] config = [];
            if (root.TryGetProperty("config", out var configElement) && configElement.ValueKind != JsonValueKind.Null)
            {
                if (configElement.ValueKind != JsonValueKind.String || !configElement.TryGetBytesFromBase64(out var decoded))
                {
                    throw new FormatException("config is not a base64 string");
                }

                config = decoded;
            }

            var cniArgs = new List<KeyValuePair<string, string>>();
            if (root.TryGetProperty("cniArgs", out var argsElement) && argsElement.ValueKind != JsonValueKind.Null)
            {
                if (argsElement.ValueKind != JsonValueKind.Array)
                {
                    throw new FormatException("cniArgs is not an array");
                }

                foreach (var pair in argsElement.EnumerateArray())
                {
                    if (pair.ValueKind != JsonValueKind.Array || pair.GetArrayLength() != 2
                        || pair[0].ValueKind != JsonValueKind.String || pair[1].ValueKind != JsonValueKind.String)
                    {
                        throw new FormatException("cniArgs entries must be [\"key\", \"value\"] pairs");
                    }

                    cniArgs.Add(new(pair[0].GetString()!, pair[1].GetString()!));
                }
            }

            return new CachedAttachment
            {
                ContainerId = RequiredString(root, "containerId"),
                IfName = RequiredString(root, "ifName"),
                NetworkName = RequiredString(root, "networkName"),
                Config = config,
                NetNs = OptionalString(root, "netns"),
                CniArgs = cniArgs,
                CapabilityArgs = OptionalObject(root, "capabilityArgs"),
                Result = OptionalObject(root, "result"),
            };
        }
    }

    private bool TryRead(string path, out byte[] bytes)
    {
        bytes = [];
        if (!Path.Exists(path))
        {
            // The common case before an ADD; a stat is far cheaper than the exception of a failed open. Anything
            // else at the path (a directory, say) goes on to the open and is reported; a file removed between the
            // two is still caught below.
            return false;
        }

        try
        {
            using var stream = new FileStream(path, System.IO.FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            if (stream.Length > MaxFileBytes)
            {
                Report(new CacheProblem(path, $"larger than {MaxFileBytes} bytes"));
                return false;
            }

            var buffer = new byte[stream.Length];
            stream.ReadExactly(buffer);
            bytes = buffer;
            return true;
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            return false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Report(new CacheProblem(path, $"cannot be read: {e.Message}", e));
            return false;
        }
    }

    private bool TryParse(string path, byte[] bytes, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out CachedAttachment? attachment)
    {
        try
        {
            attachment = Deserialize(bytes);
            return true;
        }
        catch (FormatException e)
        {
            Report(new CacheProblem(path, e.Message, e));
            attachment = null;
            return false;
        }
    }

    private void Report(CacheProblem problem) => _onProblem?.Invoke(problem);

    /// <summary>Makes the results directory private, creating it if need be; checked once per instance (the
    /// runtime saves twice per ADD: before the first plugin, and the result).</summary>
    private void EnsureResultsDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException();
        }

        if (_resultsDirectoryReady)
        {
            return;
        }

        if (!Directory.Exists(CacheDirectory))
        {
            Directory.CreateDirectory(CacheDirectory, DirectoryMode);
        }

        if (!Directory.Exists(ResultsDirectory))
        {
            Directory.CreateDirectory(ResultsDirectory, DirectoryMode);
        }

        // The cached configs can hold secrets: keep the directory private even if something else created it.
        if ((File.GetUnixFileMode(ResultsDirectory) & ~DirectoryMode) != 0)
        {
            File.SetUnixFileMode(ResultsDirectory, DirectoryMode);
        }

        _resultsDirectoryReady = true;
    }

    /// <summary>The CNI identifier rule, plus no ".." anywhere: these strings become parts of a file name.</summary>
    private static void ValidateId(string value, string what)
    {
        ArgumentNullException.ThrowIfNull(value, what);
        var problem = CniNames.IdentifierProblem(value, MaxFileNameBytes)
                      ?? (value.Contains("..", StringComparison.Ordinal) ? "must not contain \"..\"" : null);
        if (problem is not null)
        {
            throw new ArgumentException($"invalid {what} \"{CniNames.Printable(value)}\": {problem}");
        }
    }

    private static void ValidateInterfaceName(string ifName)
    {
        ArgumentNullException.ThrowIfNull(ifName);
        var problem = CniNames.InterfaceNameProblem(ifName)
                      ?? (ifName.Contains("..", StringComparison.Ordinal) ? "must not contain \"..\"" : null);
        if (problem is not null)
        {
            throw new ArgumentException($"invalid interface name \"{CniNames.Printable(ifName)}\": {problem}");
        }
    }

    private static string RequiredString(JsonElement obj, string name) =>
        OptionalString(obj, name) is { Length: > 0 } value ? value : throw new FormatException($"{name} is missing or empty");

    private static string? OptionalString(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.String ? value.GetString() : throw new FormatException($"{name} is not a string");
    }

    private static JsonObject? OptionalObject(JsonElement obj, string name)
    {
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind == JsonValueKind.Object
            ? JsonObject.Create(value.Clone())
            : throw new FormatException($"{name} is not an object");
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

}
